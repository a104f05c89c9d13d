"""How enclosed each voxel is by a mask, in its own slice: rays cast in 8 directions.

The trabecular interior of a vertebral body is walled in by cortex on (nearly) every side, even
where the thin cortex of an osteoporotic body has gaps that defeat hole filling; soft tissue
next to a bone sees cortex on one side only.  Counting, for each voxel, the directions in which
a ray meets the mask within a reach gives a measure that tolerates such gaps.

Each direction costs a handful of shifted ORs (the reach is covered by doubling), so the whole
count is a few dozen passes over boolean arrays.
"""

from __future__ import annotations

import numpy as np

from .slices import per_slice

DIRECTIONS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))  # (dj, di)


def _shift_or(acc: np.ndarray, dj: int, di: int) -> None:
    """acc |= acc shifted so that acc[:, j, i] also sees acc[:, j + dj, i + di]."""
    J, I = acc.shape[1:]
    if abs(dj) >= J or abs(di) >= I:
        return
    dst = (slice(None), slice(max(0, -dj), J - max(0, dj)), slice(max(0, -di), I - max(0, di)))
    src = (slice(None), slice(max(0, dj), J - max(0, -dj)), slice(max(0, di), I - max(0, -di)))
    acc[dst] |= acc[src]


def ray_hits(mask: np.ndarray, dj: int, di: int, steps: int) -> np.ndarray:
    """True where ``mask`` lies 1..steps pixels away along (dj, di), in the same slice."""
    J, I = mask.shape[1:]
    hit = np.zeros_like(mask)
    dst = (slice(None), slice(max(0, -dj), J - max(0, dj)), slice(max(0, -di), I - max(0, di)))
    src = (slice(None), slice(max(0, dj), J - max(0, -dj)), slice(max(0, di), I - max(0, -di)))
    hit[dst] = mask[src]  # one step
    covered = 1
    while covered < steps:  # now hit covers 1..covered; double it
        s = min(covered, steps - covered)
        _shift_or(hit, dj * s, di * s)
        covered += s
    return hit


@per_slice()
def enclosure(mask: np.ndarray, spacing, reach_mm: float) -> np.ndarray:
    """uint8 (k, j, i): in how many of 8 in-plane directions ``mask`` lies within ``reach_mm``.

    ``spacing`` is (i, j, k) in mm.
    """
    count = np.zeros(mask.shape, dtype=np.uint8)
    for dj, di in DIRECTIONS:
        step_mm = float(np.hypot(dj * spacing[1], di * spacing[0]))
        count += ray_hits(mask, dj, di, max(1, int(round(reach_mm / step_mm))))
    return count
