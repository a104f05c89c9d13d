"""All bone of a CT as one solid mask: cortex, and the marrow or trabecular bone it walls in.

One threshold cannot do it (docs/engineering.md): trabecular bone of an old vertebra (~100 HU)
is no denser than contrast-filled vessels, cartilage or a contrast-enhanced liver, and the fatty
marrow of a long bone is negative.  So bone is built from three parts:

- cortex: dense bone, above a level set from this scan's own soft tissue (so that contrast
  enhancement and partial volume at thick slices move it with the scan);
- trabecular interior: denser than soft tissue and walled in by cortex on nearly every side
  (enclosure.py), which leaves out vessels, cartilage and organs that only touch bone;
- fatty marrow: a hole inside a closed ring of cortex whose content is fat, the canal of a long
  bone (the spinal canal is walled in too, but holds fluid and cord, not fat);
- a lytic lesion (soft-tissue density) walled in by one bone in-plane and capped by it along k
  (lytic.py).

Then the surface is set where partial volume puts it (trim_edge), and an intervertebral disc,
walled in by endplates above and below, is kept out of the trabecular interior (disc_like), with
the partial-volume slice where a body ends against it (disc.py).  The contrast-filled lumen of
large vessels and their calcified walls are never bone (vessel.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .components import PLANE4, PLANE8, label
from ..geometry import bbox
from .body import step_2d, close_2d, fill_holes_2d, wide_patches
from .disc import disc_edge
from .enclosure import enclosure
from .filters import box_extreme, erode_cross
from .lytic import lytic_holes
from .slices import per_slice
from .vessel import ENHANCED_HU, LUMEN_MM2, SEARCH_MM, lumen_to_wall, smooth_lumen, vessel_wall

# Soft tissue's own level, from the scan: the 75th percentile of body voxels in this range.
SOFT_RANGE_HU = (-20.0, 200.0)
TRABECULAR_ABOVE_SOFT = 15.0  # trabecular bone is denser than the soft tissue around it
CORTEX_ABOVE_SOFT = 75.0  # the edge of bone against soft tissue: a partial-volume mix
FAT_MARROW_HU = -20.0  # fat is -50..-100 (docs/domain.md); fluid and cord are 0..40
SMOOTH_MM = 0.5  # in-plane noise smoothing before thresholds
WIDE_MM = 1.5  # smoothing that averages trabecular texture out before comparing with soft tissue
REACH_MM = 25.0  # half the width of a lumbar vertebral body: rays meet its cortex within this
MIN_ENCLOSED = 7  # of 8 directions: gaps in a thin cortex are tolerated, open sides are not
LOOSE_ENCLOSED = 5  # ... and next to such voxels, 5 of 8 (a wide gap in a blurred cortex)
TEXTURE_MM = 5.0
TEXTURE_SD = 18.0  # HU; trabecular bone is textured, blood, cartilage and organs are smooth
DISC_REACH_MM = 6.0  # an endplate lies within this above and below a disc's voxels
DISC_VALLEY_HU = 120.0  # ... and is this much denser than the disc
PLAQUE_ML = 1.0  # separate dense pieces smaller than this do not wall anything in
CLOSE_MM = 3.0  # closes small gaps in a cortex ring before looking for marrow holes
SPECK_MM2 = 60.0  # holes this small inside bone are gaps in the trabecular pattern, not canals
EDGE_FRACTION = 0.5  # the surface lies where HU is half-way from soft tissue to the bone
# Half-way holds where the cortex is resolved (thicker than the blur): two neighbouring voxels
# stand this far above soft tissue.  Thin or blurred cortex keeps the cortex level as its edge.
RESOLVED_HU = 400.0




@dataclass(frozen=True)
class Levels:
    soft: float
    trabecular: float
    cortex: float


def tissue_levels(hu: np.ndarray, body: np.ndarray) -> Levels:
    """HU levels of this scan, from its soft tissue (muscle, organs; contrast moves them)."""
    lo, hi = SOFT_RANGE_HU
    if hu.dtype.kind == "i" and float(lo).is_integer() and float(hi).is_integer():
        # Integer HU: the same comparisons in the array's own type, and the percentile from
        # counts of the ~220 values instead of a partition of millions.
        sample = hu[body & (hu > int(lo)) & (hu < int(hi))]
        soft = _percentile75(sample, int(lo) + 1, int(hi)) if sample.size else 50.0
    else:
        sample = hu[body & (hu > lo) & (hu < hi)]  # the same values as selecting in two steps
        soft = float(np.percentile(sample, 75)) if sample.size else 50.0
    return Levels(soft=soft, trabecular=soft + TRABECULAR_ABOVE_SOFT, cortex=soft + CORTEX_ABOVE_SOFT)


def _percentile75(sample: np.ndarray, lo: int, hi: int) -> float:
    """float(np.percentile(sample, 75)) of integers in [lo, hi) (numpy's linear method: between
    the values of ranks floor and ceil of (n - 1) * 0.75, a quarter step apart, so the
    interpolation is exact in floating point whatever its form)."""
    n = sample.size
    counts = np.cumsum(np.bincount((sample - lo).astype(np.intp), minlength=hi - lo))
    position = (n - 1) * 0.75
    below = int(np.floor(position))
    a, b = (lo + int(np.searchsorted(counts, k, side="right")) for k in (below, min(below + 1, n - 1)))
    return float(a + (b - a) * (position - below))


@per_slice()
def smooth(hu: np.ndarray, spacing, sigma_mm: float) -> np.ndarray:
    """float32 HU with an in-plane Gaussian of ``sigma_mm`` (skipped where below ~1/3 pixel)."""
    out = hu.astype(np.float32)
    sigma = [0.0] + [sigma_mm / float(s) for s in (spacing[1], spacing[0])]
    if max(sigma) >= 0.3:
        ndimage.gaussian_filter(out, sigma, output=out, truncate=3.0)
    return out


def trabecular_interior(g: np.ndarray, cortex: np.ndarray, body: np.ndarray, spacing,
                        levels: Levels) -> np.ndarray:
    """Voxels denser than soft tissue and walled in by cortex (within REACH_MM, 7 of 8 rays)."""
    out = np.zeros(g.shape, dtype=bool)
    walls = without_specks(cortex, spacing)
    # Only inside the walls' box can a voxel see them in 4 or more of the 8 directions (beyond
    # one side, only the 3 rays pointing back reach in), and only there is anything interior:
    # the smoothing, texture and disc tests below read a few mm around it, and a ray leaving
    # the box never comes back, so every count and value inside it is as on the whole grid.
    assert LOOSE_ENCLOSED >= 4
    box = bbox(walls)
    if box is None:
        return out
    near = _grown(box, g.shape, spacing)
    inner = tuple(slice(b.start - n.start, b.stop - n.start) for b, n in zip(box, near))
    # The density tests are read on the walls' box only, the disc test along k beyond it: the
    # wide Gaussian on those columns (k from near), from the near box's pixels it reaches.
    column = (near[0],) + box[1:]
    radius = [int(3.0 * WIDE_MM / float(s) + 0.5) for s in (spacing[1], spacing[0])]
    read = (near[0],) + tuple(slice(max(b.start - r, n.start), min(b.stop + r, n.stop))
                              for b, r, n in zip(box[1:], radius, near[1:]))
    wide = smooth(g[read], spacing, WIDE_MM)[(slice(None),) + tuple(
        slice(b.start - r.start, b.stop - r.start) for b, r in zip(box[1:], read[1:]))]
    dense = (wide > levels.trabecular) & body[column] & ~cortex[column]
    if not dense.any():
        return out
    dense &= ~disc_like(wide, spacing)
    dense, walls, gb, wide = dense[inner[0]], walls[box], g[near], wide[inner[0]]
    walled = enclosure(walls, spacing, REACH_MM)
    seeds = dense & (walled >= MIN_ENCLOSED)
    # Hysteresis, in the same slice: less walled-in voxels next to walled-in ones are interior
    # too (a wide gap in a blurred cortex), if textured like trabecular bone.
    loose = _textured(dense & (walled >= LOOSE_ENCLOSED) & ~seeds, gb[inner[0]], inner[1:], spacing)
    interior = _reconstruct_in_plane(seeds, loose | seeds)
    # Where the interior ends along k against soft tissue (a disc), the partial-volume slice
    # is bone only if more than half-way from the disc to the bone beyond it (disc.py).
    core = (wide > FAT_MARROW_HU) & ~interior & body[box] & ~cortex[box]
    out[box] = interior & ~disc_edge(interior, core, wide, spacing)
    return out


def _textured(where: np.ndarray, g: np.ndarray, inner, spacing) -> np.ndarray:
    """``where`` & (local_sd(g)[:, inner] >= TEXTURE_SD): the texture window on the slices
    holding any of ``where`` only (the filter works in-plane: each slice's values are its own;
    a femur's trabecular ends hold them, not its shaft)."""
    out = np.zeros_like(where)
    ks = np.flatnonzero(where.any(axis=(1, 2)))
    if ks.size:
        sd = local_sd(g[ks], spacing, TEXTURE_MM)[(slice(None),) + tuple(inner)]
        out[ks] = where[ks] & (sd >= TEXTURE_SD)
    return out


def reconstruct(seeds: np.ndarray, mask: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """ndimage.binary_propagation(seeds, structure, mask=mask) for seeds within mask: the pieces
    of ``mask`` (connected by ``structure``) that hold a seed, from one labelling instead of
    dilations repeated until nothing changes."""
    labels, n = label(mask, structure=structure)
    hit = np.zeros(n + 1, dtype=bool)
    hit[labels[seeds]] = True
    hit[0] = False
    return hit[labels]


@per_slice(arrays=2)
def _reconstruct_in_plane(seeds: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return reconstruct(seeds, mask, PLANE4)


def _grown(box, shape, spacing) -> tuple[slice, slice, slice]:
    """``box`` grown by what trabecular_interior's filters read: the wide Gaussian and the
    texture window in-plane, the disc test's reach along k (clipped to the array, whose edges
    the filters then see as before)."""
    return tuple(slice(max(b.start - r, 0), min(b.stop + r, n))
                 for b, r, n in zip(box, _reach(spacing), shape))


def _reach(spacing) -> list[int]:
    """(k, j, i) voxels that _grown adds on each side."""
    reach = [int(np.ceil(DISC_REACH_MM / float(spacing[2]))) + 1]
    for s in (spacing[1], spacing[0]):  # Gaussian radius (truncate 3) or half the texture window
        reach.append(max(int(3.0 * WIDE_MM / float(s) + 0.5), _texture_size(spacing) // 2) + 1)
    return reach


def _texture_size(spacing, size_mm: float = TEXTURE_MM) -> int:
    return max(3, int(round(size_mm / float(spacing[0]))) | 1)


def without_specks(cortex: np.ndarray, spacing) -> np.ndarray:
    """Cortex without small separate pieces: calcified plaques of a vessel wall or cartilage
    must not wall in a vessel's lumen as if it were marrow.  (Labelled on the cortex's box.)"""
    out = np.zeros_like(cortex)
    box = bbox(cortex)
    if box is None:
        return out
    piece = cortex[box]
    labels, n = label(piece, structure=np.ones((3, 3, 3), dtype=bool))
    # Sizes counted on the labelled voxels only (label 0's count is never kept).
    sizes = np.bincount(labels[piece], minlength=n + 1) * float(np.prod(spacing)) / 1000.0
    keep = sizes >= PLAQUE_ML
    keep[0] = False
    out[box] = keep[labels]
    return out


@per_slice()
def local_sd(g: np.ndarray, spacing, size_mm: float) -> np.ndarray:
    """In-plane standard deviation over a square of about ``size_mm``."""
    n = _texture_size(spacing, size_mm)
    mean = ndimage.uniform_filter(g, size=(1, n, n))
    sq = ndimage.uniform_filter(g * g, size=(1, n, n))
    return np.sqrt(np.maximum(sq - mean * mean, 0.0))


def disc_like(g: np.ndarray, spacing) -> np.ndarray:
    """Voxels in a valley along z between denser layers above and below (an intervertebral
    disc between two endplates): walled in like trabecular bone, but not bone."""
    n = _disc_slices(spacing)
    above = _max_ahead(g, n)
    below = _max_ahead(g[::-1], n)[::-1]
    # Where the scan cuts the column, the endplate on the one side present has to do.
    with np.errstate(invalid="ignore"):
        return g < np.fmin(above, below) - DISC_VALLEY_HU


def _disc_slices(spacing) -> int:
    """Slices that disc_like reads above and below each voxel."""
    return max(1, int(round(DISC_REACH_MM / float(spacing[2]))))


def _max_ahead(g: np.ndarray, n: int) -> np.ndarray:
    """The largest of g[k + 1 .. k + n] along axis 0 (nan where none lies in the array): the
    first slice's step, then windows doubled by shifted fmax (3 passes for 6 slices, not 6)."""
    out = np.empty_like(g)
    out[:-1], out[-1:] = g[1:], np.nan  # nan: beyond the scan's first or last slice
    spare = np.empty_like(g)  # written apart: an output overlapping its input costs a copy
    covered = 1
    while covered < n:
        s = min(covered, n - covered)
        if s < g.shape[0]:
            np.fmax(out[:-s], out[s:], out=spare[:-s])
            spare[-s:] = out[-s:]
            out, spare = spare, out
        covered += s
    return out


def fatty_marrow(hu: np.ndarray, cortex: np.ndarray, spacing) -> np.ndarray:
    """Holes of (slightly closed) cortex rings that belong to a fatty marrow canal.

    Holes are followed from slice to slice: a canal is one 3D run of holes, and its median is
    fat, even where it passes into the metaphysis or holds a lesion (0..80 HU).  The spinal
    canal is a run of holes too, but of cord and fluid: its median is not fat.  (On voxels so
    coarse that a canal is all partial volume with its cortex, no canal is found.)
    """
    out = np.zeros_like(cortex)
    r = max(1, int(round(CLOSE_MM / float(spacing[0]))))
    box = bbox(cortex, (0, r + 1, r + 1))
    if box is None:
        return out
    hu, cortex = hu[box], cortex[box]
    closed = close_2d(cortex, r)
    holes = fill_holes_2d(closed) & ~closed
    labels, n = label(holes)  # 3D: a canal is continuous from slice to slice
    if n == 0:
        return out
    # Median below the fat level <=> more than half of the voxels below it.
    # Counted on the holes' voxels only (label 0 is never fat).
    total = np.bincount(labels[holes], minlength=n + 1)
    fatty = np.bincount(labels[holes & (hu < FAT_MARROW_HU)], minlength=n + 1)
    fat = 2 * fatty > total
    fat[0] = False
    marrow = fat[labels]
    # The closing's own additions next to the canal are bone too (the ring it closed).
    out[box] = marrow | (closed & ~cortex & step_2d(marrow, square=True, grow=True))
    return out


def fill_specks(mask: np.ndarray, spacing) -> np.ndarray:
    """Fill holes smaller than SPECK_MM2 in each slice (gaps between trabeculae)."""
    holes = fill_holes_2d(mask) & ~mask
    labels, n = label(holes, structure=PLANE8)
    if n == 0:
        return mask
    area = np.bincount(labels[holes], minlength=n + 1) * float(spacing[0] * spacing[1])  # 0: never kept
    small = area <= SPECK_MM2
    small[0] = False
    return mask | small[labels]


def trim_edge(mask: np.ndarray, g: np.ndarray, levels: Levels) -> np.ndarray:
    """Partial-volume surface: drop surface voxels below half the local contrast.

    A voxel cut by the bone's surface has a HU between soft tissue and the bone next to it; its
    centre is inside the bone when it is more than half-way.  That holds where the cortex is
    resolved (dense over two neighbouring voxels); a thin or blurred shell (thick slices, ribs)
    peaks too low to tell, and keeps the cortex level as its edge.
    """
    inside = np.where(mask, g, levels.soft)
    plateau = np.full_like(g, levels.soft)
    for axis in (1, 2):  # what two neighbouring voxels of a slice both reach
        np.maximum(plateau, np.minimum(inside, np.roll(inside, 1, axis=axis)), out=plateau)
    peak = box_extreme(plateau, 3, np.maximum) - levels.soft
    level = np.where(peak >= RESOLVED_HU, levels.soft + EDGE_FRACTION * peak, -np.inf)
    surface = mask & ~erode_cross(mask)
    return mask & ~(surface & (g < level))


@dataclass(frozen=True, eq=False)
class Solid:
    mask: np.ndarray  # bool: every bone, cortex and interior
    cortex: np.ndarray  # bool: the dense part
    marrow: np.ndarray  # bool: fatty marrow found in closed cortex rings (long bones' canals)
    g: np.ndarray  # float32: the smoothed HU the thresholds were applied to (near the bone;
    # elsewhere the raw HU, below the cortex level: no step reads it there)
    levels: Levels


def _smooth_near(hu: np.ndarray, spacing, cortex_hu: float):
    """(g, box): smooth(hu, spacing, SMOOTH_MM) on the box where any step reads it, the raw HU
    (float32) elsewhere; None when nothing comes near the cortex level.

    Away from voxels within 1 HU of the cortex level, g stays below it (an average of lower
    values): no cortex there, and nothing else is read beyond the cortex's box grown by the
    trabecular filters' reach, the marrow closing and the edge trim.  The Gaussian is worked on
    that box grown by its own radius: each value is the same weighted sum as on the whole grid.
    """
    g = hu.astype(np.float32)
    sigma = [SMOOTH_MM / float(s) for s in (spacing[1], spacing[0])]
    radius = [int(3.0 * sd + 0.5) for sd in sigma]  # gaussian_filter's, at truncate 3
    reach = _reach(spacing)  # trabecular_interior's
    close = max(1, int(round(CLOSE_MM / float(spacing[0])))) + 3  # fatty_marrow, trim_edge
    pad = [reach[0] + 2] + [r + max(t, close) + 2 for r, t in zip(radius, reach[1:])]
    near = bbox(hu > cortex_hu - 1.0, pad)
    if near is None:
        return g, None
    work = tuple(slice(max(b.start - r, 0), min(b.stop + r, n))
                 for b, r, n in zip(near, [0] + radius, hu.shape))
    inner = tuple(slice(b.start - w.start, b.stop - w.start) for b, w in zip(near, work))
    g[near] = smooth(hu[work], spacing, SMOOTH_MM)[inner]
    return g, near


def _without_vessels(inside: np.ndarray, g: np.ndarray, near, spacing, levels: Levels) -> np.ndarray:
    """``inside`` less the contrast-filled lumen of large vessels and their walls (vessel.py),
    looked for on the ``near`` box, where g is smoothed."""
    gn = g[near]
    # Blood with contrast lies between the enhanced level and the cortex level (bar noise): a
    # lumen can only be around wide patches of such voxels, and is looked for only there (a
    # scan without contrast has none: the texture filters are not run).
    enhanced = wide_patches((gn > levels.soft + ENHANCED_HU) & (gn < levels.cortex), spacing, LUMEN_MM2)
    box = bbox(enhanced, (0,) + tuple(int(np.ceil(SEARCH_MM / float(s))) for s in (spacing[1], spacing[0])))
    if box is None:
        return inside
    sub = gn[box]
    lumen = smooth_lumen(smooth(sub, spacing, WIDE_MM), local_sd(sub, spacing, TEXTURE_MM),
                         spacing, levels.soft, levels.trabecular)
    if not lumen.any():
        return inside
    lumen = lumen_to_wall(lumen, sub, spacing, levels.soft, levels.cortex)
    out = inside.copy()
    where = tuple(slice(n.start + b.start, n.start + b.stop) for n, b in zip(near, box))
    out[where] &= ~vessel_wall(lumen, spacing)
    return out


def _lytic(mask: np.ndarray, g: np.ndarray, inside: np.ndarray, spacing) -> np.ndarray:
    """lytic.py's lesion voxels: not bone, not fat, not a disc (disc_like)."""
    def candidate(read: np.ndarray) -> np.ndarray:
        # The wide Gaussian works in-plane and disc_like reads n slices along k: on runs of
        # the slices read, grown by n (or to the array's end), the values there are the same.
        out = np.zeros_like(mask)
        n = _disc_slices(spacing)
        for a, b in _runs(np.flatnonzero(read), 2 * n + 1):
            k = slice(max(a - n, 0), min(b + 1 + n, mask.shape[0]))
            near = ~disc_like(smooth(g[k], spacing, WIDE_MM), spacing)
            out[k] = inside[k] & (g[k] > FAT_MARROW_HU) & near
        out &= read[:, None, None]
        return out

    return lytic_holes(mask, candidate, spacing, REACH_MM)


def _runs(ks: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """(first, last) of the runs of sorted ``ks`` broken where they step by more than ``gap``."""
    if ks.size == 0:
        return []
    cut = np.flatnonzero(np.diff(ks) > gap)
    return list(zip(ks[np.r_[0, cut + 1]].tolist(), ks[np.r_[cut, ks.size - 1]].tolist()))


def bone_solid(hu: np.ndarray, body: np.ndarray, spacing, exclude: np.ndarray | None = None,
               levels: Levels | None = None) -> Solid:
    """Every bone as one bool mask with its interior.

    ``hu`` (k, j, i) and ``body`` are on the same grid; ``exclude`` (e.g. metal) is never bone.
    """
    levels = levels or tissue_levels(hu, body)
    g, near = _smooth_near(hu, spacing, levels.cortex)
    inside = body if exclude is None else body & ~exclude
    if near is not None:
        inside = _without_vessels(inside, g, near, spacing, levels)
    cortex = np.zeros(hu.shape, dtype=bool)
    if near is not None:
        cortex[near] = (g[near] > levels.cortex) & inside[near]
    mask = cortex | trabecular_interior(g, cortex, inside, spacing, levels)
    marrow = fatty_marrow(hu, cortex, spacing) & inside
    mask |= marrow
    box = bbox(mask, (0, 2, 2))
    if box is not None:
        # A lytic lesion walled in by one bone (below the trabecular level: not taken above); it
        # keeps its surface where it broke the cortex (no partial volume of bone to place it).
        lytic = _lytic(mask[box], g[box], inside[box], spacing)
        mask[box] = trim_edge(fill_specks(mask[box] | lytic, spacing), g[box], levels) | lytic
    return Solid(mask=mask, cortex=cortex, marrow=marrow, g=g, levels=levels)
