"""Gantry tilt: slices that are parallel but stacked obliquely (a sheared grid).

With a tilted gantry the image plane is tilted while the table moves along the scanner axis, so
each slice is shifted in its own plane against the one before.  Shifting every slice back in
its plane puts the stack on a regular grid whose third axis is the slice normal: the anatomy
stays where it was in patient coordinates, only the voxel grid changes.
"""

from __future__ import annotations

import numpy as np


def resample_sheared_stack(hu: np.ndarray, positions: np.ndarray, axes: np.ndarray,
                           spacing: np.ndarray) -> np.ndarray:
    """Resample a sheared stack onto the regular grid with origin ``positions[0]``.

    ``hu`` is (k, j, i), ``positions`` the (k, 3) ImagePositionPatient of each slice, ``axes`` the
    3x3 matrix whose columns are the row, column and normal directions, ``spacing`` (i, j, k).
    Output voxel (k, j, i) is at positions[0] + axes @ (spacing * (i, j, k)).
    """
    from scipy import ndimage  # here: loading an untilted series needs no scipy (a third of a second)

    out = np.empty(hu.shape, dtype=np.float32 if hu.dtype.kind == "f" else hu.dtype)
    fill = float(hu.min())
    rel = positions - positions[0]
    in_plane = rel - np.outer(rel @ axes[:, 2], axes[:, 2])
    for k in range(hu.shape[0]):
        # Slice k's pixel (i', j') sits at grid (i' + di, j' + dj): shift by (dj, di) rows/cols.
        di = in_plane[k] @ axes[:, 0] / spacing[0]
        dj = in_plane[k] @ axes[:, 1] / spacing[1]
        shifted = ndimage.shift(hu[k].astype(np.float32), (dj, di), order=1, mode="constant", cval=fill)
        out[k] = np.rint(shifted) if out.dtype.kind in "iu" else shifted
    return out
