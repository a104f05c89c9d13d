"""Planar reformats of the case's CT: where each picture's plane lies and what the CT and the
labels hold on it.

The report only has the case folder: ``ct.nrrd`` (HU around the bone) and ``segmentation.nrrd``
(labels on the full CT grid).  The labels are resampled onto ``ct.nrrd``'s grid by physical
coordinates, so both are sampled with one index map.  Sections follow the bone, not the scanner:
coronal and sagittal through the bone's axis, a cross-section perpendicular to it through the
lesion, with the display conventions radiologists use (patient right on the image's left,
anterior on the sagittal's left, superior up).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..geometry import unit

_MAX_PIXELS = 560  # longest side of a picture: enough to see a 3 mm lesion edge on a 400 mm bone
_MIN_PIXEL_MM = 0.3


@dataclass
class Grid:
    """A 3D array (k, j, i) with its index -> LPS mapping."""

    array: np.ndarray
    affine: np.ndarray  # 4x4, (i, j, k, 1) -> LPS mm

    @classmethod
    def from_image(cls, img: sitk.Image) -> "Grid":
        a = np.eye(4)
        a[:3, :3] = np.asarray(img.GetDirection()).reshape(3, 3) * np.asarray(img.GetSpacing())[None, :]
        a[:3, 3] = img.GetOrigin()
        return cls(sitk.GetArrayFromImage(img), a)

    def corners(self) -> np.ndarray:
        """(8, 3) LPS positions of the grid's corner voxel centres."""
        k, j, i = (n - 1 for n in self.array.shape)
        ijk = np.array([[a, b, c, 1.0] for a in (0, i) for b in (0, j) for c in (0, k)])
        return (ijk @ self.affine.T)[:, :3]

    def to_index(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) LPS -> (3, ...) continuous (k, j, i) indices, as map_coordinates wants them."""
        inv = np.linalg.inv(self.affine)
        ijk = points @ inv[:3, :3].T + inv[:3, 3]
        return np.moveaxis(ijk[..., ::-1], -1, 0)


def read_ct(folder: Path, image: sitk.Image | None = None) -> Grid | None:
    """ct.nrrd's grid, or ``image`` when the caller still holds what it wrote there."""
    if image is not None:
        return Grid.from_image(image)
    path = Path(folder) / "ct.nrrd"
    return Grid.from_image(sitk.ReadImage(str(path))) if path.is_file() else None


def _same_grid_box(seg: sitk.Image, ct: Grid) -> tuple[slice, slice, slice] | None:
    """The (k, j, i) box of ``seg`` that ``ct`` covers voxel for voxel, or None when the grids
    differ.  ct.nrrd is written as a crop of the CT grid the labels lie on, so slicing them is
    the nearest-label resampling without its cost (0.1 s at 512x512x400)."""
    lin = np.asarray(seg.GetDirection()).reshape(3, 3) * np.asarray(seg.GetSpacing())[None, :]
    if not np.allclose(lin, ct.affine[:3, :3], rtol=0, atol=1e-6):
        return None
    start = np.linalg.solve(lin, ct.affine[:3, 3] - np.asarray(seg.GetOrigin()))  # (i, j, k)
    first = np.rint(start).astype(int)
    stop = first + np.asarray(ct.array.shape[::-1])
    if not np.allclose(start, first, atol=1e-3) or np.any(first < 0) or np.any(stop > np.asarray(seg.GetSize())):
        return None
    return tuple(slice(int(a), int(b)) for a, b in zip(first[::-1], stop[::-1]))


def read_labels_on(folder: Path, ct: Grid, image: sitk.Image | None = None) -> np.ndarray | None:
    """segmentation.nrrd (or ``image``, what was written there) resampled (nearest label) onto
    the CT crop's grid, or None."""
    path = Path(folder) / "segmentation.nrrd"
    if image is None and not path.is_file():
        return None
    seg = image if image is not None else sitk.ReadImage(str(path))
    box = _same_grid_box(seg, ct)
    if box is not None:
        return sitk.GetArrayViewFromImage(seg)[box].astype(np.uint8)
    ref = sitk.Image([int(n) for n in ct.array.shape[::-1]], sitk.sitkUInt8)
    lin = ct.affine[:3, :3]
    spacing = np.linalg.norm(lin, axis=0)
    ref.SetSpacing(tuple(float(s) for s in spacing))
    ref.SetOrigin(tuple(float(o) for o in ct.affine[:3, 3]))
    ref.SetDirection(tuple(float(d) for d in (lin / spacing[None, :]).ravel()))
    out = sitk.Resample(seg, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(out)


@dataclass
class Section:
    """A picture's plane: pixel (row, col) sits at ``origin + col*px*right + row*px*down``."""

    name: str
    origin: np.ndarray
    right: np.ndarray
    down: np.ndarray
    shape: tuple[int, int]  # rows, cols
    pixel_mm: float

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.right, self.down)

    def points(self) -> np.ndarray:
        rows, cols = self.shape
        r = np.arange(rows)[:, None, None] * self.pixel_mm * self.down
        c = np.arange(cols)[None, :, None] * self.pixel_mm * self.right
        return self.origin + r + c

    def to_pixel(self, points) -> np.ndarray:
        """(N, 3) LPS -> (N, 2) (col, row) pixel positions, projected onto the plane."""
        rel = np.asarray(points, float) - self.origin
        return np.stack([rel @ self.right, rel @ self.down], axis=1) / self.pixel_mm

    def distance(self, points) -> np.ndarray:
        return (np.asarray(points, float) - self.origin) @ self.normal


def _section(name: str, centre, right, down, ct: Grid) -> Section:
    """The plane through ``centre`` covering the whole CT crop as seen along its normal."""
    rel = ct.corners() - centre
    a, b = rel @ right, rel @ down
    extent = max(a.max() - a.min(), b.max() - b.min())
    px = max(extent / _MAX_PIXELS, _MIN_PIXEL_MM)
    shape = (int(np.ceil((b.max() - b.min()) / px)) + 1, int(np.ceil((a.max() - a.min()) / px)) + 1)
    origin = centre + a.min() * right + b.min() * down
    return Section(name, origin, right, down, shape, px)


def bone_frame(plan: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The axis point, the axis pointing superior, and two perpendiculars: ``u`` toward the
    patient's left (+x) and ``v`` toward posterior (+y) as nearly as the axis allows."""
    axis = plan["bone"]["axis"]
    point, d = np.asarray(axis["point"], float), unit(axis["direction"])
    d = d if d[2] >= 0 else -d
    x = np.array([1.0, 0, 0]) if abs(d[0]) < 0.9 else np.array([0, 0, -1.0])
    u = unit(x - (x @ d) * d)
    return point, d, u, np.cross(d, u)


def lesion_centre(plan: dict) -> np.ndarray:
    """The point on the bone's axis half way along the lesion's extent."""
    axis = plan["bone"]["axis"]
    lo, hi = plan["lesion"]["extent_along_axis_mm"]
    return np.asarray(axis["point"], float) + 0.5 * (lo + hi) * unit(axis["direction"])


def case_sections(plan: dict, ct: Grid) -> list[Section]:
    """Coronal and sagittal through the bone's axis, and the cross-section through the lesion."""
    point, d, u, v = bone_frame(plan)
    return [_section("coronal", point, u, -d, ct),
            _section("sagittal", point, v, -d, ct),
            _section("cross-section", lesion_centre(plan), u, v, ct)]


def sample(grid: Grid, section: Section, volume: np.ndarray | None = None, *, order: int = 1,
           cval: float = -1024.0, coords: np.ndarray | None = None) -> np.ndarray:
    """``volume`` (default the grid's own array) on the section's pixels; ``coords`` is
    ``grid.to_index(section.points())`` when the caller samples several volumes on one section."""
    vol = grid.array if volume is None else volume
    coords = grid.to_index(section.points()) if coords is None else coords
    return ndimage.map_coordinates(vol, coords, order=order, cval=cval, output=np.float32)
