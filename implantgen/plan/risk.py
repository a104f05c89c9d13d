"""Fracture risk items that a CT can tell (docs/domain.md); the surgeon weighs them.

Mirels (1989): site (upper limb 1, lower limb 2, peritrochanteric 3), pain (entered, never
guessed), lesion (blastic 1, mixed 2, lytic 3), size as a share of the cortex (<1/3 1,
1/3-2/3 2, >2/3 3).  CT criteria: circumferential cortical involvement >= 30% (Tatar 2014), axial
cortical involvement >= 30 mm (van der Wal 2020), Harrington: > 50% cortical destruction or a
lesion > 25 mm.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import bbox, perpendicular_frame, voxel_points
from ..records import PAIN_SCORES, Volume
from ..segment.axis import BoneAxis

_LESION_SCORES = {"blastic": 1, "mixed": 2, "lytic": 3}
_UPPER = ("humerus", "radius", "ulna", "clavicula", "scapula")
_LOWER = ("femur", "tibia", "fibula")
_PERITROCHANTERIC_SHARE = 0.2  # the proximal fifth of the femur: head, neck, trochanters


def cortical_radii(volume: Volume, bone: np.ndarray, axis: BoneAxis, exclude, cortex_hu=400.0,
                   points: np.ndarray | None = None, box=None):
    """(outer, inner) radius of the healthy shaft near the lesion, from the median areas of the
    bone's and the canal's cross-sections on the shaft's levels away from the lesion.
    ``points``: voxel_points(volume, bone), ``box``: bbox(bone), when the caller has them."""
    # The bone's voxels in C order: voxel_points gives index_to_physical's numbers (elementwise
    # on an axis-aligned grid, without a BLAS call).
    if box is None:
        box = bbox(bone)  # once: a pass over the whole CT
    s = axis.position(voxel_points(volume, bone, box) if points is None else points)
    canal = volume.array[box][bone[box]] < cortex_hu
    lo, hi = axis.shaft()
    edges = np.arange(lo, hi + axis.bin_mm, axis.bin_mm)
    # Each voxel's bin i (edges[i] <= s < edges[i + 1]), counted once instead of a pass per bin.
    index = np.searchsorted(edges, s, side="right") - 1
    inside = (index >= 0) & (index < len(edges) - 1)
    counts = np.bincount(index[inside], minlength=len(edges))
    canal_counts = np.bincount(index[inside & canal], minlength=len(edges))
    bins = list(zip(edges[:-1], edges[1:], counts, canal_counts))
    healthy = [b for b in bins if b[1] < exclude[0] - 10 or b[0] > exclude[1] + 10]
    if not healthy:
        healthy = bins
    voxel = float(np.prod(volume.spacing))
    outer = [n * voxel / (b - a) for a, b, n, _ in healthy]
    inner = [n * voxel / (b - a) for a, b, _, n in healthy]
    return float(np.sqrt(np.median(outer) / np.pi)), float(np.sqrt(np.median(inner) / np.pi))


def cortical_involvement(volume: Volume, lesion: np.ndarray, axis: BoneAxis, extent, radius_mm: float,
                         step_mm: float = 1.0, sectors: int = 180) -> tuple[float, float]:
    """(worst share of the circumference, axial length) where the lesion reaches mid-cortex."""
    levels = np.arange(extent[0], extent[1] + step_mm / 2, step_mm)
    e1, e2 = perpendicular_frame(axis.direction)
    a = np.linspace(0, 2 * np.pi, sectors, endpoint=False)
    ring = radius_mm * (np.outer(np.cos(a), e1) + np.outer(np.sin(a), e2))
    shares = []
    field = lesion.view(np.uint8) if lesion.dtype == bool else lesion.astype(np.uint8)  # once, not per level
    for s in levels:
        centre, _ = axis.local(s, exclude=extent)
        pts = centre + ring
        kji = volume.physical_to_index(pts)[:, ::-1]
        inside = ndimage.map_coordinates(field, kji.T, order=0, mode="constant")
        shares.append(inside.mean())
    shares = np.array(shares)
    involved = levels[shares > 0]
    axial = float(np.ptp(involved) + step_mm) if involved.size else 0.0
    return float(shares.max()) if shares.size else 0.0, axial


def _site(bone_name: str, axis: BoneAxis, extent) -> tuple[int | None, str | None]:
    kind = bone_name.split("_")[0]
    if kind in _UPPER:
        return 1, None
    if kind not in _LOWER:
        return None, f"Mirels' score is for long bones of the limbs; a {bone_name} has no site score."
    if kind == "femur" and axis.direction[2] > 0.5 and not axis.cut_by_scan[1]:
        top = axis.extent[1]
        if extent[1] > top - _PERITROCHANTERIC_SHARE * (axis.extent[1] - axis.extent[0]):
            return 3, None
    return 2, None


def fracture_risk(bone_name: str, lesion_type: str, involvement: float, axial_mm: float,
                  lesion_length_mm: float, axis: BoneAxis, extent, pain: str | None = None) -> tuple[dict, list[str]]:
    """The plan's ``risk`` block and any notes."""
    notes = []
    site, note = _site(bone_name, axis, extent)
    if note:
        notes.append(note)
    size = 1 if involvement < 1 / 3 else 2 if involvement <= 2 / 3 else 3
    items = {"site": site, "lesion_type": _LESION_SCORES[lesion_type], "size": size,
             "pain": PAIN_SCORES[pain] if pain else None}
    known = [v for k, v in items.items() if k != "pain"]
    total_without_pain = sum(known) if None not in known else None
    mirels = {**items, "total_without_pain": total_without_pain,
              "total": (total_without_pain + items["pain"]) if (pain and total_without_pain) else None}
    criteria = {
        "circumferential_cortical_involvement_ge_30pct": involvement >= 0.30,
        "axial_cortical_involvement_ge_30mm": axial_mm >= 30.0,
        "harrington_cortical_destruction_gt_50pct": involvement > 0.50,
        "harrington_lesion_gt_25mm": lesion_length_mm > 25.0,
    }
    return {"mirels": mirels, "circumferential_cortical_involvement": round(involvement, 4),
            "axial_cortical_involvement_mm": round(axial_mm, 2), "criteria": criteria,
            "references": "Mirels 1989; Tatar 2014; van der Wal 2020; Harrington"}, notes
