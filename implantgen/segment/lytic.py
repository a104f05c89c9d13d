"""A lytic lesion inside a bone, taken into the bone's solid.

A lytic lesion (soft-tissue density, 0..150 HU) is no denser than the soft tissue around the
bone, so the trabecular interior (denser than soft tissue) leaves it out, and it is far larger
than the gaps between trabeculae that fill_specks fills.  What marks it as part of the bone is
where it lies: walled in by the bone in its own slice (the body's cortex ring, gaps and a break
tolerated as in enclosure.py), and capped along k by bone above and below (trabecular bone or
an endplate).  An intervertebral disc lies between two vertebrae: it is a valley between two
endplates (solid.disc_like), or walled in by a thin rim only (an endplate's edge, osteophytes),
with soft tissue beyond it, where a lesion has bone all round (bone_around); the spinal canal,
walled in by the arch, runs on through the slices, capped only here and there by a lamina.
Where the lesion broke the cortex, the solid is closed up to the chord over the break (spanned).
A lesion that broke through a body's posterior wall into the spinal canal joins the canal and
would go with it: its part beside the canal's open section, capped along k, large and with bone
all round but the break, is judged on its own (off_canal); the canal stays out.

Measured on lesions simulated in real vertebral bodies (tests/test_lesions_real.py): all of the
lesion in the solid (12 of 89 and 87 of 1121 voxels before); the iliac marrow between the tables
of the pelvis is taken in too.  A lesion of the posterior wall 6 mm into the canal: 58 of 61 and
907 of 907 of its voxels in the body (5 and 15 before).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .body import by_disk, disk
from .components import PLANE4, find_objects, label
from ..geometry import bbox
from .enclosure import enclosure
from .hull import section_hulls

MIN_ENCLOSED = 7  # of 8 in-plane directions: the bone lies all round ...
LOOSE_ENCLOSED = 5  # ... and next to such voxels, 5 of 8 (where the lesion broke the cortex)
MIN_CAPPED = 0.5  # share of a piece's voxels capped by bone along k on both sides
AROUND_MM = 4.0  # the band around a piece in its slices ...
MIN_BONE_AROUND = 0.67  # ... is mostly bone around a lesion (0.75 where it broke the cortex), not around a disc (0.59)
# A lesion that broke through a vertebral body's posterior wall into the spinal canal, in its
# part beside the canal (off_canal): all bone around it but the break, and no speck (the pieces
# of the canal taken so in scans without a lesion held 0.4 ml at most, 0.86 of bone around).
BREACH_ML = 1.0
BREACH_BONE_AROUND = 0.75
_ALONG_K = np.zeros((3, 3, 3), dtype=bool)
_ALONG_K[:, 1, 1] = True


def lytic_holes(mask: np.ndarray, candidate, spacing, reach_mm: float) -> np.ndarray:
    """Voxels of ``candidate`` (not bone, not fat) walled in by ``mask`` in their slice (rays
    within ``reach_mm``) and capped by it along k on both sides.  ``spacing`` is (i, j, k).

    ``candidate`` is a bool array like ``mask``, or a function of the (k,) bool slices where
    it is read (those holding voxels outside ``mask`` walled in enough) giving that array,
    right on those slices (costly tests need not run on the others)."""
    walled = enclosure(mask, spacing, reach_mm)
    loose = ~mask & (walled >= LOOSE_ENCLOSED)
    if callable(candidate):
        # Read below only within the pieces of ``loose`` and their slices (spanned).
        candidate = candidate(loose.any(axis=(1, 2)))
    loose &= candidate
    labels, n = label(loose, structure=PLANE4)
    seeded = np.zeros(n + 1, dtype=bool)
    seeded[labels[loose & (walled >= MIN_ENCLOSED)]] = True
    seeded[0] = False
    region = seeded[labels]
    capped = capped_along_k(region, mask)
    if not capped.any():
        return capped
    # A piece mostly open along k is a canal (the spinal canal, capped here and there by a
    # lamina of the next vertebra), not a lesion walled in by one bone.
    pieces, n = label(region)  # 6-connected
    total = np.bincount(pieces[region], minlength=n + 1)
    closed = np.bincount(pieces[capped], minlength=n + 1)
    keep = closed >= MIN_CAPPED * total
    keep[0] = False
    # Only a canal-like piece with 1 ml capped can hold a breach of BREACH_ML (its 6-connected parts).
    breached = off_canal(pieces, ~keep & (closed * np.prod(spacing) / 1000.0 >= BREACH_ML), capped, spacing)
    pieces[~(capped & keep[pieces])] = 0  # what would be filled, by piece
    if breached.any():  # judged as pieces of their own, after the others
        extra, m = label(breached)
        big = np.bincount(extra.ravel(), minlength=m + 1) * np.prod(spacing) / 1000.0 >= BREACH_ML
        big &= bone_around(extra, m, mask, spacing) >= BREACH_BONE_AROUND
        big[0] = False
        breached = big[extra]
        pieces[breached] = extra[breached] + n
        keep = np.concatenate([keep, big[1:]])
        n += m
    keep &= bone_around(pieces, n, mask, spacing) >= MIN_BONE_AROUND
    keep[0] = False
    pieces[~keep[pieces]] = 0
    return spanned(pieces, mask, candidate, spacing)


def off_canal(pieces: np.ndarray, canal: np.ndarray, capped: np.ndarray, spacing) -> np.ndarray:
    """The capped voxels of the canal-like ``pieces`` (``canal``: (n + 1,) bool) farther in-plane
    than AROUND_MM from the piece's open voxels: a lesion that broke through a vertebral body's
    posterior wall joins the spinal canal, and its part in the body, capped by bone above and
    below, lies beside the canal's open section, not in it."""
    canal = canal.copy()
    canal[0] = False
    own = canal[pieces]
    box = bbox(own)  # the open voxels are its voxels: their growth is worked on their box
    out = np.zeros_like(own)
    if box is not None:
        r = max(1, int(round(AROUND_MM / float(spacing[0]))))
        own, capped = own[box], capped[box]
        out[box] = own & capped & ~by_disk(own & ~capped, r, grow=True)
    return out


def spanned(pieces: np.ndarray, mask: np.ndarray, candidate: np.ndarray, spacing) -> np.ndarray:
    """The pieces, and where one broke the cortex the ``candidate`` voxels up to the chord over
    the break: in each slice, the convex hull of a piece and the bone in the band around it."""
    out = pieces > 0
    r = max(1, int(round(AROUND_MM / float(spacing[0]))))
    for n, box in enumerate(find_objects(pieces), start=1):
        if box is None:
            continue
        box = (box[0],) + tuple(slice(max(b.start - r, 0), b.stop + r) for b in box[1:])
        own = pieces[box] == n
        around = by_disk(own, r, grow=True) & (mask[box] | own)
        hulls, _ = section_hulls(around)
        out[box] |= hulls & candidate[box] & ~mask[box]
    return out


def bone_around(pieces: np.ndarray, n: int, mask: np.ndarray, spacing) -> np.ndarray:
    """(n + 1,) share of ``mask`` in the in-plane band of AROUND_MM around each piece.

    A lesion lies in trabecular bone (or what is left of it), which fills the band but where it
    broke the cortex; a disc's section is walled in by a thin rim (endplate edge, osteophytes)
    with soft tissue beyond it, within the band."""
    r = max(1, int(round(AROUND_MM / float(spacing[0]))))
    box = bbox(pieces > 0, (0, r, r))  # the band lies within it: the filter there only
    if box is None:
        return np.zeros(n + 1)
    pieces, mask = pieces[box], mask[box]
    near = ndimage.maximum_filter(pieces, footprint=disk(r)[None])
    band = (near > 0) & (pieces == 0)
    total = np.bincount(near[band], minlength=n + 1)
    bone = np.bincount(near[band & mask], minlength=n + 1)
    return bone / np.maximum(total, 1)


def capped_along_k(region: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The runs of ``region`` along k (each column apart) with ``mask`` next to both ends; a run
    reaching the first or last slice is not capped."""
    runs, n = label(region, structure=_ALONG_K)
    open_end = np.zeros(n + 1, dtype=bool)
    for step in (1, -1):  # the voxel beyond each run's end, below and above
        end = region.copy()
        beyond = np.zeros_like(mask)  # outside the array: not bone
        if step == 1:
            end[1:] &= ~region[:-1]
            beyond[1:] = mask[:-1]
        else:
            end[:-1] &= ~region[1:]
            beyond[:-1] = mask[1:]
        open_end[runs[end & ~beyond]] = True
    open_end[0] = True
    return ~open_end[runs]
