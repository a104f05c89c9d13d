"""Stage 3, planning: osteotomy planes at a margin, feasibility, fracture risk.

    make_plan(volume, target, margin_mm) -> ResectionPlan   (raises PlanNotFeasible)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PlanNotFeasible
from ..geometry import voxel_points
from ..records import Volume
from ..segment.axis import BoneAxis
from ..segment.target import Target
from .feasibility import Feasibility, FeasibilityLimits, check_feasibility
from .osteotomy import Osteotomy, plan_osteotomies
from .risk import cortical_involvement, cortical_radii, fracture_risk

__all__ = ["ResectionPlan", "make_plan", "FeasibilityLimits", "Osteotomy"]


@dataclass(frozen=True, eq=False)
class ResectionPlan:
    bone_name: str
    axis: BoneAxis
    lesion_extent: tuple[float, float]  # along the axis, from axis.point (mm)
    osteotomies: list[Osteotomy]  # low end first
    margin_mm: float
    resection_length_mm: float
    cortical_involvement: float
    risk: dict
    feasibility: Feasibility
    warnings: list[str] = field(default_factory=list)


def make_plan(volume: Volume, target: Target, margin_mm: float, *, pain: str | None = None,
              limits: FeasibilityLimits = FeasibilityLimits(), strict: bool = True) -> ResectionPlan:
    """Plan the resection of ``target``'s lesion; refuses (PlanNotFeasible) an infeasible plan
    unless ``strict`` is False, in which case the reasons are kept as warnings."""
    lesion, axis = target.lesion, target.axis
    if not target.long_bone:
        raise PlanNotFeasible(_not_long(volume, target))
    cuts, extent = plan_osteotomies(volume, axis, lesion.mask, lesion.lesion_hu, lesion.normal_hu,
                                    target.solid, margin_mm, islands=lesion.type == "mixed",
                                    lesion_box=lesion.box, dense_hu=lesion.dense_hu)
    feasibility = check_feasibility(axis, cuts, margin_mm, target.name, limits)
    if feasibility.refusals and strict:
        raise PlanNotFeasible(feasibility.refusals[0])
    outer, inner = cortical_radii(volume, target.solid, axis, extent, points=target.points, box=target.box)
    involvement, axial = cortical_involvement(volume, lesion.mask, axis, extent, (outer + inner) / 2)
    risk, notes = fracture_risk(target.name, lesion.type, involvement, axial, extent[1] - extent[0],
                                axis, extent, pain)
    risk["cortex_radii_mm"] = {"outer": round(outer, 2), "inner": round(inner, 2)}
    length = float(cuts[1].position_mm - cuts[0].position_mm)
    warnings = list(lesion.warnings) + feasibility.refusals + feasibility.warnings + notes
    if lesion.other_candidates:
        warnings.append(
            f"{len(lesion.other_candidates)} other lesion candidate(s) were found and not planned "
            f"({'; '.join(str(c) for c in lesion.other_candidates[:5])}): use --lesion-seed to choose.")
    return ResectionPlan(bone_name=target.name, axis=axis, lesion_extent=extent, osteotomies=cuts,
                         margin_mm=float(margin_mm), resection_length_mm=length,
                         cortical_involvement=involvement, risk=risk, feasibility=feasibility,
                         warnings=warnings)


_LONG_NAMES = ("femur", "tibia", "fibula", "humerus", "radius", "ulna")


def _not_long(volume: Volume, target: Target) -> str:
    """Why a target's bone is not planned: no long bone, or too little of one in the scan."""
    if target.name.startswith(_LONG_NAMES):
        z = voxel_points(volume, target.solid, target.box)[:, 2]
        return (f"The lesion is in the {target.name}, but only {np.ptp(z) + volume.spacing[2]:.0f} mm "
                "of that bone's length is in the scan, too little of its shaft to plan a segmental "
                "resection along it: give a scan holding its shaft well beyond the lesion on both sides.")
    return (f"The lesion is in the {target.name}, and this version plans segmental resections of "
            "long bones only (femur, tibia, humerus...): vertebral bodies and the pelvis are not "
            "planned yet; 'implantgen segment' still outlines the lesion.")


def axis_dict(axis: BoneAxis) -> dict:
    return {"point": np.round(axis.point, 4), "direction": np.round(axis.direction, 6)}
