"""The solid of a long bone, closed even where a lesion has broken its cortex.

Plain hole filling fails there: the marrow cavity opens through the break.  A diaphysis cut
across its axis is convex, so each cross-section that holds one piece of bone is replaced by its
convex hull; cross-sections with several pieces (near a joint) are only hole-filled.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image

from ..records import Volume


_MIN_PIECE_PX = 6


def slicing_axis(volume: Volume, direction) -> int:
    """The array axis (0 = k, 1 = j, 2 = i) closest to ``direction``: cut across it."""
    cosines = np.abs(volume.direction.T @ np.asarray(direction, dtype=float))  # (i, j, k)
    return int(2 - np.argmax(cosines))


def long_bone_solid(mask: np.ndarray, axis: int) -> np.ndarray:
    """Fill ``mask`` cross-section by cross-section across array ``axis``."""
    out = np.zeros_like(mask, dtype=bool)
    for n in range(mask.shape[axis]):
        index = [slice(None)] * 3
        index[axis] = n
        section = mask[tuple(index)]
        if not section.any():
            continue
        labels, count = ndimage.label(section)
        sizes = np.bincount(labels.ravel())[1:]
        if np.count_nonzero(sizes >= _MIN_PIECE_PX) <= 1:  # specks of noise are not pieces
            out[tuple(index)] = convex_hull_image(section)
        else:
            out[tuple(index)] = ndimage.binary_fill_holes(section)
    return out
