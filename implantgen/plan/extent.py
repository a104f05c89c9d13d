"""How far a lesion reaches along a direction, to a fraction of a voxel.

The farthest voxel centre inside the lesion falls short of the true tip by up to a voxel's
footprint along the direction (2.5 mm for 2.5 mm slices), more than a plan may be off.  The
partial-volume values at the lesion's end say where in its last voxels it stops.

Each column of voxels along the bone gives one reach (``_column_reach``); the tip is the crest
of those reaches (``_crest``).  Two things make the plain farthest voxel overshoot: the maximum
over many noisy columns picks the noisiest, and a lytic lesion's tip lies against the endosteum,
where the blur of the cortex adds tens of HU to the voxels beside it (+0.4 lesion fraction, 1 mm
of reach).  So voxels with cortex beside them are not read, and the crest must be reached by
two columns of a 3 x 3 neighbourhood, not by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..geometry import bbox, filter_size, footprint, index_points, pad_box
from ..records import LesionCriteria, Volume
from ..segment.mixed import island_tips, tip_reach
from .end_surface import cortex_apex, summit, surface_fit
from .end_surface import design as quadratic_terms
from .halo import halo_pull

# A neighbour this many contrasts past the marrow (one contrast past the lesion) holds cortex,
# and its blur would add a tenth of the contrast or more to the voxel: that voxel is not read.
# A blastic lesion is nearly as dense as cortex, so there cortex stays below this and is read.
_CORTEX_FRACTION = 2.0
_UNREADABLE = 1.25  # lesion fractions past this are denser tissue in the voxel (cortex, islands)
_CREST_RANK = 2  # the crest: the 2nd farthest column of a neighbourhood, so no lone column
# A contrast this large (a blastic lesion against fatty marrow, ~850 HU) stands 30-100 noise SDs
# clear, so each voxel's own value tells its share; the in-plane median, which lytic contrasts
# (~110 HU) need, reads a tapering tip low (its neighbours hold less of it): blastic ends read
# 0.3-0.7 mm short on 1.3 x 2.5 and 1.5 x 3 mm voxels, one 1.1 mm (0.0-0.5 with own values).
_OWN_VALUE_CONTRAST_HU = 400.0
# A mixed lesion's crest: the median of the columns read within this many mm in-plane (5 x 5 on
# 0.8 mm pixels, 3 x 3 on 1.3 mm) where at least _MIXED_VOTES are read, else their 2nd farthest.
# Islands' slivers misread tips in patches of several columns, wider than a 3 x 3 of fine pixels;
# a median of a wider window moves only if most of it is misread.  With fewer columns read, one
# or two misread short (an island's own tip read against its blurred level) moved the median as
# much as the patches move the 2nd farthest, and to the unsafe side (planes up to 0.42 mm
# shorter, 3 of 256 sweep cases past 1 mm short with 5 votes).
_MIXED_WINDOW_MM = 1.6
_MIXED_VOTES = 6
# The surface pulls the crest in no nearer than the level that columns over this much of the
# end's area reach, of those the fit kept or that lie under it: a misread patch spans up to 7-8
# columns of 1.5 mm (16-18 mm^2, whole-circumference ends on 1.5 x 3 mm voxels).  A reach that
# more columns attain is the end's own, where a quadratic over 15 mm of a steep, tilted end with
# few columns read at its top put its summit 1.35 mm under the truth (a plane 1.10 mm short).
# The columns the fit dropped above it are not counted: two patches of 13 columns of 1.3 mm
# together (22 mm^2) held an end 1.5 mm out.
_PATCH_MM2 = 18.0
_DIP = 0.2  # lesion fraction: a rise past a tip well beyond the medians' noise (~0.07)
_TAPER_MM = 4.5  # columns this near the crest sample the tip's taper (its paraboloid)
# Its curvature must stand this many standard errors clear of zero (3 before the apex was
# capped at its column's last voxel: a 71 mm lesion's end at 2.9 read 1.26 mm short).
_TAPER_EVIDENCE = 2.5


def _in_plane_median(hu: np.ndarray, spacing_kji: np.ndarray) -> np.ndarray:
    return ndimage.median_filter(hu, size=filter_size(spacing_kji))


def _step_axis(volume: Volume, d: np.ndarray) -> tuple[int, int]:
    """(array axis, sign) of the voxel step that moves farthest along ``d``."""
    along = volume.direction.T @ d  # per (i, j, k) index axis
    axis_ijk = int(np.argmax(np.abs(along)))
    return 2 - axis_ijk, int(np.sign(along[axis_ijk]))


def _fractions(hu: np.ndarray, level: np.ndarray, spacing_kji, lesion_hu: float, normal_hu: float) -> np.ndarray:
    """Each voxel's lesion share from its in-plane median (its own value against a contrast past
    _OWN_VALUE_CONTRAST_HU; ``level``: the in-plane medians), NaN where its value cannot tell:
    cortex in it (well past the lesion's value) or in a voxel sharing a face with it (the
    scanner's blur reaches there, diagonal neighbours get a tenth of that; across slices only
    when they are as thin as the pixels, as for the median)."""
    contrast = lesion_hu - normal_hu
    median = (level - normal_hu) / contrast
    frac = (hu - normal_hu) / contrast if abs(contrast) >= _OWN_VALUE_CONTRAST_HU else median
    size = filter_size(spacing_kji)
    face = ndimage.generate_binary_structure(3, 1)[tuple(slice(None) if n > 1 else slice(1, 2)
                                                         for n in size)]
    cortex_near = ndimage.maximum_filter((hu - normal_hu) / contrast, footprint=face) > _CORTEX_FRACTION
    # Denser tissue is told by the median either way: a blastic lesion's own texture passes
    # _UNREADABLE in single voxels, and an apex was then sought in those columns (0.9 mm out).
    return np.where((median > _UNREADABLE) | cortex_near, np.nan, np.clip(frac, 0.0, 1.0))


def _along(a: np.ndarray, last: np.ndarray, k: int) -> np.ndarray:
    """The values of ``a`` (moved to the columns' axis) ``k`` voxels on from each column's
    ``last`` voxel (before it where ``k`` < 0), held at the array's ends."""
    return np.take_along_axis(a, np.clip(last + k, 0, a.shape[0] - 1)[None], axis=0)[0]


def _column_reach(volume: Volume, sub, frac, start, point, d, sign,
                  islands=None) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """(map, step axis, centres, against the cortex): how far the lesion reaches along
    ``sign * d`` in each column of voxels along the step axis, on a map over the two other array
    axes, NaN where the column holds no lesion or its end cannot be read; the reach of each
    column's last lesion voxel's centre (NaN where it holds none), for a mixed lesion less an
    island's halo's pull (halo.halo_pull: the voxel is mostly marrow); and where the map was
    read against the cortex (_cortex_tips; a mixed lesion's only).

    The column's last lesion voxel and the one beyond it hold the partial-volume ramp at the
    tip, and the sum of their fractions integrates it: the tip lies at (the last voxel's centre
    - delta/2 + delta * sum) for a column stepping ``delta`` along ``d``, whichever of the two
    is the partial one, with no threshold on a small fraction.
    """
    axis, step_sign = _step_axis(volume, d)
    out = step_sign * sign  # +1: the lesion ends towards higher indices along ``axis``
    col = np.moveaxis(sub, axis, 0)[::out]
    f = np.moveaxis(frac, axis, 0)[::out]
    n = col.shape[0]
    has = col.any(axis=0)
    last = n - 1 - np.argmax(col[::-1], axis=0)  # outermost lesion voxel (flipped if out < 0)
    past = [_along(f, last, k) for k in (0, 1, 2)]
    total = past[0] + past[1]
    pull = np.zeros(last.shape)
    against_cortex = np.zeros(last.shape, dtype=bool)
    delta = _step(volume, axis, d)
    if islands is None:
        # Past the tip, a voxel reading lower than the next one on, which reads more lesion than
        # marrow, is a dip between the lesion and denser marrow (a metaphysis's trabecular bone,
        # which the lesion search leaves out): its value is background, not lesion (a tip 1.15 mm
        # out on 1.3 x 2.5 mm voxels, the voxel past it at -30 HU, the one on at +10).
        total = np.where((past[2] > 0.5) & (past[2] > past[1] + _DIP), past[0], total)
    else:
        level, normal_hu, contrast, mixture, island_hu, hu, dense_hu = islands
        level = np.moveaxis(level, axis, 0)[::out]
        lytic_tip = ~np.isnan(past[0])
        total = _island_ends(total, level, col, last, f, normal_hu, contrast)
        # A tip read as lytic tissue between marrow and an island may be a sixth of island.
        tip_mixture = _along(np.moveaxis(mixture, axis, 0)[::out], last, 0)
        total = np.where(lytic_tip & tip_mixture, np.nan, total)
        total = _dense_tips(total, level, last, normal_hu, contrast, island_hu)
        hu = np.moveaxis(hu, axis, 0)[::out]
        unread = np.isnan(total)
        total = _cortex_tips(total, hu, last, normal_hu + contrast, dense_hu)
        against_cortex = unread & ~np.isnan(total) & has
        pull = halo_pull(_along(hu, last, 0), _along(hu, last, -1), normal_hu, dense_hu, delta)
        pull = np.where(last > 0, pull, 0.0)
    cols = np.argwhere(has)
    kji = np.insert(cols, axis, (last if out > 0 else n - 1 - last)[has], axis=1) + start
    s = (volume.index_to_physical(kji[:, ::-1].astype(float)) - point) @ d
    reach, centres = np.full(has.shape, np.nan), np.full(has.shape, np.nan)
    reach[has] = sign * s - delta / 2 + delta * total[has]
    centres[has] = sign * s - pull[has]
    return reach, axis, centres, against_cortex


def _step(volume: Volume, axis: int, d: np.ndarray) -> float:
    """How far one voxel step along array ``axis`` moves along ``d`` (mm)."""
    return abs(float(volume.spacing[2 - axis] * (volume.direction[:, 2 - axis] @ d)))


def _island_ends(total, level, col, last, frac, normal_hu: float, contrast: float) -> np.ndarray:
    """``total`` with the columns that end in a sclerotic island read against the island's own
    level (the voxel before the last; ``level``: in-plane medians, ``frac``: the fractions, both
    moved to the columns' axis): their end is unreadable against the lesion's contrast, and the
    index extent of a mixed lesion's voxels falls up to half a slice short (1.25 mm on 2.5 mm
    slices).

    Only where the last voxel itself cannot be read: a column whose last voxel reads lytic tissue
    and the voxel past it cannot be read (an island beside it in-plane) left its total unread too,
    and read against the island, its full lytic voxel counted a sixth (ends 1.5 slices short;
    a plane 1.72 mm short on a partial-break lesion)."""
    n = col.shape[0]
    own = _along(level, last, -1) - normal_hu
    full = _along(col, last, -1) & (last > 0)
    # ... and marrow past the end, not the cortex that a lesion at its break replaced.
    past = _along(level, last, 2) - normal_hu
    island = np.isnan(total) & full & (own > 2 * contrast) & (past < contrast / 2) & (last + 2 < n)
    island &= np.isnan(_along(frac, last, 0))
    if not island.any():
        return total
    share = sum(np.clip((_along(level, last, k) - normal_hu) / np.where(island, own, 1.0), 0.0, 1.0)
                for k in (0, 1))
    return np.where(island, share, total)


def _dense_tips(total, level, last, normal_hu: float, contrast: float, island_hu: float) -> np.ndarray:
    """``total`` with the columns still unread whose last voxel is an island at the lesion's
    end read against the lesion's island level (``island_hu``, its dense voxels' median).

    Such a tip is denser than lytic tissue and the blur of a neighbour make it (past
    _CORTEX_FRACTION contrasts), with marrow two voxels on (not the cortex that a lesion at
    its break replaced); its share of the end is its partial volume of island.  Unread, its
    column left the end to lower columns or to the voxels' own reach: planes 1.05-1.92 mm
    short on 2.5 mm slices where an island capped a partial-break lesion's tip (0.40-1.15).
    """
    own = island_hu - normal_hu
    if not own > 0:
        return total
    n = level.shape[0]

    def above(k):  # HU over marrow k voxels on from the last
        return _along(level, last, k) - normal_hu

    tip = np.isnan(total) & (above(0) > _CORTEX_FRACTION * contrast) & (above(2) < contrast / 2) & (last + 2 < n)
    share = np.clip(above(0) / own, 0.0, 1.0) + np.clip(above(1) / own, 0.0, 1.0)
    return np.where(tip, share, total)


def _cortex_tips(total, hu, last, lesion_hu: float, dense_hu: tuple[float, float]) -> np.ndarray:
    """``total`` with the columns still unread whose lytic tip runs into the cortex read against
    the cortex (``hu``: the voxels' own values, moved to the columns' axis).

    A lesion at its break grows into the cortex, and its end there lies against cortex, not
    marrow: the lytic share of its tip voxels is unreadable against the marrow but reads
    against the cortex two voxels on (the cortex as the lesion search reads it: past the
    islands' window), a contrast of ~1400 HU, so each voxel's own value tells.  Only where the
    last voxel itself is below the islands' window: an island read against the cortex counts
    half.  Unread, those columns (half of a partial-break lesion's end) left the end to columns
    ending in islands, which read it 1 mm short on average: a plane 1.34 mm short on 1.3 x 2.5
    mm voxels (0.64 with them).  Read so, 8400 such columns near the ends of 128 mixed lesions
    read their true reach -0.01 +- 0.29 mm; 1.4% (tips in marrow beside the endosteum, the
    column crossing into the cortex past them) read 1 mm long.
    """
    n = hu.shape[0]

    def at(k):
        return _along(hu, last, k)

    cortex = at(2)
    # The voxel past the tip holds lesion and cortex only, no marrow (nor a sliver read as marrow).
    tip = np.isnan(total) & (cortex > dense_hu[1]) & (at(1) >= lesion_hu) & (at(0) < dense_hu[0]) & (last + 2 < n)
    if not tip.any():
        return total
    span = np.where(tip, cortex - lesion_hu, 1.0)
    share = sum(np.clip((cortex - at(k)) / span, 0.0, 1.0) for k in (0, 1))
    return np.where(tip, share, total)


def _island_mixture(level: np.ndarray, spacing_kji, normal_hu: float, contrast: float) -> np.ndarray:
    """Voxels whose in-plane neighbourhood spans from marrow (below the lesion-marrow midpoint)
    to an island's partial volume (past what the lesion's fractions read): where a sclerotic
    island crosses the lesion's end, a tip voxel holding a sixth of island (its centre in the
    island) reads as all lytic tissue, and its column reached a slice too far (planes 1.2-1.55
    mm out on 0.8 x 2 mm voxels).  Lytic voxels beside an island have lesion, not marrow, around
    them.  Only tips read as lytic are dropped (an island's own is read by _island_ends), and not
    for the voxel past the tip: dropping those too left ends 1.4 mm short."""
    size = filter_size(spacing_kji)
    low = ndimage.minimum_filter(level, size=size) < normal_hu + contrast / 2
    return low & (ndimage.maximum_filter(level, size=size) > normal_hu + _UNREADABLE * contrast)


def _crest(reach: np.ndarray, spacing, sparse: bool = False) -> float:
    """The farthest reach that two columns of one neighbourhood attain (3 x 3 across fine
    axes, 3 x 1 with a thick one), over the neighbourhoods mostly measured; ``sparse`` (a mixed
    lesion): the farthest median of the columns read within _MIXED_WINDOW_MM (the 2nd farthest
    where fewer than _MIXED_VOTES are), over the neighbourhoods with two of them read.

    One column's reach carries its voxels' noise, and the farthest of many picks the noisiest.
    The lesion's end is smooth across columns, so its crest column has a neighbour nearly as
    far; a median over the neighbourhood would instead cut the top of a narrow crest (a long
    lesion's end is pointed).  A mixed lesion's islands leave most of its columns unread (their
    neighbours read as cortex), and at its tip the readable ones are too few for a majority.

    A mixed lesion's tip voxel holding an island's sliver reads as lytic tissue filling it, and
    the voxel past a lytic tip holding one reads as its partial volume: most of a slice too far
    either way.  An island crossing the end makes such columns in patches, and with the 2nd
    farthest of a 3 x 3 (or the 3rd where two stood out) the crest read the patch: planes of
    whole-circumference lesions 0.48 mm out on average, up to 1.57 mm (mixed sweeps, seeds 11
    and 12).  The median of the wider window moves only where most of it is misread; it cuts a
    pointed end's top by about 0.2 mm (a 60 mm partial-break lesion's tip, k r^2 at 1.6 mm),
    where few columns are read it is their 2nd farthest as before, and the voxels' own reach
    still bounds the end (extent_along).
    """
    size = filter_size(spacing)
    if sparse:
        size = tuple(2 * int(round(_MIXED_WINDOW_MM / float(p))) + 1 for p in spacing)
    padded = np.pad(reach, [(n // 2, n // 2) for n in size], constant_values=np.nan)
    near = np.stack([padded[a:a + reach.shape[0], b:b + reach.shape[1]]
                     for a in range(size[0]) for b in range(size[1])])
    measured = np.count_nonzero(~np.isnan(near), axis=0)
    ok = ~np.isnan(reach) & ((measured >= _CREST_RANK) if sparse else (2 * measured > len(near)))
    if np.count_nonzero(ok) == 0 or len(near) < _CREST_RANK:
        return float(np.nanmax(reach))
    farthest_first = -np.sort(np.nan_to_num(-near[:, ok], nan=np.inf), axis=0)
    rank = np.full(np.count_nonzero(ok), _CREST_RANK)
    if sparse:  # the median where enough are read: a patch of misread columns is outvoted
        m = measured[ok]
        rank = np.where(m >= _MIXED_VOTES, (m + 1) // 2, rank)
    return float(np.take_along_axis(farthest_first, (rank - 1)[None], axis=0)[0].max())


def _surface_crest(reach: np.ndarray, spacing, crest: float) -> float:
    """A mixed lesion's crest, or nearer where a smooth end surface over its read columns puts the
    summit nearer: a quadratic in the in-plane coordinates fitted robustly to the columns within
    end_surface.SURFACE_MM of the crest's column, its summit where it is concave and lies among
    the read columns (within 1.5 pixel diagonals of one: a summit between islands' unread
    columns).

    Islands' slivers misread the end in patches of 3-6 columns (a sliver in the voxel past the
    tip reads as its lytic partial volume; one in the tip as lytic tissue filling it), a slice
    long, more than a window's median outvotes on 1.3 x 2.5 mm voxels: whole-circumference ends
    0.36 mm out on average, 14 of 128 past 1 mm.  On a surface of 50-150 columns such a patch is
    an outlier.  Only nearer: a partial break's end lies at its footprint's edge, where the
    quadratic extrapolates (it put ends 1.1-1.6 mm out); and the voxels' own reach still bounds
    the end (extent_along).  And no nearer than the level more columns reach than a patch holds
    (_patch_level): the quadratic's summit is that of a fit over 15 mm, which a steep end with
    few columns read at its top leaves 1-2 mm under them.
    """
    fit = surface_fit(reach, spacing, crest)
    if fit is None:
        return crest
    top, offsets, z, c, w = fit
    apex = summit(c)
    if apex is None:  # no summit: a flat or saddle-shaped fit
        return crest
    x = np.argwhere(~np.isnan(reach)) * np.asarray(spacing, dtype=float)
    if np.linalg.norm(x - (top + apex), axis=1).min() > 1.5 * float(np.linalg.norm(spacing)):
        return crest  # beyond the read columns: an extrapolation
    # The columns the fit dropped above it are the misread patches: not the end's own level.
    kept = z[(w > 0) | (z < quadratic_terms(offsets) @ c)]
    return min(crest, max(float(c[0] + c[1:3] @ apex / 2), _patch_level(kept, spacing)))


def _patch_level(z: np.ndarray, spacing) -> float:
    """The reach that the columns over _PATCH_MM2 of the end attain (the n-th farthest of the
    reaches ``z``; -inf where fewer are read): more than a misread patch holds."""
    n = max(1, int(round(_PATCH_MM2 / float(np.prod(spacing)))))
    return float(-np.sort(-z)[n - 1]) if len(z) >= n else -np.inf


def _hidden_apex(reach: np.ndarray, centres: np.ndarray, spacing, crest: float, delta: float) -> float:
    """The crest, or farther where the tip's apex hides in columns that cannot be read.

    A long lesion's tip is pointed (a paraboloid 5-6 mm in radius of curvature at 60 mm long)
    and a lytic one lies against the endosteum, so its apex column has cortex beside it and is
    not read: the readable columns end 2 px aside, 0.5 mm short.  Near the apex the reach falls
    off as a paraboloid, s0 + c.x - k |x|^2, fitted to the readable columns near the crest.
    Its summit counts only where the curvature stands clear of the columns' noise (a blunt,
    short lesion's end fits a flat top and noise would push it out), no farther than the next
    column (an extrapolation), where that column is the lesion's but unread, and no farther than
    that column's last lesion voxel's far face (``centres`` + ``delta``/2; its next voxel is not
    lesion): on 1.5 x 3 mm voxels a steep fit put one 2.2 mm past the truth.
    """
    rows = np.argwhere(~np.isnan(reach))
    x = rows * np.asarray(spacing, dtype=float)
    top = x[np.argmin(np.abs(reach[tuple(rows.T)] - crest))]  # the crest's own column
    near = np.linalg.norm(x - top, axis=1) <= _TAPER_MM
    if np.count_nonzero(near) < 8:
        return crest
    dx = x[near] - top
    design = np.column_stack([np.ones(len(dx)), dx, -(dx ** 2).sum(axis=1)])
    c, resid, rank, _ = np.linalg.lstsq(design, reach[tuple(rows[near].T)], rcond=None)
    if rank < design.shape[1]:  # the columns on one line: no paraboloid to fit
        return crest
    k_err = np.sqrt(np.linalg.pinv(design.T @ design)[3, 3] * resid.sum() / (len(dx) - 4))
    if c[3] < _TAPER_EVIDENCE * k_err:  # no summit above the columns' noise: a blunt end
        return crest
    apex = c[1:3] / (2 * c[3])
    step = float(np.linalg.norm(spacing))  # no farther than the next column: a fit's reach
    apex = apex * min(1.0, step / max(float(np.linalg.norm(apex)), 1e-9))
    col = tuple(np.round((top + apex) / np.asarray(spacing, dtype=float)).astype(int))
    inside = all(0 <= i < n for i, n in zip(col, reach.shape))
    if not inside or np.isnan(centres[col]) or not np.isnan(reach[col]):
        return crest
    summit = float(c[0] + c[1:3] @ apex - (apex ** 2).sum() * c[3])
    return max(crest, min(summit, float(centres[col]) + delta / 2))


@dataclass(frozen=True, eq=False)
class _Part:
    """A mask cut to its box (2 voxels of margin): the columns and fractions that every
    direction's reach is read from, worked out once for all the cuts of a plan."""

    sub: np.ndarray  # the mask in its box
    start: np.ndarray  # the box's first (k, j, i) index
    frac: np.ndarray  # lesion share per voxel, NaN where unreadable (_fractions)
    # (in-plane medians, normal HU, contrast, _island_mixture, island HU) for _island_ends and
    # _dense_tips
    islands: tuple | None = None


@dataclass(frozen=True, eq=False)
class LesionColumns:
    """What ``lesion_extent`` needs of a lesion, independent of the direction measured along:
    ``inner`` (the lesion inside the bone, or all of it), the voxel indices of a soft-tissue
    extension outside the bone (None without one) and those of ``inner``'s whole mask (for a
    lesion whose columns' ends cannot be read)."""

    volume: Volume
    inner: _Part
    inner_kji: np.ndarray
    outside_kji: np.ndarray | None
    # A mixed lesion's sclerotic islands read as cortex, and its ends' columns cannot be read
    # where they hold one: its reach is at least its own voxels' (measured: up to 4.8 mm short).
    islands: bool = False


def _part(volume: Volume, mask: np.ndarray, offset: np.ndarray, lesion_hu: float,
          normal_hu: float, islands: bool = False, slivers: np.ndarray | None = None,
          dense_hu: tuple[float, float] = LesionCriteria.blastic_hu) -> _Part:
    """``mask`` (given as a box of the CT from ``offset``, holding all of it with 2 voxels to
    spare) cut to its own box grown by 2 voxels: the box bbox(mask, 2) finds on the whole CT.
    ``slivers`` (same box as ``mask``): voxels read as marrow (_sliver_tips); ``dense_hu``: the
    islands' HU window."""
    local = bbox(mask, 2)
    roi = tuple(slice(r.start + o, r.stop + o) for r, o in zip(local, offset))
    sub = mask[local]
    if abs(lesion_hu - normal_hu) < 1:  # no contrast: the mask is all there is
        return _Part(sub, np.array([r.start for r in roi]), sub.astype(float))
    hu = volume.array[roi].astype(np.float32)
    if slivers is not None:
        hu[slivers[local]] = np.float32(normal_hu)
    level = _in_plane_median(hu, volume.spacing[::-1])  # once, for the fractions and the islands
    frac = _fractions(hu, level, volume.spacing[::-1], lesion_hu, normal_hu)
    own = None
    if islands:
        contrast = abs(lesion_hu - normal_hu)
        dense = sub & (hu >= dense_hu[0])
        island_hu = float(np.median(hu[dense])) if dense.any() else np.nan
        own = (level, normal_hu, contrast, _island_mixture(level, volume.spacing[::-1], normal_hu, contrast),
               island_hu, hu, dense_hu)
    return _Part(sub, np.array([r.start for r in roi]), frac, own)


def _indices(mask: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(N, 3) (k, j, i) indices of ``mask`` (a box from ``offset``), in C order."""
    return np.argwhere(mask) + offset


def lesion_columns(volume: Volume, mask: np.ndarray, lesion_hu: float, normal_hu: float,
                   bone: np.ndarray | None = None, islands: bool = False, box=None,
                   dense_hu: tuple[float, float] = LesionCriteria.blastic_hu) -> LesionColumns:
    """The lesion ``mask`` prepared for ``extent_along``; see ``lesion_extent``.  ``box``:
    bbox(mask), when the caller has it; ``dense_hu``: the HU window of a mixed lesion's islands
    (the lesion search's, Lesion.dense_hu).

    All of it is worked on in the lesion's box: nothing outside the mask changes a result, and
    a whole CT is a hundred times the voxels.
    """
    box = bbox(mask, 2) if box is None else pad_box(box, 2, mask.shape)
    offset = np.array([r.start for r in box])
    sub = mask[box]
    slivers = None
    if islands:
        slivers = _sliver_tips(volume, mask, box, lesion_hu, normal_hu, dense_hu)
        sub = sub & ~slivers
    if bone is not None:
        inner = sub & bone[box]
        if inner.any():
            outside = sub & ~bone[box]
            return LesionColumns(volume, _part(volume, inner, offset, lesion_hu, normal_hu, islands, slivers,
                                               dense_hu),
                                 _indices(inner, offset),
                                 _indices(outside, offset) if outside.any() else None, islands)
    return LesionColumns(volume, _part(volume, sub, offset, lesion_hu, normal_hu, islands, slivers, dense_hu),
                         _indices(sub, offset), None, islands)


def extent_along(lesion: LesionColumns, point, direction) -> tuple[float, float]:
    """(lo, hi): the prepared lesion's reach along ``direction`` from ``point`` (mm)."""
    volume, part = lesion.volume, lesion.inner
    d = np.asarray(direction, dtype=float)
    half = footprint(volume, d) / 2
    ends, voxels = [], []
    for sign in (-1, 1):
        reach, axis, centres, against_cortex = _column_reach(volume, part.sub, part.frac, part.start,
                                                             point, d, sign, part.islands)
        voxels.append(sign * np.nanmax(centres))
        if np.isnan(reach).all():  # no column's end can be read: its voxels' own reach
            ends.append(_index_extent(volume, lesion.inner_kji, point, d)[(sign + 1) // 2] + sign * half)
        else:
            spacing = np.delete(volume.spacing[::-1], axis)
            crest = _crest(reach, spacing, sparse=lesion.islands)
            if lesion.islands:
                crest = _surface_crest(reach, spacing, crest)
                # A partial break's thin apex against the cortex, past its read columns.
                crest = cortex_apex(reach, centres, against_cortex, spacing, crest, _step(volume, axis, d))
            else:  # a mixed lesion's unread columns are mostly its islands': its apex only by the cortex
                crest = _hidden_apex(reach, centres, spacing, crest, _step(volume, axis, d))
            ends.append(sign * crest)
    lo, hi = float(ends[0]), float(ends[1])
    if lesion.islands:
        # Its voxels' own reach, less the pull of an island's halo (halo.py) at its farthest.
        i_lo, i_hi = _index_extent(volume, lesion.inner_kji, point, d)
        lo, hi = min(lo, max(i_lo, voxels[0])), max(hi, min(i_hi, voxels[1]))
    if lesion.outside_kji is not None:
        o_lo, o_hi = _index_extent(volume, lesion.outside_kji, point, d)
        lo, hi = min(lo, o_lo - half), max(hi, o_hi + half)
    return lo, hi


def lesion_extent(volume: Volume, mask: np.ndarray, lesion_hu: float, normal_hu: float,
                  point, direction, bone: np.ndarray | None = None) -> tuple[float, float]:
    """(lo, hi): the lesion's reach along ``direction`` from ``point`` (mm), sub-voxel.

    ``normal_hu`` is the marrow the lesion replaced.  With the bone's solid given, the tips are
    measured on the lesion's part inside the bone (where that contrast holds), and a soft-tissue
    extension outside counts with its voxels' own reach.
    """
    return extent_along(lesion_columns(volume, mask, lesion_hu, normal_hu, bone), point, direction)


def _index_extent(volume: Volume, kji: np.ndarray, point, direction) -> tuple[float, float]:
    """(lo, hi) of the centres of the voxels at ``kji`` (C order) along ``direction`` from
    ``point``: the centres as geometry.voxel_points computes them, to the bit."""
    pts = index_points(volume, kji)
    s = (pts - point) @ np.asarray(direction, dtype=float)
    return float(s.min()), float(s.max())


def _sliver_tips(volume: Volume, mask: np.ndarray, box, lesion_hu: float, normal_hu: float,
                 dense_hu: tuple[float, float]) -> np.ndarray:
    """A mixed lesion's tips (on ``box``) that hold an island's sliver past a blunt end, as
    segment.mixed.island_tips finds them on its mask, patches reading lesion among tips reading
    marrow included (the lesion search keeps those): the share in them is an island's, not the
    lesion's, and read as lesion it put ends a slice out (planes 1.1-1.5 mm on whole-circumference
    mixed lesions).  They are read as marrow, and not as lesion."""
    spacing_kji = volume.spacing[::-1]
    grown = pad_box(box, [0] + [r + 1 for r in tip_reach(spacing_kji)], mask.shape)
    m, hu = mask[grown], volume.array[grown]
    lo, hi = dense_hu
    dense = m & (hu >= lo) & (hu <= hi)
    tips = island_tips(m, hu, normal_hu, lesion_hu, float(np.median(hu[dense])) if dense.any() else lo,
                       spacing_kji, patches=True)
    return tips[tuple(slice(b.start - g.start, b.stop - g.start) for b, g in zip(box, grown))]
