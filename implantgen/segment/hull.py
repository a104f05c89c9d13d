"""Convex hulls of the pixel centres of every cross-section of a stack, all at once.

skimage's convex_hull_image(section, offset_coordinates=False) costs ~1 ms a section (qhull's
setup alone ~0.2 ms); a long bone has hundreds.  Its pixels are those whose centre lies in the
closed polygon (grid_points_in_poly's vertex and edge tests are exact on integer vertices), so
the same pixels follow from the hull's outline row by row: a section's hull spans, in each row,
from the convex minorant of the rows' first pixels to the concave majorant of their last ones.
Both envelopes are found for all sections together by dropping, pass after pass, the points
that lie on or beyond the chord of their neighbours (never a vertex of the envelope); then each
row's span is the chord's value rounded inwards, in integers.
"""

from __future__ import annotations

import numpy as np


def section_hulls(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hulls, flat): the convex hull of each section ``stack[n]`` (bool, pixel centres), and
    which sections have a flat hull (one line of pixels, or none): those hulls are left empty,
    as convex_hull_image leaves them (qhull fails on them)."""
    n, h, w = stack.shape
    rows = stack.any(axis=2)
    first = np.argmax(stack, axis=2)
    last = w - 1 - np.argmax(stack[:, :, ::-1], axis=2)
    sec, r = np.nonzero(rows)  # in order of section, then row
    lo = _envelope(sec, r, first[sec, r], 1)
    hi = _envelope(sec, r, last[sec, r], -1)
    left = _span(lo, sec, r, n, h, np.ceil)
    right = _span(hi, sec, r, n, h, np.floor)
    cols = np.arange(w)
    hulls = (cols >= left[:, :, None]) & (cols <= right[:, :, None])
    flat = ~rows.any(axis=1) | _flat(lo, hi, n)
    hulls[flat] = False
    return hulls, flat


def _envelope(sec, r, x, side):
    """(sec, r, x) of the vertices of each section's envelope of the points (r, x): the convex
    minorant (side 1) or concave majorant (side -1), as functions of r."""
    while True:
        # Interior points: neighbours in the same section on both sides.
        inner = np.zeros(len(sec), dtype=bool)
        inner[1:-1] = (sec[:-2] == sec[1:-1]) & (sec[2:] == sec[1:-1])
        i = np.flatnonzero(inner)
        # side * (x_i - chord at r_i) >= 0: on the chord or beyond it, into the hull.
        beyond = side * ((x[i] - x[i - 1]) * (r[i + 1] - r[i - 1])
                         - (x[i + 1] - x[i - 1]) * (r[i] - r[i - 1])) >= 0
        if not beyond.any():
            return sec, r, x
        keep = np.ones(len(sec), dtype=bool)
        keep[i[beyond]] = False
        sec, r, x = sec[keep], r[keep], x[keep]


def _span(vertices, sec, r, n, h, rounding):
    """(n, h) int: the envelope's value at each row between a section's first and last row,
    rounded inwards (ceil on the left, floor on the right); rows outside get an empty span."""
    vs, vr, vx = (a.astype(np.int64) for a in vertices)
    empty = np.iinfo(np.int64).max if rounding is np.ceil else np.iinfo(np.int64).min
    out = np.full((n, h), empty, dtype=np.int64)
    if len(vs) == 0:
        return out
    key = vs * (h + 1) + vr
    first_row = np.full(n, h, dtype=np.int64)
    last_row = np.full(n, -1, dtype=np.int64)
    np.minimum.at(first_row, vs, vr)
    np.maximum.at(last_row, vs, vr)
    qs, qr = np.nonzero((np.arange(h) >= first_row[:, None]) & (np.arange(h) <= last_row[:, None]))
    j = np.searchsorted(key, qs * (h + 1) + qr, side="right") - 1  # the vertex at or before
    k = np.minimum(j + 1, len(vs) - 1)
    dr = np.where(vs[k] == qs, vr[k] - vr[j], 0)
    num = np.where(dr > 0, (vx[k] - vx[j]) * (qr - vr[j]), 0)
    den = np.maximum(dr, 1)
    step = num // den if rounding is np.floor else -((-num) // den)
    out[qs, qr] = vx[j] + step
    return out


def _flat(lo, hi, n) -> np.ndarray:
    """Sections whose points all lie on one line: one row, or both envelopes the same segment
    (and sections with no point)."""
    a, b = _ends(lo, n), _ends(hi, n)
    two = (np.bincount(lo[0], minlength=n) == 2) & (np.bincount(hi[0], minlength=n) == 2)
    return (a[:, 0] == a[:, 2]) | (two & np.all(a == b, axis=1))


def _ends(vertices, n) -> np.ndarray:
    """(n, 4): (r, x) of the first and of the last vertex of each section's envelope."""
    sec, r, x = vertices
    out = np.full((n, 4), -1, dtype=np.int64)
    start = np.ones(len(sec), dtype=bool)
    start[1:] = sec[1:] != sec[:-1]
    end = np.ones(len(sec), dtype=bool)
    end[:-1] = sec[1:] != sec[:-1]
    out[sec[start], 0], out[sec[start], 1] = r[start], x[start]
    out[sec[end], 2], out[sec[end], 3] = r[end], x[end]
    return out
