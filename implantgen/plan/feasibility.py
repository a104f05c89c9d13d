"""Whether a resection plan can be carried out, in plain words with the numbers.

Domain notes: the bone left at each end must carry fixation (stems of about 60-100 mm in the
canal, at least 3 bicortical screws per fragment); a margin that leaves too little bone, or that
would cross a joint surface, must be said plainly instead of producing a plan.  Nothing is
clipped silently: a cut is where the margin puts it, or the plan is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..records import FeasibilityLimits
from ..segment.axis import BoneAxis
from .osteotomy import Osteotomy


@dataclass
class Feasibility:
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bone_left_mm: dict = field(default_factory=dict)  # per side, from the cut to the bone's end

    @property
    def feasible(self) -> bool:
        return not self.refusals


def _end_name(side: str, bone_name: str, axis: BoneAxis) -> str:
    limb = bone_name.split("_")[0] in ("femur", "tibia", "fibula", "humerus", "radius", "ulna")
    if limb and axis.direction[2] > 0.5:  # the axis points up: its high end is proximal
        return "proximal" if side == "high" else "distal"
    return f"{side}er" if side == "low" else "upper"


def check_feasibility(axis: BoneAxis, cuts: list[Osteotomy], margin_mm: float, bone_name: str,
                      limits: FeasibilityLimits = FeasibilityLimits()) -> Feasibility:
    out = Feasibility()
    bone_lo, bone_hi = axis.extent
    length = bone_hi - bone_lo
    for cut in cuts:
        end = _end_name(cut.side, bone_name, axis)
        s = cut.position_mm
        left = (s - bone_lo) if cut.side == "low" else (bone_hi - s)
        cut_by_scan = axis.cut_by_scan[0 if cut.side == "low" else 1]
        out.bone_left_mm[cut.side] = round(left, 2)
        if left <= 0:
            if cut_by_scan:
                why = "the scanned part of the bone: scan more of the bone or choose a smaller margin."
            else:
                why = ("the bone's end, leaving no bone there for fixation: choose a smaller margin or "
                       "another reconstruction (a joint replacement).")
            out.refusals.append(
                f"The {end} osteotomy at a {margin_mm:g} mm margin falls {-left:.1f} mm beyond {why}")
        elif not cut_by_scan and left < limits.joint_clearance_mm:
            out.refusals.append(
                f"The {end} osteotomy at a {margin_mm:g} mm margin lies {left:.1f} mm from the "
                f"bone's end, into the joint (less than {limits.joint_clearance_mm:g} mm): this "
                "needs a joint replacement, not an intercalary prosthesis.")
        elif left < limits.min_fixation_mm:
            if cut_by_scan:
                out.warnings.append(
                    f"Only {left:.1f} mm of bone is scanned beyond the {end} osteotomy, less than "
                    f"the {limits.min_fixation_mm:g} mm a stem needs; the bone goes on past the "
                    "scan, so check the fixation on a longer scan.")
            else:
                out.refusals.append(
                    f"Only {left:.1f} mm of bone is left beyond the {end} osteotomy at a "
                    f"{margin_mm:g} mm margin, less than the {limits.min_fixation_mm:g} mm a stem "
                    "needs for fixation: choose a smaller margin or another reconstruction.")
    resected = cuts[1].position_mm - cuts[0].position_mm
    if length > 0 and resected > limits.most_of_bone * length:
        out.warnings.append(
            f"The resection ({resected:.0f} mm) spans {100 * resected / length:.0f}% of the "
            f"{length:.0f} mm bone: consider a whole-bone replacement.")
    return out
