"""The marrow's normal change from fat to trabecular bone, which passes through a lesion's
densities: lytic candidates that are that change, not a lesion (segment/lesion.py)."""

from __future__ import annotations

import numpy as np

from ..geometry import bbox, index_points
from ..records import Volume


def positions(volume: Volume, kji: np.ndarray, d: np.ndarray) -> np.ndarray:
    """index_to_physical(voxel centres at (N, 3) ``kji``) @ ``d``, to the bit.  The product with
    ``d`` stays a matrix product: its rounding (fused multiply-adds) is not numpy's elementwise
    one, and a row's result depends on that row only."""
    return index_points(volume, kji) @ d


def transitions(cands, hs, sol, kji_to_s, hi_lytic: float, reach_mm: float = 8.0,
                fat_hu: float = 0.0) -> list:
    """Lytic candidates that are the marrow's normal change from fat to trabecular bone.

    Towards the metaphysis fatty marrow turns into trabecular bone, and the change passes
    through soft-tissue densities: a disc across the canal with fat on one side and denser
    bone on the other.  A lesion has marrow on both sides (or a bone end).  Trabecular bone
    goes on to the bone's end; a mixed lesion's sclerotic end, past its lytic part, reads as
    dense but has fatty marrow (below ``fat_hu``) right beyond it: not a transition (a 28 mm
    whole-circumference lesion on 1.5 x 3 mm voxels, its lower 2-3 slices mostly islands
    (median 192 HU over them), was dropped as one and no lesion was found).
    """
    spans = []  # each lytic candidate's positions along the axis
    for c in cands:
        if c.type == "lytic":
            box = bbox(c.mask)  # the same indices, in the same order, from the candidate's box
            s = kji_to_s(np.argwhere(c.mask[box]) + np.array([b.start for b in box]))
            spans.append((c, s.min(), s.max()))
    if not spans:
        return []
    # The canal is read on the slices that can hold a level within reach of a candidate (with a
    # margin far above rounding): the positions of a whole bone's canal cost more than the rest.
    slices = slices_within(kji_to_s, sol.shape, [(lo - 2 * reach_mm, hi + 2 * reach_mm) for _, lo, hi in spans])
    canal = sol[slices] & (hs[slices] < 600)
    s_canal = kji_to_s(np.argwhere(canal) + [slices.start, 0, 0])
    hs_canal = hs[slices][canal]
    out = []
    for c, lo, hi in spans:
        for sign, end in ((1, hi), (-1, lo)):
            past = sign * (s_canal - end)  # mm beyond the candidate's end
            band, beyond = (past > 0) & (past <= reach_mm), (past > reach_mm) & (past <= 2 * reach_mm)
            if band.sum() > 10 and np.median(hs_canal[band]) > hi_lytic and not (
                    beyond.sum() > 10 and np.median(hs_canal[beyond]) < fat_hu):
                out.append(c)
                break
    return out


def slices_within(kji_to_s, shape, spans, margin_mm: float = 1e-3) -> slice:
    """The run of slices (axis 0) of a grid of ``shape`` that holds every voxel whose position
    (kji_to_s) lies in one of ``spans`` ((lo, hi) mm): a slice's positions span those at the
    corners of its plane (they are linear in the indices)."""
    k = np.arange(shape[0])
    corners = [(j, i) for j in (0, shape[1] - 1) for i in (0, shape[2] - 1)]
    s = np.stack([kji_to_s(np.stack([k, np.full_like(k, j), np.full_like(k, i)], axis=1))
                  for j, i in corners], axis=1)
    lo, hi = s.min(axis=1) - margin_mm, s.max(axis=1) + margin_mm
    keep = np.zeros(shape[0], dtype=bool)
    for a, b in spans:
        keep |= (hi >= a) & (lo <= b)
    if not keep.any():
        return slice(0, 0)
    idx = np.flatnonzero(keep)
    return slice(int(idx[0]), int(idx[-1]) + 1)
