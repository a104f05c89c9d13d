"""Find a lesion inside a bone: lytic (soft tissue where bone should be), blastic (abnormally
dense marrow) or mixed, with its soft-tissue extension through a cortical break.

HU windows from docs/domain.md: fatty marrow of adult long bones is negative (a marrow >= 0 HU
is suspicious), lytic metastases have soft-tissue density (~20-80 HU), untreated blastic ones
~650 HU (benign bone islands ~1200), trabecular bone ~100-300, cortex 700-2000.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..geometry import bbox, filter_size, offset_box, pad_box
from ..records import LesionCriteria, Volume
from .blur import blur_lift
from .candidates import MIN_PIECE, dilated, holds, opened, pick, window_pieces
from .components import holding, label
from .extension import soft_tissue_extension
from .filters import LazyMedian, box_extreme, dilate_cross, erode_cross, grow_box
from .mixed import BRIDGE_MM, enclosed, island_tips
from .mixed_lesion import (CLEARLY_BONE_HU, clear_of_islands, edge_islands, extension_level, holds_islands,
                           island_clear_level, island_share, joined, merge_mixed, sleeve_level)
from .seeded import seed_level, seeded_lytic
from .slices import in_two
from .transitions import positions, transitions


_TRABECULAR_CONTRAST = 40.0  # HU below trabecular bone that a lytic lesion must at least be
_FATTY_SHARE = 0.25  # a bone whose inside holds this share of fat has fatty marrow
# A boundary this many spreads (noise and texture) from the lesion is judged on each voxel's own
# value: the in-plane median takes its neighbours' values, which at a border are partial volumes
# of the tissue beyond (at a junction of three tissues, of both) and move the border by up to a
# voxel.  Closer, the median's lower noise matters more.  Measured: own values do better on the
# femur phantoms (midpoints 3.2-40 spreads out), the median on lesions simulated in real
# vertebrae (1.9-2.6 spreads).
_OWN_VALUE_SPREADS = 3.0
# A neighbouring tissue whose values stand this many spreads from its midpoint with the lesion
# does not pass the window by noise (see _refine).  Measured: fatty marrow at 20-25 HU noise
# stands 2.3-3.0 spreads from it in the femur phantoms, trabecular bone around lesions simulated
# in real vertebrae 0.8-1.2 (its texture).
_QUIET_SPREADS = 2.0
# With a seed, the normal marrow is read near it: in-plane within a vertebral body's half width,
# along k at the lesion's own level, between the denser endplates.
HOST_REACH_MM = 20.0
HOST_LEVEL_MM = 10.0
HOST_DEPTH_MM = 3.0
_RIM = 3  # voxels around the bone that the filters read (see detect_lesion)


@dataclass(frozen=True, eq=False)
class Lesion:
    """A lesion on the CT grid, with the densities that tell it from the bone around it."""

    mask: np.ndarray  # bool (k, j, i), full grid, including any soft-tissue extension
    type: str  # "lytic", "blastic" or "mixed"
    volume_ml: float
    lesion_hu: float  # median HU inside the lesion
    normal_hu: float  # median HU of the marrow it replaced
    source: str = "detected"
    other_candidates: list = field(default_factory=list)  # [(type, volume_ml, centre LPS)]
    warnings: tuple[str, ...] = ()
    box: tuple | None = None  # bbox(mask), when known: spares later steps a pass over a whole CT
    # The HU window of sclerotic tissue it was read with (the config's [lesion] blastic_hu): the
    # plan reads a mixed lesion's islands in the same window.
    dense_hu: tuple[float, float] = LesionCriteria.blastic_hu


# A voxel given back to a mixed lesion in-plane beside a value above this is the blur of cortex,
# not lesion: sclerotic islands read below it (blastic tissue, 600-950 HU with its texture),
# compact cortex above, even a thin remnant at a break (given back there, a lytic lesion's break
# was closed: circumferential involvement 0.91 read 1.0).
_REGROW_CORTEX_HU = 1000.0
_SPECK_VOXELS = 2  # enclosed pieces of no more than this are the lesion's (see detect_lesion)


def _between(lo_nb, hi_nb, low: float, high: float) -> np.ndarray:
    """Voxels whose neighbourhood spans from below ``low`` to above ``high``.

    Between fatty marrow and cortex, partial-volume voxels take every value in between, lesion
    densities included; a voxel with both marrow and cortex next to it is such a mixture.
    """
    return (lo_nb < low) & (hi_nb > high)


def _refine(core: np.ndarray, hu: np.ndarray, median: LazyMedian, allowed: np.ndarray,
            lesion_hu: float, neighbours: list[tuple[float, np.ndarray | None]],
            spacing_kji, islands: np.ndarray | None = None, regrow: bool = False) -> np.ndarray:
    """Redraw the boundary where a voxel is closer to the lesion than to the tissue next to it.

    ``neighbours``: (median HU, its voxels or None) of each tissue around the lesion.  The
    core's window edges are conservative; the true surface lies at the midpoint between the
    lesion's density and its neighbour's (a voxel half of each).  Partial-volume shells between
    marrow and cortex also fall between those midpoints, so the wider window is opened again
    and only what joins the core is kept.  ``regrow``: the opening's outer layer in-plane is
    given back (a mixed lesion's, see below).
    """
    below = [(h, m) for h, m in neighbours if h < lesion_hu]
    above = [(h, m) for h, m in neighbours if h > lesion_hu]
    lo = max([(lesion_hu + h) / 2 for h, _ in below], default=-np.inf)
    hi = min([(lesion_hu + h) / 2 for h, _ in above], default=np.inf)
    hs = median.values  # known on the bone and its rim: ``allowed`` lies in the bone
    spread = _spread(hu[core])
    clear = [half >= _OWN_VALUE_SPREADS * spread for half in (lesion_hu - lo, hi - lesion_hu)]
    reads = [hu if c else hs for c in clear]
    # Beside the cortex its blur lifts marrow and lesion alike: the lower midpoint rises with it
    # (Dice +0.005 on 29 random lytic cases, +0.007 on 24 blastic, +0.002 on 64 mixed ones with
    # a partial break; none lower by more than 0.001).
    lift = 0.0
    if np.isfinite(lo) and np.isfinite(hi) and below[0][1] is not None:
        lift = blur_lift(hu, lesion_hu, below[0][0], below[0][1], core)
    window = (reads[0] > lo + lift) & (reads[1] < hi)
    if not clear[0] and np.isfinite(hi):
        # A median beside anything denser than soft tissue can be (the cortex, its partial
        # volume, an island) reads it: a layer of marrow a voxel or two thin between a lesion
        # and the cortex was lifted past the lower midpoint (taken as lesion, 1-2 voxels deep
        # along the endosteum of mixed lesions on 1.3 x 2.5 mm voxels).  There a voxel whose
        # own value reads the lower neighbour is not lesion.
        window &= ~_beside(hu, window & (hu <= lo), median.size, CLEARLY_BONE_HU)
    # Where no neighbour's own values (as the window reads them) come near its midpoint, what
    # passes the window beyond the lesion is partial volume (shells thin in-plane), and the
    # opening need not reach across thick slices, where it cuts off a lesion's end slice (half
    # the misses inside the bone of a 15 mm lytic lesion at 25 HU noise).  Otherwise noise or
    # texture of the neighbour passes too (trabecular bone around a vertebral lesion), and the
    # opening across slices is what removes it.
    quiet = all(_stands_clear(values, tissue, mid)
                for side, values, mid in ((below, reads[0], lo), (above, reads[1], hi))
                for _, tissue in side)
    # A mixed lesion's lytic tissue between its ``islands`` (dense, above the window, away from
    # the cortex) is often thinner than the opening: opened with them it stays (Dice
    # +0.005-0.010 on 9 coarse ones).  Not with dense voxels by the cortex: a lytic lesion's
    # remnant of cortex kept the shell along it (circumferential involvement 0.91 read 1.0).
    solid = allowed & (window if islands is None else window | islands)
    wide = (opened(solid, spacing_kji if quiet else None) & window) | core
    if regrow:
        # A mixed lesion's lytic tissue is cut thin in-plane by its islands and the guard
        # against mixtures beside them: the opening took its outer layer, lesion (covered over
        # half) as often as not (1.5 x 3 mm: 30-120 voxels a case, two true for each false one
        # away from the cortex).  The window's voxels in-plane next to what the opening kept
        # are lesion again, but not beside cortex, even a thin remnant of it (_REGROW_CORTEX_HU),
        # nor on the core's end slices, whose tips the plan reads the ends from: there they
        # moved planes out (1.5 x 3 mm: one 0.85 -> 1.08 mm short, one 0.64 -> 1.29 mm beyond).
        back = solid & window & dilate_cross(wide, (1, 2))
        back &= ~_beside(hu, back, (1, 3, 3), _REGROW_CORTEX_HU)
        ends = np.flatnonzero(core.any(axis=(1, 2)))
        back[:ends[0] + 1] = False
        back[ends[-1]:] = False
        wide |= back
    box = bbox(wide)  # holds the core: only its pieces are kept
    out = np.zeros_like(wide)
    out[box] = holding(label(wide[box])[0], core[box])
    # Noise holes inside are lesion; an enclosed piece of cortex is not.
    holes = fill_holes(out) & ~out
    hs = median.at(holes)
    return out | (holes & (hs > lo) & (hs < hi))


def _beside(hu: np.ndarray, where: np.ndarray, size, level: float) -> np.ndarray:
    """The voxels of ``where`` whose box of ``size`` (odd per axis) holds a value above
    ``level``: looked up at those voxels only (few, at boundaries), not filtered over the grid."""
    out = np.zeros_like(where)
    idx = np.nonzero(where)
    if not idx[0].size:
        return out
    hit = np.zeros(idx[0].size, dtype=bool)
    for off in itertools.product(*[range(-(int(n) // 2), int(n) // 2 + 1) for n in size]):
        hit |= hu[tuple(np.clip(i + o, 0, n - 1) for i, o, n in zip(idx, off, hu.shape))] > level
    out[idx] = hit
    return out


def _stands_clear(values: np.ndarray, tissue: np.ndarray | None, mid: float) -> bool:
    """Whether ``values`` over a neighbouring ``tissue`` keep _QUIET_SPREADS of their spread
    from the midpoint ``mid``: too few voxels to tell is not clear."""
    if tissue is None or np.count_nonzero(tissue) <= 20:
        return False
    v = values[tissue]
    return abs(float(np.median(v)) - mid) >= _QUIET_SPREADS * _spread(v)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """ndimage.binary_fill_holes on the mask's box only (holes lie inside it), by one labelling
    of the background rather than scipy's iterative propagation."""
    out = mask.copy()
    box = bbox(mask, 1)
    if box is None:
        return out
    background, n = label(~mask[box])
    outside = np.zeros(n + 1, dtype=bool)
    for axis in range(3):
        for index in (0, -1):
            outside[np.unique(np.take(background, index, axis=axis))] = True
    outside[0] = True  # label 0 is the mask itself
    out[box] |= ~outside[background]
    return out


def _spread(values: np.ndarray) -> float:
    """Robust standard deviation (noise and texture) of a lesion's values."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def detect_lesion(volume: Volume, solid: np.ndarray, *, search: np.ndarray | None = None,
                  seed=None, criteria: LesionCriteria = LesionCriteria(),
                  axis_direction=None, box=None) -> Lesion | None:
    """The lesion in the bone ``solid`` (bool, CT grid), or None when nothing abnormal is found.

    ``search`` (bool, CT grid, or on ``box`` when that is given) limits where a lesion's core may
    lie, e.g. the diaphysis, whose marrow is fatty: in the metaphyses normal trabecular marrow and
    its transition to fat have the densities of lesions.  ``seed`` (LPS mm) picks among candidates: the one holding it,
    else the nearest.  ``box``: bbox(solid), when the caller has it.
    """
    spacing_kji = volume.spacing[::-1]
    pad = np.ceil(criteria.extension_mm / spacing_kji).astype(int) + 2
    # Everything but the soft-tissue extension reads the bone and a rim of 2 voxels (the widest
    # neighbourhood filter below) plus 1 for the median under it: the bone's box grown by 3.
    roi = bbox(solid, _RIM) if box is None else pad_box(box, _RIM, solid.shape)
    if roi is None:
        return None
    hu = volume.array[roi].astype(np.float32)
    sol = solid[roi]
    search = _on_roi(search, box, roi, volume.shape)
    in_plane = filter_size(spacing_kji, 5)
    # Noise down, edges kept; not across thick slices, where it would smear a lesion's end.
    # Only where decisions read it: the bone and what the neighbourhood filters see of it.
    median = LazyMedian(hu, filter_size(spacing_kji))
    hs = median.at(grow_box(sol, np.maximum(in_plane, 3)))
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    # A core is the conservative inside of a lesion: a third of the minimum size will do; with a
    # seed pointing at it, any core that is more than a speck.
    core_ml = 0.1 if seed is not None else criteria.min_volume_ml / 3
    min_voxels = max(int(np.ceil(core_ml / voxel_ml)), 8)

    lo, hi = criteria.lytic_hu
    blo, bhi = criteria.blastic_hu
    # What this bone's inside normally holds: fatty marrow (a long bone's canal, below 0 HU) or
    # trabecular bone (a vertebral body, ~100-300 HU).  In trabecular bone a lytic lesion is
    # what is clearly less dense than it, not what lies in a fixed window.
    interior = erode_cross(sol) & (hs < blo)
    if search is not None:
        interior &= search
    start = np.array([r.start for r in roi])
    # Fatty or trabecular is the bone's, read over its whole inside, and from its fat: a lesion
    # can fill most of what a median reads (near a seed, or a long one in a shaft), and a lytic
    # lesion at 41 HU passed for trabecular bone.  Fatty marrow is below the lytic window, and
    # its share is of what lies outside the window: a lesion filling 3/4 of a shaft's marrow took
    # the share under the mark, and no lesion was found.
    fat = np.count_nonzero(hs[interior] < lo)
    trabecular = interior.sum() > 20 and fat < _FATTY_SHARE * (fat + np.count_nonzero(hs[interior] > hi))
    whole = interior
    seed_kji = None
    if seed is not None:
        seed_kji = volume.physical_to_index([seed])[0][::-1] - start
        # The bone around the seed: a bone may hold denser parts (a vertebra's arch, or the
        # next vertebra where two are not yet apart) than the marrow the lesion replaced.
        near = _near_box(seed_kji, spacing_kji, interior.shape,
                         (HOST_LEVEL_MM, HOST_REACH_MM, HOST_REACH_MM))
        host = np.zeros_like(interior)
        host[near] = interior[near]
        # ... and away from its shell, whose partial volume raises the level (a thin blurred
        # cortex is not taken off by the one-voxel erosion).
        deep = _deep(sol, host, spacing_kji, HOST_DEPTH_MM)
        for host in (deep, host):
            if np.count_nonzero(host) > 20:
                interior = host
                break
    host_hu = float(np.median(hu[interior])) if interior.sum() > 20 else -50.0
    if trabecular:
        hi = min(hi, host_hu - _TRABECULAR_CONTRAST)
        lo = lo - 50.0
    # Marrow right next to a voxel, cortex within two voxels in-plane: a partial-volume mixture.
    lo_nb, hi_nb = in_two(lambda: box_extreme(hs, 3, np.minimum), lambda: box_extreme(hs, in_plane, np.maximum))
    where = sol if search is None else sol & search
    lytic_core = where & (hs >= lo) & (hs <= hi) & ~_between(lo_nb, hi_nb, lo, bhi)
    # Dense and not a marrow-cortex mixture: blastic bone, or a sclerotic island in a lesion.
    dense = sol & (hs >= blo) & (hs <= bhi) & ~_between(lo_nb, hi_nb, blo, bhi)
    # Dense bone is only abnormal inside the marrow cavity, away from the cortical shell.
    blastic_core = where & dense
    blastic_core &= _deep(sol, blastic_core, spacing_kji,
                          max(criteria.blastic_depth_mm, 1.5 * float(spacing_kji.max())))
    # Pieces that islands hold apart are one lesion before anything is judged by its ends: an
    # island and the partial volume between it and lytic tissue (next to both) join them.
    pieces = opened(lytic_core)

    def between(box):
        d = dense[box]
        rim = sol[box] & (hs[box] > hi) & (hs[box] < blo)
        return d | (rim & ndimage.binary_dilation(pieces[box]) & ndimage.binary_dilation(d))

    lytic = joined(window_pieces(pieces, "lytic", MIN_PIECE), between, dense, spacing_kji,
                    min_voxels)
    blastic = window_pieces(opened(blastic_core), "blastic", min_voxels)
    warnings = []
    if axis_direction is not None and lytic:
        d = np.asarray(axis_direction, dtype=float)
        kji_to_s = lambda kji: positions(volume, kji + start, d)  # noqa: E731
        normal = transitions(lytic, hs, sol, kji_to_s, hi, fat_hu=lo)
        if normal:
            warnings.append(f"{len(normal)} region(s) where fatty marrow turns into trabecular bone "
                            "had lesion-like density and were taken as normal marrow.")
            lytic = [c for c in lytic if all(c is not n for n in normal)]
    cands = merge_mixed(lytic, blastic, hu, criteria.mixed_fraction, spacing_kji)
    chosen = pick(cands, seed_kji, spacing_kji) if cands else None
    seeded = None
    if seed_kji is not None and trabecular and (chosen is None or chosen.type == "lytic"):
        # Pointed at in trabecular bone, a lytic lesion's edge is read from the seed's level and
        # the bone right around it, not from a window set on the whole host (seeded.py).  Also
        # where the window missed it: a thin ilium's host level is mostly the lesion's own.
        seeded = seeded_lytic(hu, sol, seed_kji, criteria.lytic_hu[1], blo, min_voxels)
        if seeded is not None:
            cands = [seeded if c is chosen else c for c in cands] if chosen is not None else [seeded] + cands
            chosen = seeded
    if chosen is not None and seed_kji is not None and chosen.type == "lytic" and not holds(chosen, seed_kji):
        level = seed_level(hu, sol, seed_kji)
        if level is None:  # no bone at the seed: what it points at is read all the same
            level = seed_level(hu, None, seed_kji)
        # The seed points at dense bone and no dense lesion was found there: lytic tissue
        # beside it is not what was pointed at (a blastic lesion in a thin ilium, too near its
        # surface to be told from cortex, was taken as a lytic piece 6 mm away).  Nor is a piece
        # clearly denser than the seed's own level: the lesion pointed at is missing from the
        # bone (one running off the scan, not walled in there; low-density marrow 7 mm from it,
        # 99 HU against the seed's 41, was taken).
        if level is not None and (level >= blo or float(np.median(hu[chosen.mask])) - level >= _TRABECULAR_CONTRAST):
            chosen = None
    if chosen is None:
        return None

    away = ~dilated(chosen.mask, 2)
    fat = hs < criteria.lytic_hu[0]  # fatty marrow: its partial-volume rim with the cortex is not marrow
    # Trabecular bone's level near the seed, else (a lesion filling that) the whole bone's; fat
    # is the same all along a canal, and a mixed lesion's rims bias it near the seed.
    for inside in (interior, whole) if trabecular else (whole,):
        marrow = inside & away & (True if trabecular else fat)
        if marrow.sum() > 20:
            break
    normal_hu = float(np.median(hu[marrow])) if marrow.sum() > 20 else host_hu
    cortex = sol & (hs > bhi)
    cortex_hu = float(np.median(hu[cortex])) if cortex.sum() > 20 else 1200.0
    islands = holds_islands(chosen, dense, spacing_kji, criteria.mixed_fraction)
    if islands:
        # Their blur lifts many of its voxels, more than a voxel from them on coarse grids
        # (median 50 HU for lytic tissue of 40, the muscle's level: no extension was found,
        # or it leaked into the muscle): its level is read clear of them.
        lesion_hu = island_clear_level(chosen.mask, hu)
    else:
        lesion_hu = float(np.median(hu[clear_of_islands(chosen, dense)]))
    neighbours = [(normal_hu, marrow if marrow.sum() > 20 else None),
                  (cortex_hu, cortex if cortex.sum() > 20 else None)]
    mid_lo, mid_hi = (lesion_hu + normal_hu) / 2, (lesion_hu + cortex_hu) / 2
    if islands:
        # Dense bone at a mixed lesion's edge is mostly its islands, not the cortex: a lytic
        # voxel between marrow and an island is lesion, not a marrow-cortex mixture (tip voxels
        # beside islands were left out: Dice +0.001-0.009 on 36 mixed cases, none lower).
        own = dilated(dense & dilated(chosen.mask, 1), 1) & ~cortex
        mixture = _between(lo_nb, box_extreme(np.where(own, np.float32(lesion_hu), hs), in_plane,
                                              np.maximum), mid_lo, mid_hi)
    else:
        mixture = _between(lo_nb, hi_nb, mid_lo, mid_hi)
    if chosen.type == "blastic":
        # A blastic lesion grows in the canal against the endosteum and is narrow: most of its
        # voxels have marrow a voxel away and cortex two, and the guard against marrow-cortex
        # mixtures took a sixth of it (Dice 0.85 -> 0.89 on 18-26 mm ones without it next to
        # the core).  A voxel in-plane next to its core is a mixture with the lesion, judged by
        # the midpoints.  Not so next to a lytic core: there the guard keeps out the shell
        # along the endosteum beside it (Dice -0.015 without it).
        mixture &= ~grow_box(chosen.mask, (1, 3, 3))
    allowed = sol & ~mixture
    if seeded is not None:  # its edge is drawn already
        mask = chosen.mask
    else:
        mask = _refine(chosen.mask, hu, median, allowed, lesion_hu, neighbours, spacing_kji,
                       blastic_core if islands else None, bool(islands))
    if islands:
        # Beside clear cortex (above any island's value), in-plane, what the window adds to a
        # mixed lesion's core is mostly a thin layer of marrow lifted by the cortex's blur
        # and the islands' (1-2 voxels along the endosteum on 1.3 x 2.5 mm voxels, two false
        # voxels for each lesion voxel there): not lesion.
        mask &= ~_beside(hu, mask & ~chosen.mask, (1, 3, 3), bhi)
    if chosen.type == "blastic":
        # Its core is read by in-plane medians, which lower the cortex's blurred inner face into
        # the window (the face lies deeper than blastic_depth_mm in a thick shaft): beside clear
        # cortex, a voxel whose own value is nearer the cortex's than the lesion's is cortex
        # (20 such voxels a slice on 1.5 x 3 mm voxels: Dice 0.827-0.844 -> 0.859-0.875).
        mask &= ~_beside(hu, mask & (hu >= mid_hi), (1, 3, 3), bhi)
    kind = chosen.type
    if kind != "blastic":  # sclerotic islands that the lesion encloses are lesion too
        mask |= enclosed(mask, spacing_kji, where=dense) & dense
        mask |= enclosed(mask, spacing_kji, BRIDGE_MM, in_plane=False, where=dense) & dense & (hi_nb <= bhi)
        if kind == "lytic" and island_share(mask, dense, hu, lesion_hu) >= criteria.mixed_fraction:
            kind = "mixed"
        if kind == "mixed":
            isl = hu[mask & dense]
            island_hu = float(np.median(isl)) if isl.size else blo
            # Dense voxels at its edge in-plane beside clear cortex (above the islands' midpoint
            # with it) are mostly the cortex's blurred inner face, not islands (85 of 95 on a
            # 48 mm lesion on 1.3 x 2.5 mm voxels).  Not on its end slices: the plan reads its
            # ends from their dense tips, and without them a plane moved 0.35 mm, to 1.02 mm out.
            edge = edge_islands(mask, dense, spacing_kji)
            trim = _beside(hu, edge, (1, 3, 3), (island_hu + cortex_hu) / 2)
            ends = np.flatnonzero(mask.any(axis=(1, 2)))
            trim[:ends[0] + 1] = False
            trim[ends[-1]:] = False
            mask |= edge & ~trim
            # What it encloses is its own (islands by cortex): no cavities in it, whose surface
            # can touch the outer one along an edge.
            mask = fill_holes(mask)
            # Its tips in marrow past a blunt end, lifted into any window by a sliver of island.
            isl = hu[mask & dense]
            mask &= ~island_tips(mask, hu, normal_hu, lesion_hu, float(np.median(isl)) if isl.size else blo,
                                 spacing_kji)
    full = np.zeros(volume.shape, dtype=bool)
    inner = bbox(mask)  # written on the lesion's box only: each page written is one more to clear
    if inner is not None:
        full[offset_box(roi, inner)] = mask[inner]
    voxels = int(np.count_nonzero(mask))  # counted as it grows: not over the whole CT
    lesion_box = None if inner is None else offset_box(roi, inner)
    if kind != "blastic":
        # Only around the lesion (its box grown by the reach, on the whole CT): the distance
        # maps of the whole bone's box are costly.
        near = tuple(slice(max(r.start + b.start - p, 0), min(r.start + b.stop + p, n))
                     for r, b, p, n in zip(roi, inner, pad, volume.shape))
        # A mixed lesion's level, read on the core it grew from, read again on all of it.  Also
        # one typed mixed only by its islands' share (its core one lytic piece no island joins,
        # none in its folds): read beside them its level came to the muscle's (48-50 HU for
        # lytic tissue of 40 on 1.5 x 3 mm voxels) and no extension was found (Dice 0.70, 0.75).
        mixed = islands or kind == "mixed"
        own_hu = extension_level(lesion_hu, mask, hu) if mixed else lesion_hu
        sleeve_hu = sleeve_level(own_hu, mask, hu, spacing_kji[0]) if mixed else None
        ext, note = soft_tissue_extension(volume.array[near].astype(np.float32), solid[near],
                                          full[near], own_hu, spacing_kji, criteria.extension_mm,
                                          lobe=mixed, sleeve_hu=sleeve_hu)
        voxels += int(np.count_nonzero(ext & ~full[near]))
        full[near] |= ext
        ext_box = bbox(ext)
        if ext_box is not None:
            lesion_box = _union(lesion_box, offset_box(near, ext_box))
        if note:
            warnings.append(note)
    if lesion_box is not None:
        # A voxel or two that the lesion encloses on every side is its own: left out (a speck
        # of cortex or marrow), each is a void shell inside lesion.stl (four in a mixed case).
        sub = full[lesion_box]
        holes, n = label(fill_holes(sub) & ~sub)
        specks = np.flatnonzero(np.bincount(holes.ravel())[1:] <= _SPECK_VOXELS) + 1
        if specks.size:
            speck = np.isin(holes, specks)
            voxels += int(np.count_nonzero(speck))
            sub |= speck
    others = [(c.type, round(c.voxels * voxel_ml, 2),
               [round(float(v), 1) for v in volume.index_to_physical([(c.centre_kji + start)[::-1]])[0]])
              for c in cands if c is not chosen]
    return Lesion(mask=full, type=kind, volume_ml=float(voxels) * voxel_ml,
                  lesion_hu=lesion_hu, normal_hu=normal_hu, other_candidates=others,
                  warnings=tuple(warnings), box=lesion_box, dense_hu=tuple(criteria.blastic_hu))


def _union(a, b):
    """The box (of slices) holding boxes ``a`` (or None) and ``b``."""
    return b if a is None else tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b))


def _on_roi(search: np.ndarray | None, box, roi, shape) -> np.ndarray | None:
    """``search`` (CT grid, or on ``box`` when that is not the whole grid) on ``roi`` (which
    holds ``box``): a search region need not be a full-size array, whose every page costs."""
    if search is None or search.shape == tuple(shape):
        return None if search is None else search[roi]
    out = np.zeros(tuple(r.stop - r.start for r in roi), dtype=bool)
    out[tuple(slice(b.start - r.start, b.stop - r.start) for b, r in zip(box, roi))] = search
    return out


def _near_box(centre_kji, spacing_kji, shape, reach_mm):
    """The box within ``reach_mm`` (k, j, i) of ``centre_kji`` (clipped to ``shape``)."""
    r = np.ceil(np.asarray(reach_mm, dtype=float) / np.asarray(spacing_kji, dtype=float)).astype(int)
    c = np.round(np.asarray(centre_kji, dtype=float)).astype(int)
    return tuple(slice(int(min(max(x - q, 0), n)), int(max(min(x + q + 1, n), 0)))
                 for x, q, n in zip(c, r, shape))


def _deep(sol: np.ndarray, where: np.ndarray, spacing_kji, depth_mm: float) -> np.ndarray:
    """Voxels of ``where`` at least ``depth_mm`` inside ``sol`` (bool, same grid).

    The distance map only on the box of ``where`` grown by the depth: any surface nearer than
    that lies in it, so the answer is the same as on the whole grid.
    """
    out = np.zeros_like(where)
    box = bbox(where, np.ceil(depth_mm / np.asarray(spacing_kji)).astype(int) + 1)
    if box is None:
        return out
    inside = sol[box]
    if inside.all():  # no surface within reach: all deep
        out[box] = where[box]
        return out
    out[box] = where[box] & (ndimage.distance_transform_edt(inside, sampling=spacing_kji) >= depth_mm)
    return out
