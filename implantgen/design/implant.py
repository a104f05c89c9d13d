"""The prosthesis and the plate for a resection plan (see the package's docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import trimesh

from ..geometry import bbox, footprint, sub_volume
from ..records import BoneSegmentation, Volume
from .body import body_solid, bone_profile
from .mirror import mirrored_radii
from .params import DesignParams
from .plate import plate_grid, plate_solid, side_vector
from .profile import Frame
from .screws import Screw, place_screws, positions
from .shapes import cylinder, difference, from_manifold, tube, union
from .stem import Stem, cortex_threshold, design_stem, stem_solid_points


_PLATE_JOINT_CLEARANCE_MM = 10.0  # a plate stays off the last centimetre (the joint's cartilage)
_STEM_SEGMENTS = 48


@dataclass(frozen=True, eq=False)
class Design:
    implant: trimesh.Trimesh
    plate: trimesh.Trimesh
    frame: Frame  # the segment's centre line: low cut centre, towards the high cut
    length_mm: float  # between the cut centres
    stems: list[Stem]
    screws: list[Screw]
    plate_info: dict
    body_info: dict
    params: DesignParams
    warnings: list[str] = field(default_factory=list)


def _room(bone_left: float, cut_by_scan: bool, scan_end_mm: float) -> float:
    return bone_left - (scan_end_mm if cut_by_scan else _PLATE_JOINT_CLEARANCE_MM)


def design_implant(volume: Volume, target, plan, params: DesignParams = DesignParams(),
                   bones: BoneSegmentation | None = None) -> Design:
    """Prosthesis and plate for ``plan`` (a ResectionPlan) of ``target``'s bone.

    ``bones`` (all the CT's bones) is needed only for ``body.mirror``: the other side's bone.
    """
    low, high = plan.osteotomies
    frame = Frame.along(low.point, high.point - low.point)
    # The other side's bone lies outside this bone's box: the mirror reads the whole CT.
    mirror = (partial(mirrored_radii, volume, bones, target.name, frame)
              if params.body.mirror and bones is not None else None)
    length = float(np.linalg.norm(high.point - low.point))
    # Everything below works on the bone's box: same LPS geometry, a fraction of the voxels.
    roi = _union_box(bbox(target.solid, 2), bbox(target.lesion.mask, 2))
    volume, solid, lesion = sub_volume(volume, roi), target.solid[roi], target.lesion.mask[roi]
    left = plan.feasibility.bone_left_mm
    cut_by_scan = dict(zip(("low", "high"), target.axis.cut_by_scan))
    warnings = []

    sp, pp = params.screws, params.plate
    end = 1.5 * sp.plate_hole_mm  # the hole's edge one diameter from the plate's end
    # Where the scan cuts the bone its last slice is partial volume (the solid may end a voxel
    # short of it), an oblique cut leaves whole cross-sections only short of its face, and the
    # outline is read 2 mm past the plate's end: plate and stems keep clear of all that.
    scan_end = {side: 2.0 + footprint(volume, frame.d) + face
                for side, face in zip(("low", "high"), target.axis.scan_face_mm)}
    spots = positions(length, _room(left["low"], cut_by_scan["low"], scan_end["low"]),
                      _room(left["high"], cut_by_scan["high"], scan_end["high"]), sp, end)
    plate_lo, plate_hi = spots[0][0] - end, spots[-1][0] + end
    lo, hi = min(plate_lo, -2.0) - 2.0, max(plate_hi, length + 2.0) + 2.0
    profile, rebuilt, (mirrored, shape_note) = bone_profile(volume, solid, lesion, frame, lo, hi, params.body,
                                                            mirror)
    if params.body.mirror and bones is None:
        warnings.append("The mirrored other side was asked for, but no bone segmentation was given to "
                        "find it: the shape over the lesion comes from the healthy bone on both sides.")
    elif params.body.mirror and not mirrored:
        warnings.append(shape_note)

    body = body_solid(profile, length, (low, high), params.body)
    cortex_hu = cortex_threshold(volume, solid, params.stem)
    reach = float(np.nanmax(profile.radii)) + 5.0
    stems = [design_stem(volume, solid, cut, side, left[side], scan_end[side] if cut_by_scan[side] else 0.0, cortex_hu,
                         reach, params.stem) for cut, side in ((low, "low"), (high, "high"))]
    parts = [body] + [_stem_solid(stem, cut) for stem, cut in zip(stems, (low, high))]
    warnings += [f"The {s.side} stem is {s.length_mm:.0f} mm long ({s.limited_by} limits it), under the "
                 f"{params.stem.min_length_mm:g} mm that fixation usually needs."
                 for s in stems if s.length_mm < params.stem.min_length_mm]

    phi_vec, note = side_vector(pp.side, target.name, frame)
    warnings += [note] if note else []
    phi = frame.angle_of(phi_vec)
    inner, outer, smoothed = plate_grid(profile, phi, plate_lo, plate_hi, pp)
    screws = place_screws(spots, frame, length, profile, smoothed, phi, stems, params)
    implant = difference(union(parts), [cylinder(s.center, s.axis, s.drill_mm, 2 * reach + 20) for s in screws])
    plate = plate_solid(inner, outer, screws, pp, sp)

    plate_info = {"side": pp.side if isinstance(pp.side, str) else list(pp.side), "side_vector": phi_vec,
                  "length_mm": float(plate_hi - plate_lo), "width_mm": pp.width_mm,
                  "thickness_mm": pp.thickness_mm, "offset_from_bone_mm": pp.offset_mm,
                  "holes": len(screws), "hole_diameter_mm": sp.plate_hole_mm,
                  "holes_per_side": {k: sum(s.side == k for s in screws) for k in ("low", "body", "high")},
                  "hole_spacing_mm": sp.spacing_mm, "end_distance_mm": end,
                  "span_from_low_cut_mm": [float(plate_lo), float(plate_hi)]}
    a, b = rebuilt.nonzero()[0][[0, -1]] if rebuilt.any() else (0, 0)
    body_info = {"length_mm": length, "collar_mm": params.body.collar_mm,
                 "shape_over_lesion": (shape_note if mirrored
                                       else "interpolated from the healthy bone on both sides"),
                 "rebuilt_from_healthy_bone_mm": ([float(profile.levels[a]), float(profile.levels[b])]
                                                  if rebuilt.any() else None),
                 "cortex_hu": round(cortex_hu, 1)}
    for stem in stems:
        wall = (stem.diameter_mm - sp.drill_mm) / 2
        if any(s.through_stem and s.side == stem.side for s in screws) and wall < params.printing.min_wall_mm:
            warnings.append(f"The {stem.side} stem ({stem.diameter_mm:g} mm) leaves {wall:.1f} mm beside its "
                            "cross-screw holes, under the minimum wall.")
    return Design(implant=from_manifold(implant), plate=from_manifold(plate), frame=frame, length_mm=length,
                  stems=stems, screws=screws, plate_info=plate_info, body_info=body_info, params=params,
                  warnings=warnings)


def _union_box(a, b):
    """The box of two masks together from their boxes: bbox(m1 | m2, pad) is the hull of
    bbox(m1, pad) and bbox(m2, pad), without an OR over the whole CT."""
    if a is None or b is None:
        return a or b
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b))


def _stem_solid(stem: Stem, cut):
    """The stem as a round tube along its traced centre line (rings across the cut's normal)."""
    centres, radii = stem_solid_points(stem, cut.normal, stem.side)
    out_frame = Frame.along(cut.point, -cut.normal if stem.side == "low" else cut.normal)
    ring = np.linspace(0, 2 * np.pi, _STEM_SEGMENTS, endpoint=False)
    return tube(centres, out_frame.rays(ring), np.repeat(radii[:, None], _STEM_SEGMENTS, 1))
