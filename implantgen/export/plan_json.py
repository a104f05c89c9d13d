"""plan.json (schema ``implantgen.plan/1``, see the contract) and other JSON, written byte-stable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PLAN_SCHEMA = "implantgen.plan/1"
NOT_FOR_CLINICAL_USE = "NOT FOR CLINICAL USE: a planning proposal for engineers; a surgeon decides."


def _plain(x):
    # numpy scalars/arrays -> JSON; floats rounded so reruns give the same bytes.
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, (np.floating, float)):
        return round(float(x), 6)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def as_written(data: dict) -> dict:
    """``data`` as write_json writes it and a reader reads it back (rounded, plain lists)."""
    return json.loads(json.dumps(_plain(data)))


def write_json(path: Path, data: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(_plain(data), indent=2, ensure_ascii=True) + "\n", encoding="utf-8")
    return path


def empty_plan(margin_mm: float) -> dict:
    """The contract's plan.json with nothing planned yet: later stages fill it in."""
    return {
        "schema": PLAN_SCHEMA,
        "units": "mm",
        "frame": "LPS",
        "notice": NOT_FOR_CLINICAL_USE,
        "bone": None,
        "lesion": None,
        "margin_mm": float(margin_mm),
        "osteotomies": [],
        "resection_length_mm": None,
        "implant": None,
        "plate": None,
        "risk": {"mirels": {"site": None, "lesion_type": None, "size": None, "pain": None,
                            "total_without_pain": None}},
        "warnings": [],
    }


def plan_dict(plan, target, mesh_checks: dict | None = None) -> dict:
    """plan.json for a resection plan (``implantgen.plan.ResectionPlan``) and its target."""
    out = empty_plan(plan.margin_mm)
    axis, lesion = plan.axis, target.lesion
    out["bone"] = {"name": plan.bone_name, "axis": {"point": axis.point, "direction": axis.direction},
                   "extent_along_axis_mm": list(axis.extent), "cut_by_scan": list(axis.cut_by_scan)}
    out["lesion"] = {"volume_ml": lesion.volume_ml, "type": lesion.type,
                     "extent_along_axis_mm": list(plan.lesion_extent),
                     "cortical_involvement": plan.cortical_involvement,
                     "median_hu": lesion.lesion_hu, "source": lesion.source}
    out["osteotomies"] = [c.as_dict() for c in plan.osteotomies]
    out["osteotomy_details"] = [
        {"side": c.side, "position_along_axis_mm": c.position_mm, "margin_mm": c.margin_mm,
         "angle_to_bone_axis_deg": float(np.degrees(np.arccos(np.clip(c.normal @ axis.direction, -1, 1)))),
         "bone_left_beyond_cut_mm": plan.feasibility.bone_left_mm.get(c.side)}
        for c in plan.osteotomies]
    out["resection_length_mm"] = plan.resection_length_mm
    out["risk"] = plan.risk
    out["feasible"] = plan.feasibility.feasible
    if mesh_checks:
        out["meshes"] = mesh_checks
    out["warnings"] = list(plan.warnings)
    return out


def design_blocks(design) -> tuple[dict, dict]:
    """plan.json's ``implant`` and ``plate`` blocks for an ``implantgen.design.Design``."""
    implant = {
        "length_mm": design.length_mm,
        "volume_ml": float(design.implant.volume) / 1000.0,
        "body": design.body_info,
        "stems": [s.as_dict() for s in design.stems],
        "screw_holes": [s.as_dict() for s in design.screws],
        "frame": {"point": design.frame.point, "direction": design.frame.d},
    }
    plate = {**design.plate_info, "volume_ml": float(design.plate.volume) / 1000.0}
    return implant, plate
