"""The long axis of a bone: the centre line of its cross-sections, not thrown off by a lesion.

The bone's voxels are binned by their position along a trial axis; each bin's centroid is a
point of the centre line and its voxel count gives the cross-sectional area.  A line fitted to
the centroids of the shaft (leaving out the lesion's levels and the flared ends) is the axis;
near each cut, a line fitted to the nearby centroids gives the local direction.  Bins of a
cylinder cut across its axis have their centroid on the axis whatever the voxel grid, so tilted
bones come out as exactly as straight ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import footprint, unit, voxel_points
from ..records import Volume

_MAX_POINTS = 400_000  # enough for centroids to 0.05 mm; keeps big bones fast
_SHAFT_AREA_FACTOR = 1.35  # a level belongs to the shaft while its area is within this of the narrowest


@dataclass(frozen=True, eq=False)
class BoneAxis:
    point: np.ndarray  # on the axis, at the middle of the bone's extent
    direction: np.ndarray  # unit; points superior (+z) for a bone that runs head to foot
    extent: tuple[float, float]  # the bone's ends along the axis, from ``point`` (mm)
    levels: np.ndarray  # bin centres along the axis, from ``point``
    centres: np.ndarray  # (n, 3) cross-section centroids (LPS)
    areas: np.ndarray  # (n,) cross-sectional areas (mm^2)
    cut_by_scan: tuple[bool, bool]  # the bone runs out of the scan at its low / high end
    bin_mm: float
    # Where the scan cuts the bone obliquely, how far along the axis its cut face runs (at the low
    # / high end; 0 where the bone ends in the scan): cross-sections are whole only short of it.
    scan_face_mm: tuple[float, float] = (0.0, 0.0)

    def at(self, s: float) -> np.ndarray:
        return self.point + s * self.direction

    def position(self, points) -> np.ndarray:
        """Positions of (N, 3) points along the axis, from ``point``."""
        return (np.atleast_2d(points) - self.point) @ self.direction

    def shaft(self) -> tuple[float, float]:
        """The diaphysis: the run of levels around the middle whose area stays near the narrowest.

        The narrowest is taken in the middle 60% of the bone, so that the tapering tips of
        rounded ends do not count as narrow shaft.  Worked out once (local() asks at every level).
        """
        if "_shaft" not in self.__dict__:
            object.__setattr__(self, "_shaft", self._find_shaft())
        return self._shaft

    def _find_shaft(self) -> tuple[float, float]:
        lo, hi = self.extent
        middle = (self.levels > lo + 0.2 * (hi - lo)) & (self.levels < hi - 0.2 * (hi - lo))
        if not middle.any():
            return float(self.levels[0]), float(self.levels[-1])
        narrow = np.percentile(self.areas[middle], 20)
        ok = self.areas <= _SHAFT_AREA_FACTOR * narrow
        centre = int(np.flatnonzero(middle)[np.argmin(self.areas[middle])])
        a = b = centre
        while a > 0 and ok[a - 1]:
            a -= 1
        while b < len(ok) - 1 and ok[b + 1]:
            b += 1
        return float(self.levels[a]), float(self.levels[b])

    def local(self, s: float, window_mm: float = 40.0, exclude=None) -> tuple[np.ndarray, np.ndarray]:
        """(point on the centre line at s, local direction) from centroids within the window."""
        keep = np.abs(self.levels - s) <= window_mm
        if exclude is not None:
            keep &= (self.levels < exclude[0]) | (self.levels > exclude[1])
        lo, hi = self.shaft()
        keep &= (self.levels >= lo) & (self.levels <= hi)
        if keep.sum() < 4 or np.ptp(self.levels[keep]) < 10.0:
            return self.at(s), self.direction
        c, d = _fit_line(self.centres[keep], self.areas[keep])
        d = d if d @ self.direction > 0 else -d
        # The point of that local line at the plane through at(s) across the local direction.
        t = (self.at(s) - c) @ d
        return c + t * d, d


def _orient(d: np.ndarray) -> np.ndarray:
    # Superior (+z) first; a horizontal bone points to the patient's left (+x), then posterior.
    for axis in (2, 0, 1):
        if abs(d[axis]) > 1e-6:
            return d if d[axis] > 0 else -d
    return d


def _fit_line(points: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = weights / weights.sum()
    c = (points * w[:, None]).sum(axis=0)
    _, _, vt = np.linalg.svd((points - c) * np.sqrt(w)[:, None], full_matrices=False)
    return c, unit(vt[0])


def _bins(points, columns, c, d, bin_mm):
    """(levels, centroids, counts of the non-empty bins, each point's position s) along d.
    ``columns``: the points' coordinates as three contiguous rows (bincount's weights would copy
    each strided column of ``points`` on every call)."""
    s = (points - c) @ d
    s_min = s.min()
    idx = np.floor((s - s_min) / bin_mm).astype(int)
    n = idx.max() + 1
    counts = np.bincount(idx, minlength=n)
    sums = np.stack([np.bincount(idx, weights=columns[a], minlength=n) for a in range(3)], axis=1)
    ok = counts > 0
    levels = s_min + (np.arange(n) + 0.5) * bin_mm
    return levels[ok], sums[ok] / counts[ok, None], counts[ok], s


@dataclass(frozen=True, eq=False)
class AxisStart:
    """What bone_axis works out from a solid's voxels alone, before any levels are left out: a
    second axis of the same solid (without its lesion's levels) starts from it."""
    points: np.ndarray  # voxel_points(volume, solid): all of them
    sample: np.ndarray  # the points fitted (a fixed, even subsample of a big bone)
    columns: np.ndarray  # the sample's coordinates as three contiguous rows (bincount's weights)
    voxel_mm3: float  # volume per sampled point
    c: np.ndarray
    d: np.ndarray
    edges: np.ndarray | None  # (k, j, i) of the solid's voxels on the grid's faces, or None


def axis_start(volume: Volume, solid: np.ndarray, points: np.ndarray | None = None) -> AxisStart:
    """The first fit of bone_axis: the principal direction of the solid's voxels.
    ``points``: voxel_points(volume, solid), when the caller has them already."""
    if points is None:
        points = voxel_points(volume, solid)
    sample = points
    if len(points) > _MAX_POINTS:  # a fixed, even subsample: deterministic
        sample = points[:: int(np.ceil(len(points) / _MAX_POINTS))]
    voxel_mm3 = float(np.prod(volume.spacing)) * (len(points) / len(sample))
    c = sample.mean(axis=0)
    _, _, vt = np.linalg.svd(sample - c, full_matrices=False)
    return AxisStart(points, sample, np.ascontiguousarray(sample.T), voxel_mm3, c,
                     _orient(unit(vt[0])), _edge_voxels(solid))


def bone_axis(volume: Volume, solid: np.ndarray, exclude_points=None, bin_mm: float | None = None,
              points: np.ndarray | None = None, start: AxisStart | None = None) -> BoneAxis:
    """The axis of the bone ``solid`` (bool, CT grid).

    ``exclude_points`` (N, 3 LPS), e.g. a lesion's voxels, keeps those levels out of the fit.
    ``points``: voxel_points(volume, solid), when the caller has them already; ``start``:
    axis_start(volume, solid), when the caller has it (its points then).
    """
    if start is None:
        start = axis_start(volume, solid, points)
    points, columns, voxel_mm3 = start.sample, start.columns, start.voxel_mm3
    c, d = start.c, start.d
    if bin_mm is None:
        # Whole numbers of voxel footprints per bin: otherwise bins alias with the slices.
        step = footprint(volume, d)
        bin_mm = step * max(1, int(np.ceil(2.0 / step)))
    binned = None  # the bins along the latest (c, d)
    for _ in range(3):  # refit from the shaft's centroids, leaving out the lesion's levels
        binned = levels, centres, counts, s = _bins(points, columns, c, d, bin_mm)
        areas = counts * voxel_mm3 / bin_mm
        trial = BoneAxis(c, d, (s.min(), s.max()), levels, centres, areas, (False, False), bin_mm)
        keep = np.ones(len(levels), dtype=bool)
        lo, hi = trial.shaft()
        keep &= (levels >= lo) & (levels <= hi)
        if exclude_points is not None and len(exclude_points):
            e = trial.position(exclude_points)
            keep &= (levels < e.min() - bin_mm) | (levels > e.max() + bin_mm)
        if keep.sum() < 4:
            break
        c_new, d_new = _fit_line(centres[keep], counts[keep].astype(float))
        c, d = c_new, _orient(d_new)
        binned = None
    levels, centres, counts, s = binned if binned is not None else _bins(points, columns, c, d, bin_mm)
    half = 0.5 * footprint(volume, d)  # voxel centres stop half a voxel short of the surface
    lo, hi = s.min() - half, s.max() + half
    point = c + d * (lo + hi) / 2
    shift = (lo + hi) / 2
    cut, face = _cut_by_scan(volume, start.edges, c, d, s.min(), s.max())
    return BoneAxis(point, d, (lo - shift, hi - shift), levels - shift, centres,
                    counts * voxel_mm3 / bin_mm, cut, bin_mm, face)


def _edge_voxels(solid: np.ndarray) -> np.ndarray | None:
    """(k, j, i) of the voxels of ``solid`` on the grid's six faces (each once), or None."""
    # The six faces of the grid, read as slices: no full-size scratch array.
    kji = []
    for axis in range(3):
        for index in (0, solid.shape[axis] - 1):
            face = np.take(solid, index, axis=axis)
            hits = np.argwhere(face)
            if len(hits):
                kji.append(np.insert(hits, axis, index, axis=1))
    return np.unique(np.concatenate(kji), axis=0) if kji else None


def _cut_by_scan(volume: Volume, kji: np.ndarray | None, c, d, s_min, s_max) -> tuple[tuple, tuple]:
    """((low, high): whether the bone touches the scan's edge at that end along the axis,
    (low, high): how far along the axis the bone's voxels on the scan's edge reach from that end,
    0.0 where it does not touch); ``kji``: its voxels on the grid's faces (_edge_voxels)."""
    if kji is None:
        return (False, False), (0.0, 0.0)
    s_edge = (volume.index_to_physical(kji[:, ::-1].astype(float)) - c) @ d
    span = s_max - s_min
    low, high = s_edge[s_edge < s_min + 0.1 * span], s_edge[s_edge > s_max - 0.1 * span]
    face = (float(low.max() - s_min) if len(low) else 0.0, float(s_max - high.min()) if len(high) else 0.0)
    return (bool(len(low)), bool(len(high))), face
