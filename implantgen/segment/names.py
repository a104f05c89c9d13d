"""Anatomical names for separated bones, from where they lie and what shape they have.

Conventions (LPS): x grows towards the patient's LEFT, y posterior, z superior.  The midline is
taken from the spine when one is found (vertebrae are symmetric blobs near the body's centre);
a scan without a trunk (a limb alone) has no spine, and patients are centred in the scanner, so
x = 0 serves as the midline there.

The rules, in order:
- long bone: a fatty marrow canal, or long and straight and thick; below a hip bone, or in a
  limb alone -> femur; beside vertebrae at the same levels -> humerus;
- vertebra: a thick, left-right symmetric bone on the midline, or such a bone in the spine's
  column beyond the thick ones (a vertebra the scan cuts through); the lowest one that reaches
  down between the hip bones -> sacrum (a fatty canal does not make a bone on the midline a
  long bone: the sacral canal holds fat, an old patient's vertebrae too);
- hip: the largest thick bone on each side of the pelvis, next to the sacrum's levels;
- femur: a thick bone below and outside a hip bone on the same side (the proximal femur has
  trabecular bone, not a fatty canal);
- rib: a thin bone of the trunk at the levels of the vertebrae, off the midline;
- sternum: a thin or flat bone on the midline in front;
- anything else: bone_N.
Several bones with one name get suffixes: vertebra, vertebra_2, ... (from the top down).
"""

from __future__ import annotations

import numpy as np

from .features import BoneFeatures

LONG_MARROW = 0.03  # share of fatty marrow that marks a long bone's canal
LONG_ELONGATION = 4.0  # length over width of a long bone seen without its canal
THICK_MM = 8.0  # vertebral bodies, hips, femoral heads reach this deep inside; ribs do not
THIN_MM = 6.0  # ribs, sternum and processes stay below this
SPINE_OFFSET_MM = 25.0  # a vertebra's centre stays this close to the midline
SYMMETRY_MM = 12.0  # a vertebra's centroid sits near the middle of its own left-right extent
HIP_MIN_ML = 40.0
END_MIN_ML = 5.0  # a vertebra cut by the scan: its arch alone is this big
FEMUR_MIN_ML = 15.0
LATERAL_MM = 40.0  # hips and femurs lie at least this far from the midline
TRUNK_WIDTH_MM = 250.0  # wider than any limb


def _side(f: BoneFeatures, midline: float) -> str:
    return "left" if f.centroid[0] > midline else "right"


def _overlap(a: BoneFeatures, b: BoneFeatures) -> float:
    """Overlap of two bones' z ranges (mm)."""
    return min(a.high[2], b.high[2]) - max(a.low[2], b.low[2])


def is_long(f: BoneFeatures) -> bool:
    """A long bone's piece: thick, with a fatty canal, or long, straight and near vertical."""
    if f.depth_mm < THIN_MM:
        return False
    if f.marrow_fraction >= LONG_MARROW:
        return True
    return f.elongation >= LONG_ELONGATION and abs(f.axis[2]) > 0.7


def _spine(feats, body_centre_x: float, body_width: float) -> list[BoneFeatures]:
    if body_width < TRUNK_WIDTH_MM:  # a limb alone
        return []
    central = 0.15 * body_width
    out = []
    for f in feats:
        # Not asked whether it is long: fatty marrow (an old patient's vertebrae, the sacrum's
        # 3%) would make it so, and no limb lies symmetric on a trunk's midline.
        if f.depth_mm < THICK_MM:
            continue
        middle = 0.5 * (f.low[0] + f.high[0])
        if abs(f.centroid[0] - middle) <= SYMMETRY_MM and abs(f.centroid[0] - body_centre_x) <= central:
            out.append(f)
    if not out:
        return out
    x = np.average([f.centroid[0] for f in out], weights=[f.volume_ml for f in out])
    out = [f for f in out if abs(f.centroid[0] - x) <= SPINE_OFFSET_MM]
    return out + _spine_ends(feats, out, x)


def _spine_ends(feats, spine: list[BoneFeatures], x: float) -> list[BoneFeatures]:
    """Vertebrae the scan cuts through at the top or bottom of the spine: too little of their
    body is in the scan to be thick, but they are symmetric, on the spine's midline, in its
    column (between the fronts of the bodies and the backs of the arches), and reach beyond
    the thick vertebrae's levels."""
    if not spine:
        return []
    front, back = min(s.low[1] for s in spine), max(s.high[1] for s in spine)
    top, bottom = max(s.high[2] for s in spine), min(s.low[2] for s in spine)
    out = []
    for f in feats:
        if any(f is s for s in spine) or f.volume_ml < END_MIN_ML:
            continue
        middle = 0.5 * (f.low[0] + f.high[0])
        if (abs(f.centroid[0] - middle) <= SYMMETRY_MM and abs(f.centroid[0] - x) <= SPINE_OFFSET_MM
                and front <= f.centroid[1] <= back and (f.high[2] > top or f.low[2] < bottom)):
            out.append(f)
    return out


def name_bones(feats: list[BoneFeatures], body_x: tuple[float, float]) -> dict[int, str]:
    """{label: name} for every bone in ``feats``; ``body_x`` is the body's LPS x range (mm)."""
    body_width = body_x[1] - body_x[0]
    body_centre = 0.5 * (body_x[0] + body_x[1])
    spine = _spine(feats, body_centre, body_width)
    if spine:
        midline = float(np.average([f.centroid[0] for f in spine], weights=[f.volume_ml for f in spine]))
    else:
        midline = body_centre if body_width >= TRUNK_WIDTH_MM else 0.0
    kind: dict[int, str] = {}
    for f in spine:
        kind[f.label] = "vertebra"
    rest = [f for f in feats if f.label not in kind]
    # Hips: the largest thick lateral bone on each side of a trunk.
    for side in ("left", "right") if spine or body_width >= TRUNK_WIDTH_MM else ():
        cands = [f for f in rest if _side(f, midline) == side and not is_long(f)
                 and f.volume_ml >= HIP_MIN_ML and f.depth_mm >= THIN_MM
                 and abs(f.centroid[0] - midline) >= LATERAL_MM and f.high[2] - f.low[2] >= 50.0]
        if cands:
            hip = max(cands, key=lambda f: f.volume_ml)
            kind[hip.label] = f"hip_{side}"
    hips = {kind[f.label]: f for f in feats if kind.get(f.label, "").startswith("hip")}
    if hips and spine:
        # The sacrum: the lowest spine bone that reaches down among the hip bones.
        low = min(spine, key=lambda f: f.centroid[2])
        if any(low.low[2] < h.high[2] - 20.0 for h in hips.values()):
            kind[low.label] = "sacrum"
    for f in feats:
        if f.label in kind:
            continue
        side = _side(f, midline)
        hip = hips.get(f"hip_{side}")
        if is_long(f):
            # Below a hip bone it is a leg; beside the vertebrae an arm; a limb alone, a leg.
            below_hip = hip is not None and f.centroid[2] < hip.centroid[2]
            arm = not below_hip and any(_overlap(f, s) > 0 for s in spine if kind[s.label] == "vertebra")
            kind[f.label] = f"{'humerus' if arm else 'femur'}_{side}"
            continue
        if (hip is not None and f.volume_ml >= FEMUR_MIN_ML and f.depth_mm >= THICK_MM
                and f.centroid[2] < hip.centroid[2] and abs(f.centroid[0] - midline) >= LATERAL_MM
                and abs(f.centroid[0] - midline) >= abs(hip.centroid[0] - midline)):
            kind[f.label] = f"femur_{side}"
            continue
        if f.depth_mm < THIN_MM and any(_overlap(f, s) > 0 for s in spine if kind[s.label] == "vertebra"):
            on_midline = abs(f.centroid[0] - midline) < SPINE_OFFSET_MM
            kind[f.label] = "sternum" if on_midline and _in_front(f, spine) else "rib"
    return _unique(feats, kind)


def _in_front(f: BoneFeatures, spine) -> bool:
    """Well in front of the vertebral bodies (LPS y grows posterior)."""
    return f.centroid[1] < min(s.low[1] for s in spine) - 30.0


def _unique(feats, kind: dict[int, str]) -> dict[int, str]:
    """Suffix repeated names from the top down; unnamed bones become bone_<label>."""
    names: dict[int, str] = {}
    counts: dict[str, int] = {}
    for f in sorted(feats, key=lambda f: (-f.centroid[2], f.centroid[0], f.label)):
        base = kind.get(f.label)
        if base is None:
            continue
        counts[base] = counts.get(base, 0) + 1
        names[f.label] = base if counts[base] == 1 else f"{base}_{counts[base]}"
    for f in feats:
        names.setdefault(f.label, f"bone_{f.label}")
    return names


def midline_x(feats: list[BoneFeatures], names: dict[int, str]) -> float | None:
    """LPS x (mm) of the spine's named bones (their volume-weighted centroid), or None."""
    spine = [f for f in feats if names[f.label].startswith(("vertebra", "sacrum"))]
    if not spine:
        return None
    return float(np.average([f.centroid[0] for f in spine], weights=[f.volume_ml for f in spine]))


def hip_pieces(feats: list[BoneFeatures], names: dict[int, str], touching: set) -> dict[int, int]:
    """{label: hip label} for unnamed pieces that belong to a hip bone.

    The iliac wing is thin between its crest and the acetabulum, so the shape split can cut the
    hip bone in two; an unnamed thick piece that touches a hip bone on the same side, above its
    centre and away from the midline, is part of that hip.
    """
    by_label = {f.label: f for f in feats}
    hips = {n: l for l, n in names.items() if n in ("hip_left", "hip_right")}
    midline = midline_x(feats, names)
    if not hips or midline is None:
        return {}
    out = {}
    for lab, name in names.items():
        f = by_label[lab]
        if not name.startswith("bone_") or f.depth_mm < THIN_MM:
            continue
        if abs(f.centroid[0] - midline) < LATERAL_MM:
            continue
        hip = hips.get(f"hip_{_side(f, midline)}")
        if hip is None or (min(lab, hip), max(lab, hip)) not in touching:
            continue
        if f.centroid[2] > by_label[hip].centroid[2]:
            out[lab] = hip
    return out

