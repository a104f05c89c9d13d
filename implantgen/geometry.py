"""Small geometric helpers shared by the stages: ROIs, voxel positions, projections.

Arrays are (k, j, i); points are (N, 3) LPS millimetres (see records.Volume).
"""

from __future__ import annotations

import numpy as np

from .records import Volume


def bbox(mask: np.ndarray, pad: int | tuple = 0) -> tuple[slice, slice, slice] | None:
    """The (k, j, i) slices of the box around ``mask``, grown by ``pad`` voxels, or None."""
    if mask.ndim != 3:
        return _bbox_nd(mask, pad)
    # One pass over the whole array (its projection along k), then only the columns it spans:
    # a bone's mask is a small part of a whole CT, and this runs on full-size masks often.
    plane = mask.any(axis=0)
    rows = np.flatnonzero(plane.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(plane.any(axis=0))
    ks = np.flatnonzero(mask[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].any(axis=(1, 2)))
    box = tuple(slice(int(idx[0]), int(idx[-1]) + 1) for idx in (ks, rows, cols))
    return pad_box(box, pad, mask.shape)


def box_affine(affine: np.ndarray, box) -> np.ndarray:
    """The (i, j, k, 1) -> LPS ``affine`` of an array, for its sub-array ``box`` ((k, j, i) slices)."""
    out = np.array(affine, dtype=float, copy=True)
    out[:3, 3] = out[:3, :3] @ [s.start for s in box[::-1]] + out[:3, 3]
    return out


def pad_box(box: tuple, pad: int | tuple, shape) -> tuple:
    """A box of slices (as bbox gives) grown by ``pad`` voxels, clipped to ``shape``: bbox(mask,
    pad) from bbox(mask) without another pass over the mask."""
    pad = np.broadcast_to(np.asarray(pad), (len(box),))
    return tuple(slice(max(b.start - int(p), 0), min(b.stop + int(p), n)) for b, p, n in zip(box, pad, shape))


def offset_box(outer: tuple, inner: tuple) -> tuple:
    """``inner`` (a box of the array ``outer`` cuts out) as a box of the whole array."""
    return tuple(slice(o.start + i.start, o.start + i.stop) for o, i in zip(outer, inner))


def _bbox_nd(mask: np.ndarray, pad) -> tuple[slice, ...] | None:
    if not mask.any():
        return None
    pad = np.broadcast_to(np.asarray(pad), (mask.ndim,))
    out = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        out.append(slice(max(int(idx[0]) - int(pad[axis]), 0),
                         min(int(idx[-1]) + 1 + int(pad[axis]), mask.shape[axis])))
    return tuple(out)


def sub_volume(volume: Volume, roi: tuple[slice, slice, slice]) -> Volume:
    """A view of ``volume`` restricted to ``roi`` with the geometry that keeps it in place."""
    start = np.array([roi[2].start, roi[1].start, roi[0].start], dtype=float)  # (i, j, k)
    origin = volume.index_to_physical(start[None])[0]
    return Volume(array=volume.array[roi], spacing=volume.spacing, origin=origin,
                  direction=volume.direction, summary=volume.summary)


def voxel_points(volume: Volume, mask: np.ndarray, box=None) -> np.ndarray:
    """(N, 3) LPS positions of the voxel centres in ``mask`` (in C order of their indices).
    ``box``: a box (of slices) that holds the mask, when the caller has one: no pass over it."""
    roi = bbox(mask) if box is None else box
    if roi is None:
        return np.zeros((0, 3))
    # argwhere on the mask's box only: a bone fills a small part of a whole CT.
    return index_points(volume, np.argwhere(mask[roi]) + np.array([r.start for r in roi]))


def axis_aligned(volume: Volume) -> bool:
    """The grid's axes are the patient axes (a direction matrix with zeros off its diagonal)."""
    d = np.asarray(volume.direction, dtype=float)
    return np.count_nonzero(d - np.diag(np.diag(d))) == 0


def index_points(volume: Volume, kji: np.ndarray) -> np.ndarray:
    """(N, 3) LPS positions of the voxel centres at integer indices ``kji`` (N, 3), as
    ``index_to_physical`` gives them, to the bit."""
    if axis_aligned(volume):
        scale = np.diag(np.asarray(volume.direction, dtype=float)) * np.asarray(volume.spacing, dtype=float)
        # An axis-aligned grid (most CTs): x = i * dx + x0, the same numbers as the matrix
        # product (its other terms are exact zeros), without a BLAS call; and unlike the matrix
        # product's, a row's numbers do not depend on the other rows given with it.
        out = np.empty(kji.shape, dtype=float)
        for a in range(3):
            np.multiply(kji[:, 2 - a], scale[a], out=out[:, a])
            out[:, a] += volume.origin[a]
        return out
    return volume.index_to_physical(kji[:, ::-1].astype(float))


def footprint(volume: Volume, direction) -> float:
    """Length (mm) of one voxel's box projected on ``direction``: its extent along it."""
    d = np.asarray(direction, dtype=float)
    return float(np.abs((volume.direction * volume.spacing[None, :]).T @ d).sum())


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def perpendicular_frame(d) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to ``d`` and to each other (a right-handed frame)."""
    d = unit(d)
    helper = np.array([1.0, 0, 0]) if abs(d[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = unit(helper - (helper @ d) * d)
    return e1, np.cross(d, e1)


def angle_deg(a, b) -> float:
    """Angle between two directions (0..180 degrees)."""
    c = float(np.clip(unit(a) @ unit(b), -1.0, 1.0))
    return float(np.degrees(np.arccos(c)))


def filter_size(spacing_kji, width: int = 3) -> tuple[int, ...]:
    """A filter footprint ``width`` voxels wide along the fine axes and 1 across thick slices,
    where filtering would smear a structure's end into the next slice."""
    spacing_kji = np.asarray(spacing_kji, dtype=float)
    return tuple(width if sp <= 1.5 * spacing_kji.min() else 1 for sp in spacing_kji)
