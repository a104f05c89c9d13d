"""Which bone the plan is about, and its lesion: detected, picked by a seed, or given as a mask.

Without help, only long bones are searched, in their diaphysis (fatty marrow, where lesion
densities stand out); elsewhere normal bone (trabecular, thin or partial-volume cortex) too
often looks like a lesion, so other bones are searched around a seed.  The largest lesion wins
unless a seed says otherwise, and the others are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError, PlanNotFeasible
from ..geometry import bbox, offset_box, pad_box, voxel_points
from .axis import AxisStart, BoneAxis, axis_start, bone_axis
from ..records import BoneSegmentation, Volume
from .lesion import Lesion, LesionCriteria, detect_lesion
from .long_bone import long_bone_solid, slicing_axis

_MIN_BONE_ML = 2.0  # smaller pieces (rib fragments, ossicles) are not searched
# Thin bones where partial volume mimics lesions everywhere: searched only around a seed.
_SEED_ONLY = ("rib", "costal", "sternum", "clavicula", "scapula")
_ELONGATION = 3.5  # length over diameter above which a bone is treated as a long bone


@dataclass(frozen=True, eq=False)
class Target:
    label: int
    name: str
    solid: np.ndarray  # bool, CT grid: the bone of interest as a solid, lesion's part included
    lesion: Lesion
    axis: BoneAxis
    long_bone: bool
    # What find_target had at hand, for the plan not to make again: voxel_points(volume, solid)
    # (C order), and bbox(solid); None when not known.
    points: np.ndarray | None = None
    box: tuple | None = None


_SCAN_EDGE_MM = 15.0  # a seed this near the scan's first or last slice may point at a lesion running off it
# Lower-limb shafts run head to foot in patient coordinates (LPS), within 45 degrees.
_ALONG_BODY = ("femur", "tibia", "fibula")
_ALONG_BODY_COS = 0.7
_NOT_LONG = ("vertebra", "sacrum", "hip", "rib", "costal", "sternum", "scapula", "clavicula", "skull", "patella")


def _solid_and_axis(volume: Volume, mask: np.ndarray, name: str = "", box=None):
    """(solid, its axis, long bone?, the axis's start (axis_start): its points and first fit are
    reused by the later steps, bbox(solid): ``box`` as given where the solid is the mask).

    ``box``: bbox(mask), when the caller has it; it is the solid's box too (a section's hull or
    filled holes lie within the section's own box)."""
    start = axis_start(volume, mask, None if box is None else voxel_points(volume, mask, box))
    axis = bone_axis(volume, mask, start=start)
    diameter = 2 * np.sqrt(np.median(axis.areas) / np.pi)
    if name.startswith(_NOT_LONG):
        long_bone = False
    else:  # a named long bone still needs a shaft in the scan to be treated as one
        long_bone = (axis.extent[1] - axis.extent[0]) > _ELONGATION * diameter
        if name.startswith(_ALONG_BODY):
            # A proximal femur cut off below the trochanters (a pelvic CT) is as long across,
            # head to trochanter, as it is tall: its longest extent is no shaft axis.
            long_bone &= abs(float(axis.direction[2])) > _ALONG_BODY_COS
    if not long_bone:
        return mask, axis, False, start, box
    roi = pad_box(bbox(mask) if box is None else box, 1, mask.shape)
    closed = long_bone_solid(mask[roi], slicing_axis(volume, axis.direction)) | mask[roi]
    if np.array_equal(closed, mask[roi]):  # segment_bones closes long bones: usually nothing to add
        return mask, axis, True, start, box
    solid = np.zeros(mask.shape, dtype=bool)  # not zeros_like: that writes every page of a CT
    solid[roi] = closed
    start = axis_start(volume, solid, voxel_points(volume, solid, roi))
    solid_box = offset_box(roi, bbox(closed))  # closed holds the mask: not empty
    return solid, bone_axis(volume, solid, start=start), True, start, solid_box


def _search_region(solid: np.ndarray, axis: BoneAxis, long_bone: bool, points: np.ndarray,
                   box) -> np.ndarray:
    """On ``box`` (bbox(solid)): the shaft of a long bone, else all of ``solid``.  Not a
    full-size array: writing one in a bone's box touches pages across the whole CT."""
    if not long_bone:
        return solid[box]
    lo, hi = axis.shaft()
    s = axis.position(points)  # voxel_points: in C order of the voxels, as below
    region = np.zeros(solid[box].shape, dtype=bool)
    region[solid[box]] = (s >= lo) & (s <= hi)
    return region


def _holds(region: np.ndarray, box, volume: Volume, seed) -> bool:
    """Whether ``region`` (on ``box``) holds the voxel of ``seed`` (LPS mm)."""
    kji = np.round(volume.physical_to_index([seed])[0][::-1]).astype(int) - [b.start for b in box]
    return bool(np.all(kji >= 0) and np.all(kji < region.shape) and region[tuple(kji)])


def _lesion_from_mask(volume: Volume, mask: np.ndarray, solid: np.ndarray, criteria: LesionCriteria) -> Lesion:
    hu = volume.array
    inside = mask & solid if (mask & solid).any() else mask
    lesion_hu = float(np.median(hu[inside]))
    blastic = float((hu[inside] > criteria.blastic_hu[0]).mean())
    kind = "blastic" if blastic > 0.8 else "lytic" if blastic < 0.2 else "mixed"
    marrow = solid & ~mask & (hu < 0)
    normal = float(np.median(hu[marrow])) if marrow.sum() > 20 else -50.0
    return Lesion(mask=mask, type=kind, volume_ml=float(mask.sum() * np.prod(volume.spacing)) / 1000,
                  lesion_hu=lesion_hu, normal_hu=normal, source="given mask", dense_hu=tuple(criteria.blastic_hu))


def _bone_for_mask(bones: BoneSegmentation, mask: np.ndarray) -> int:
    near = ndimage.binary_dilation(mask, iterations=2)
    counts = np.bincount(bones.labels[near].ravel().astype(np.int64), minlength=2)
    counts[0] = 0
    if counts.max() == 0:
        raise InputError("The lesion mask touches no bone of this CT: check that it was made on this scan.")
    return int(np.argmax(counts))


def _near_scan_end(volume: Volume, seed) -> str:
    """What to say of a seed within _SCAN_EDGE_MM of the scan's first or last slice, else ""."""
    k = float(volume.physical_to_index([seed])[0][2])
    for slices, end in ((k, "first"), (volume.shape[0] - 1 - k, "last")):
        mm = slices * float(volume.spacing[2])
        if mm < _SCAN_EDGE_MM:
            return (f" (the seed is {max(mm, 0.0):.0f} mm from the scan's {end} slice: a lesion running off "
                    "the scan has no bone around it there and may not be found, so a scan holding the "
                    "whole lesion may be needed)")
    return ""


def _bone_at(volume: Volume, bones: BoneSegmentation, seed, reach_mm: float = 10.0) -> int:
    """The bone holding the seed, else the nearest within ``reach_mm``."""
    ijk = np.round(volume.physical_to_index([seed])[0]).astype(int)
    k, j, i = np.clip(ijk[::-1], 0, np.array(volume.shape) - 1)
    if bones.labels[k, j, i] > 0:
        return int(bones.labels[k, j, i])
    pad = np.ceil(reach_mm / volume.spacing[::-1]).astype(int)
    box = tuple(slice(max(c - p, 0), c + p + 1) for c, p in zip((k, j, i), pad))
    sub = bones.labels[box]
    if not sub.any():
        raise InputError(f"The lesion seed {tuple(seed)} mm is not in or near a bone: put it in the lesion.")
    pts = np.argwhere(sub > 0) + np.array([b.start for b in box])
    d = np.linalg.norm(volume.index_to_physical(pts[:, ::-1].astype(float)) - np.asarray(seed), axis=1)
    kk, jj, ii = pts[int(np.argmin(d))]
    return int(bones.labels[kk, jj, ii])


def find_target(volume: Volume, bones: BoneSegmentation, *, lesion_mask: np.ndarray | None = None,
                seed=None, criteria: LesionCriteria = LesionCriteria()) -> Target:
    """The bone of interest and its lesion; PlanNotFeasible when no lesion is found."""
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    # Every label has a name; scanning a whole CT for its label values costs seconds.
    labels = sorted(int(k) for k in bones.names) or [int(v) for v in np.unique(bones.labels) if v > 0]
    if not labels:
        raise PlanNotFeasible("No bone was found on this CT: check that the scan holds the bone to plan.")
    if lesion_mask is not None:
        label = _bone_for_mask(bones, lesion_mask)
        solid, axis, long_bone, start, _ = _solid_and_axis(volume, bones.labels == label,
                                                           bones.names.get(label, ""))
        lesion = _lesion_from_mask(volume, lesion_mask, solid, criteria)
        return _finish(volume, bones, label, solid | (lesion_mask & solid), lesion, long_bone, start)
    if seed is not None:
        labels = [_bone_at(volume, bones, seed)]
    found, searched, short = [], [], []  # bone names: searched; a long bone with too little shaft
    occupied = bbox(bones.labels)  # every bone lies in it: one read of the CT, no mask of it
    for label in labels:
        mask, box = _label_mask(bones.labels, label, occupied)  # box: the steps below work on it
        if box is None or np.count_nonzero(mask[box]) * voxel_ml < _MIN_BONE_ML:
            continue
        if seed is None and bones.names.get(label, "").startswith(_SEED_ONLY):
            continue
        solid, axis, long_bone, start, solid_box = _solid_and_axis(volume, mask, bones.names.get(label, ""), box)
        if seed is None and not long_bone:
            if not bones.names.get(label, "_").startswith(_NOT_LONG + ("bone_", "_")):
                short.append(bones.names[label])
            continue
        searched.append(bones.names.get(label, f"bone_{label}"))
        search = _search_region(solid, axis, long_bone, start.points, box)
        shaft = long_bone
        if seed is not None and not _holds(search, box, volume, seed):
            # A seed in a long bone's end (head, neck, condyles) asks for a search there, as in
            # any other bone: not the shaft's (its turn from fatty marrow to trabecular bone).
            search, shaft = solid[box], False
        lesion = detect_lesion(volume, solid, search=search, seed=seed, criteria=criteria,
                               axis_direction=axis.direction if shaft else None, box=box)
        if lesion is not None:
            found.append((label, solid, lesion, long_bone, start, solid_box))
    if not found and seed is not None:
        raise PlanNotFeasible(
            f"No lesion found near the seed in {bones.names.get(labels[0], 'the bone')}: looked for "
            f"{criteria.describe()}{_near_scan_end(volume, seed)}; move the seed into the lesion or give "
            "--lesion-mask FILE.")
    too_short = (f"; {' and '.join(short)} {'has' if len(short) == 1 else 'have'} too little shaft in "
                 "the scan to be searched" if short else "")
    if not found and not searched:
        raise PlanNotFeasible(
            f"No long bone with its shaft in the scan was found{too_short}, so no lesion was searched "
            "for automatically (elsewhere normal bone too often looks like one): give --lesion-seed "
            "X,Y,Z in the lesion or --lesion-mask FILE.")
    if not found:
        raise PlanNotFeasible(
            f"No lesion found in the shaft{'s' if len(searched) > 1 else ''} of {' and '.join(searched)} "
            f"(searched for {criteria.describe()}{too_short}; other bones are searched around a "
            "--lesion-seed X,Y,Z): give a seed or --lesion-mask FILE if there is a lesion.")
    if seed is not None:
        dist = [np.min(np.linalg.norm(voxel_points(volume, lesion.mask, lesion.box) - np.asarray(seed), axis=1))
                for _, _, lesion, _, _, _ in found]
        label, solid, lesion, long_bone, start, solid_box = found[int(np.argmin(dist))]
    else:
        label, solid, lesion, long_bone, start, solid_box = max(found, key=lambda f: (f[2].volume_ml, -f[0]))
    others = [o for f in found if f[0] != label for o in [(f[2].type, round(f[2].volume_ml, 2))]]
    if others:
        lesion = Lesion(**{**lesion.__dict__, "other_candidates": lesion.other_candidates + others})
    return _finish(volume, bones, label, solid, lesion, long_bone, start, solid_box)


def _label_mask(labels: np.ndarray, label: int, occupied) -> tuple[np.ndarray, tuple | None]:
    """(labels == label, its bbox or None), compared on ``occupied`` (bbox(labels)) only: the
    comparison over a whole CT read 100 MB and wrote 100 MB for each bone (40-110 ms on the 512
    phantom), though the bones fill a small box of it."""
    mask = np.zeros(labels.shape, dtype=bool)  # not zeros_like: that writes every page
    if occupied is None:
        return mask, None
    sub = labels[occupied] == label
    inner = bbox(sub)
    if inner is None:
        return mask, None
    box = offset_box(occupied, inner)
    mask[box] = sub[inner]
    return mask, box


def _finish(volume, bones, label, solid, lesion, long_bone, start: AxisStart, box=None) -> Target:
    # ``start``: the solid's own (solid may be a copy with the same voxels); ``box``: bbox(solid).
    axis = bone_axis(volume, solid, exclude_points=voxel_points(volume, lesion.mask, lesion.box), start=start)
    name = bones.names.get(label, f"bone_{label}")
    return Target(label=label, name=name, solid=solid, lesion=lesion, axis=axis, long_bone=long_bone,
                  points=start.points, box=box)
