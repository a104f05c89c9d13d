"""Whether a long bone's solid is closed already, without drawing its cross-sections' hulls.

segment_bones closes the cross-sections of long bones, so filling them again in find_target
usually adds nothing, yet drawing a convex hull per section (long_bone_solid) costs most of a
second on a large CT.  A section of pixels S is its own hull's pixels exactly when S holds every
lattice point of its convex hull; S lies in the hull, so counting those points is enough, and
Pick's theorem counts them from the hull's vertices: I + B = A + B/2 + 1 (A: area, B: lattice
points on the outline).  The hull of pixel centres has integer vertices: the count is exact.
Such a section has no holes either, so hole filling (sections of several pieces) adds nothing
to it; any other section is filled as long_bone_solid fills it, and compared.
"""

from __future__ import annotations

import math

import numpy as np

from .long_bone import long_bone_solid


def closed_already(mask: np.ndarray, axis: int) -> bool:
    """True when long_bone_solid(mask, axis) | mask equals ``mask`` (bool 3D)."""
    sections = np.moveaxis(mask, axis, 0)
    pixels = np.count_nonzero(sections, axis=(1, 2))
    # The hull of a section is the hull of each row's first and last pixel.
    rows = sections.any(axis=2)
    first = np.argmax(sections, axis=2)
    last = sections.shape[2] - 1 - np.argmax(sections[:, :, ::-1], axis=2)
    for n in np.flatnonzero(pixels):
        r = np.flatnonzero(rows[n])
        if _hull_pixels(r.tolist(), first[n, r].tolist(), last[n, r].tolist()) == pixels[n]:
            continue
        section = sections[n]
        if not np.array_equal(long_bone_solid(section[None], 0)[0] | section, section):
            return False
    return True


def _hull_pixels(rows: list, left: list, right: list) -> int | None:
    """Lattice points in the convex hull of the points (row, left) and (row, right), rows
    increasing; None when the hull is flat."""
    # The hull's outline: the convex minorant of the left ends, then the concave majorant of
    # the right ends back up (monotone chains).
    outline = _chain(rows, left) + _chain(rows[::-1], right[::-1])
    twice_area = boundary = 0
    for (r0, c0), (r1, c1) in zip(outline, outline[1:] + outline[:1]):
        twice_area += r0 * c1 - r1 * c0
        boundary += math.gcd(r1 - r0, c1 - c0)
    if twice_area == 0:
        return None
    return (abs(twice_area) + boundary) // 2 + 1


def _chain(rows: list, cols: list) -> list:
    """The points (row, col) where the outline, followed in this order, turns left (towards
    increasing col when going down the rows); points on a straight stretch are dropped (B
    counts them anyway)."""
    out = []
    for p in zip(rows, cols):
        while len(out) >= 2:
            (r0, c0), (r1, c1) = out[-2], out[-1]
            if ((r1 - r0) * (p[1] - c0) - (c1 - c0) * (p[0] - r0)) > 0:
                break
            out.pop()
        out.append(p)
    return out
