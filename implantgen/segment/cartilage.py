"""A rib's end kept apart from the costal cartilage it runs into.

On thick slices partial volume lifts the upper tail of costal cartilage just above the cortex
level, and a rib's front end joins it in one solid piece.  The piece then fails the dense-voxel
test (its share of dense voxels is diluted by the cartilage; a thin rib end on 3 mm voxels holds
few anyway) and is dropped whole, rib end and all.  Cartilage is smooth and sits just above the
cortex level; the rib end is denser: the piece's own histogram tells the two apart (Otsu).  The
denser class, with the one-voxel rim that partial volume gives its surface (bar the junction
with the cartilage), is kept when it is bone through and through: its median at least twice the
edge contrast above soft tissue, and it holds dense voxels.  The cartilage is dropped with the
rest of the piece.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

_CUBE = np.ones((3, 3, 3), dtype=bool)


def bony_parts(labels: np.ndarray, failed, g: np.ndarray, full_bone_hu: float, dense_hu: float,
               min_voxels: int) -> np.ndarray:
    """bool mask: the bony part of each piece of ``failed`` (labels that failed the dense test),
    for pieces that are bone joined to cartilage; empty elsewhere.  ``min_voxels``: the smallest
    bone kept; ``full_bone_hu``: a voxel all of bone (twice the edge's contrast with soft
    tissue)."""
    out = np.zeros(labels.shape, dtype=bool)
    boxes = ndimage.find_objects(labels)
    for lab in failed:
        box = boxes[lab - 1]
        piece = labels[box] == lab
        values = g[box][piece]
        if values.size < min_voxels or np.ptp(values) == 0:
            continue
        core = piece & (g[box] > threshold_otsu(values))
        if not np.any(g[box][core] > dense_hu) or np.median(g[box][core]) < full_bone_hu:
            continue
        near = ndimage.binary_dilation(core, _CUBE, mask=piece)
        # The rim that partial volume gives the rib's surface, bar where it meets the cartilage
        # (the voxels beyond the rim): that junction is a mix of the two, not bone.
        part = core | (near & ~ndimage.binary_dilation(piece & ~near, _CUBE))
        if np.count_nonzero(part) >= min_voxels:
            out[box] |= part
    return out
