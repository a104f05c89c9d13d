"""How far a lesion reaches along a direction, to a fraction of a voxel.

The farthest voxel centre inside the lesion falls short of the true tip by up to a voxel's
footprint along the direction (2.5 mm for 2.5 mm slices), more than a plan may be off.  The
partial-volume value of the voxels at the tip says how much of each is lesion: a voxel a
fraction f covered ends the lesion at (centre - w/2 + f w) along the direction, with w its
footprint.  The tip is the farthest such estimate among the voxels at the lesion's end.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import bbox, filter_size, footprint, voxel_points
from ..records import Volume

_MIN_FRACTION = 0.25  # below this a voxel's value is as likely noise as lesion


def _in_plane_median(hu: np.ndarray, spacing_kji: np.ndarray) -> np.ndarray:
    return ndimage.median_filter(hu, size=filter_size(spacing_kji))


def _step_axis(volume: Volume, d: np.ndarray) -> tuple[int, int]:
    """(array axis, sign) of the voxel step that moves farthest along ``d``."""
    along = volume.direction.T @ d  # per (i, j, k) index axis
    axis_ijk = int(np.argmax(np.abs(along)))
    return 2 - axis_ijk, int(np.sign(along[axis_ijk]))


def _end_estimates(volume, sub, frac, start, point, d, sign):
    """Tip estimates at the end of the lesion that lies towards ``sign * d``.

    Candidates are the lesion's own voxels (at least half lesion) and the voxels one step
    beyond them along the bone, whose partial value tells how far into them the lesion goes.
    Voxels to the side are left out: there partial volume between marrow and cortex mimics
    lesion densities.
    """
    axis, step_sign = _step_axis(volume, d)
    shift = [0, 0, 0]
    shift[axis] = step_sign * sign
    beyond = np.roll(sub, shift, axis=(0, 1, 2)) & ~sub  # one step further along the bone
    inside, outside = np.argwhere(sub), np.argwhere(beyond & (frac >= _MIN_FRACTION))
    f = np.concatenate([np.clip(frac[tuple(inside.T)], 0.5, 1.0), frac[tuple(outside.T)]])
    kji = np.concatenate([inside, outside]) + start
    s = (volume.index_to_physical(kji[:, ::-1].astype(float)) - point) @ d
    w = footprint(volume, d)
    return s - sign * w / 2 + sign * f * w


def lesion_extent(volume: Volume, mask: np.ndarray, lesion_hu: float, normal_hu: float,
                  point, direction, bone: np.ndarray | None = None) -> tuple[float, float]:
    """(lo, hi): the lesion's reach along ``direction`` from ``point`` (mm), sub-voxel.

    ``normal_hu`` is the marrow the lesion replaced.  With the bone's solid given, the tips are
    measured on the lesion's part inside the bone (where that contrast holds), and a soft-tissue
    extension outside counts with its voxels' own reach.
    """
    d = np.asarray(direction, dtype=float)
    if bone is not None and (mask & bone).any():
        lo, hi = lesion_extent(volume, mask & bone, lesion_hu, normal_hu, point, d)
        outside = mask & ~bone
        if outside.any():
            half = footprint(volume, d) / 2
            o_lo, o_hi = voxel_extent(volume, outside, point, d)
            lo, hi = min(lo, o_lo - half), max(hi, o_hi + half)
        return lo, hi
    roi = bbox(mask, 2)
    sub = mask[roi]
    start = np.array([r.start for r in roi])
    hs = _in_plane_median(volume.array[roi].astype(np.float32), volume.spacing[::-1])
    contrast = lesion_hu - normal_hu
    if abs(contrast) < 1:
        frac = np.where(sub, 1.0, 0.0)
    else:
        frac = (hs - normal_hu) / contrast
        # Well past 1 is cortex next to the lesion, not lesion: no evidence of reach.  So is a
        # voxel with marrow and cortex around it: its value is their mixture, not lesion.
        size = filter_size(volume.spacing[::-1])
        lo_nb, hi_nb = ndimage.minimum_filter(frac, size), ndimage.maximum_filter(frac, size)
        mixed = (lo_nb < 0.5) & (hi_nb > 1.5)
        frac = np.where((frac > 1.25) | mixed, 0.0, np.clip(frac, 0.0, 1.0))
    lo = _end_estimates(volume, sub, frac, start, point, d, -1).min()
    hi = _end_estimates(volume, sub, frac, start, point, d, +1).max()
    return float(lo), float(hi)


def voxel_extent(volume: Volume, mask: np.ndarray, point, direction) -> tuple[float, float]:
    """(lo, hi) of the voxel centres in ``mask`` along ``direction`` from ``point``."""
    s = (voxel_points(volume, mask) - point) @ np.asarray(direction, dtype=float)
    return float(s.min()), float(s.max())
