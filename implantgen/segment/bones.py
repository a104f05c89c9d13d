"""segment_bones: a CT volume -> individual bones as solids, named, with metal kept apart.

The steps, each in its own module:
    body.py      the patient's body (scanner table and air left out) and the region to work on
    metal.py     metal and its blooming
    solid.py     all bone as one solid: cortex, trabecular interior, fatty marrow
    separate.py  the solid split into bones at joints and thin necks
    features.py  measurements of each bone; tiny or non-bone pieces are dropped
    names.py     anatomical names from position and shape
Long bones get their cross-sections closed (long_bone.py), so a lesion that breaks the cortex
does not leave a hole in the solid; a thick pocket of soft tissue that one bone walls in in 3D
(a lesion through the cortex of a flat bone or a bone's end) is that bone's (pocket.py).

Work is done on the bounding box of the body, then of the bone, in float32: a 512 x 512 x 400
series takes a few seconds and well under 2 GB.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from ..geometry import bbox, offset_box
from ..records import BoneSegmentation, Volume
from .body import body_parts, full_bbox, upsample
from .features import bone_features, touching_pairs
from .long_bone import long_bone_solid, slicing_axis
from .metal import STREAK_MM, grow_mm, metal_mask
from .head_cap import rejoin_head_caps
from .joint import split_merged_femurs
from .names import hip_pieces, is_long, midline_x, name_bones
from .separate import separate_bones
from .shaft_gap import gap_pieces
from .solid import CORTEX_ABOVE_SOFT, REACH_MM, bone_solid, tissue_levels
from .cartilage import bony_parts
from .cavity import in_cavity
from .pocket import add_pockets

MIN_BONE_ML = 0.5  # smaller pieces are calcifications, contrast or noise, not a bone to plan on
DENSE_ABOVE_CORTEX = 150.0
MIN_DENSE = 0.05  # share of dense voxels: cartilage and contrast-filled structures have none


def segment_bones(volume: Volume, *, roi=None) -> BoneSegmentation:
    """Individual bones of ``volume`` as solid labels, each named, and metal as its own mask.

    ``roi`` (optional) is a tuple of (k, j, i) slices: only that part of the volume is looked at.
    Deterministic: the same volume gives the same labels.
    """
    spacing, shape = volume.spacing, volume.shape
    work = _full_roi(shape, roi)
    parts, steps = body_parts(volume.array[work], spacing)
    body_box = full_bbox(parts > 0, steps, parts_shape(work), pad=2)
    if body_box is None:
        return BoneSegmentation(labels=np.zeros(shape, dtype=np.uint8), names={},
                                warnings=("No body found on this CT.",))
    box = offset_box(work, body_box)
    body_x = _x_range(volume, box)
    hu, body = volume.array[box], upsample(parts, steps, body_box) > 0
    levels = tissue_levels(hu, body)
    # Only the bone's neighbourhood is worked on: the box around anything dense, grown by the
    # reach of the interior search.
    pad = tuple(int(np.ceil(REACH_MM / float(s))) + 2 for s in spacing[::-1])
    near = bbox((hu > levels.cortex) & body, pad)
    if near is not None:
        box, hu, body = offset_box(box, near), hu[near], body[near]
    warnings = []
    metal = metal_mask(hu, spacing)
    metal_full = None
    if metal is not None:
        metal_full = np.zeros(shape, dtype=bool)
        metal_full[box] = metal
        warnings.append(f"Metal found ({np.count_nonzero(metal) * np.prod(spacing) / 1000:.1f} ml): "
                        f"streaks may spoil bone within about {STREAK_MM:.0f} mm of it.")
        metal = grow_mm(metal, spacing, 1.0)  # its rim is not bone either
    solid = bone_solid(hu, body, spacing, metal, levels)
    del hu, body
    bone_box = bbox(solid.mask, 2)
    if bone_box is None:
        return BoneSegmentation(labels=np.zeros(shape, dtype=np.uint8), names={}, metal=metal_full,
                                warnings=tuple(warnings + ["No bone found on this CT."]))
    labels, names = _bones(volume, offset_box(box, bone_box), body_x, solid.mask[bone_box],
                           solid.g[bone_box], solid.marrow[bone_box], solid.levels.cortex,
                           None if metal is None else metal[bone_box], trunk=(parts, steps, work))
    out = np.zeros(shape, dtype=np.uint8 if len(names) < 256 else np.uint16)
    out[offset_box(box, bone_box)] = labels
    return BoneSegmentation(labels=out, names=names, metal=metal_full, warnings=tuple(warnings))


def _bones(volume: Volume, box, body_x, mask, g, marrow, cortex_hu, metal=None, trunk=None):
    """(labels, names) of the separated, cleaned, named bones of ``mask`` (on ``box``);
    ``metal`` (bool, or None) is kept out of them; ``trunk``: (coarse body parts, their
    steps, the region they cover), for cavity.py (None: not looked at)."""
    spacing = volume.spacing
    voxel_ml = float(np.prod(spacing)) / 1000.0
    labels = separate_bones(mask, g, cortex_hu, spacing, marrow)
    labels, rib_ends = _without_cartilage(labels, g, cortex_hu, spacing)

    def measured(labels):
        feats = bone_features(labels, _affine(volume, box), spacing, marrow, g,
                              cortex_hu + DENSE_ABOVE_CORTEX)
        # A rib's end cut from its cartilage (cartilage.py) is bone whatever its dense share.
        ends = np.bincount(labels[rib_ends], minlength=int(labels.max()) + 1) if rib_ends is not None else None
        feats = [f for f in feats if f.volume_ml >= MIN_BONE_ML and (
            f.dense_fraction >= MIN_DENSE or (ends is not None and 2 * ends[f.label] > f.volume_ml / voxel_ml))]
        # Labels 1..n from the top down (then from the patient's right): the same every run.
        feats.sort(key=lambda f: (-round(f.centroid[2], 3), round(f.centroid[0], 3), f.label))
        labels = _renumber(labels, [f.label for f in feats])
        return labels, [replace(f, label=i) for i, f in enumerate(feats, start=1)]

    labels, feats = measured(labels)
    joined = shaft_pieces(labels, feats, spacing)
    # A lesion through the whole cross-section: the halves do not even touch.
    joined.update({k: v for k, v in gap_pieces(labels, feats, g, spacing).items()
                   if k not in joined and v not in joined and k not in joined.values()})
    if joined:  # a lesion let the density split cut a shaft in two: join the halves again
        lut = np.arange(len(feats) + 1)
        lut[list(joined)] = list(joined.values())
        labels, feats = measured(lut[labels])
    names = name_bones(feats, body_x)
    thin = [lab for lab, n in names.items() if n.startswith(("rib", "sternum"))]
    deep = in_cavity(labels, thin, box, *trunk, volume.spacing) if trunk is not None else []
    if deep:  # a calcified vessel or stone inside the trunk, named a rib by its place alone
        lut = np.arange(len(feats) + 1)
        lut[deep] = 0
        labels, feats = measured(lut[labels])
        names = name_bones(feats, body_x)
    pieces = hip_pieces(feats, names, touching_pairs(labels))
    if pieces:  # the iliac wing came apart from its hip bone: put it back, measure again
        lut = np.arange(len(feats) + 1)
        lut[list(pieces)] = list(pieces.values())
        labels, feats = measured(lut[labels])
        names = name_bones(feats, body_x)
    femurs = split_merged_femurs(labels, names, g, cortex_hu, spacing, _affine(volume, box),
                                 midline_x(feats, names))
    if femurs is not None:  # no gap showed at a hip joint: the femur was cut off along its head
        labels, feats = measured(femurs)
        names = name_bones(feats, body_x)
    capped = rejoin_head_caps(labels, names, g, metal, spacing, _affine(volume, box),
                              midline_x(feats, names))
    if capped is not None:  # metal let the density split run through a femoral head
        labels, feats = measured(capped)
        names = name_bones(feats, body_x)
    for f in feats:
        if is_long(f) and not names[f.label].startswith(("vertebra", "sacrum")):  # a fatty sacral canal
            _close_long_bone(labels, f, volume, g, cortex_hu)
    # A lesion through the cortex of a flat bone or a bone's end: walled in by its bone in 3D.
    add_pockets(labels, g, cortex_hu, spacing, metal)
    return labels, names


def _without_cartilage(labels: np.ndarray, g: np.ndarray, cortex_hu: float, spacing):
    """(labels, rib ends or None): pieces big enough but failing the dense test cut down to the
    rib end they hold, their costal cartilage left out (cartilage.py); unchanged when none does."""
    dense_hu = cortex_hu + DENSE_ABOVE_CORTEX
    min_voxels = int(np.ceil(MIN_BONE_ML * 1000.0 / float(np.prod(spacing))))
    sizes = np.bincount(labels.ravel())
    dense = np.bincount(labels[g > dense_hu], minlength=sizes.size)
    failed = [lab for lab in range(1, sizes.size)
              if sizes[lab] >= min_voxels and dense[lab] / sizes[lab] < MIN_DENSE]
    if not failed:
        return labels, None
    ends = bony_parts(labels, failed, g, cortex_hu + CORTEX_ABOVE_SOFT, dense_hu, min_voxels)
    if not ends.any():
        return labels, None
    drop = np.zeros(sizes.size, dtype=bool)
    drop[failed] = True
    labels = np.where(drop[labels] & ~ends, 0, labels)
    return labels, ends


def shaft_pieces(labels: np.ndarray, feats, spacing) -> dict[int, int]:
    """{label: label it joins} for two pieces of one shaft cut apart through a lesion.

    Such halves lie end to end on one axis and meet where the union is no wider than its shaft;
    bones meeting at a joint meet at their flared ends, where it is much wider.
    """
    by_label = {f.label: f for f in feats}
    out = {}
    scale = np.asarray(spacing, dtype=float)[::-1]
    for a, b in sorted(touching_pairs(labels)):
        fa, fb = by_label.get(a), by_label.get(b)
        if fa is None or fb is None or a in out or b in out:
            continue
        if abs(float(np.dot(fa.axis, fb.axis))) < np.cos(np.radians(12.0)):
            continue
        link = np.asarray(fb.centroid) - np.asarray(fa.centroid)
        if abs(float(np.dot(link / np.linalg.norm(link), fa.axis))) < np.cos(np.radians(15.0)):
            continue
        pts = np.argwhere((labels == a) | (labels == b)) * scale
        axis = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)[2][0]
        s = pts @ axis
        contact = np.argwhere((labels == a) & ndimage.binary_dilation(labels == b)) * scale
        at = float(np.median(contact @ axis))
        bins = np.histogram(s, bins=np.arange(s.min(), s.max() + 5.0, 5.0))[0]
        here = np.count_nonzero(np.abs(s - at) < 2.5)
        if bins.size and here <= 1.5 * np.median(bins[bins > 0]):
            out[max(a, b)] = min(a, b)
    return out


def parts_shape(work) -> tuple[int, int, int]:
    return tuple(s.stop - s.start for s in work)


def _full_roi(shape, roi):
    if roi is None:
        return tuple(slice(0, n) for n in shape)
    return tuple(slice(*s.indices(n)[:2]) for s, n in zip(roi, shape))


def _affine(volume: Volume, box) -> np.ndarray:
    """(i, j, k, 1) of the box -> LPS."""
    a = volume.affine.copy()
    a[:3, 3] = volume.index_to_physical([[box[2].start, box[1].start, box[0].start]])[0]
    return a


def _close_long_bone(labels: np.ndarray, f, volume: Volume, g: np.ndarray, cortex_hu: float) -> None:
    """Close the cross-sections of long bone ``f`` (a lesion may have broken its cortex: its
    outline is rebuilt from the intact cortex, ``g`` above ``cortex_hu``, around the break),
    taking only voxels no other bone holds."""
    box = bbox(labels == f.label, 1)
    sub = labels[box]
    own = sub == f.label
    closed = long_bone_solid(own, slicing_axis(volume, f.axis), own & (g[box] > cortex_hu),
                             volume.spacing[::-1], g[box]) & ((sub == 0) | own)
    sub[closed] = f.label


def _x_range(volume: Volume, box) -> tuple[float, float]:
    """LPS x range (mm) of the box's corners."""
    corners = np.array([[i, j, k] for i in (box[2].start, box[2].stop - 1)
                        for j in (box[1].start, box[1].stop - 1) for k in (box[0].start, box[0].stop - 1)])
    x = volume.index_to_physical(corners)[:, 0]
    return float(x.min()), float(x.max())


def _renumber(labels: np.ndarray, keep: list[int]) -> np.ndarray:
    lut = np.zeros(int(labels.max()) + 1, dtype=np.int32)
    lut[np.asarray(keep, dtype=int)] = np.arange(1, len(keep) + 1)
    return lut[labels]
