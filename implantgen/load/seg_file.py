"""DICOM Segmentation objects (DICOM-SEG), e.g. a lesion outlined in a PACS viewer.

highdicom reads the SEG and gives its frames as a volume with their patient geometry; SimpleITK
takes it from there, so a SEG is aligned to the CT by physical coordinates like any label map.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import SimpleITK as sitk

from ..errors import InputError

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"


def is_dicom_seg(path: Path) -> bool:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except Exception:  # noqa: BLE001 - not DICOM at all
        return False
    return str(getattr(ds, "SOPClassUID", "")) == SEGMENTATION_STORAGE


def read_dicom_seg(path: Path) -> sitk.Image:
    """All segments of a DICOM-SEG as one label image (segment numbers as labels), in LPS."""
    import highdicom as hd

    try:
        seg = hd.seg.segread(path)
        volume = seg.get_volume(combine_segments=True, relabel=True)
    except Exception as exc:  # noqa: BLE001 - highdicom raises many kinds on odd SEGs
        raise InputError(
            f"The DICOM-SEG {path} cannot be turned into a volume ({type(exc).__name__}): export "
            "it as NRRD or NIfTI instead."
        ) from None
    return volume.to_simpleitk()
