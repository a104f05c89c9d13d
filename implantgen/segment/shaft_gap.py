"""Two pieces of one shaft, apart across a lesion that destroyed its whole cross-section.

A lytic lesion replacing a diaphysis's full cross-section (an impending or actual pathological
fracture) leaves no bone between the shaft's two ends: the bone solid falls apart into two
pieces with lesion-density tissue between them.  They are one bone when they lie on one axis,
their ends facing each other are the shaft (no wider than the narrower part of each piece, and
as wide as each other), and the cylinder between the ends holds neither fat, air nor another
bone.  Bones meeting at a joint meet at their flared ends (condyles, plateau, heads), wider
than their shafts, so they are not joined; nor are vertebrae, which are no long bones.
long_bone.py then rebuilds the emptied sections on the circle of the shaft on both sides.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .features import BoneFeatures
from .long_bone import GAP_HU
from .names import is_long

_MAX_GAP_MM = 120.0  # as long_bone's interpolated circles reach
_OVERLAP_MM = 5.0  # ends cut obliquely across the axis may overlap along it by this much
_END_MM = 20.0  # the stretch of each piece next to the gap that must be shaft
_SLAB_MM = 5.0  # at least, in whole voxels
_STRAND = 0.5  # slabs narrower than this share of the shaft are strands, or the far end's tip
_SHAFT_QUANTILE = 0.25  # the shaft's radius: the narrower quarter of a piece's slabs
_FLARE = 1.15  # an end wider than this times the shaft is a joint's, not a shaft's
_SAME_RADIUS = 0.2  # the two ends' radii differ by at most this share
_OFFSET = 0.5  # the two ends' centres lie this share of the radius off one line along the axis
_CORE = 0.8  # the gap's content is read in this share of the radius (clear of partial volume)
_OTHER_BONE = 0.05  # share of that cylinder another bone may hold


def gap_pieces(labels: np.ndarray, feats: list[BoneFeatures], g: np.ndarray, spacing) -> dict[int, int]:
    """{label: label it joins} for the two pieces of a shaft a lesion cut right through."""
    out = {}
    longs = [f for f in feats if is_long(f)]
    for fa, fb in combinations(longs, 2):
        if fa.label in out or fb.label in out or not _facing(fa, fb):
            continue
        if _one_shaft(labels, fa.label, fb.label, g, np.asarray(spacing, dtype=float)[::-1]):
            out[max(fa.label, fb.label)] = min(fa.label, fb.label)
    return out


def _facing(fa: BoneFeatures, fb: BoneFeatures) -> bool:
    """From the features alone: parallel, end to end, and not too far apart."""
    if abs(float(np.dot(fa.axis, fb.axis))) < np.cos(np.radians(12.0)):
        return False
    link = np.asarray(fb.centroid) - np.asarray(fa.centroid)
    along = abs(float(np.dot(link, fa.axis)))
    if along < 1e-6 or along < np.cos(np.radians(15.0)) * np.linalg.norm(link):
        return False
    return along <= (fa.length_mm + fb.length_mm) / 2 + _MAX_GAP_MM


def _one_shaft(labels: np.ndarray, a: int, b: int, g: np.ndarray, scale: np.ndarray) -> bool:
    pa, pb = np.argwhere(labels == a) * scale, np.argwhere(labels == b) * scale
    # The pieces' own axes, not the union's: that one would lean to pass through both.
    ua, ub = (np.linalg.svd(p - p.mean(axis=0), full_matrices=False)[2][0] for p in (pa, pb))
    axis = ua + np.sign(ua @ ub) * ub
    axis = axis / np.linalg.norm(axis)
    sa, sb = pa @ axis, pb @ axis
    if sa.mean() > sb.mean():  # a below b along the axis
        pa, pb, sa, sb = pb, pa, sb, sa
    voxel = float(np.prod(scale))
    # Slabs a whole number of voxels thick: 5 mm of 2 mm slices alternate 2 and 3 of them.
    slab = float(scale.max()) * np.ceil(_SLAB_MM / float(scale.max()))
    ends = []
    for s, pts, end, sign in ((sa, pa, sa.max(), -1), (sb, pb, sb.min(), 1)):
        depth = sign * (s - end)  # >= 0 inside the piece, from its facing end
        radii = _slab_radii(depth, voxel, slab)
        full = radii >= _STRAND * np.median(radii)
        shaft = np.quantile(radii[full], _SHAFT_QUANTILE)
        # Strands of cortex the lesion left reach into the gap: the piece's end is its first
        # slab holding a good share of the shaft.
        first = int(np.argmax(radii >= _STRAND * shaft))
        near = radii[first:first + max(int(round(_END_MM / slab)), 1)]
        if near.max() > _FLARE * shaft:
            return False
        top = first * slab
        centre = pts[(depth >= top) & (depth <= top + _END_MM)].mean(axis=0)
        ends.append((near.max(), centre, end + sign * top))
    (ra, ca, lo), (rb, cb, hi) = ends
    if not -_OVERLAP_MM <= hi - lo <= _MAX_GAP_MM:
        return False
    radius = max(ra, rb)
    if abs(ra - rb) > _SAME_RADIUS * radius:
        return False
    link = cb - ca
    if np.linalg.norm(link - (link @ axis) * axis) > _OFFSET * radius:
        return False
    return _lesion_between(labels, g, scale, (a, b), ca, cb, axis, (lo, hi), _CORE * radius)


def _slab_radii(depth: np.ndarray, voxel_mm3: float, slab: float) -> np.ndarray:
    """Equivalent radius (mm) of each ``slab`` mm thick slab of a piece's voxels at ``depth``
    (mm) from its facing end."""
    counts = np.bincount((depth // slab).astype(np.intp))
    return np.sqrt(counts * voxel_mm3 / slab / np.pi)


def _lesion_between(labels, g, scale, pair, ca, cb, axis, span, radius) -> bool:
    """Whether the cylinder between the ends (``span`` along ``axis``, ``radius`` around the line
    through the ends' centres) holds a lesion's density, not fat or air, and no other bone."""
    lo, hi = min(span), max(span)
    pts = [ca + (s - ca @ axis) * axis for s in (lo, hi)]  # the line at both ends
    reach = radius + 1.0
    first = np.maximum(np.floor((np.minimum(*pts) - reach) / scale).astype(int), 0)
    last = np.minimum(np.ceil((np.maximum(*pts) + reach) / scale).astype(int) + 1, labels.shape)
    box = tuple(slice(f, t) for f, t in zip(first, last))
    grid = np.stack(np.meshgrid(*(np.arange(sl.start, sl.stop) for sl in box), indexing="ij"), -1)
    rel = grid.reshape(-1, 3) * scale - ca
    s = rel @ axis + ca @ axis
    line = cb - ca
    line = line / np.linalg.norm(line) if np.linalg.norm(line) > 1e-6 else axis
    inside = (s >= lo) & (s <= hi) & (np.linalg.norm(rel - np.outer(rel @ line, line), axis=1) <= radius)
    if not inside.any():  # nothing between the ends to read: no evidence of a lesion
        return False
    lab = labels[box].reshape(-1)[inside]
    if np.count_nonzero((lab > 0) & (lab != pair[0]) & (lab != pair[1])) > _OTHER_BONE * lab.size:
        return False
    return GAP_HU[0] <= float(np.median(g[box].reshape(-1)[inside])) < GAP_HU[1]
