"""The patient's body on a CT: trunk and limbs, without the scanner table, the air or the gown.

Worked on a coarse grid (about 2 mm pixels): the body only has to be right to a few
millimetres, and a 512 x 512 x 400 series then takes a fraction of a second.

The table is thin (a curved carbon plate, a few mm) and lies apart from the body, or touches it
along a line: an in-plane opening of a few mm cuts it off, and what remains of it is flat (thin
everywhere) or small.  Arms and legs are kept: they are thick and large.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

AIR_HU = -400.0  # between air (-1000) and fat (-100): lungs and bowel gas are filled afterwards
OPEN_MM = 4.0  # cuts the table, blankets and cables off the body
MIN_PART_ML = 20.0  # a limb is far bigger; table remnants and cables are not
MIN_THICK_MM = 10.0  # a body part is at least 2 cm thick somewhere; a table top is not
COARSE_MM = 2.0

_PLANE = np.array([[[0, 0, 0], [0, 0, 0], [0, 0, 0]],
                   [[0, 1, 0], [1, 1, 1], [0, 1, 0]],
                   [[0, 0, 0], [0, 0, 0], [0, 0, 0]]], dtype=bool)  # in-plane 4-connectivity


def disk(radius: int) -> np.ndarray:
    r = int(radius)
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return (x * x + y * y) <= r * r + 0.5


def fill_holes_2d(mask: np.ndarray) -> np.ndarray:
    """Hole filling slice by slice (k), in one call: no connectivity across slices."""
    return ndimage.binary_fill_holes(mask, structure=_PLANE)


def coarse_step(spacing) -> int:
    return max(1, int(COARSE_MM // min(spacing[0], spacing[1])))


def body_parts(hu: np.ndarray, spacing) -> tuple[np.ndarray, int]:
    """Labelled body parts (uint8, 0 outside) on the coarse grid hu[:, ::step, ::step], and step.

    ``spacing`` is (i, j, k) in mm.  Parts are 3D-connected pieces of the body: usually the
    trunk, and the arms or legs when they lie apart from it.
    """
    step = coarse_step(spacing)
    px = float(min(spacing[0], spacing[1])) * step
    m = hu[:, ::step, ::step] > AIR_HU
    r = max(1, int(round(OPEN_MM / px)))
    m = ndimage.binary_opening(m, structure=disk(r)[None])
    labels, n = ndimage.label(m)
    if n == 0:
        return np.zeros(m.shape, dtype=np.uint8), step
    voxel_ml = px * px * float(spacing[2]) / 1000.0
    sizes = np.bincount(labels.ravel())
    # Thickness: the largest in-plane distance to the outside, on slices ~1 cm apart.
    thick = np.zeros(n + 1)
    for k in range(0, m.shape[0], max(1, int(round(10.0 / float(spacing[2]))))):
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
    body = ndimage.binary_dilation(body, structure=disk(r)[None]) & (hu[:, ::step, ::step] > AIR_HU) | body
    body = fill_holes_2d(body)
    parts, n = ndimage.label(body)
    order = _largest_first(parts, n)
    return order[parts].astype(np.uint8), step


def _largest_first(labels: np.ndarray, n: int) -> np.ndarray:
    """A lookup that renumbers parts 1, 2, ... from the largest (deterministic)."""
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    ranks = np.argsort(-sizes, kind="stable")[: min(n, 255)]
    lut = np.zeros(n + 1, dtype=np.int64)
    lut[ranks + 1] = np.arange(1, len(ranks) + 1)
    return lut


def upsample(coarse: np.ndarray, step: int, roi) -> np.ndarray:
    """The coarse map on the full grid, cropped to ``roi`` (k, j, i slices) of the full grid."""
    if step == 1:
        return coarse[roi]
    kk, jj, ii = roi
    j = np.arange(jj.start, jj.stop) // step
    i = np.arange(ii.start, ii.stop) // step
    j = np.minimum(j, coarse.shape[1] - 1)
    i = np.minimum(i, coarse.shape[2] - 1)
    return coarse[kk][:, j][:, :, i]


def full_bbox(coarse_mask: np.ndarray, step: int, shape, pad: int = 0):
    """The full-grid (k, j, i) slices around a coarse mask, grown by ``pad`` full voxels."""
    if not coarse_mask.any():
        return None
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(coarse_mask.any(axis=other))
        s = step if axis > 0 else 1
        lo = int(idx[0]) * s - pad
        hi = (int(idx[-1]) + 1) * s + pad
        out.append(slice(max(lo, 0), min(hi, shape[axis])))
    return tuple(out)
