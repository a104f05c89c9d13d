"""The healthy shape from the other side: the contralateral bone, mirrored.

Domain notes: where the lesion destroyed the cortex, take the shape from healthy bone above
and below, "or from the mirrored other side when the scan holds it".  The mirror plane is the
sagittal plane half way between the two bones' centre lines at the segment's middle; the
segment's frame is reflected through it and moved onto the other bone's centre line, and the
other bone's outline is read along that frame.  The caller blends it into the patient's own
healthy levels, so only the shape's detail comes from the other side, not its size.
"""

from __future__ import annotations

import numpy as np

from ..records import BoneSegmentation, Volume
from ..segment.axis import bone_axis
from .profile import Frame, outer_radii, periosteal_radii

_SWAP = {"_right": "_left", "_left": "_right"}


def contralateral_label(bones: BoneSegmentation, name: str) -> int | None:
    for mine, other in _SWAP.items():
        if name.endswith(mine):
            wanted = name[: -len(mine)] + other
            hits = [k for k, n in bones.names.items() if n == wanted]
            return hits[0] if hits else None
    return None


def mirrored_frame(frame: Frame, middle_s: float, other_point, other_direction) -> Frame:
    """``frame`` reflected through the sagittal plane between it and the other bone's axis."""
    p = frame.point + middle_s * frame.d
    other_point, other_direction = np.asarray(other_point, float), np.asarray(other_direction, float)
    # The other axis at the same height as the segment's middle (both bones run head to foot).
    t = (p[2] - other_point[2]) / other_direction[2] if abs(other_direction[2]) > 0.3 else 0.0
    q = other_point + t * other_direction
    x_mid = (p[0] + q[0]) / 2
    flip = np.array([-1.0, 1.0, 1.0])

    def reflect(v):
        return np.array([2 * x_mid - v[0], v[1], v[2]])

    d = flip * frame.d
    shift = q - reflect(p)
    shift -= (shift @ d) * d  # onto the other centre line, without sliding along it
    return Frame(reflect(frame.point) + shift, d, flip * frame.e1, flip * frame.e2)


def mirrored_radii(volume: Volume, bones: BoneSegmentation, name: str, frame: Frame, levels: np.ndarray,
                   theta: np.ndarray, max_radius_mm: float) -> tuple[np.ndarray | None, str]:
    """(radii, note): the other side's outline on this bone's levels and angles, or None and
    why not."""
    label = contralateral_label(bones, name)
    if label is None:
        return None, (f"No contralateral bone to mirror was found for the {name}: the shape over the "
                      "lesion comes from the healthy bone on both sides.")
    other = bones.labels == label
    axis = bone_axis(volume, other)
    mirror = mirrored_frame(frame, float((levels[0] + levels[-1]) / 2), axis.point, axis.direction)
    near = outer_radii(volume, other, mirror, levels, theta, max_radius_mm)
    radii = periosteal_radii(volume, mirror, levels, theta, near)
    return radii, f"The shape over the lesion is the mirrored {bones.names[label]}, blended into this bone."


def blend(own: np.ndarray, mirrored: np.ndarray, levels: np.ndarray, rebuilt: np.ndarray,
          ends_mm: float = 3.0) -> np.ndarray:
    """``own`` radii with the rebuilt levels taken from ``mirrored``, offset so that they join
    the patient's own healthy levels on both sides (the offset runs linearly between them)."""
    out = own.copy()
    idx = np.flatnonzero(rebuilt)
    if idx.size == 0 or not np.all(np.isfinite(mirrored[idx])):
        return out
    a, b = levels[idx[0]], levels[idx[-1]]
    below = (levels < a) & (levels >= a - ends_mm)
    above = (levels > b) & (levels <= b + ends_mm)
    if not below.any() or not above.any():
        return out
    off_a = np.nanmean(own[below] - mirrored[below], axis=0)
    off_b = np.nanmean(own[above] - mirrored[above], axis=0)
    w = ((levels[idx] - a) / max(b - a, 1e-6))[:, None]
    out[idx] = mirrored[idx] + (1 - w) * off_a + w * off_b
    return out
