"""The bridging plate: a strip that follows the bone's (and prosthesis') surface on one side.

Its inner face lies ``offset_mm`` off the smoothed outline, ``width_mm`` wide as an arc across the
chosen side, from one end screw to the other plus the end distance; its outer face is
``thickness_mm`` further out.  Holes run along the screw axes (domain notes: 4.5 plate about
12 mm wide, 2.8-4 mm thick; holes at least one diameter from an edge).
"""

from __future__ import annotations

import manifold3d
import numpy as np

from ..errors import InputError
from ..geometry import unit
from .params import PlateParams, ScrewParams
from .profile import Frame, Profile, smooth
from .shapes import cylinder, difference, slab

_ACROSS = 9  # samples across the plate's width
_SIDES = {"anterior": (0.0, -1.0, 0.0), "posterior": (0.0, 1.0, 0.0)}  # LPS: y points posterior


def side_vector(side, bone_name: str, frame: Frame, body_centre_x: float | None = None) -> tuple[np.ndarray, str]:
    """Unit LPS direction of the plate's side across the bone, and a note on how it was chosen.

    Lateral is away from the body's midline: the patient's right (-x in LPS) for a right bone.
    """
    note = ""
    if isinstance(side, str) and side in ("lateral", "medial"):
        if bone_name.endswith("_right"):
            lateral = np.array([-1.0, 0, 0])
        elif bone_name.endswith("_left"):
            lateral = np.array([1.0, 0, 0])
        else:
            x = float(frame.point[0] - (body_centre_x or 0.0))
            lateral = np.array([np.sign(x) or -1.0, 0, 0])
            note = (f"The {bone_name} has no side in its name: 'lateral' was taken as away from the "
                    "body's midline; check the plate's side.")
        v = lateral if side == "lateral" else -lateral
    elif isinstance(side, str):
        v = np.array(_SIDES[side])
    else:
        v = np.asarray(side, float)
    across = v - (v @ frame.d) * frame.d
    if np.linalg.norm(across) < 0.2:
        raise InputError(f"The plate side {side!r} runs along the bone's axis: give a side across it.")
    return unit(across), note


def plate_grid(profile: Profile, phi: float, lo: float, hi: float, p: PlateParams):
    """(inner, outer) (ns, nt, 3) faces of the plate between levels ``lo`` and ``hi``, and the
    smoothed profile they follow."""
    step = profile.levels[1] - profile.levels[0]
    smoothed = Profile(profile.frame, profile.levels, profile.theta,
                       smooth(profile.radii, p.smoothing_mm / step, 1.0))
    s = np.linspace(lo, hi, max(int(np.ceil((hi - lo) / step)), 1) + 1)
    r_mid = smoothed.radius_at(s, phi) + p.offset_mm
    half = (p.width_mm / 2) / r_mid  # the width as an arc on the inner face
    a = phi + np.linspace(-1, 1, _ACROSS)[None, :] * half[:, None]
    r_in = smoothed.radius_at(s[:, None], a) + p.offset_mm
    inner = smoothed.point(s[:, None], a, r_in)
    outer = smoothed.point(s[:, None], a, r_in + p.thickness_mm)
    return inner, outer, smoothed


def plate_solid(inner: np.ndarray, outer: np.ndarray, screws, p: PlateParams,
                sp: ScrewParams) -> manifold3d.Manifold:
    solid = slab(inner, outer)
    holes = [cylinder(sc.plate_point, sc.axis, sc.plate_hole_mm, 4 * p.thickness_mm + 2 * p.offset_mm)
             for sc in screws]
    return difference(solid, holes)
