"""The solid of a long bone, closed even where a lesion has broken its cortex.

Plain hole filling fails there: the marrow cavity opens through the break.  A diaphysis cut
across its axis is convex, so each cross-section that holds one piece of bone is replaced by its
convex hull; cross-sections with several pieces (near a joint) are only hole-filled.

The hull only spans the break with a chord: the destroyed cortex between the chord and the
bone's outline (a few millimetres deep for a quarter of the circumference) would be left out,
and with it part of the lesion.  So, given the cortex, each one-piece cross-section's outline is
followed around its centre: directions where the outline is not cortex are a break, and their
outline is rebuilt from the intact cortex on both sides of it, radius interpolated by angle.
Where a lesion destroyed most of the circumference (the intact arc is too short to trust, or
the break would add more than half the section), the outline is the circle of the round,
intact sections above and below it, interpolated, if the cortex left lies on that circle.
Where it destroyed the whole cross-section (no cortex left, or specks), that circle is filled in
if the tissue there has a lesion's density (_fill_gaps; shaft_gap.py joins the two pieces
the bone fell into).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .components import PLANE4, label
from ..records import Volume
from .body import fill_holes_2d
from .filters import erode_cross
from .hull import section_hulls


_MIN_PIECE_PX = 6
_ANGLE_BINS = 72  # 5 degrees: about one pixel of a femoral shaft's outline per direction
_CORTEX_DEPTH_MM = 1.0  # an intact outline has cortex within this of its edge (trimmed edges)
_MIN_INTACT = 0.5  # share of directions with cortex: fewer and the section is no broken ring
# A diaphysis cut across is round: its intact outline lies on a circle to within this spread of
# radii (std / mean; an ellipse of axis ratio 1.3, a shaft cut 40 degrees off its axis, is
# ~0.09).  A metaphysis or a flat piece of bone is not, and its hull's straight sides are no
# break to rebuild.
_MAX_ROUNDNESS = 0.12
_ISLAND_REACH_MM = 5.0  # pieces this near a section's largest piece, and small, are in its break
_ISLAND_SHARE = 0.125
# A section whose break is too wide to rebuild from its own cortex is rebuilt on the circle of the
# nearest round, intact sections on both sides, within this distance of each other ...
_PRIOR_GAP_MM = 120.0
_PRIOR_RADII = 0.15  # ... whose radii differ by at most this share (a shaft, not a flare),
_PRIOR_FIT_MM = 1.5  # ... when the median radius of its intact cortex is within this of it.
# A section holding under this share of that circle has lost its whole cross-section to a lesion
# (_fill_gaps) when no section between the round ones is this much wider than the circle ...
_GAP_SHARE, _GAP_WIDER = 0.5, 1.2
GAP_HU = (0.0, 450.0)  # ... and the circle's median HU is this: a lesion's, not fat, air or bone


def slicing_axis(volume: Volume, direction) -> int:
    """The array axis (0 = k, 1 = j, 2 = i) closest to ``direction``: cut across it."""
    cosines = np.abs(volume.direction.T @ np.asarray(direction, dtype=float))  # (i, j, k)
    return int(2 - np.argmax(cosines))


def long_bone_solid(mask: np.ndarray, axis: int, cortex: np.ndarray | None = None,
                    spacing_kji=None, hu: np.ndarray | None = None) -> np.ndarray:
    """Fill ``mask`` cross-section by cross-section across array ``axis``; with ``cortex``
    (bool, same grid) and the voxel size, rebuild the outline across cortical breaks too; with
    ``hu`` (same grid) also sections a lesion emptied of bone (_fill_gaps)."""
    out = np.zeros_like(mask, dtype=bool)
    if spacing_kji is not None:
        pixel_mm = np.delete(np.asarray(spacing_kji, dtype=float), axis)
    # Every section at once, along the first axis of views: the pieces of each (its own
    # 4-connected labelling), their hulls, and the filled sections of several pieces.
    stack, filled = np.moveaxis(mask, axis, 0), np.moveaxis(out, axis, 0)
    one = _one_piece(stack)  # specks of noise are not pieces
    several = ~one & stack.any(axis=(1, 2))
    if several.any():  # a bone with dense pieces in its break (a mixed lesion's islands)
        one[several] = _pieces_inside(stack[several], pixel_mm if spacing_kji is not None else None)
        several &= ~one
    if several.any():
        filled[several] = fill_holes_2d(stack[several])
    # The hull of the pixel centres: the default hull of the pixels' corners takes in every
    # pixel whose centre it reaches, half a pixel beyond the bone all round (measured on the
    # femur phantoms: bone Dice 0.965 -> 0.99).
    hulls, flat = section_hulls(stack[one])
    sections = np.flatnonzero(one)
    # A section whose pixel centres make no polygon (fewer than 3, or on one line) has an empty
    # hull, as convex_hull_image answers (its qhull error turned into a warning a user would
    # see): the bone's own pixels stay as they are.
    hulls[flat] = False
    if cortex is None:
        filled[one] = hulls
        return out
    edge = np.moveaxis(cortex, axis, 0)
    circles, broken = {}, []
    for n, hull in zip(sections, hulls):
        filled[n], circle, gave_up = _rebuild(hull, edge[n], pixel_mm)
        if circle is not None:
            circles[n] = circle
        if gave_up:
            broken.append(n)
    # Several pieces in a shaft's section: what a lesion left of its cortex (and specks), taken
    # as their hull, unless its cortex is not on the shaft's circle (near a joint).
    step = float(np.asarray(spacing_kji, dtype=float)[axis])
    for n in sorted(broken + list(np.flatnonzero(several))):
        prior = _prior(circles, n, step)
        if prior is None:
            continue
        section = filled[n] if one[n] else section_hulls(stack[n][None])[0][0]
        grown = from_circle(section, edge[n], pixel_mm, *prior)
        if grown is not section:
            filled[n] |= grown
    if hu is not None and len(circles) >= 2:
        _fill_gaps(filled, circles, np.moveaxis(hu, axis, 0), pixel_mm, step)
    return out


def _fill_gaps(filled: np.ndarray, circles: dict, hu: np.ndarray, pixel_mm, step_mm: float) -> None:
    """Sections between round ones that hold under half their interpolated circle, filled
    with it: a lesion destroyed the whole cross-section, no cortex is left to rebuild from, and
    the bone fell apart there or hung together by specks.  Only where the run between the two
    round sections is nowhere wider than the shaft (no joint or flare between them) and the
    circle holds no fat or air (GAP_HU: what a lesion is made of).  ``filled``, ``hu``: the
    sections along the first axis; ``circles``: section -> (centre, radius) mm."""
    keys = np.array(sorted(circles))
    between = np.arange(keys[0] + 1, keys[-1])
    if between.size == 0:
        return
    pixel_area = float(np.prod(pixel_mm))
    area = np.count_nonzero(filled[between], axis=(1, 2)) * pixel_area
    radius = np.array([circles[k][1] for k in keys])
    # The larger of the nearest circles on both sides, the section's own left out: a speck of
    # cortex left in the gap may be "round" too.
    near = np.maximum(radius[np.searchsorted(keys, between) - 1],
                      radius[np.searchsorted(keys, between, side="right")])
    gaps = between[area < _GAP_SHARE * np.pi * near**2]
    if gaps.size == 0:
        return
    round_ = {k: c for k, c in circles.items() if k not in set(gaps.tolist())}
    bounds = np.array(sorted(round_))
    for n in gaps:
        prior = _prior(round_, n, step_mm)
        if prior is None:
            continue
        a, b = bounds[np.searchsorted(bounds, n) - 1], bounds[np.searchsorted(bounds, n)]
        widest = max(round_[a][1], round_[b][1])
        if np.count_nonzero(filled[a + 1:b], axis=(1, 2)).max() * pixel_area > _GAP_WIDER * np.pi * widest**2:
            continue
        centre, r = prior
        grid = _pixels_near(centre, r, pixel_mm, filled.shape[1:])
        disk = grid[_polar(grid * pixel_mm - centre)[0] <= r]
        if len(disk) and GAP_HU[0] <= _median(hu[n][disk[:, 0], disk[:, 1]].astype(float)) < GAP_HU[1]:
            filled[n][disk[:, 0], disk[:, 1]] = True


def _one_piece(stack: np.ndarray) -> np.ndarray:
    """(n,) bool: sections of ``stack`` holding something and at most one piece of
    _MIN_PIECE_PX pixels or more (pieces 4-connected in the section, as ndimage.label's
    default in 2D), from one labelling of the whole stack."""
    labels, count = label(stack, structure=PLANE4)
    big = np.bincount(labels[stack], minlength=count + 1)[1:] >= _MIN_PIECE_PX
    where = _section_of(labels, count)
    pieces = np.bincount(where[big], minlength=stack.shape[0])
    present = np.zeros(stack.shape[0], dtype=bool)
    present[where] = True
    return present & (pieces <= 1)


def _section_of(labels: np.ndarray, count: int) -> np.ndarray:
    """(count,) the section (first axis) of each label 1..count of an in-plane labelling: they
    are numbered section by section (label's C-order scan), so the first section whose largest
    label reaches it (find_objects' box start, without its pass over every voxel)."""
    top = np.maximum.accumulate(labels.max(axis=(1, 2)) if labels.size else np.zeros(0, labels.dtype))
    return np.searchsorted(top, np.arange(1, count + 1)).astype(np.intp)


def _pieces_inside(stack: np.ndarray, pixel_mm) -> np.ndarray:
    """(n,) bool: sections whose other pieces of _MIN_PIECE_PX pixels or more are small
    (_ISLAND_SHARE of the largest) and lie within _ISLAND_REACH_MM of the largest's hull.
    Sclerotic islands of a mixed lesion in a cortical break are pieces of their own, and filling
    such a section's holes only left the break open: the lesion's part in it (half of it on some
    slices of 1.3 mm pixels) fell outside the solid.  A condyle, or another bone, is no such
    speck beside the bone."""
    labels, count = label(stack, structure=PLANE4)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    where = _section_of(labels, count)
    largest = np.zeros(stack.shape[0], dtype=np.intp)
    for piece in np.argsort(sizes[1:], kind="stable") + 1:  # the largest of each section last
        largest[where[piece - 1]] = piece
    hulls, _ = section_hulls(labels == largest[:, None, None])
    sampling = (1e6, *(np.ones(2) if pixel_mm is None else pixel_mm))  # in-plane distances
    near = ndimage.distance_transform_edt(~hulls, sampling=sampling) <= _ISLAND_REACH_MM
    others = (sizes[labels] >= _MIN_PIECE_PX) & (labels != largest[:, None, None])
    small = sizes[labels] <= _ISLAND_SHARE * sizes[largest][:, None, None]
    return ~(others & ~(near & small)).any(axis=(1, 2)) & hulls.any(axis=(1, 2))


def rebuild_break(section: np.ndarray, cortex: np.ndarray, pixel_mm) -> np.ndarray:
    """``section`` (a convex cross-section) grown out to the outline its intact cortex implies.

    In polar coordinates around the section's centre, a direction is intact where cortex lies
    within _CORTEX_DEPTH_MM of the outline; elsewhere the outline's radius is interpolated by
    angle between the intact directions on both sides, which continues the bone's round
    outline across a break where the hull draws a straight line.
    """
    return _rebuild(section, cortex, pixel_mm)[0]


def _rebuild(section: np.ndarray, cortex: np.ndarray, pixel_mm):
    """(rebuild_break's answer, (centre, radius) mm of a round section with intact cortex all
    round or None, whether it has a break that was left as it is)."""
    if np.count_nonzero(section) < 3:  # nothing round to rebuild (a flat section's hull is empty)
        return section, None, False
    pts = np.argwhere(section) * pixel_mm
    centre = pts.mean(axis=0)
    boundary = (section & ~erode_cross(section))[section]
    for refit in (True, False):  # the centroid leans away from a break: refit on the intact
        outline, intact, bins = _outline(pts, centre, cortex[section], pixel_mm)
        rim = pts[boundary & intact[bins]]
        if intact.all():  # cortex all round but no circle: a crescent a lesion left, or no shaft
            circle = _round(rim, outline) if refit else None
            return section, circle, refit and circle is None
        if intact.mean() < _MIN_INTACT or len(rim) < 3:
            return section, None, True
        if refit:
            centre = _circle_centre(rim)
            radii = np.hypot(*(rim - centre).T)
            if radii.std() > _MAX_ROUNDNESS * radii.mean():
                return section, None, True
    # Candidates: the pixels of the plane within reach of the intact outline.
    grid = _pixels_near(centre, outline[intact].max(), pixel_mm, section.shape)
    rg, angle, bg = _polar(grid * pixel_mm - centre)
    theta = (np.arange(_ANGLE_BINS) + 0.5) * (2 * np.pi / _ANGLE_BINS)
    radius = np.interp(angle, theta[intact], outline[intact], period=2 * np.pi)
    add = grid[~intact[bg] & (rg <= radius)]
    if len(add) > 0.5 * section.sum():  # more than a break through half the circumference adds
        return section, None, True
    out = section.copy()
    out[add[:, 0], add[:, 1]] = True
    return out, None, False


def _round(rim: np.ndarray, outline: np.ndarray):
    """(centre, radius) mm of the circle through a section's outline points ``rim`` (N, 2 mm),
    or None if they are not round; its radius is the outline's (per angle bin, _outline), which
    reaches the outermost pixel centres, as from_circle reads them."""
    if len(rim) < 3:
        return None
    centre = _circle_centre(rim)
    radii = np.hypot(*(rim - centre).T)
    return (centre, _median(outline)) if radii.std() <= _MAX_ROUNDNESS * radii.mean() else None


def _prior(circles: dict, n: int, step_mm: float):
    """The circle (centre, radius) interpolated at section ``n`` between the nearest round ones
    on both sides (``circles``: section -> circle), or None."""
    below, above = [m for m in circles if m < n], [m for m in circles if m > n]
    if not below or not above:
        return None
    a, b = max(below), min(above)
    (ca, ra), (cb, rb) = circles[a], circles[b]
    if (b - a) * step_mm > _PRIOR_GAP_MM or abs(ra - rb) > _PRIOR_RADII * max(ra, rb):
        return None
    w = (n - a) / (b - a)
    return (1 - w) * ca + w * cb, (1 - w) * ra + w * rb


def from_circle(section: np.ndarray, cortex: np.ndarray, pixel_mm, centre, radius: float) -> np.ndarray:
    """``section`` grown to the circle (``centre``, ``radius`` mm) in the directions around it
    where its outline is not cortex, and out to its cortex elsewhere; as it is unless its intact
    cortex lies on that circle."""
    if np.count_nonzero(section) < 3:
        return section
    outline, intact, _ = _outline(np.argwhere(section) * pixel_mm, centre, cortex[section], pixel_mm)
    if not intact.any() or abs(_median(outline[intact]) - radius) > _PRIOR_FIT_MM:
        return section
    grid = _pixels_near(centre, radius, pixel_mm, section.shape)
    rg, _, bg = _polar(grid * pixel_mm - centre)
    # Where the cortex is intact, out to it: what a lesion left may be the cortex alone.
    add = grid[rg <= np.where(intact[bg], outline[bg], radius)]
    out = section.copy()
    out[add[:, 0], add[:, 1]] = True
    return out


def _pixels_near(centre, reach: float, pixel_mm, shape) -> np.ndarray:
    """(N, 2) indices of the pixels of a plane of ``shape`` in the box within ``reach`` mm of
    ``centre`` (mm)."""
    lo = np.maximum(np.floor((centre - reach) / pixel_mm).astype(int), 0)
    hi = np.minimum(np.ceil((centre + reach) / pixel_mm).astype(int) + 1, shape)
    grid = np.stack(np.meshgrid(*(np.arange(a, b) for a, b in zip(lo, hi)), indexing="ij"), -1)
    return grid.reshape(-1, 2)


def _outline(pts: np.ndarray, centre, cortex: np.ndarray, pixel_mm):
    """(outline radius per angle bin, bins with cortex at the outline, each point's bin) of a
    section's points ``pts`` (N, 2 mm) around ``centre``; cortex: (N,) bool."""
    r, _, bins = _polar(pts - centre)
    raw = np.zeros(_ANGLE_BINS)
    np.maximum.at(raw, bins, r)
    edge = r >= raw[bins] - _CORTEX_DEPTH_MM
    intact = np.zeros(_ANGLE_BINS, dtype=bool)
    intact[bins[edge & cortex]] = True
    # A bin narrower than a pixel of the outline often holds only pixels inside it: take the
    # outline over neighbouring bins spanning about two pixels of arc.
    arc = max(_median(raw[raw > 0]), 1e-6) * 2 * np.pi / _ANGLE_BINS
    width = int(np.ceil(2 * float(np.max(pixel_mm)) / arc)) | 1
    width = min(width, _ANGLE_BINS // 4 | 1)
    # Each bin's window of ``width`` bins around it, wrapping round: the extremes over it are
    # ndimage.maximum_filter1d / minimum_filter1d's (mode "wrap"), without their per-call setup.
    half = width // 2
    window = (np.arange(_ANGLE_BINS)[:, None] + np.arange(-half, half + 1)) % _ANGLE_BINS
    outline = raw[window].max(axis=1)
    # Gaps narrower than that are bins between the outline's pixels, not a break: closed.  The
    # cortex thins out obliquely into a break, and the hull's chord already starts in the bins
    # at its edge: those are rebuilt too, from the intact bins beyond them (an erosion).
    closed = intact[window].any(axis=1)[window].all(axis=1)
    intact = closed[window].all(axis=1)
    return outline, intact, bins


def _median(values: np.ndarray) -> float:
    """float(np.median(values)) (the mean of the two middle values when their count is even),
    by one sort of a few dozen values instead of numpy's general reduction."""
    n = len(values)
    if n == 0:
        return float(np.median(values))  # nan, with numpy's warning
    v = np.sort(values)
    return float(v[n // 2]) if n % 2 else float((v[n // 2 - 1] + v[n // 2]) / 2)


def _circle_centre(pts: np.ndarray) -> np.ndarray:
    """Least-squares circle centre through points (N, 2): linear in (centre, r^2 - |c|^2)."""
    A = np.column_stack([2 * pts, np.ones(len(pts))])
    sol = np.linalg.lstsq(A, (pts ** 2).sum(axis=1), rcond=None)[0]
    return sol[:2]


def _polar(rel: np.ndarray):
    """(radius, angle in [0, 2 pi), angle bin) of points (N, 2) relative to a centre, mm."""
    r = np.hypot(rel[:, 0], rel[:, 1])
    angle = np.arctan2(rel[:, 1], rel[:, 0]) % (2 * np.pi)
    bins = np.minimum((angle / (2 * np.pi) * _ANGLE_BINS).astype(int), _ANGLE_BINS - 1)
    return r, angle, bins
