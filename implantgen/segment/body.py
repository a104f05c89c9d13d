"""The patient's body on a CT: trunk and limbs, without the scanner table, the air or the gown.

Worked on a coarse grid (about 3 mm pixels, slices about 2 mm apart): the body only has to be
right to a few millimetres, and a 512 x 512 x 400 series then takes about a second.

The table is thin (a curved carbon plate, a few mm) and lies apart from the body, or touches it
along a line: an in-plane opening of a few mm cuts it off, and what remains of it is flat (thin
everywhere) or small.  Arms and legs are kept: they are thick and large.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .components import PLANE8, label
from ..geometry import bbox
from .filters import dilate_cross, erode_cross
from .slices import per_slice

AIR_HU = -400.0  # between air (-1000) and fat (-100): lungs and bowel gas are filled afterwards
OPEN_MM = 4.0  # cuts the table, blankets and cables off the body
MIN_PART_ML = 20.0  # a limb is far bigger; table remnants and cables are not
MIN_THICK_MM = 10.0  # a body part is at least 2 cm thick somewhere; a table top is not
COARSE_MM = 3.0  # pixel size of the coarse grid

_PLANE = np.array([[[0, 0, 0], [0, 0, 0], [0, 0, 0]],
                   [[0, 1, 0], [1, 1, 1], [0, 1, 0]],
                   [[0, 0, 0], [0, 0, 0], [0, 0, 0]]], dtype=bool)  # in-plane 4-connectivity


def disk(radius: int) -> np.ndarray:
    """A 2D disk structuring element of ``radius`` pixels."""
    r = int(radius)
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return (x * x + y * y) <= r * r + 0.5


def by_disk(mask: np.ndarray, radius: int, grow: bool) -> np.ndarray:
    """In-plane binary_dilation (``grow``) or binary_erosion of ``mask`` by disk(radius).  Up to
    radius 2 the disk is the diamond |dj| + |di| <= radius: as many 3x3 cross steps, the same
    pixels (erosion counting the outside as empty, as scipy's) a few times faster."""
    r = int(radius)
    jj, ii = np.mgrid[-r:r + 1, -r:r + 1]
    if not np.array_equal(disk(r), np.abs(jj) + np.abs(ii) <= r):
        op = ndimage.binary_dilation if grow else ndimage.binary_erosion
        return op(mask, structure=disk(r)[None])
    out = mask
    for _ in range(r):
        out = dilate_cross(out, axes=(1, 2)) if grow else erode_cross(out, axes=(1, 2))
    return out if r else mask.copy()


@per_slice()
def fill_holes_2d(mask: np.ndarray) -> np.ndarray:
    """Hole filling slice by slice (k): background not connected to its slice's border.

    One labelling of the background (in-plane connectivity) instead of scipy's iterative
    propagation, which is slow on large volumes; only the background within each slice's box of
    the mask is labelled (what lies beyond it reaches the border in a straight line), and a piece
    that touches that box's edge reaches the border through it.
    """
    if mask.size == 0:
        return mask.copy()
    (j0, j1, rows), (i0, i1, cols) = _span(mask.any(axis=2)), _span(mask.any(axis=1))
    background = ~mask
    background &= rows[:, :, None]
    background &= cols[:, None, :]
    background, n = label(background, structure=_PLANE)
    if n == 0:
        return mask.copy()
    outside = np.zeros(n + 1, dtype=bool)
    k = np.arange(mask.shape[0])
    for edge in (background[k, j0], background[k, j1], background[k, :, i0], background[k, :, i1]):
        outside[edge] = True  # the box's edge rows and columns (an empty slice's: nothing)
    outside[0] = True  # label 0 is the mask itself, and the background beyond the box
    return ~outside[background] | mask


def wide_patches(mask: np.ndarray, spacing, min_mm2: float) -> np.ndarray:
    """The in-plane (8-connected) pieces of ``mask`` of at least ``min_mm2``."""
    # A slice holding less than that in all holds no such piece: only the others are labelled.
    area = np.count_nonzero(mask, axis=(1, 2)) * float(spacing[0] * spacing[1])
    ks = np.flatnonzero(area >= min_mm2)
    if ks.size == mask.shape[0]:
        return _wide_patches(mask, spacing, min_mm2)
    out = np.zeros(mask.shape, dtype=bool)
    if ks.size:
        out[ks] = _wide_patches(mask[ks], spacing, min_mm2)
    return out


@per_slice()
def _wide_patches(mask: np.ndarray, spacing, min_mm2: float) -> np.ndarray:
    labels, n = label(mask, structure=PLANE8)
    if n == 0:
        return mask
    area = np.bincount(labels[mask], minlength=n + 1) * float(spacing[0] * spacing[1])
    keep = area >= min_mm2
    keep[0] = False
    return keep[labels]


def _span(rows: np.ndarray):
    """(first, last, span) of each row of the (k, n) bool ``rows``: the indices of its first and
    last True (0 where none), and True between them."""
    n = rows.shape[1]
    first = np.argmax(rows, axis=1)
    last = n - 1 - np.argmax(rows[:, ::-1], axis=1)
    index = np.arange(n)
    span = (index >= first[:, None]) & (index <= last[:, None]) & rows.any(axis=1)[:, None]
    return first, last, span


@per_slice()
def close_2d(mask: np.ndarray, radius: int) -> np.ndarray:
    """In-plane closing by an octagon of about ``radius`` pixels (alternating cross and square
    steps: far faster than one large disk), without losing what touches the array's edge."""
    r = int(radius)
    if r < 1:
        return mask.copy()
    out = np.pad(mask, ((0, 0), (r, r), (r, r)))
    for i in range(r):
        out = step_2d(out, square=bool(i % 2), grow=True)
    for i in range(r):  # outside the array counts as inside (scipy's border_value=1)
        out = step_2d(out, square=bool(i % 2), grow=False)
    return out[:, r:-r, r:-r] | mask


@per_slice()
def step_2d(mask: np.ndarray, square: bool, grow: bool) -> np.ndarray:
    """One in-plane dilation (``grow``) or erosion by the 3x3 cross or square, as shifted ORs or
    ANDs of the array: the same pixels as ndimage's binary operators (erosion with the outside
    counted as inside), several times faster on boolean volumes."""
    op = np.logical_or if grow else np.logical_and
    out = mask.copy()
    op(out[:, 1:], mask[:, :-1], out=out[:, 1:])
    op(out[:, :-1], mask[:, 1:], out=out[:, :-1])
    src = out.copy() if square else mask  # the square is the cross's row step, then columns
    op(out[:, :, 1:], src[:, :, :-1], out=out[:, :, 1:])
    op(out[:, :, :-1], src[:, :, 1:], out=out[:, :, :-1])
    return out


def coarse_steps(spacing) -> tuple[int, int, int]:
    """(k, j, i) strides giving about COARSE_MM pixels and slices at most ~2 mm apart."""
    step = max(1, int(COARSE_MM // min(spacing[0], spacing[1])))
    return max(1, int(round(2.0 / float(spacing[2])))), step, step


def body_parts(hu: np.ndarray, spacing) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Labelled body parts (uint8, 0 outside) on the coarse grid hu[::sk, ::sj, ::si], and
    the strides (sk, sj, si).

    ``spacing`` is (i, j, k) in mm.  Parts are 3D-connected pieces of the body: usually the
    trunk, and the arms or legs when they lie apart from it.
    """
    steps = coarse_steps(spacing)
    sk, sj, si = steps
    px = float(min(spacing[0], spacing[1])) * sj
    dense = hu[::sk, ::sj, ::si] > AIR_HU
    r = max(1, int(round(OPEN_MM / px)))
    out = np.zeros(dense.shape, dtype=np.uint8)
    # Only the columns around anything denser than air (a limb fills a small part of the field
    # of view): every step below reaches at most r pixels in-plane, so a rim of r + 1 empty
    # pixels keeps them as on the whole grid.  Not cropped along k: thickness is read on every
    # n-th slice from the first.
    box = bbox(dense, (0, r + 1, r + 1))
    if box is not None:
        out[box] = _parts(np.ascontiguousarray(dense[box]), spacing, sk, px, r)
    return out, steps


def _parts(dense: np.ndarray, spacing, sk: int, px: float, r: int) -> np.ndarray:
    """body_parts on the coarse grid's ``dense`` (denser than air)."""
    m = by_disk(by_disk(dense, r, grow=False), r, grow=True)  # binary_opening by the disk
    labels, n = label(m)
    if n == 0:
        return np.zeros(m.shape, dtype=np.uint8)
    voxel_ml = px * px * float(spacing[2]) * sk / 1000.0
    sizes = np.bincount(labels.ravel())
    # Thickness: the largest in-plane distance to the outside, on slices ~1 cm apart.
    thick = np.zeros(n + 1)
    for k in range(0, m.shape[0], max(1, int(round(10.0 / (float(spacing[2]) * sk))))):
        if m[k].any():
            d = ndimage.distance_transform_edt(np.pad(m[k], 1))[1:-1, 1:-1]
            thick = np.maximum(thick, ndimage.maximum(d, labels[k], np.arange(n + 1)))
    keep = sizes * voxel_ml >= MIN_PART_ML
    keep &= thick * px >= MIN_THICK_MM
    keep[0] = False
    if not keep.any():  # a phantom or a small part only: keep the largest piece
        keep[int(np.argmax(sizes[1:])) + 1] = True
    body = keep[labels]
    # Give back what the opening took from the kept parts' edges, then close lungs and gas.
    body = by_disk(body, r, grow=True) & dense | body
    body = fill_holes_2d(body)
    parts, n = label(body)
    order = _largest_first(parts, n)
    return order[parts].astype(np.uint8)


def _largest_first(labels: np.ndarray, n: int) -> np.ndarray:
    """A lookup that renumbers parts 1, 2, ... from the largest (deterministic)."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    ranks = np.argsort(-sizes, kind="stable")[: min(n, 255)]
    lut = np.zeros(n + 1, dtype=np.int64)
    lut[ranks + 1] = np.arange(1, len(ranks) + 1)
    return lut


def upsample(coarse: np.ndarray, steps, roi) -> np.ndarray:
    """The coarse map on the full grid, cropped to ``roi`` (k, j, i slices) of the full grid."""
    # One axis at a time, the finest last: the same values as one fancy index over all three,
    # without the full-size index arithmetic.
    out = coarse
    for axis, (sl, st) in enumerate(zip(roi, steps)):
        index = np.minimum(np.arange(sl.start, sl.stop) // st, coarse.shape[axis] - 1)
        out = np.take(out, index, axis=axis)
    return out


def full_bbox(coarse_mask: np.ndarray, steps, shape, pad: int = 0):
    """The full-grid (k, j, i) slices around a coarse mask, grown by ``pad`` full voxels."""
    if not coarse_mask.any():
        return None
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(coarse_mask.any(axis=other))
        lo = int(idx[0]) * steps[axis] - pad
        hi = (int(idx[-1]) + 1) * steps[axis] + pad
        out.append(slice(max(lo, 0), min(hi, shape[axis])))
    return tuple(out)
