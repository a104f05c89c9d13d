"""The prosthesis body: the resected segment's periosteal shape, end faces on the osteotomies.

The bone's outline is sampled level by level around the straight line joining the two cut
centres.  Levels that the lesion (with its soft-tissue extension) reaches are rebuilt from the
healthy bone on both sides, angle by angle (domain notes: where the lesion destroyed the cortex,
take the shape from healthy bone above and below).  The last ``collar_mm`` at each end is the
cut face's own outline, so each end seats on the bone it meets.  The tube is built a little
longer and trimmed by the two planes, so its end faces lie exactly on them.
"""

from __future__ import annotations

import manifold3d
import numpy as np

from ..geometry import axis_aligned, bbox, footprint, index_points, voxel_points
from ..records import Volume
from .mirror import blend
from .params import BodyParams
from .profile import Frame, Profile, angles, fill_levels, outer_radii, periosteal_radii, smooth
from .shapes import tube

_BEYOND_CUT_MM = 2.0  # the tube runs past each plane before it is trimmed


def lesion_span(volume: Volume, lesion: np.ndarray, frame: Frame) -> tuple[float, float]:
    """The lesion's extent along ``frame`` (voxel centres widened by half a voxel footprint)."""
    s = (voxel_points(volume, lesion) - frame.point) @ frame.d
    half = 0.5 * footprint(volume, frame.d)
    return float(s.min() - half), float(s.max() + half)


def _slices_between(volume: Volume, solid: np.ndarray, frame: Frame, lo: float, hi: float) -> np.ndarray:
    """``solid`` without the slices (k) whose voxels all lie clear of levels ``lo`` to ``hi`` on
    an axis-aligned grid (``solid`` itself on another): the level is linear across a slice, so
    the corners of the solid's box bound it (widened by a hundredth of a millimetre)."""
    box = bbox(solid)
    if box is None or not axis_aligned(volume):
        return solid
    k = np.arange(box[0].start, box[0].stop)
    corners = [(j, i) for j in (box[1].start, box[1].stop - 1) for i in (box[2].start, box[2].stop - 1)]
    kji = np.column_stack([np.repeat(k, 4), np.tile(corners, (k.size, 1))])
    s = ((index_points(volume, kji) - frame.point) @ frame.d).reshape(k.size, 4)
    keep = k[(s.max(axis=1) >= lo - 0.01) & (s.min(axis=1) <= hi + 0.01)]
    if keep.size == k.size or keep.size == 0:
        return solid
    out = np.zeros_like(solid)
    out[keep[0]:keep[-1] + 1] = solid[keep[0]:keep[-1] + 1]
    return out


def max_radius(volume: Volume, solid: np.ndarray, frame: Frame, lo: float, hi: float) -> float:
    """How far the bone reaches from the centre line between ``lo`` and ``hi`` (plus a voxel)."""
    # Only the slices that reach the levels: on an axis-aligned grid a voxel's centre and level
    # are worked out from its own indices alone (elementwise, and a matrix-vector product row
    # by row), so the same voxels give the same numbers without the rest of the bone.
    pts = voxel_points(volume, _slices_between(volume, solid, frame, lo, hi))
    rel = pts - frame.point
    s = rel @ frame.d
    sel = (s >= lo) & (s <= hi)
    if not sel.any():
        raise ValueError("no bone between the given levels")
    radial = np.linalg.norm(rel[sel] - np.outer(s[sel], frame.d), axis=1)
    return float(radial.max() + 2 * max(volume.spacing))


def bone_profile(volume: Volume, solid: np.ndarray, lesion: np.ndarray, frame: Frame,
                 lo: float, hi: float, p: BodyParams, mirror=None) -> tuple[Profile, np.ndarray, tuple]:
    """The restored outline between levels ``lo`` and ``hi``, which levels were rebuilt, and
    (mirrored, note): whether the other side gave their shape, and what it said.

    ``mirror``, if given, is called with (levels, angles, max radius) and returns the other
    side's radii on them and a note, or (None, note) when it cannot.
    """
    levels = np.arange(lo, hi + p.level_mm / 2, p.level_mm)
    theta = angles(p.angles)
    reach = max_radius(volume, solid, frame, lo, hi)
    radii = outer_radii(volume, solid, frame, levels, theta, reach)
    radii = periosteal_radii(volume, frame, levels, theta, radii)
    a, b = lesion_span(volume, lesion, frame)
    rebuilt = (levels >= a - p.restore_pad_mm) & (levels <= b + p.restore_pad_mm)
    missing = ~np.all(np.isfinite(radii), axis=1)
    if (missing & ~rebuilt).any():  # the screw layout keeps clear of the bone's ends, so this is a bug
        raise ValueError(f"{int((missing & ~rebuilt).sum())} level(s) of the plate's span have no bone "
                         "around the centre line")
    if missing.any():  # a ray through the lesion that meets no bone: the level is rebuilt anyway
        radii = fill_levels(radii, levels, missing)
    # The mask's outline steps from slice to slice: smooth over about one voxel footprint so the
    # body is a surface, not a staircase (a straight shaft keeps its radius).
    radii = smooth(radii, footprint(volume, frame.d) / p.level_mm, 1.0)
    restored, other, note = fill_levels(radii, levels, rebuilt), None, None
    if mirror is not None:
        other, note = mirror(levels, theta, reach + 10.0)
        if other is not None:
            restored = blend(restored, smooth(other, footprint(volume, frame.d) / p.level_mm, 1.0), levels, rebuilt)
    return Profile(frame, levels, theta, restored), rebuilt, (other is not None, note)


def body_solid(profile: Profile, length_mm: float, cuts, p: BodyParams) -> manifold3d.Manifold:
    """The body between the cuts: the profile's tube with collar ends, trimmed by the planes."""
    f = profile.frame
    levels = np.arange(-_BEYOND_CUT_MM, length_mm + _BEYOND_CUT_MM + p.level_mm / 2, p.level_mm)
    levels[-1] = min(levels[-1], length_mm + _BEYOND_CUT_MM)
    radii = profile.radius_at(levels[:, None], profile.theta[None, :])
    low_face = profile.radius_at(np.zeros_like(profile.theta), profile.theta)
    high_face = profile.radius_at(np.full_like(profile.theta, length_mm), profile.theta)
    radii[levels <= p.collar_mm] = low_face
    radii[levels >= length_mm - p.collar_mm] = high_face
    centres = f.point + np.outer(levels, f.d)
    solid = tube(centres, f.rays(profile.theta), radii)
    low, high = cuts
    solid = solid.trim_by_plane(tuple(low.normal), float(low.normal @ low.point))
    return solid.trim_by_plane(tuple(-high.normal), float(-high.normal @ high.point))
