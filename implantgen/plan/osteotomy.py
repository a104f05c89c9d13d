"""Osteotomy planes at a margin beyond the lesion, across the bone's local axis.

Each plane lies ``margin_mm`` beyond the lesion's farthest point on its side, measured along the
bone's axis where the cut is made (domain notes: axial margin, planes perpendicular to the local
axis), with its point on the canal's centre line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..records import LesionCriteria, Volume
from ..segment.axis import BoneAxis
from .extent import extent_along, lesion_columns


@dataclass(frozen=True)
class Osteotomy:
    point: np.ndarray  # on the bone's centre line (LPS mm)
    normal: np.ndarray  # unit, along the local axis, pointing the way the bone axis points
    position_mm: float  # of the point along the bone's (global) axis
    side: str  # "low" or "high" end of the lesion along the axis
    margin_mm: float  # achieved: the lesion's farthest point to the plane, along the normal

    def as_dict(self) -> dict:
        return {"point": self.point, "normal": self.normal}


def plan_osteotomies(volume: Volume, axis: BoneAxis, lesion_mask: np.ndarray, lesion_hu: float,
                     normal_hu: float, bone: np.ndarray, margin_mm: float,
                     local_window_mm: float = 40.0,
                     islands: bool = False, lesion_box=None,
                     dense_hu: tuple[float, float] = LesionCriteria.blastic_hu
                     ) -> tuple[list[Osteotomy], tuple[float, float]]:
    """The two cuts (low end first) and the lesion's extent along the global axis; ``islands``:
    a mixed lesion (see extent.LesionColumns), its islands in the HU window ``dense_hu``;
    ``lesion_box``: bbox(lesion_mask), when known."""
    lesion = lesion_columns(volume, lesion_mask, lesion_hu, normal_hu, bone, islands,  # once for 3 extents
                            box=lesion_box, dense_hu=dense_hu)
    extent = extent_along(lesion, axis.point, axis.direction)
    cuts = []
    for side, sign, tip in (("low", -1.0, extent[0]), ("high", 1.0, extent[1])):
        guess = tip + sign * margin_mm
        centre, n = axis.local(guess, local_window_mm, exclude=extent)
        # The lesion's reach along this cut's own normal, measured from the local centre point.
        lo, hi = extent_along(lesion, centre, n)
        offset = (lo - margin_mm) if sign < 0 else (hi + margin_mm)
        point = centre + offset * n
        cuts.append(Osteotomy(point=point, normal=n, position_mm=float(axis.position(point)[0]),
                              side=side, margin_mm=float(margin_mm)))
    return cuts, extent
