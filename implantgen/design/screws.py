"""Where the plate's screws go: at least 3 per remaining bone end, more through the prosthesis.

Positions are along the segment's frame, measured from the low cut (0) to the high cut (L).
Bone screws start ``from_cut_mm`` outside each cut, so none lies in the lesion or the resection
zone's margin, and go on at the hole spacing; screws through the prosthesis sit on the same
spacing, centred on it and clear of its end faces (domain notes: 16 mm spacing, >= 3 screws per
fragment).  Every screw runs across the bone's centre line from the plate's side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PlanNotFeasible
from .params import ScrewParams


@dataclass(frozen=True, eq=False)
class Screw:
    position_mm: float  # along the segment's frame, from the low cut
    center: np.ndarray  # where the axis crosses the bone's centre line (LPS)
    axis: np.ndarray  # unit, from the plate into the bone
    into: str  # "implant" (through the prosthesis body) or "bone"
    side: str  # "low", "high" (bone ends) or "body"
    drill_mm: float  # hole in bone and implant
    plate_hole_mm: float
    length_mm: float  # plate's outer face to past the far cortex, in stock steps
    plate_point: np.ndarray  # centre of the plate hole on the plate's inner face
    through_stem: bool = False

    def as_dict(self) -> dict:
        return {"center": self.center, "axis": self.axis, "diameter_mm": self.drill_mm,
                "in": self.into, "plate_hole_center": self.plate_point,
                "plate_hole_diameter_mm": self.plate_hole_mm, "screw_length_mm": self.length_mm,
                "position_from_low_cut_mm": self.position_mm, "through_stem": self.through_stem}


def positions(length_mm: float, room_low_mm: float, room_high_mm: float, p: ScrewParams,
              end_distance_mm: float) -> list[tuple[float, str]]:
    """(position, side) of every screw, low end first.

    ``room_*`` is the bone beyond each cut that a plate may cover.  Raises PlanNotFeasible when
    the required screws do not fit, with the numbers.
    """
    n = int(p.per_bone_end)
    need = p.from_cut_mm + (n - 1) * p.spacing_mm + end_distance_mm
    for side, room in (("low", room_low_mm), ("high", room_high_mm)):
        if room < need:
            raise PlanNotFeasible(
                f"Only {room:.0f} mm of bone beyond the {side} cut can carry the plate, and {n} screws "
                f"{p.spacing_mm:g} mm apart starting {p.from_cut_mm:g} mm from the cut need {need:.0f} mm: "
                "use fewer screws per end, a smaller margin, or another fixation.")
    bone_offsets = p.from_cut_mm + p.spacing_mm * np.arange(n)
    out = [(-float(s), "low") for s in bone_offsets[::-1]]
    usable = length_mm - 2 * p.implant_from_cut_mm
    if usable >= 0:
        k = int(np.floor(usable / p.spacing_mm)) + 1
        start = (length_mm - (k - 1) * p.spacing_mm) / 2
        out += [(float(start + i * p.spacing_mm), "body") for i in range(k)]
    out += [(float(length_mm + s), "high") for s in bone_offsets]
    return out


def screw_length(reach_mm: float, p: ScrewParams) -> float:
    """Stock length: ``reach_mm`` plus the far-cortex allowance, up to the next step."""
    return float(np.ceil((reach_mm + p.far_cortex_mm) / p.length_step_mm) * p.length_step_mm)


def place_screws(spots, frame, length: float, profile, smoothed, phi: float, stems, params) -> list[Screw]:
    """Screws at ``spots`` (from ``positions``), radial from the plate's side at angle ``phi``
    through the segment's centre line; lengths from the bone's outline on both sides."""
    sp, pp = params.screws, params.plate
    axis = -(np.cos(phi) * frame.e1 + np.sin(phi) * frame.e2)
    stem_length = {s.side: s.length_mm for s in stems}
    out = []
    for s, side in spots:
        near = float(smoothed.radius_at(s, phi)) + pp.offset_mm
        far = float(profile.radius_at(s, phi + np.pi))
        from_cut = -s if side == "low" else (s - length if side == "high" else None)
        through = from_cut is not None and from_cut + sp.drill_mm / 2 <= stem_length[side]
        out.append(Screw(position_mm=float(s), center=frame.point + s * frame.d, axis=axis,
                         into="implant" if side == "body" else "bone", side=side, drill_mm=sp.drill_mm,
                         plate_hole_mm=sp.plate_hole_mm,
                         length_mm=screw_length(near + pp.thickness_mm + far, sp),
                         plate_point=smoothed.point(s, phi, near), through_stem=bool(through)))
    return out
