"""Plain typed records passed between pipeline stages.

Geometry convention (the same as ITK/SimpleITK and DICOM): arrays are indexed (k, j, i) =
(slice, row, column); ``spacing``, ``origin`` and the columns of ``direction`` are given in
(i, j, k) order, in millimetres, in DICOM patient coordinates (LPS).  The physical position of
voxel (k, j, i) is ``origin + direction @ (spacing * (i, j, k))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


# segmentation.nrrd's labels (the contract): background 0, then these
BONE_LABEL, LESION_LABEL, OTHER_BONE_LABEL = 1, 2, 3


@dataclass(frozen=True)
class SeriesSummary:
    """What a volume is, without anything that identifies the patient.

    Free-text descriptions are left out: some sites write the patient's name into them.

    ``series_key`` is a short hash of the series' identity (its UIDs), never the UIDs themselves.
    """

    series_key: str
    source: str  # "dicom" or the volume file's format ("nifti", "nrrd", "metaimage")
    modality: str
    size: tuple[int, int, int]  # (i, j, k) = (columns, rows, slices)
    spacing: tuple[float, float, float]
    slice_thickness: float | None = None
    kernel: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    orientation: str = "axial"  # "axial", "coronal", "sagittal" or "oblique"
    transfer_syntax: str | None = None
    n_files: int = 0
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["size"] = list(self.size)
        d["spacing"] = [round(float(s), 6) for s in self.spacing]
        d["warnings"] = list(self.warnings)
        return d


@dataclass(frozen=True, eq=False)
class Volume:
    """A CT volume in Hounsfield units with its full geometry (see module docstring)."""

    array: np.ndarray  # (k, j, i), HU; int16 when the rescale is integral, else float32
    spacing: np.ndarray  # (3,) mm, (i, j, k)
    origin: np.ndarray  # (3,) mm, LPS position of voxel (0, 0, 0)
    direction: np.ndarray  # (3, 3); column c is the LPS unit vector of index axis c (i, j, k)
    summary: SeriesSummary | None = None
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "spacing", np.asarray(self.spacing, dtype=float).reshape(3))
        object.__setattr__(self, "origin", np.asarray(self.origin, dtype=float).reshape(3))
        object.__setattr__(self, "direction", np.asarray(self.direction, dtype=float).reshape(3, 3))
        if self.array.ndim != 3:
            raise ValueError(f"a Volume needs a 3D array, got shape {self.array.shape}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping (i, j, k, 1) indices to LPS millimetres."""
        a = np.eye(4)
        a[:3, :3] = self.direction * self.spacing[None, :]
        a[:3, 3] = self.origin
        return a

    def index_to_physical(self, ijk) -> np.ndarray:
        """(N, 3) continuous (i, j, k) indices -> (N, 3) LPS mm."""
        ijk = np.asarray(ijk, dtype=float)
        return ijk @ (self.direction * self.spacing[None, :]).T + self.origin

    def physical_to_index(self, xyz) -> np.ndarray:
        """(N, 3) LPS mm -> (N, 3) continuous (i, j, k) indices."""
        xyz = np.asarray(xyz, dtype=float)
        # One 3x3 inverse and a product: solve() with millions of right-hand sides is slow.
        inv = np.linalg.inv(self.direction * self.spacing[None, :])
        return (xyz - self.origin) @ inv.T

    def with_array(self, array: np.ndarray) -> "Volume":
        """Another array (a label map, a filtered copy) on this volume's grid."""
        return Volume(array=array, spacing=self.spacing, origin=self.origin, direction=self.direction,
                      summary=self.summary)

    def to_sitk(self):
        """The same volume as a SimpleITK image (shares no memory with the array)."""
        import SimpleITK as sitk

        img = sitk.GetImageFromArray(self.array)
        img.SetSpacing(tuple(float(s) for s in self.spacing))
        img.SetOrigin(tuple(float(o) for o in self.origin))
        img.SetDirection(tuple(float(d) for d in self.direction.ravel()))
        return img


def orientation_name(direction: np.ndarray) -> str:
    """'axial', 'coronal' or 'sagittal' when the slice normal is within ~1 degree of an axis."""
    n = np.abs(np.asarray(direction, dtype=float).reshape(3, 3)[:, 2])
    for axis, name in ((2, "axial"), (1, "coronal"), (0, "sagittal")):
        if n[axis] > 0.9998:
            return name
    return "oblique"


@dataclass(frozen=True, eq=False)
class BoneSegmentation:
    """Individual bones on the CT grid.

    ``labels`` is (k, j, i) with 0 for background and one positive label per separate bone, each
    a solid (cortex plus marrow).  ``names`` maps every label to an anatomical name where the
    anatomy allows ("femur_right", "hip_left", "sacrum", "vertebra", ...), else "bone_N".
    ``metal`` marks metal (implants, with their blooming) found on the CT, never part of a bone.
    """

    labels: np.ndarray
    names: dict[int, str]
    metal: np.ndarray | None = None  # bool (k, j, i), or None when no metal was found
    method: str = "implantgen"  # how it was made: our own, or "external:<file name>"
    warnings: tuple[str, ...] = ()

    @property
    def has_metal(self) -> bool:
        return self.metal is not None and bool(self.metal.any())


# The user's parameters that stages read (config.py checks them, before any work):
@dataclass(frozen=True)
class LesionCriteria:
    """What the lesion search looks for (the config's [lesion])."""

    lytic_hu: tuple[float, float] = (0.0, 150.0)
    blastic_hu: tuple[float, float] = (450.0, 1300.0)
    min_volume_ml: float = 1.0  # ~ a 12 mm ball: smaller is no case for a segmental resection
    blastic_depth_mm: float = 3.0  # dense bone nearer the surface than this is cortex
    mixed_fraction: float = 0.2  # a lesion is mixed when each kind holds at least this share
    extension_mm: float = 15.0  # how far outside the bone a soft-tissue extension is sought

    def describe(self) -> str:
        return (f"lytic regions of {self.lytic_hu[0]:g} to {self.lytic_hu[1]:g} HU and blastic "
                f"regions of {self.blastic_hu[0]:g} to {self.blastic_hu[1]:g} HU inside the bone, "
                f"at least {self.min_volume_ml:g} ml")


@dataclass(frozen=True)
class FeasibilityLimits:
    """When a plan is refused or warned about (the config's [feasibility])."""

    min_fixation_mm: float = 60.0  # bone left beyond a cut for a stem (domain: 60-100 mm stems)
    joint_clearance_mm: float = 10.0  # a cut this close to a bone's end reaches the joint
    most_of_bone: float = 0.5  # a resection longer than this share of the bone is flagged


PAIN_SCORES = {"mild": 1, "moderate": 2, "functional": 3}  # Mirels' pain item (--pain)
