"""Intramedullary stems: into each remaining canal, following it, sized from the CT.

The canal beyond each cut is traced level by level: its outline (first cortex going outwards)
gives a centre, and the largest circle about that centre that stays clear of the cortex gives
its free radius.  A cemented stem is the canal's diameter minus a 2 mm cement mantle each side
(domain notes); a press-fit stem fills the canal to a small clearance.  The diameter is the
canal's at the cut, reduced if the canal narrows within the minimum stem length; the stem then
runs on while stem plus mantle fits in the canal, never into the cortex, up to the maximum
length and short of the bone's end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from ..records import Volume
from .params import StemParams
from .profile import Frame, angles, canal_radii, outline_centroid

_ANGLES = 48
_STEP = 1.0  # mm between traced levels
_OVERLAP_MM = 3.0  # the stem starts this far inside the body so that the union is one solid
_FIT_TOLERANCE_MM = 0.25  # sub-voxel slack when comparing the stem with the traced canal


@dataclass(frozen=True, eq=False)
class Stem:
    side: str  # "low" or "high" cut
    fixation: str
    diameter_mm: float
    tip_diameter_mm: float
    length_mm: float  # from the cut face to the tip
    canal_diameter_mm: float  # free diameter of the canal at the cut
    centres: np.ndarray  # (n, 3) centre line from the cut (LPS), one point per mm
    radii: np.ndarray  # (n,) stem radius along it
    canal_free_radius: np.ndarray  # (n,) traced free radius of the canal at the same levels
    limited_by: str  # what stopped it: "maximum length", "canal", "bone end", "scan"

    def as_dict(self) -> dict:
        return {"side": self.side, "fixation": self.fixation, "diameter_mm": self.diameter_mm,
                "tip_diameter_mm": self.tip_diameter_mm, "length_mm": self.length_mm,
                "canal_diameter_at_cut_mm": self.canal_diameter_mm, "length_limited_by": self.limited_by}


def cortex_threshold(volume: Volume, solid: np.ndarray, p: StemParams) -> float:
    """The canal boundary: halfway between marrow and cortex (Otsu on the bone's HU)."""
    if p.cortex_hu is not None:
        return float(p.cortex_hu)
    hu = volume.array[solid]
    return float(threshold_otsu(hu[:: max(1, hu.size // 200_000)].astype(np.float32)))


def trace_canal(volume: Volume, solid: np.ndarray, cut_point, out_dir, length_mm: float,
                cortex_hu: float, max_radius_mm: float) -> tuple[np.ndarray, np.ndarray, Frame]:
    """Centre line (n, 3) and free radius (n,) of the canal from the cut outwards."""
    frame = Frame.along(cut_point, out_dir)
    theta = angles(_ANGLES)
    t = np.arange(0.0, length_mm + _STEP / 2, _STEP)
    centres = frame.point + np.outer(t, frame.d)
    for _ in range(3):  # re-centre on the canal's own outline, smoothly along the canal
        radii = canal_radii(volume, solid, centres, frame, theta, cortex_hu, max_radius_mm)
        shift = outline_centroid(radii, frame, theta)
        shift = ndimage.gaussian_filter1d(shift, 3.0, axis=0, mode="nearest")
        centres = centres + shift
    radii = canal_radii(volume, solid, centres, frame, theta, cortex_hu, max_radius_mm)
    return centres, radii.min(axis=1), frame


def design_stem(volume: Volume, solid: np.ndarray, cut, side: str, bone_left_mm: float, scan_end_mm: float,
                cortex_hu: float, max_radius_mm: float, p: StemParams) -> Stem:
    """``scan_end_mm``: how far to keep from where the scan cuts the bone (its last slice is
    partial volume, a canal read there is no canal); 0 when the bone ends in the scan."""
    out_dir = -cut.normal if side == "low" else cut.normal
    cut_by_scan = bool(scan_end_mm)
    room = bone_left_mm - (scan_end_mm if cut_by_scan else p.tip_clearance_mm)
    reach = max(min(p.max_length_mm, room), 0.0)
    centres, free, _ = trace_canal(volume, solid, cut.point, out_dir, max(reach, 2 * _STEP), cortex_hu,
                                   max_radius_mm)
    t = np.arange(len(free)) * _STEP
    gap = p.cement_mantle_mm if p.fixation == "cemented" else p.press_fit_clearance_mm
    at_cut = float(free[(t >= 2.0) & (t <= 10.0)].min()) if reach >= 10 else float(free.min())
    within_min = float(free[t <= min(p.min_length_mm, reach)].min())
    diameter = np.floor(4 * (min(at_cut, within_min) - gap)) / 2  # stock sizes: half-millimetre steps
    radius = diameter / 2
    if diameter < p.min_diameter_mm:
        from ..errors import PlanNotFeasible

        raise PlanNotFeasible(
            f"The canal beyond the {side} cut is {2 * min(at_cut, within_min):.1f} mm wide, too narrow for "
            f"a {p.fixation} stem of at least {p.min_diameter_mm:g} mm (with {gap:g} mm each side): "
            "choose press-fit or a thinner minimum stem in the config, or another fixation.")
    fits = free + _FIT_TOLERANCE_MM >= radius + gap
    n = int(np.argmin(fits)) if not fits.all() else len(fits)
    length = min(float(t[n - 1]) if n else 0.0, reach)
    if length >= reach - 1e-6:
        limited = "scan" if cut_by_scan and room < p.max_length_mm else (
            "maximum length" if p.max_length_mm <= room else "bone end")
    else:
        limited = "canal"
    keep = t <= length + 1e-9
    centres, free, t = centres[keep], free[keep], t[keep]
    radii = np.full(len(t), radius)
    tip = t > length - p.taper_mm
    # A rounded-off tip (quarter ellipse down to 60%): no sharp edge at the end of the stem.
    u = np.clip((t[tip] - (length - p.taper_mm)) / p.taper_mm, 0, 1)
    radii[tip] = radius * (0.6 + 0.4 * np.sqrt(1 - u ** 2))
    return Stem(side=side, fixation=p.fixation, diameter_mm=float(diameter),
                tip_diameter_mm=float(2 * radii[-1]), length_mm=float(length),
                canal_diameter_mm=round(2 * at_cut, 2), centres=centres, radii=radii,
                canal_free_radius=free, limited_by=limited)


def stem_solid_points(stem: Stem, cut_normal, side: str) -> tuple[np.ndarray, np.ndarray]:
    """(centres, radii) of the stem's rings, including the overlap into the body."""
    into_body = cut_normal if side == "low" else -cut_normal
    start = stem.centres[0] + _OVERLAP_MM * into_body
    return np.vstack([start, stem.centres]), np.concatenate([[stem.radii[0]], stem.radii])
