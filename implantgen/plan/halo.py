"""A mixed lesion's farthest voxels that are an island's halo, judged by their partial volume.

A mixed lesion's reach is at least its voxels' own (extent.extent_along), since islands leave
many of its end's columns unread.  But one farthest voxel decides that bound, and where an
island ends a column the voxel past it often holds a sliver of the island (a tenth of 780 HU over
marrow reads +0 HU, as lytic tissue does) and is taken into the mask: its centre lay 1.0-1.1 mm
past the truth (2 of 128 ends on seeds 11-12, default grids; the true labels call it marrow).
Read against the island before it, the voxel's share says where in it the lesion ends.

Per voxel that reading is ambiguous: lytic tissue past an island, two thirds of the voxel over
marrow, reads the same HU as a tenth of island (of 1484 such voxels at the ends of seeds 11-12,
those read under a tenth of island held 0.55 lesion on average, by the phantoms' truth).  So it
only lowers the voxels' bound, by _ALLOWANCE_MM less; the end stays at least the columns' crest
and every other voxel's centre.
"""

from __future__ import annotations

import numpy as np

# The share reading pulls a centre in only past this many mm: the farthest columns' own ends
# fall short of the end between them, and across a tilted end a voxel's partial-volume ramp is
# wider than its step, so the plain reading left ends that were already short 0.15-0.3 mm
# shorter (6 of 384 on seeds 11-12); with this allowance none moved shorter by 0.1 mm.
_ALLOWANCE_MM = 0.6


def halo_pull(own: np.ndarray, before: np.ndarray, normal_hu: float, dense_hu: tuple[float, float],
              delta: float) -> np.ndarray:
    """How far (mm, >= 0) each column's last voxel's centre overstates the lesion's reach, where
    that voxel (``own``: its HU) is an island's halo: the voxel before it (``before``) in the
    islands' window ``dense_hu`` (not cortex), itself below it.  Its share of island is its
    value over the marrow (``normal_hu``) against the island's before it; the lesion ends
    (share x ``delta``, the columns' step along the direction) into it.  Only pulled in, never
    out (a share past one half is lesion's own tip), and by _ALLOWANCE_MM less."""
    halo = (before >= dense_hu[0]) & (before <= dense_hu[1]) & (own < dense_hu[0])
    share = np.clip((own - normal_hu) / np.maximum(before - normal_hu, 1.0), 0.0, 0.5)
    return np.where(halo, np.maximum(delta * (0.5 - share) - _ALLOWANCE_MM, 0.0), 0.0)
