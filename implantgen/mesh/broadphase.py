"""Broad phase of the self-intersection test: the pairs of triangles whose bounding boxes meet.

A uniform grid: each box is entered in every cell it covers, and two boxes sharing a cell and
overlapping along one axis (a sweep in each cell) are a candidate pair.  A pair is taken only
in the cell holding the lower corner of the boxes' common part (the cell where, along each
axis, one of the two boxes starts), so it comes out once however many cells the two share; its
boxes are then compared exactly.  The cell is about the typical triangle's size, grown while
the few long slivers of a CAD-like part would be entered in too many cells.  (Bounding spheres in a KD-tree, as before, pair a long sliver with
everything within its length: 20 times the pairs on an implant.)
"""

from __future__ import annotations

import numpy as np

_ENTRIES_PER_BOX = 8  # the cell grows until the boxes cover at most this many cells each on average


def _runs(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a count per row: each item's row and its index within the row."""
    row = np.repeat(np.arange(len(sizes)), sizes)
    within = np.arange(len(row)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return row, within


def _grid(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First cell (3 indices) and cells covered per axis of each box, on a cubic grid from the
    boxes' lowest corner.  Index = floor((x - origin) / cell) is monotonic in x, so a box covers
    the cells from its lower to its upper corner's, and the grid decides nothing by rounding."""
    origin = lo.min(axis=0)
    extent = float((hi.max(axis=0) - origin).max())
    # 2^-20 of the extent at least: cell indices stay far below int64's range
    cell = max(float(np.median((hi - lo).max(axis=1))), extent * 2.0**-20, 1e-300)
    while True:
        first = np.floor((lo - origin) / cell).astype(np.int64)
        span = np.floor((hi - origin) / cell).astype(np.int64) - first + 1
        if span.prod(axis=1).sum(dtype=np.float64) <= _ENTRIES_PER_BOX * len(lo) + 1024:
            return first, span
        cell *= 2.0


def _entries(first: np.ndarray, span: np.ndarray):
    """One entry per (box, cell it covers): the box, the cell's key, and along which axes the box
    starts in that cell (bits 1, 2, 4)."""
    owner, local = _runs(span.prod(axis=1))
    sy, sz = span[owner, 1], span[owner, 2]
    offset = np.column_stack([local // (sy * sz), (local // sz) % sy, local % sz])
    cell = first[owner] + offset
    dims = first.max(axis=0) + span.max(axis=0)
    key = (cell[:, 0] * dims[1] + cell[:, 1]) * dims[2] + cell[:, 2]
    starts_here = ((offset == 0) * np.array([1, 2, 4])).sum(axis=1).astype(np.uint8)
    return owner, key, starts_here


def _sweep_order(key, owner, lo_axis, hi_axis):
    """Entries in cell order, then by where their box starts along the sweep axis; and for each,
    the end of the run of later entries of its cell that start before its box ends.  Starts are
    compared as ranks among all starts (exact integers, one sort)."""
    n = np.int64(len(lo_axis))
    starts = np.sort(lo_axis)
    rank_lo = np.searchsorted(starts, lo_axis, side="left")
    rank_hi = np.searchsorted(starts, hi_axis, side="right") - 1  # the last start not after the end
    _, cell_id = np.unique(key, return_inverse=True)
    code = cell_id * n + rank_lo[owner]
    order = np.argsort(code)
    last = np.searchsorted(code[order], cell_id[order] * n + rank_hi[owner[order]], side="right")
    return order, last


def candidate_pairs(tri: np.ndarray) -> np.ndarray:
    """Pairs (i < j), sorted, of triangles (n, 3, 3) whose bounding boxes overlap (closed)."""
    n = len(tri)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    owner, key, starts_here = _entries(*_grid(lo, hi))
    # The sweep runs along the axis where boxes are thinnest: a third of all the pairs of a
    # cell are left on an implant.
    sweep = int(np.argmin(np.median(hi - lo, axis=0)))
    order, last = _sweep_order(key, owner, lo[:, sweep], hi[:, sweep])
    owner, starts_here = owner[order], starts_here[order]
    p, k = _runs(last - np.arange(len(last)) - 1)
    q = p + 1 + k
    # The lower corner of the common part lies in this cell when, along every axis, one of the
    # two boxes starts here (both start at or before it).
    once = (starts_here[p] | starts_here[q]) == 7
    a, b = owner[p[once]], owner[q[once]]
    for axis in {0, 1, 2} - {sweep}:  # one axis at a time, on the pairs still overlapping
        lo_c, hi_c = lo[:, axis].copy(), hi[:, axis].copy()
        keep = (lo_c[a] <= hi_c[b]) & (lo_c[b] <= hi_c[a])
        a, b = a[keep], b[keep]
    i, j = np.minimum(a, b), np.maximum(a, b)
    sort = np.argsort(i * np.int64(n) + j)
    return np.column_stack([i[sort], j[sort]])
