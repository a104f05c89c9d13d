"""Two vertebrae that neither tree of separate.py parts: cut them along their disc.

The disc between two vertebral bodies is a thin slab of soft tissue.  Where the bodies' cortex,
osteophytes or a calcified annulus ring it, the ring bridges the disc at cortex density (so the
density tree sees no joint), and where the scan holds only a few mm of one body, that body does
not rise above the ring as a blob (so the shape tree sees no neck).  But in the slices of the
disc the ring walls in a wide hole of the bone, at soft-tissue density, with bone above and
below it: a flat slab, much wider than it is high (a lytic lesion inside a body is a blob, and
the spinal canal runs along the spine: neither is a valley between bone above and below).
Seeds: the lower body is the bone in the column under the disc; the upper vertebra is all
the bone above the disc (its arch hangs down behind the lower body, joined to it only at the
facet joints).  A watershed of the distance map hands the rest to one or the other, the ring
split at the disc's middle slice.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from .body import fill_holes_2d, wide_patches
from .components import label
from .solid import DISC_REACH_MM

DISC_MM2 = 300.0  # a disc's section is 600-1500 mm2 (disc.py); the ring may cover part of it
DISC_HU = 20.0  # above fat and the fluid of the spinal canal; a disc is 70-110 HU
DISC_FLAT = 3.0  # a disc is this many times wider (its section's diameter) than high
RING_MM = 10.0  # the ring around a disc reaches this far out of it in-plane
OPEN_SHARE = 0.5  # a slice next to the disc where less of its column is bone is disc too
BODY_ML = 1.5  # each side of the cut holds at least this much bone in the disc's column


def capped(holes: np.ndarray, bone: np.ndarray, spacing) -> np.ndarray:
    """Voxels of ``holes`` with ``bone`` within DISC_REACH_MM above them and below them."""
    n = max(1, int(round(DISC_REACH_MM / float(spacing[2]))))
    up = np.zeros_like(bone)
    down = np.zeros_like(bone)
    for s in range(1, min(n, bone.shape[0] - 1) + 1):
        up[:-s] |= bone[s:]
        down[s:] |= bone[:-s]
    return holes & up & down


def disc_slabs(bone: np.ndarray, g: np.ndarray, spacing) -> list[np.ndarray]:
    """Bool masks (on ``bone``'s grid) of the discs walled in by ``bone`` in-plane."""
    holes = fill_holes_2d(bone) & ~bone
    if not holes.any():
        return []
    holes = wide_patches(capped(holes & (g > DISC_HU), bone, spacing), spacing, DISC_MM2)
    labels, n = label(holes, structure=np.ones((3, 3, 3), dtype=bool))
    out = []
    for d, box in enumerate(ndimage.find_objects(labels), start=1):
        slab = labels == d
        footprint = slab[box].any(axis=0)
        width = 2.0 * np.sqrt(np.count_nonzero(footprint) * spacing[0] * spacing[1] / np.pi)
        height = (box[0].stop - box[0].start) * spacing[2]
        if width >= DISC_FLAT * height:
            out.append(slab)
    return out


def cut_at_discs(bone: np.ndarray, g: np.ndarray, spacing) -> np.ndarray:
    """int32 labels 1..n of ``bone`` (bool, one bone so far) cut along each disc it walls in."""
    parts = bone.astype(np.int32)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    k = np.arange(bone.shape[0])[:, None, None]
    for slab in disc_slabs(bone, g, spacing):
        column = slab.any(axis=0)
        # The piece that walls this disc in (an earlier cut may have made two).
        around = np.bincount(parts[ndimage.binary_dilation(slab)], minlength=2)
        around[0] = 0
        p = int(around.argmax())
        own = parts == p
        k0, k1 = disc_span(own, column, np.flatnonzero(slab.any(axis=(1, 2))))
        below = own & column & (k < k0)
        if min(np.count_nonzero(below), np.count_nonzero(own & column & (k > k1))) * voxel_ml < BODY_ML:
            continue
        # All the bone above the disc is the upper vertebra's: its arch hangs down behind the
        # lower body, and reaches it only through the facet joints.
        above = own & (k > k1)
        halves = _halves(own, below, above, ring(own, column, k0, k1, spacing), spacing)
        parts[halves == 2] = parts.max() + 1
    return parts


def disc_span(bone: np.ndarray, column: np.ndarray, ks: np.ndarray) -> tuple[int, int]:
    """First and last slice of the disc: those where it is walled in (``ks``), and the slices
    next to them where most of its ``column`` is not bone (the ring is open there)."""
    share = np.count_nonzero(bone & column, axis=(1, 2)) / max(1, np.count_nonzero(column))
    k0, k1 = int(ks[0]), int(ks[-1])
    while k0 > 0 and share[k0 - 1] < OPEN_SHARE:
        k0 -= 1
    while k1 < len(share) - 1 and share[k1 + 1] < OPEN_SHARE:
        k1 += 1
    return k0, k1


def ring(bone: np.ndarray, column: np.ndarray, k0: int, k1: int, spacing) -> np.ndarray:
    """The bone around the disc in its slices: endplate rims, osteophytes, a calcified annulus."""
    r = [max(1, int(round(RING_MM / float(s)))) for s in (spacing[1], spacing[0])]
    near = ndimage.binary_dilation(column, np.ones((2 * r[0] + 1, 2 * r[1] + 1), dtype=bool))
    out = np.zeros_like(bone)
    out[k0:k1 + 1] = bone[k0:k1 + 1] & near
    return out


def _halves(own, below, above, rim, spacing) -> np.ndarray:
    """1 below the disc, 2 above: the bone off the ring flooded from the bodies along its
    distance map (the arches go with the body they hang from), the ring split at its middle."""
    # The scan's first and last slices are no surface: a body cut off there goes on beyond them.
    depth = ndimage.distance_transform_edt(np.pad(own, ((0, 0), (1, 1), (1, 1))), sampling=spacing[::-1])[:, 1:-1, 1:-1]
    halves = watershed(-depth, below.astype(np.int32) + 2 * above, mask=own & ~rim)
    ks = np.flatnonzero(rim.any(axis=(1, 2)))
    mid = 0.5 * (ks[0] + ks[-1])
    k = np.arange(own.shape[0])[:, None, None]
    halves[rim] = np.where(np.broadcast_to(k > mid, own.shape), 2, 1)[rim]
    # Bits cut off from both bodies by the ring: the nearest half's.
    lost = own & (halves == 0)
    if lost.any():
        idx = ndimage.distance_transform_edt(halves == 0, sampling=spacing[::-1], return_distances=False,
                                             return_indices=True)
        halves[lost] = halves[tuple(i[lost] for i in idx)]
    return halves
