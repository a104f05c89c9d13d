"""Metal on a CT (implants, screws, clips): found, reported, and kept out of the bones.

Metal saturates the scanner's 12-bit range (about 3071 HU); nothing in the body comes near
2500 HU (cortical bone stays below about 2000, docs/domain.md).  Its blooming, the blurred rim
of a metal object, is kept with it: voxels within a couple of mm that are still far denser
than cortex.  Bone next to the metal stays bone; its streaks are a reason for a warning.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .components import label

METAL_HU = 2500.0
BLOOM_HU = 2000.0  # the rim of a metal object: denser than any bone
BLOOM_MM = 2.0
MIN_METAL_MM3 = 10.0  # a small surgical clip; single noisy voxels are not metal
STREAK_MM = 40.0  # how far streaks are expected to spoil HU around metal


def metal_mask(hu: np.ndarray, spacing) -> np.ndarray | None:
    """Bool (k, j, i) mask of metal with its blooming, or None when there is none.

    ``spacing`` is (i, j, k) in mm.
    """
    core = hu >= METAL_HU
    if not core.any():
        return None
    labels, n = label(core, structure=np.ones((3, 3, 3), dtype=bool))
    voxel_mm3 = float(np.prod(spacing))
    sizes = np.bincount(labels.ravel())
    keep = sizes * voxel_mm3 >= MIN_METAL_MM3
    keep[0] = False
    if not keep.any():
        return None
    core = keep[labels]
    return core | (grow_mm(core, spacing, BLOOM_MM) & (hu >= BLOOM_HU))


def grow_mm(mask: np.ndarray, spacing, mm: float) -> np.ndarray:
    """``mask`` dilated by about ``mm`` (at least one voxel along each axis), on its bounding box."""
    steps = [max(1, int(round(mm / float(s)))) for s in spacing[::-1]]  # (k, j, i)
    box = []
    for axis, pad in enumerate(steps):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        if idx.size == 0:
            return mask.copy()
        box.append(slice(max(int(idx[0]) - pad, 0), min(int(idx[-1]) + 1 + pad, mask.shape[axis])))
    box = tuple(box)
    k, j, i = (np.arange(-s, s + 1) / s for s in steps)
    ball = (k[:, None, None] ** 2 + j[None, :, None] ** 2 + i[None, None, :] ** 2) <= 1.0
    out = mask.copy()
    out[box] = ndimage.binary_dilation(mask[box], structure=ball)
    return out
