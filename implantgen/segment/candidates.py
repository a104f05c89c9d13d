"""Lesion candidates: the connected pieces of a density window inside a bone, and the small
mask operations the lesion search works them with (segment/lesion.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..geometry import bbox, filter_size, offset_box
from .components import label
from .filters import dilate_cross, erode_cross

MIN_PIECE = 8  # voxels: smaller lytic pieces are noise, larger ones may be joined by islands


@dataclass
class Candidate:
    mask: np.ndarray  # bool, ROI grid
    type: str
    voxels: int
    centre_kji: np.ndarray


def opened(mask: np.ndarray, spacing_kji=None) -> np.ndarray:
    # One voxel of opening removes the thin partial-volume shells between marrow, cortex and
    # muscle, whose mixed values fall into any lesion window.  Given the spacing, not across
    # thick slices: there a lesion's end is one slice thick and would be opened away.
    axes = range(3)
    if spacing_kji is not None:
        axes = [axis for axis, n in enumerate(filter_size(spacing_kji)) if n > 1]
    # binary_opening with that cross, on the mask's box with two empty voxels around (or the
    # array's edge), as shifted whole-array operations: the same voxels.
    out = np.zeros_like(mask)
    box = bbox(mask, 2)
    if box is not None:
        out[box] = dilate_cross(erode_cross(mask[box], axes), axes)
    return out


def dilated(mask: np.ndarray, iterations: int) -> np.ndarray:
    """ndimage.binary_dilation(mask, iterations=...) worked on the mask's box grown by as much."""
    out = np.zeros_like(mask)
    box = bbox(mask, iterations + 1)
    if box is not None:
        out[box] = ndimage.binary_dilation(mask[box], iterations=iterations)
    return out


def centre(mask: np.ndarray) -> np.ndarray:
    """ndimage.center_of_mass(mask), from the mask's box: the index sums are whole numbers,
    exact in floating point, so the quotient is the same float."""
    box = bbox(mask)
    kji = np.nonzero(mask[box])
    n = len(kji[0])
    return np.array([float(int(idx.sum()) + n * b.start) / n for idx, b in zip(kji, box)])


def window_pieces(mask: np.ndarray, kind: str, min_voxels: int) -> list[Candidate]:
    # Labelled on the mask's box: the pieces are numbered in the same (raster) order.
    box = bbox(mask)
    if box is None:
        return []
    labels, n = label(mask[box])
    sizes = np.bincount(labels.ravel())[1:]
    boxes = ndimage.find_objects(labels)
    out = []
    for i in np.flatnonzero(sizes >= min_voxels):  # each big piece set on its own box
        piece = np.zeros_like(mask)
        piece[offset_box(box, boxes[i])] = labels[boxes[i]] == i + 1
        out.append(Candidate(piece, kind, int(sizes[i]), centre(piece)))
    return out


# A seed is put in the lesion: a candidate that neither holds it nor comes this close is another
# finding, not the one pointed at (on a real proximal femur, a fatty region 50-66 mm away was
# taken for a lesion the search had missed).
SEED_REACH_MM = 10.0


def pick(cands: list[Candidate], seed_kji, spacing_kji) -> Candidate | None:
    """The first candidate (the caller orders them), or with a seed the one holding it, else
    the nearest within SEED_REACH_MM of it (nearest voxel), else None."""
    if seed_kji is None:
        return cands[0]
    for c in cands:
        if holds(c, seed_kji):
            return c
    dist = [_nearest_mm(c.mask, seed_kji, spacing_kji) for c in cands]
    return cands[int(np.argmin(dist))] if min(dist) <= SEED_REACH_MM else None


def holds(c: Candidate, seed_kji) -> bool:
    """Whether candidate ``c`` holds the voxel of ``seed_kji``."""
    seed = np.round(seed_kji).astype(int)
    return all(0 <= s < n for s, n in zip(seed, c.mask.shape)) and bool(c.mask[tuple(seed)])


def _nearest_mm(mask: np.ndarray, point_kji, spacing_kji) -> float:
    box = bbox(mask)
    kji = np.argwhere(mask[box]) + np.array([b.start for b in box])
    return float(np.min(np.linalg.norm((kji - np.asarray(point_kji)) * np.asarray(spacing_kji), axis=1)))
