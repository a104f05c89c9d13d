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


def _window(shift, shape) -> tuple[tuple, tuple] | None:
    """(destination, source) slices for a view of an array seen ``shift`` voxels on (per axis),
    or None where the shift leaves the array."""
    if any(abs(c) >= n for c, n in zip(shift, shape)):
        return None
    dst = tuple(slice(max(0, -c), n - max(0, c)) for c, n in zip(shift, shape))
    src = tuple(slice(max(0, c), n - max(0, -c)) for c, n in zip(shift, shape))
    return dst, src


def ray_hits(mask: np.ndarray, d, steps: int) -> np.ndarray:
    """True where ``mask`` lies 1..steps voxels away along ``d`` ((dk, dj, di); dk = 0 stays in
    the slice)."""
    hit = np.zeros_like(mask)
    first = _window(d, mask.shape)
    if first is None:
        return hit
    hit[first[0]] = mask[first[1]]  # one step
    covered = 1
    while covered < steps:  # now hit covers 1..covered; double it
        s = min(covered, steps - covered)
        window = _window([c * s for c in d], hit.shape)
        if window is None:
            break
        hit[window[0]] |= hit[window[1]]  # numpy buffers the overlapping views
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
        count += ray_hits(mask, (0, dj, di), max(1, int(round(reach_mm / step_mm))))
    return count
