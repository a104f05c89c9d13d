"""The ground truth of a femur phantom (femur.py), from its analytic solids: what the tests hold
the pipeline to (axis, extents, volumes, cortical involvement, osteotomies)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from .femur import BONE_OFFSET, SHAFT_RADIUS_MM, THIGH_CENTRE

if TYPE_CHECKING:
    from .femur import _Geometry


def _solid_volume_mm3(geo: "_Geometry") -> float:
    """Analytic volume of the intact bone: the profile integrated, plus the two half-spheroids."""
    s = np.linspace(-geo.s_cap, geo.s_cap, 40001)
    area = np.pi * geo.profile(s)[0] ** 2
    caps = 4 / 3 * np.pi * geo.r_end**2 * geo.c_end
    return float(np.sum((area[1:] + area[:-1]) / 2 * np.diff(s)) + caps)


def _cortical_involvement(geo: "_Geometry") -> float:
    """Worst fraction of the circumference where the lesion reaches mid-cortex, level by level."""
    levels = np.linspace(geo.sc - geo.h, geo.sc + geo.h, 161)
    psi = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    s, psi = np.meshgrid(levels, psi, indexing="ij")
    R, _, Ri, _ = geo.profile(s.ravel())
    radial = np.outer(geo.e1, np.cos(psi.ravel())) + np.outer(geo.e2, np.sin(psi.ravel()))
    P = BONE_OFFSET[:, None] + geo.d[:, None] * s.ravel() + radial * (R + Ri) / 2
    inside = geo.bone_fields(P)["in_lesion"].reshape(s.shape)
    return float(inside.mean(axis=1).max())


def phantom_truth(geo: "_Geometry", labels: np.ndarray) -> dict:
    """The JSON truth of a rendered phantom: its spec, the bone's axis and volume, the lesion's
    extent, centre, volume and cortical involvement, the true osteotomies."""
    spec = geo.spec
    point = THIGH_CENTRE + BONE_OFFSET  # bone centre, on the axis
    lo, hi = geo.sc - geo.h, geo.sc + geo.h
    offset = geo.offset
    voxel_ml = float(np.prod(geo.spacing)) / 1000.0
    truth = {
        "schema": "implantgen.phantom-truth/1",
        "kind": "femur",
        "spec": {k: v for k, v in asdict(spec).items() if v is not None},  # None: a default
        "bone": {"name": "femur_right", "axis": {"point": point, "direction": geo.d},
                 "extent_along_axis_mm": [-geo.half, geo.half],
                 "shaft_outer_radius_mm": SHAFT_RADIUS_MM, "canal_radius_mm": geo.rc,
                 "shaft_extent_along_axis_mm": [-geo.s_shaft, geo.s_shaft],
                 "solid_volume_ml": _solid_volume_mm3(geo) / 1000.0},
        "lesion": {"type": spec.lesion_type, "extent_along_axis_mm": [lo, hi],
                   "center": point + geo.d * geo.sc + geo.u * offset,
                   "volume_ml": int(np.count_nonzero(labels == 2)) * voxel_ml,
                   "cortical_involvement": _cortical_involvement(geo)},
        "margin_mm": spec.margin_mm,
        "osteotomies": [{"point": point + geo.d * (lo - spec.margin_mm), "normal": geo.d},
                        {"point": point + geo.d * (hi + spec.margin_mm), "normal": geo.d}],
        "resection_length_mm": (hi - lo) + 2 * spec.margin_mm,
    }
    return _jsonable(truth)


def _jsonable(obj):
    """Plain JSON types, floats rounded to 4 decimals."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return round(float(obj), 4) + 0.0  # + 0.0 turns -0.0 into 0.0
    return obj.item() if isinstance(obj, np.generic) else obj
