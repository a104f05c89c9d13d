"""Single-volume files (.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd) read through SimpleITK.

ITK keeps geometry in LPS whatever the file's own convention (NIfTI's RAS, an NRRD 'space'), so
origin and direction come out in DICOM patient coordinates as they are.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..records import SeriesSummary, Volume, orientation_name

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
_FORMATS = {".nii": "nifti", ".nii.gz": "nifti", ".nrrd": "nrrd", ".nhdr": "nrrd",
            ".mha": "metaimage", ".mhd": "metaimage"}


def volume_suffix(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in sorted(VOLUME_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def read_image(path: Path) -> sitk.Image:
    """A 3D scalar image from a volume file, or a refusal saying why not."""
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError:
        raise InputError(
            f"The file {path} cannot be read as a {_FORMATS.get(volume_suffix(path), 'volume')} "
            "image (corrupt or truncated?): re-export it."
        ) from None
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"The file {path} holds {img.GetNumberOfComponentsPerPixel()} values per voxel (a "
            "colour or vector image), not a CT: give a greyscale CT volume in HU."
        )
    if img.GetDimension() == 4 and img.GetSize()[3] == 1:
        img = img[:, :, :, 0]
    if img.GetDimension() != 3 or min(img.GetSize()) < 1:
        raise InputError(
            f"The file {path} is a {img.GetDimension()}D image of size {img.GetSize()}, not one "
            "3D volume: give a single 3D CT volume."
        )
    if img.GetSize()[2] < 2:
        raise InputError(
            f"The file {path} has a single slice, which is not a 3D volume: give the whole CT."
        )
    return img


def hu_warnings(arr: np.ndarray) -> list[str]:
    """Plain warnings when the values do not look like Hounsfield units."""
    lo, hi = float(arr.min()), float(arr.max())
    if hi - lo < 50:
        return [f"Values span only {lo:g} to {hi:g}: this looks like a mask or a normalised image, "
                "not CT in Hounsfield units; check the file."]
    # Subsample: percentiles of a large volume need not see every voxel.
    sample = arr.reshape(-1)[:: max(1, arr.size // 2_000_000)]
    p1 = float(np.percentile(sample, 1))
    if lo >= 0 and hi > 1000:
        return [f"No value is below 0 (range {lo:g} to {hi:g}), so air is not at -1000: these look "
                "like raw scanner values without the rescale intercept, not HU; check the "
                "converter that wrote the file."]
    if hi > 40000 or lo < -4000:
        return [f"Values run from {lo:g} to {hi:g}, far outside the CT range (-1024 to about "
                "3071 HU): check that this is a CT in Hounsfield units."]
    if p1 > -300 and hi < 1000:
        return [f"Values run from {lo:g} to {hi:g} with no air and no bone: this does not look "
                "like a CT in Hounsfield units; check the file."]
    return []


def read_volume_file(path: Path) -> Volume:
    img = read_image(path)
    arr = sitk.GetArrayFromImage(img)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32, copy=False)
    elif arr.min() >= -32768 and arr.max() <= 32767:
        arr = arr.astype(np.int16, copy=False)
    else:
        arr = arr.astype(np.float32)
    warnings = hu_warnings(arr)
    direction = np.array(img.GetDirection()).reshape(3, 3)
    summary = SeriesSummary(
        series_key=hashlib.sha256(path.name.encode()).hexdigest()[:12],
        source=_FORMATS[volume_suffix(path)],
        modality="CT",
        size=tuple(int(s) for s in img.GetSize()),
        spacing=tuple(float(s) for s in img.GetSpacing()),
        orientation=orientation_name(direction),
        n_files=1,
        warnings=tuple(warnings),
    )
    return Volume(array=arr, spacing=img.GetSpacing(), origin=img.GetOrigin(), direction=direction,
                  summary=summary, warnings=tuple(warnings))
