"""Write HU slices as a CT Image Storage DICOM series (for phantoms and test cases).

Every file is a complete single-frame CT Image instance (patient, study, series, frame of
reference, equipment, image plane, image pixel and CT image modules) that other readers (GDCM,
3D Slicer) accept.  UIDs derive from a seed, so the same call writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

from .. import __version__
from ..records import Volume

_SYNTAXES = {"none": ExplicitVRLittleEndian, "rle": RLELossless, "j2k": JPEG2000Lossless}

# What a phantom's patient module says; a test may pass real-looking identifiers instead.
DEFAULT_PATIENT = {
    "PatientName": "Phantom^Femur",
    "PatientID": "PHANTOM",
    "PatientBirthDate": "",
    "PatientSex": "O",
    "AccessionNumber": "",
}


def _ds_str(x: float) -> str:
    # DS holds at most 16 characters: keep as many significant digits as fit.
    for digits in range(15, 3, -1):
        s = f"{x:.{digits}g}"
        if len(s) <= 16:
            return s
    return f"{x:.4g}"


def _stored(hu: np.ndarray, slope: float, intercept: float) -> tuple[np.ndarray, int]:
    """HU -> stored integers and PixelRepresentation (0 unsigned, 1 signed)."""
    stored = np.rint((hu.astype(np.float64) - intercept) / slope)
    if stored.min() >= 0 and stored.max() <= 65535:
        return stored.astype(np.uint16), 0
    if stored.min() >= -32768 and stored.max() <= 32767:
        return stored.astype(np.int16), 1
    raise ValueError("HU values do not fit 16 bits with this rescale slope and intercept")


def write_slices(
    slices: np.ndarray,
    positions: np.ndarray,
    orientation: np.ndarray,
    pixel_spacing: tuple[float, float],
    folder,
    *,
    seed: int = 0,
    rescale: tuple[float, float] = (1.0, -1024.0),
    slice_thickness: float | None = None,
    gantry_tilt_deg: float = 0.0,
    patient: dict | None = None,
    description: str = "implantgen phantom",
    compression: str = "none",
    file_names: list[str] | None = None,
) -> list[Path]:
    """Write (k, rows, cols) HU ``slices`` at ``positions`` (k, 3) as one CT series.

    ``orientation`` is the 6 ImageOrientationPatient cosines (row direction, column direction);
    ``pixel_spacing`` is (between columns, between rows) = (i, j) spacing in mm.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    slope, intercept = rescale
    syntax = _SYNTAXES[compression]
    uid = lambda *parts: generate_uid(entropy_srcs=[str(seed), *map(str, parts)])  # noqa: E731
    study_uid, series_uid, frame_uid = uid("study"), uid("series", description), uid("frame")
    patient = {**DEFAULT_PATIENT, **(patient or {})}
    n = slices.shape[0]
    if slice_thickness is None:
        slice_thickness = float(np.linalg.norm(positions[1] - positions[0])) if n > 1 else 1.0
    paths = []
    for k in range(n):
        sop_uid = uid("instance", description, k)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = generate_uid(entropy_srcs=["implantgen"])
        meta.ImplementationVersionName = f"IMPLANTGEN_{__version__}"[:16]
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate, ds.StudyTime = "20260101", "120000"
        ds.SeriesDate, ds.SeriesTime = "20260101", "120000"
        ds.Modality = "CT"
        ds.Manufacturer = "implantgen"
        ds.ManufacturerModelName = "synthetic phantom"
        ds.SoftwareVersions = __version__
        ds.ReferringPhysicianName = ""
        ds.SeriesDescription = description
        ds.StudyDescription = "synthetic CT, not a patient"
        for key, value in patient.items():
            setattr(ds, key, value)
        ds.KVP = "120"
        ds.SliceThickness = _ds_str(slice_thickness)
        ds.ConvolutionKernel = "STANDARD"
        ds.GantryDetectorTilt = _ds_str(gantry_tilt_deg)
        ds.PatientPosition = "FFS"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.StudyID, ds.SeriesNumber, ds.AcquisitionNumber, ds.InstanceNumber = "1", 1, 1, k + 1
        ds.ImagePositionPatient = [_ds_str(v) for v in positions[k]]
        ds.ImageOrientationPatient = [_ds_str(v) for v in orientation]
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = _ds_str(float(positions[k][2]))
        stored, representation = _stored(slices[k], slope, intercept)
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = stored.shape
        ds.PixelSpacing = [_ds_str(pixel_spacing[1]), _ds_str(pixel_spacing[0])]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = representation
        ds.RescaleIntercept, ds.RescaleSlope = _ds_str(intercept), _ds_str(slope)
        ds.RescaleType = "HU"
        ds.WindowCenter, ds.WindowWidth = "400", "1800"
        ds.BurnedInAnnotation = "NO"
        if syntax == ExplicitVRLittleEndian:
            ds.PixelData = stored.tobytes()
        else:
            ds.compress(syntax, stored, generate_instance_uid=False)
        name = file_names[k] if file_names else f"CT{k + 1:05d}.dcm"
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths


def write_ct_series(volume: Volume, folder, **options) -> list[Path]:
    """Write a regular-grid Volume as a CT series (same HU and geometry when read back)."""
    k = np.arange(volume.shape[0])
    positions = volume.origin + np.outer(k * volume.spacing[2], volume.direction[:, 2])
    orientation = np.concatenate([volume.direction[:, 0], volume.direction[:, 1]])
    options.setdefault("slice_thickness", float(volume.spacing[2]))
    return write_slices(volume.array, positions, orientation, tuple(volume.spacing[:2]), folder, **options)
