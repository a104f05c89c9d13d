"""The case's CT (ct.nrrd) as the viewer slices it: voxel grid placed in patient space (LPS mm).

A slice is built as a structured grid whose points are the voxel centres' patient coordinates,
computed here from origin, spacing and direction.  That way an oblique CT lands exactly where
its direction matrix says, whatever the VTK version does with ``ImageData.direction_matrix``,
and the STLs (written in the same LPS mm) sit on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import numpy as np

from ..errors import InputError

# Grey levels: from fat to dense cortex, so soft tissue, marrow, lesion and bone all read.
WINDOW_HU = (-250.0, 1250.0)
_PLANE_NAMES = ("sagittal", "coronal", "axial")  # slices across patient x, y, z


@dataclass
class CtImage:
    hu: np.ndarray  # (k, j, i) as in SimpleITK
    spacing: np.ndarray  # (i, j, k) mm
    origin: np.ndarray  # centre of voxel (0, 0, 0), LPS mm
    direction: np.ndarray  # 3x3, columns = the i, j, k axes in LPS

    @property
    def size(self) -> tuple[int, int, int]:
        """Voxels along i, j, k."""
        return tuple(int(n) for n in self.hu.shape[::-1])

    def axis_name(self, axis: int) -> str:
        """The anatomical plane of slices across image axis ``axis`` (0 = i, 1 = j, 2 = k).

        Names are matched to axes all at once (the best of the six pairings), so a strongly
        oblique CT still gets three different names."""
        a = np.abs(self.direction)  # a[patient axis, image axis]
        best = max(permutations(range(3)), key=lambda p: sum(a[p[i], i] for i in range(3)))
        return _PLANE_NAMES[best[axis]]

    def index_of(self, point, axis: int) -> int:
        """The slice across ``axis`` nearest to a patient point, kept inside the image."""
        ijk = self.direction.T @ (np.asarray(point, float) - self.origin) / self.spacing
        return int(np.clip(np.rint(ijk[axis]), 0, self.size[axis] - 1))

    def slice_points(self, axis: int, index: int) -> np.ndarray:
        """Patient coordinates of the voxel centres of one slice, as an (a, b, 3) grid over the
        two other axes (lower axis first)."""
        others = [a for a in range(3) if a != axis]
        u, v = (np.arange(self.size[a]) * self.spacing[a] for a in others)
        uu, vv = np.meshgrid(u, v, indexing="ij")
        d = self.direction
        return (self.origin + index * self.spacing[axis] * d[:, axis]
                + uu[..., None] * d[:, others[0]] + vv[..., None] * d[:, others[1]])

    def slice_values(self, axis: int, index: int) -> np.ndarray:
        """HU of one slice on the same (a, b) grid as ``slice_points``."""
        plane = np.take(self.hu, index, axis=2 - axis)  # hu is (k, j, i)
        return plane.T  # (lower remaining image axis, higher one)


def read_ct(folder) -> CtImage:
    """ct.nrrd of a planned case folder."""
    import SimpleITK as sitk

    path = Path(folder) / "ct.nrrd"
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError:
        raise InputError(f"{path} cannot be read as an image: re-run 'implantgen plan' to write it again.") from None
    if img.GetDimension() != 3 or img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path} is not a 3D CT volume: re-run 'implantgen plan' to write it again.")
    return CtImage(hu=sitk.GetArrayFromImage(img), spacing=np.array(img.GetSpacing(), float),
                   origin=np.array(img.GetOrigin(), float),
                   direction=np.array(img.GetDirection(), float).reshape(3, 3))
