"""The soft-tissue extension of a lytic lesion: tumour grown out through a cortical break.

It has soft-tissue density like the muscle around it, so density alone cannot find it; what
tells it apart is a small, consistent difference that smoothing brings out, and where it is: it
grows from the break, next to the bone, on the slices the break spans.  Where the lesion and
the muscle do not differ enough to tell, no extension is claimed and a note says so.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image

from ..geometry import bbox
from .filters import dilate_cross, erode_cross, grow_box
from .components import holding, label
from .mixed import FLAT, enclosed, within_mm


_IN_PLANE = (1, 2)  # the in-plane cross: its array axes
_PLANE_CROSS = np.pad(ndimage.generate_binary_structure(2, 1)[None], ((1, 1), (0, 0), (0, 0)))
_SLICE_8 = (1, 3, 3)  # in-plane with diagonals, a box: the pixels a blurred edge spills into
_SEPARATION = 1.5  # lesion and tissue must differ by this many noise widths of the smoothed image
# Hysteresis: the extension grows from the break through voxels this many noise widths on the
# lesion's side of the midpoint, then by _EDGE_STEPS voxels (in-plane) through any voxel on its
# side.  Growing freely through the midpoint chains noise blobs onto the extension (at 20 HU
# noise they doubled it on a short lesion); the steps give back the edge the margin took.
_SURE = 0.5
_EDGE_STEPS = 2
_CORTEX_ABOVE = 250.0  # HU above the lesion: bone whose partial volume spoils its neighbours
# A lobe (``lobe=True``, a mixed lesion's extension): one mass grown out of the break, so it is
# also seeded from sure tissue up to _LOBE_GAP_MM from the break in-plane (the lesion's rim past
# the periosteum reads like muscle where the cortex's blur lifts it), and what a closing of it
# with the bone by a disc of _LOBE_MM adds is its own (its texture's muscle-like patches, the
# rim between it and the break), unless it reads clearly as muscle: over _LOBE_MUSCLE noise
# widths past the midpoint (filled regardless, fine-grid extensions took muscle beside them).
# Only out of an opening: a break over at most _OPENING of the bone's outline on its slices
# (25-35% on the partial breaks of the mixed sweep).  Broken all round (77-100%), the lesion's
# rim sleeves the bone: the pieces near it joined noise in the muscle around it, and the
# closing took the muscle in the corners between it and its extension (Dice -0.002..-0.014).
_LOBE_GAP_MM, _LOBE_MM, _LOBE_MUSCLE, _OPENING = 3.0, 4.0, 2.0, 0.5
# The least share of a lobe in the smoothing kernel at its edge (_edge_share) that is taken as
# read: a ball of 2 sigma radius (4 mm) holds 0.30 of the kernel at its surface, one of 4 sigma
# 0.40; a smaller one is no lobe the smoothing can outline (0.40-0.50 on the mixed sweep's).
_MIN_SHARE = 0.3
_SIGMA_MM = 2.0  # the smoothing that brings a few HU out of the noise (see soft_tissue_extension)
# A lobe's texture (10 HU, in waves of 3-7 mm) survives _SIGMA_MM: whole patches of it read like
# the muscle (over a third of the missed extension a noise width past the midpoint on 1.5 x 3 mm
# voxels), and the lobe came out as a crescent along the bone, holed, slices short at its ends.
# Smoothed wider, the texture averages out (lobe against the muscle beside it, mixed sweep 1.5 x
# 3 mm partial breaks: ROC area 0.92 at 2 mm, 0.96 at 3 mm, 0.97 at 4 mm), so the lobe is grown
# again there and both kept (alone, as a wider _SIGMA_MM, small lobes drowned: 0.805 -> 0.747).
# Without the edge steps: the wider blur's edge is drawn by its kernel share already, and
# stepping on from it took muscle (default grids: Dice -0.004..-0.011 on 4 of 64 partial breaks;
# 4 mm took more).  Mixed sweep seeds 11-12, 32 partial breaks on 1.5 x 3 mm voxels: mean Dice
# +0.0034 with _next_slices +0.0044; default grids +0.0016 (+0.0019).
_WIDE_MM = 3.0


def soft_tissue_extension(hu: np.ndarray, solid: np.ndarray, lesion: np.ndarray, lesion_hu: float,
                          spacing_kji: np.ndarray, reach_mm: float,
                          lobe: bool = False, sleeve_hu: float | None = None) -> tuple[np.ndarray, str | None]:
    """(mask outside ``solid`` connected to the lesion's break, note or None); ROI arrays.
    ``lobe``: shape it as one mass out of the break (_LOBE_MM), unless broken all round, where
    ``sleeve_hu`` (if given) is the lesion's level instead (mixed_lesion.sleeve_level)."""
    empty = np.zeros_like(lesion)
    # The cross and in-plane steps below are ndimage's binary morphology (empty outside) as
    # shifted whole-array operations (filters.py): the same voxels, faster.
    shell = solid & ~erode_cross(solid)
    breach = lesion & dilate_cross(shell)
    if not breach.any():
        return empty, None
    if lobe:
        rim = shell & breach.any(axis=(1, 2))[:, None, None]
        lobe = np.count_nonzero(rim & dilate_cross(lesion)) <= _OPENING * np.count_nonzero(rim)
        if not lobe and sleeve_hu is not None:
            lesion_hu = sleeve_hu
    outside = ~solid
    dist_break = ndimage.distance_transform_edt(~breach, sampling=spacing_kji)
    dist_bone = ndimage.distance_transform_edt(outside, sampling=spacing_kji)
    # Smooth soft tissue only (normalised convolution: cortex and fat do not bleed in), enough
    # that a difference of a few HU stands out of the noise (sigma ~2 mm).  The voxels touching
    # cortex hold some of it (~140 HU next to the femur's shaft, for muscle of 50): they are
    # classified from the smoothed tissue around them, but do not enter the smoothing.
    candidate = outside & (np.abs(hu - lesion_hu) < 100)
    touching = grow_box(solid & (hu > lesion_hu + _CORTEX_ABOVE), _SLICE_8) & outside
    soft = candidate & ~touching
    candidate |= touching & (hu > lesion_hu - 100)
    sigma = _SIGMA_MM / spacing_kji
    weight, smooth = _smoothed(hu, soft, sigma, lesion_hu + 1e3)
    # The tissue around the bone at the lesion's levels, away from the break: the reference.
    levels = np.zeros(hu.shape[0], dtype=bool)
    levels[np.flatnonzero(lesion.any(axis=(1, 2)))] = True
    around = soft & (dist_bone > 2.0) & (dist_bone < 2.0 + reach_mm) & (dist_break > reach_mm)
    around &= levels[:, None, None]
    if around.sum() < 50:
        return empty, None
    tissue_hu, noise = _reference(smooth, around)
    if abs(tissue_hu - lesion_hu) < _SEPARATION * noise:
        return empty, (f"The lesion ({lesion_hu:.0f} HU) and the tissue around the bone "
                       f"({tissue_hu:.0f} HU) are too alike to outline a soft-tissue extension; "
                       "none is included.")
    # How far each voxel lies beyond the midpoint towards the lesion (positive: lesion's side);
    # voxels with too little soft tissue around them to be smoothed are not judged.
    margin = np.sign(tissue_hu - lesion_hu) * ((tissue_hu + lesion_hu) / 2 - smooth)
    # It grows out through the break, so only on the slices the break spans.  The lesion's mask
    # reaches a slice past them at its ends (its tip's partial volume); there a smoothed noise
    # blob in the muscle, as far from the muscle's level as the extension (10 HU at 25 HU noise),
    # joined the extension and took it a slice past the lesion (2.3 mm on a 15 mm lesion).
    at_break = breach.any(axis=(1, 2))
    near = candidate & (dist_break <= reach_mm) & at_break[:, None, None] & (weight > 0.2)
    grown = _grow(near, margin, noise, breach, lobe, spacing_kji) & outside
    if lobe and grown.any():
        # Its edge in the smoothed image lies where the kernel holds as much of it as of the
        # tissue beside it: half on a flat edge, less round a small lobe (0.43-0.46 of it on
        # 17-23 mm lesions' extensions), whose edge the midpoint then draws inside its true one
        # (1-2 voxels all round, and whole end slices lost on 1.3 x 2.5 mm voxels).  So it is
        # drawn again at the level its own edge reads with its share of the kernel there
        # (mixed sweep, seeds 11-12, 64 partial breaks: Dice +0.0015 on 1.3 x 2.5 mm voxels and
        # +0.0025 on 0.8 x 2 mm on average, misses of 0.833 and 0.847 now 0.852 and 0.858; one
        # fine case 0.915 -> 0.902, its extension already past its edge at the midpoint).
        share = _edge_share(grown, soft, weight, sigma, touching)
        if share < 0.5:
            margin = _edge_margin(smooth, lesion_hu, tissue_hu, share)
            grown = _grow(near, margin, noise, breach, lobe, spacing_kji) & outside
    if lobe and grown.any():
        grown |= _wide_lobe(hu, soft, around, near, grown, lesion_hu, breach, spacing_kji,
                            touching) & outside
    if lobe and grown.any():
        tissue = candidate & outside & (margin > -_LOBE_MUSCLE * noise)
        grown |= _lobe_fill(grown, solid, tissue, spacing_kji)
        # A lump on its opening (the bone's outline where the lesion meets it), within the same
        # tissue: not clearly muscle.
        grown |= _lobe_hull(grown, shell & dilate_cross(lesion), tissue)
    return grown, None


def _smoothed(hu: np.ndarray, soft: np.ndarray, sigma, fill: float):
    """(weight, smoothed HU): ``hu`` smoothed over the ``soft`` voxels only by a Gaussian of
    ``sigma`` voxels (normalised convolution), ``fill`` where under 0.2 of the kernel is soft."""
    weight = ndimage.gaussian_filter(soft.astype(np.float32), sigma)
    smooth = ndimage.gaussian_filter(np.where(soft, hu, 0).astype(np.float32), sigma)
    return weight, np.where(weight > 0.2, smooth / np.maximum(weight, 1e-6), fill)


def _reference(smooth: np.ndarray, around: np.ndarray) -> tuple[float, float]:
    """(level, noise) of the tissue ``around`` the bone in ``smooth``: median and robust MAD."""
    level = float(np.median(smooth[around]))
    return level, 1.4826 * float(np.median(np.abs(smooth[around] - level)))


def _wide_lobe(hu, soft, around, near, grown, lesion_hu: float, breach, spacing_kji, touching) -> np.ndarray:
    """The lobe grown again on a wider smoothing (_WIDE_MM), at the level its edge found at
    the narrow one (``grown``) reads there with its share of the wider kernel (_edge_share)."""
    sigma = _WIDE_MM / spacing_kji
    weight, smooth = _smoothed(hu, soft, sigma, lesion_hu + 1e3)
    tissue_hu, noise = _reference(smooth, around)
    margin = _edge_margin(smooth, lesion_hu, tissue_hu, _edge_share(grown, soft, weight, sigma, touching))
    lobe = _grow(near, margin, noise, breach, True, spacing_kji, edge_steps=0) | grown
    return lobe | _next_slices(lobe, near & (margin > 0))


def _edge_margin(smooth: np.ndarray, lesion_hu: float, tissue_hu: float, share: float) -> np.ndarray:
    """How far each voxel of ``smooth`` lies on the lesion's side of the level a lobe's edge reads
    with ``share`` of the smoothing kernel on it (_edge_share; a half: the midpoint)."""
    mid = lesion_hu + (1.0 - share) * (tissue_hu - lesion_hu)
    return np.sign(tissue_hu - lesion_hu) * (mid - smooth)


def _next_slices(lobe: np.ndarray, closer: np.ndarray) -> np.ndarray:
    """The ``closer`` voxels on the slices without any of ``lobe`` that lie next to it across
    slices (straight above or below a voxel of it): its end slices, whose thin cross-sections
    the smoothing draws from mostly muscle.  One slice, and only under the lobe: grown on through
    the midpoint, noise blobs in the muscle chained on (see _SURE); two slices on took muscle past
    the truth's ends (default grids -0.003..-0.004), and so did slices on at _SIGMA_MM (1.5 x 3 mm
    voxels -0.008..-0.012).  With this one: a 20 mm lesion on 1.5 x 3 mm voxels 0.819 -> 0.833,
    one of 34 mm 0.859 -> 0.855."""
    beside = np.zeros_like(lobe)
    beside[1:] |= lobe[:-1]
    beside[:-1] |= lobe[1:]
    return beside & closer & ~lobe.any(axis=(1, 2))[:, None, None]


def _grow(near: np.ndarray, margin: np.ndarray, noise: float, breach: np.ndarray, lobe: bool,
          spacing_kji, edge_steps: int = _EDGE_STEPS) -> np.ndarray:
    """The extension grown out of the ``breach`` through the ``near`` voxels on the lesion's side
    of the midpoint (``margin`` > 0), as soft_tissue_extension describes, then ``edge_steps``
    in-plane steps through any voxel on its side."""
    # Speckles of noise that happen to be closer to the lesion are opened away before growing.
    # (in-plane only: a small extension is few slices thick).
    sure = dilate_cross(erode_cross(near & (margin > _SURE * noise), _IN_PLANE), _IN_PLANE)
    # It pushes out through the break: on each slice, from that slice's break.  Grown across
    # slices too, a noise blob in the muscle on the break's end slice joined through the slice
    # before (27 voxels past a 15 mm lesion's extension at 25 HU noise).
    grown = ndimage.binary_propagation(dilate_cross(breach, _IN_PLANE) & sure, mask=sure,
                                       structure=_PLANE_CROSS)
    if lobe:
        grown = _lobe_pieces(grown, sure, breach, spacing_kji)
    # A slice whose sure part does not touch its own break in-plane (cortex, or an island's blur,
    # between them) lost all of it: over a quarter of the missed extension of mixed lesions on
    # 1.3 x 2.5 mm voxels lay on such slices.  Between two slices where it was found (one mass)
    # such a slice keeps the sure pieces that overlap it on both.  Not more: grown into every
    # slice the break spans, or from one neighbour, it joined noise in the muscle beside and past
    # it (Dice 0.831 -> 0.814 on a 50 mm lesion at 23 HU noise, 0.854 -> 0.850 on a 36 mm one).
    found = grown.any(axis=(1, 2))
    for k in np.flatnonzero(~found[1:-1] & found[:-2] & found[2:]) + 1:
        pieces, _ = ndimage.label(sure[k])
        both = np.intersect1d(pieces[grown[k - 1]], pieces[grown[k + 1]])
        grown[k] = np.isin(pieces, both[both > 0])
    closer = near & (margin > 0)
    for _ in range(edge_steps):
        grown |= dilate_cross(grown, _IN_PLANE) & closer
    return grown


def _edge_share(grown: np.ndarray, soft: np.ndarray, weight: np.ndarray, sigma, touching: np.ndarray) -> float:
    """The median share of ``grown`` in the smoothing kernel (its weights over ``soft`` tissue,
    ``weight`` their sum) at its in-plane edge away from the cortex, clipped to [_MIN_SHARE, 0.5]:
    below a half where the kernel reaches round a small lobe's edge."""
    edge = grown & ~erode_cross(grown, _IN_PLANE) & ~touching
    if not edge.any():
        return 0.5
    inside = ndimage.gaussian_filter((grown & soft).astype(np.float32), sigma)[edge] / np.maximum(weight[edge], 1e-6)
    return float(np.clip(np.median(inside), _MIN_SHARE, 0.5))


def _lobe_pieces(grown: np.ndarray, sure: np.ndarray, breach: np.ndarray, spacing_kji) -> np.ndarray:
    """``grown`` with the in-plane pieces of ``sure`` that start within _LOBE_GAP_MM of the
    break and join it, across slices too: one mass (three slices of a 39 mm lesion's extension
    on 1.3 x 2.5 mm voxels were apart from their break).  Not any such piece: muscle a few mm
    from a break holds noise blobs of that kind (most where the whole circumference broke)."""
    near_break = np.zeros_like(breach)
    box = bbox(breach, (0, *(np.ceil(_LOBE_GAP_MM / np.asarray(spacing_kji[1:], dtype=float)).astype(int) + 1)))
    near_break[box] = within_mm(breach[box], (FLAT, *spacing_kji[1:]), _LOBE_GAP_MM)
    pieces = holding(label(sure, structure=_PLANE_CROSS)[0], near_break & sure)
    return holding(label(grown | pieces)[0], grown)


def _lobe_hull(grown: np.ndarray, opening: np.ndarray, tissue: np.ndarray) -> np.ndarray:
    """The ``tissue`` voxels in the in-plane convex hull of the lobe's core and the cortical
    ``opening`` it grows out of, on each slice whose neighbours both hold the lobe.

    A mass pushed out through a break is a convex lump on its opening: what density alone left
    out of it (its texture's muscle-like patches, a side of the opening it did not reach) lies
    within that hull.  The core is the slice's lobe where the slices above and below hold it too:
    with each slice's whole lobe, the hull blew up noise blobs and over-grown end slices that
    the lobe had taken (mixed sweep, 1.5 x 3 mm voxels: 0.855 -> 0.837, 0.813 -> 0.800 and
    0.870 -> 0.863; a core held by either neighbour: 0.855 -> 0.843).  The lobe's end slices are
    left as they are and no slice is added, so its extent does not grow.  Mixed sweep seeds
    11-12, 32 partial breaks on 1.5 x 3 mm voxels: Dice >= 0.85 in 27 (24 before), mean +0.0030,
    none down; default grids +0.0009, none down by over 0.003; no plane moved."""
    out = np.zeros_like(grown)
    found = grown.any(axis=(1, 2))
    for k in np.flatnonzero(found[1:-1] & found[:-2] & found[2:]) + 1:
        core = grown[k] & grown[k - 1] & grown[k + 1]
        if not core.any():
            continue
        points = core | opening[k]
        box = bbox(points, (1, 1))
        out[k][box] = convex_hull_image(points[box])
    return out & tissue & ~grown


def _lobe_fill(grown: np.ndarray, solid: np.ndarray, tissue: np.ndarray, spacing_kji) -> np.ndarray:
    """The ``tissue`` voxels that closing ``grown`` together with the bone (in-plane, by a disc
    of _LOBE_MM) adds within that disc of ``grown``: its concave parts and the rim between it and
    the break (where the bone is notched too), not the bone's own folds elsewhere."""
    out = np.zeros_like(grown)
    # On its box grown by three discs in-plane: all that the closing near it reads.
    pad = np.ceil(3 * _LOBE_MM / np.asarray(spacing_kji, dtype=float)).astype(int) + 1
    box = bbox(grown, (0, pad[1], pad[2]))
    flat = (FLAT, *spacing_kji[1:])
    near = within_mm(grown[box], flat, _LOBE_MM)
    out[box] = enclosed(grown[box] | solid[box], spacing_kji, _LOBE_MM) & near & tissue[box]
    return out
