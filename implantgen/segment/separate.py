"""Splitting the bone solid into individual bones.

Bones touch at joints (hip, costovertebral, facet joints) and, on thick slices, partial volume
bridges the joint spaces.  Two cues separate them, used in turn:

1. Density: a joint space is less dense than the bone on both sides of it.  Raising the HU
   threshold step by step, two bones come apart at some level; a piece counts only if it is
   big and thick (joint surfaces, not flakes of cortex, must carry the split).
2. Shape: each vertebral body, a femoral head, a humeral shaft is a thick blob joined to its
   neighbours by thinner parts (arches, facet joints, bridges).  The same step-by-step tree on
   the distance to the bone's surface finds blobs that rise well above the neck between them.

Each leaf of a tree seeds a watershed that hands every voxel of the solid to one bone.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from .components import find_objects, label
from .disc_cut import cut_at_discs
from .filters import dilate_cross

_CONN = np.ones((3, 3, 3), dtype=bool)

HU_STEPS = (0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0)  # above the cortex level
HU_PIECE_ML = 5.0
HU_PIECE_THICK_MM = 6.0  # a piece must hold a point this deep inside the solid
# ... and be part of a bone's outside: at least this share of the piece's own surface lies on
# the solid's.  A dense core inside a bone (a blastic lesion, a bone island) is not a bone of its
# own.  A piece at the cortex level is a bone's shell, thin (pelvis_3mm: 4.2 mm deep in itself,
# 0.75-0.87 of its surface on the solid's; a cortex of 2-7 mm on 1 mm voxels shows its inner
# surface too: 0.5-0.6); a lesion of 650 HU there is a blob, 8.5-9.5 mm deep in itself, with
# 0.01-0.47 of its surface on the solid's (0.42-0.47 where it reaches the cortex of the neck).
SHELL_SHARE = 0.35
BLOB_MM, BLOB_SHELL_SHARE = 8.0, 0.6  # a piece this deep in itself must have this share
FLAT_ABOVE = 100.0  # above cortex + this, density no longer steers the watershed: distance does
# Necks up to ~16 mm across (arches, facet joints, bridges over a disc) are split; a long bone's
# shaft is thicker than that, so a femur does not come apart at its flared ends.
DT_LEVELS_MM = (1.5, 3.0, 4.5, 6.0, 8.0)
DT_PIECE_ML = 1.0  # the core of a blob above the split level, not the whole bone
DT_RISE_MM = 4.0  # a blob must rise this much above the level where it comes apart
LONG_MARROW = 0.03  # share of fatty marrow that marks a long bone
LONG_ELONGATION = 3.0  # ratio of the first two principal spreads of a long bone


def tree_leaves(f: np.ndarray, mask: np.ndarray, levels, accept, big_enough=None) -> np.ndarray:
    """int32 seeds: the leaves of the component tree of ``f`` within ``mask`` over ``levels``.

    A component splits at a level when at least two of its pieces pass ``big_enough(voxels)``
    (if given) and ``accept(piece_mask, f_on_piece_box, level, box)``; each leaf is the piece at
    the level where it split off (the biggest seed that still belongs to one bone).  Components
    that never split are one leaf.  ``accept`` may be costly: it is only asked when two pieces
    are big enough, since otherwise no split can happen (nor are the pieces cut out then).
    """
    seeds = np.zeros(mask.shape, dtype=np.int32)
    labels, n = label(mask, structure=_CONN)
    stack = [(labels[box] == c, tuple(s.start for s in box), 0)
             for c, box in enumerate(find_objects(labels, n), start=1)]
    count = 0
    while stack:
        piece, origin, start = stack.pop()
        box = tuple(slice(o, o + s) for o, s in zip(origin, piece.shape))
        fb = f[box]
        split = None
        for li in range(start, len(levels)):
            above = piece & (fb >= levels[li])
            sub, ns = label(above, structure=_CONN)
            if ns < 2:
                if ns == 0:
                    break
                continue
            chosen = np.arange(1, ns + 1)
            if big_enough is not None:
                sizes = np.bincount(sub[above], minlength=ns + 1)  # the labelled voxels: 1..ns
                chosen = [b for b in chosen if big_enough(int(sizes[b]))]
            pieces = []
            if len(chosen) >= 2:
                boxes = find_objects(sub, ns)
                pieces = [(sub[boxes[b - 1]] == b,
                           tuple(slice(o + s.start, o + s.stop) for o, s in zip(origin, boxes[b - 1])))
                          for b in chosen]
            good = []
            if len(pieces) >= 2:
                good = [(pm, tuple(s.start for s in gbox)) for pm, gbox in pieces
                        if accept(pm, f[gbox], levels[li], gbox)]
            if len(good) >= 2:
                split = (good, li + 1)
                break
        if split is None:
            count += 1
            seeds[box][piece] = count
        else:
            stack.extend((pm, o, split[1]) for pm, o in split[0])
    return seeds


def _volume_ok(voxels: int, ml: float, voxel_ml: float) -> bool:
    return voxels * voxel_ml >= ml


def split_by_density(solid: np.ndarray, g: np.ndarray, cortex_hu: float, spacing) -> np.ndarray:
    """Watershed regions of ``solid`` seeded by the density tree (joints come apart)."""
    voxel_ml = float(np.prod(spacing)) / 1000.0
    maps = []  # the solid's distance map and surface, made the first time a split needs them (costly)

    def accept(pm, _fb, _level, gbox):
        if not maps:
            maps.append(ndimage.distance_transform_edt(solid, sampling=spacing[::-1]).astype(np.float32))
            maps.append(solid & ~ndimage.binary_erosion(solid, border_value=1))  # the scan's edge is no surface
        if maps[0][gbox][pm].max() < HU_PIECE_THICK_MM:
            return False
        padded = np.pad(pm, 1)
        rim = pm & ~ndimage.binary_erosion(padded)[1:-1, 1:-1, 1:-1]
        share = np.count_nonzero(rim & maps[1][gbox]) / np.count_nonzero(rim)
        if share >= BLOB_SHELL_SHARE:
            return True
        return share >= SHELL_SHARE and ndimage.distance_transform_edt(padded, sampling=spacing[::-1]).max() < BLOB_MM

    seeds = tree_leaves(g, solid, [cortex_hu + s for s in HU_STEPS], accept,
                        big_enough=lambda n: _volume_ok(n, HU_PIECE_ML, voxel_ml))
    if np.array_equal(seeds > 0, solid):  # nothing split: the leaves are the regions already
        return seeds
    elevation = -np.minimum(g, cortex_hu + FLAT_ABOVE)
    return watershed(elevation, seeds, mask=solid)


def split_by_shape(region: np.ndarray, spacing, long_bone: bool = False) -> np.ndarray:
    """Watershed of one region's distance map seeded by the distance tree (blobs come apart).

    A long bone (``long_bone``) is left whole: its flared ends are blobs on a shaft, and a
    lesion that breaks its cortex makes a neck, but it is one bone.
    """
    if long_bone:
        return region.astype(np.int32)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    depth = ndimage.distance_transform_edt(np.pad(region, 1), sampling=spacing[::-1])[1:-1, 1:-1, 1:-1]

    def accept(pm, fb, level, _gbox):
        return fb[pm].max() - level >= DT_RISE_MM

    seeds = tree_leaves(depth, region, DT_LEVELS_MM, accept,
                        big_enough=lambda n: _volume_ok(n, DT_PIECE_ML, voxel_ml))
    if np.array_equal(seeds > 0, region):  # nothing split: the leaves are the regions already
        return seeds
    return watershed(-depth, seeds, mask=region)


def is_tube(region: np.ndarray, marrow: np.ndarray, spacing) -> bool:
    """A long bone: a fatty marrow canal along a body much longer than it is wide."""
    n = np.count_nonzero(region)
    # A speck of a few voxels has no shape to judge (and too few points for three axes).
    if n < 4 or np.count_nonzero(marrow & region) < LONG_MARROW * n:
        return False
    p = np.argwhere(region)[:: max(1, n // 50_000)] * np.asarray(spacing, dtype=float)[::-1]
    sv = np.linalg.svd(p - p.mean(axis=0), compute_uv=False)
    return sv[0] >= LONG_ELONGATION * max(sv[1], 1e-6)


def separate_bones(solid: np.ndarray, g: np.ndarray, cortex_hu: float, spacing,
                   marrow: np.ndarray | None = None) -> np.ndarray:
    """int32 labels 1..n, one per bone, covering ``solid`` exactly.

    ``g`` is the (smoothed) HU on the same grid, ``cortex_hu`` the scan's cortex level,
    ``marrow`` the fatty marrow found in the solid (marks long bones).
    """
    spacing = np.asarray(spacing, dtype=float)
    regions = split_by_density(solid, g, cortex_hu, spacing)
    out = np.zeros(solid.shape, dtype=np.int32)
    n = 0
    for r, box in enumerate(find_objects(regions), start=1):
        if box is None:
            continue
        region = regions[box] == r
        tube = marrow is not None and is_tube(region, marrow[box], spacing)
        parts = split_by_shape(region, spacing, long_bone=tube)
        if not tube:
            parts = _cut_discs(parts, g[box], spacing)
        parts[parts > 0] += n
        out[box][region] = parts[region]
        n = max(n, int(parts.max()))
    return merge_split_shafts(out, marrow, spacing) if marrow is not None else out


def _cut_discs(parts: np.ndarray, g: np.ndarray, spacing) -> np.ndarray:
    """``parts`` (int labels 1..n) with each part cut along the discs it walls in (disc_cut.py)."""
    out = np.zeros_like(parts)
    n = 0
    for p, box in enumerate(find_objects(parts), start=1):
        if box is None:
            continue
        own = parts[box] == p
        cut = cut_at_discs(own, g[box], spacing)
        out[box][own] = cut[own] + n
        n += int(cut.max())
    return out


def _axis(points: np.ndarray) -> np.ndarray:
    _, _, vt = np.linalg.svd(points - points.mean(axis=0), full_matrices=False)
    return vt[0]


def merge_split_shafts(labels: np.ndarray, marrow: np.ndarray, spacing) -> np.ndarray:
    """Join the two halves of a long bone that the density split cut through its shaft.

    A lesion that replaces much of a shaft's cortex is a weak, low-density link, like a joint.
    But a joint is where bones end, while a cut through a shaft leaves two pieces that line up
    on one axis, meet across the shaft's whole cross-section, and together form a tube.
    """
    if labels.size == 0 or int(labels.max()) <= 1:  # one bone or none: nothing to join, nor to renumber
        return labels
    spacing = np.asarray(spacing, dtype=float)
    boxes = ndimage.find_objects(labels)
    for a in range(1, len(boxes) + 1):
        if boxes[a - 1] is None:
            continue
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in boxes[a - 1])
        mine = labels[grown] == a
        touching = np.unique(labels[grown][dilate_cross(mine) & ~mine])
        for b in touching[(touching > 0) & (touching != a)]:
            union = (labels == a) | (labels == b)
            if not is_tube(union, marrow, spacing):
                continue
            pa = np.argwhere(labels == a) * spacing[::-1]
            pb = np.argwhere(labels == b) * spacing[::-1]
            if abs(_axis(pa) @ _axis(pb)) < np.cos(np.radians(15.0)):
                continue
            axis = _axis(np.concatenate([pa, pb]))
            contact = np.count_nonzero((labels == a) & ndimage.binary_dilation(labels == b))
            section = len(pa) / max(np.ptp(pa @ axis) / float(np.abs(spacing[::-1] @ np.abs(axis)) or 1), 1)
            if contact >= 0.5 * section:
                labels[labels == b] = a
    # Renumber 1..n in the order of the old numbers, as before: one lookup, not a pass per label.
    present = np.bincount(labels.ravel()) > 0
    present[0] = False
    lut = np.zeros(len(present), dtype=labels.dtype)
    lut[present] = np.arange(1, np.count_nonzero(present) + 1)
    return lut[labels]
