"""Measurements of each separated bone that naming and clean-up rely on.

All positions are LPS millimetres (x towards the patient's left, y posterior, z superior), so
the rules do not depend on how the array is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .components import find_objects, label


@dataclass(frozen=True)
class BoneFeatures:
    label: int
    volume_ml: float
    centroid: np.ndarray  # LPS mm
    low: np.ndarray  # LPS mm, smallest x, y, z of its voxel centres
    high: np.ndarray  # LPS mm, largest x, y, z
    depth_mm: float  # largest distance from a voxel inside to the bone's surface
    marrow_fraction: float  # share of the solid that is fatty marrow (a long bone's canal)
    length_mm: float  # extent along the principal axis
    width_mm: float  # extent along the second axis
    axis: np.ndarray  # principal direction (unit, LPS), pointing superior
    dense_fraction: float  # share of voxels denser than ``dense_hu`` (cortex, not cartilage)

    @property
    def elongation(self) -> float:
        return self.length_mm / max(self.width_mm, 1e-6)


def bone_features(labels: np.ndarray, volume_affine: np.ndarray, spacing, marrow: np.ndarray,
                  g: np.ndarray, dense_hu: float, max_points: int = 200_000) -> list[BoneFeatures]:
    """Features of every label in ``labels`` (k, j, i); ``volume_affine`` maps (i, j, k, 1) to LPS."""
    spacing = np.asarray(spacing, dtype=float)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    out = []
    for lab, box in enumerate(find_objects(labels), start=1):
        if box is None:
            continue
        m = labels[box] == lab
        n = int(np.count_nonzero(m))
        kji = np.argwhere(m)
        if len(kji) > max_points:  # a fixed, even subsample: deterministic
            kji = kji[:: int(np.ceil(len(kji) / max_points))]
        kji = kji + np.array([s.start for s in box])
        ijk1 = np.column_stack([kji[:, ::-1], np.ones(len(kji))])
        pts = ijk1 @ volume_affine[:3].T
        c = pts.mean(axis=0)
        length, width, axis = _extent(pts - c)
        depth = max_depth(m, spacing[::-1])
        out.append(BoneFeatures(
            label=lab, volume_ml=n * voxel_ml, centroid=c, low=pts.min(axis=0), high=pts.max(axis=0),
            depth_mm=float(depth),
            marrow_fraction=float(np.count_nonzero(marrow[box][m])) / n,
            length_mm=length, width_mm=width, axis=axis,
            dense_fraction=float(np.count_nonzero(g[box][m] > dense_hu)) / n,
        ))
    return out


_DIRECT_VOXELS = 200_000  # below this the whole distance map is cheap enough
_BLOCK = 2  # voxels per block side on the coarse grid of max_depth (pairs: _halves)


def max_depth(mask: np.ndarray, spacing_kji) -> float:
    """The largest distance (mm) from a voxel of ``mask`` to the outside, the box's edge counting
    as outside: distance_transform_edt(np.pad(mask, 1)).max(), without the map of a whole bone.

    On blocks of 2 x 2 x 2 voxels, the distance from a block's centre to the nearest block
    holding outside voxels bounds every voxel's distance in it to within twice the distance
    from a block's centre to its voxels (h).  Only blocks whose upper bound reaches the best
    lower bound can hold the deepest voxel; the exact map is made on their box, grown by that
    upper bound so that every outside voxel that near lies in it: the same maximum.  (A block
    holding only outside voxels has no upper bound to offer and none of its voxels counts.)
    """
    m = np.pad(mask, 1)
    sampling = np.asarray(spacing_kji, dtype=float)
    if m.size <= _DIRECT_VOXELS:
        return float(ndimage.distance_transform_edt(m, sampling=sampling).max())
    f = _BLOCK
    shape = [-(-n // f) * f for n in m.shape]  # outside voxels added beyond the ring: no nearer
    grid = np.zeros(shape, dtype=np.uint8)
    grid[tuple(slice(0, n) for n in m.shape)] = m
    # Voxels per block as sums of the halves along each axis in turn (not a reduction over a
    # 6-d view's strided axes: 60 times slower); at most 8, no overflow.
    for axis in range(3):
        grid = _halves(grid, axis)
    inside, touched = grid == f ** 3, grid > 0
    centre = ndimage.distance_transform_edt(inside, sampling=sampling * f)
    h2 = 2.0 * float(np.sqrt(((((f - 1) / 2.0) * sampling) ** 2).sum()))
    upper = centre + h2
    candidates = touched & (upper >= float((centre[touched] - h2).max()))
    # The candidates cluster where the bone is thickest (a femur: its head and its condyles):
    # each cluster on its own box, the highest upper bound first, while it can still win.
    groups, n = label(candidates, structure=np.ones((3, 3, 3), dtype=bool))
    slices = find_objects(groups, n)
    reach = [float(upper[sl][groups[sl] == g].max()) for g, sl in enumerate(slices, start=1)]
    best = -np.inf
    for g in np.argsort(-np.asarray(reach), kind="stable"):
        if reach[g] < best:
            break
        # The group's voxels on the fine grid, then the box around them grown by its reach.
        cells = groups[slices[g]] == g + 1
        start = [sl.start * f for sl in slices[g]]
        fine = np.repeat(np.repeat(np.repeat(cells, f, 0), f, 1), f, 2)
        fine = fine[tuple(slice(0, k - a) for k, a in zip(m.shape, start))]  # the padding off
        region = tuple(slice(a, a + s) for a, s in zip(start, fine.shape))
        fine &= m[region]
        pad = np.ceil(reach[g] / sampling).astype(int) + 1
        box = tuple(slice(max(r.start - p, 0), min(r.stop + p, k)) for r, p, k in zip(region, pad, m.shape))
        depth = ndimage.distance_transform_edt(m[box], sampling=sampling)
        inner = tuple(slice(r.start - b.start, r.stop - b.start) for r, b in zip(region, box))
        best = max(best, float(depth[inner][fine].max()))
    return best


def _halves(a: np.ndarray, axis: int) -> np.ndarray:
    """Sums of neighbouring pairs of ``a`` along ``axis`` (even length)."""
    lo = [slice(None)] * 3
    hi = [slice(None)] * 3
    lo[axis], hi[axis] = slice(0, None, 2), slice(1, None, 2)
    return a[tuple(lo)] + a[tuple(hi)]


def _extent(p: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Extents along the first two principal axes, and the first axis (pointing superior)."""
    if len(p) < 3:
        return 0.0, 0.0, np.array([0.0, 0.0, 1.0])
    _, _, vt = np.linalg.svd(p - p.mean(axis=0), full_matrices=False)
    a = vt[0] if vt[0][2] >= 0 else -vt[0]
    s0, s1 = p @ vt[0], p @ vt[1]
    return float(np.ptp(s0)), float(np.ptp(s1)), a


def touching_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    """Pairs (a, b), a < b, of labels that share a voxel face."""
    pairs = set()
    if labels.size == 0 or int(labels.max()) < 2:  # one bone or none: nothing to pair
        return pairs
    for axis in range(3):
        n = labels.shape[axis]
        a = np.take(labels, np.arange(n - 1), axis=axis)
        b = np.take(labels, np.arange(1, n), axis=axis)
        m = (a != b) & (a > 0) & (b > 0)
        if m.any():
            lo = np.minimum(a[m], b[m]).astype(np.int64)
            hi = np.maximum(a[m], b[m]).astype(np.int64)
            for key in np.unique(lo * (int(labels.max()) + 1) + hi):
                pairs.add((int(key // (int(labels.max()) + 1)), int(key % (int(labels.max()) + 1))))
    return pairs
