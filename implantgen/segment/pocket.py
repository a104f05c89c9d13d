"""A lytic lesion that broke through the cortex of a flat bone or a bone's end: back in that bone.

lytic.py takes a lesion walled in by the bone in its own slice and capped along k.  Where the
lesion has replaced the cortex on a side (a thin ilium, a sacral body, near a joint), its
soft-tissue region joins the joint cleft or the soft tissue beyond the break, and is judged
(and dropped) with it.  Seen in 3D, from inside the lesion one bone still lies within reach in
nearly every direction; a joint's cleft or a foramen is walled in like that too, but is thin.
So a bone's pocket is the region of soft-tissue density that the bone (that one label) walls in
within POCKET_REACH_MM in MIN_DIRECTIONS of 26 directions, and only its thick core (deeper than
CORE_MM, at least MIN_CORE_ML) grown back by CORE_MM: an opening, which leaves clefts out.

Measured on pelvis_3mm (benchmarks/real_lesions.py): without a lesion the largest core of any
bone on the three real scans is 0.054 ml (a joint's recess); lesions of the ilium and sacrum
that broke the cortex have cores of 0.54-1.38 ml.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .components import label
from .enclosure import ray_hits

POCKET_REACH_MM = 15.0  # the bone around a lesion of 8-10 mm lies within this of its voxels
MIN_DIRECTIONS = 20  # of 26: a joint's cleft or a foramen is open on more sides
EDGE_DIRECTIONS = 18  # ... where the core grows back into the edge of the break (its own directions open)
CORE_MM = 3.0  # thicker than a cleft (a voxel at 3 mm)
GROW_MM = 4.3  # back into the lesion, a diagonal step of 3 mm voxels
MIN_CORE_ML = 0.25  # five times the largest core found without a lesion (0.054 ml)
FAT_HU = -20.0  # fat is no lesion (solid.FAT_MARROW_HU)
DIRECTIONS = [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if (a, b, c) != (0, 0, 0)]


def add_pockets(labels: np.ndarray, g: np.ndarray, cortex_hu: float, spacing, exclude=None) -> None:
    """Give each bone of ``labels`` (in place) the thick pockets of free soft-tissue voxels (g
    between FAT_HU and ``cortex_hu``, not ``exclude``) that it walls in in 3D.  ``spacing`` is
    (i, j, k) in mm."""
    scale = np.asarray(spacing, dtype=float)[::-1]
    for lab, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:  # a pocket lies within its bone's box: rays leaving it never come back
            continue
        sub = labels[box]
        free = (sub == 0) & (g[box] > FAT_HU) & (g[box] < cortex_hu)
        if exclude is not None:
            free &= ~exclude[box]
        if not free.any():
            continue
        hits = directions_hit(sub == lab, scale, POCKET_REACH_MM)
        core = ndimage.distance_transform_edt(free & (hits >= MIN_DIRECTIONS), sampling=scale) > CORE_MM
        if not core.any():
            continue
        pieces, n = label(core)
        ml = np.bincount(pieces.ravel(), minlength=n + 1) * float(np.prod(scale)) / 1000.0
        big = ml >= MIN_CORE_ML
        big[0] = False
        if not big.any():
            continue
        # The core grown back (an opening), into the lesion's edge where it broke the cortex,
        # walled in a little less (the break's own directions open).
        near = ndimage.distance_transform_edt(~big[pieces], sampling=scale) <= GROW_MM + 1e-3
        sub[near & free & (hits >= EDGE_DIRECTIONS)] = lab


def directions_hit(mask: np.ndarray, scale, reach_mm: float) -> np.ndarray:
    """uint8: in how many of 26 directions ``mask`` lies within ``reach_mm`` (``scale``: (k, j, i) mm)."""
    count = np.zeros(mask.shape, dtype=np.uint8)
    for d in DIRECTIONS:
        steps = max(1, int(round(reach_mm / float(np.linalg.norm(np.multiply(d, scale))))))
        count += ray_hits(mask, d, steps)
    return count
