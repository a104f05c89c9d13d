"""Stage 1, loading: a CT series (DICOM folder or volume file) -> Volume in HU, LPS geometry.

Public functions:
    load_ct(path, series_uid=None) -> Volume
    list_series(path) -> list[SeriesSummary]        (what `implantgen inspect` shows)
    load_label_map(path, reference) -> np.ndarray   (a label map made elsewhere, on the CT grid)
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..records import SeriesSummary, Volume
from .dicom_scan import FolderScan, SeriesGroup, scan_folder
from .dicom_series import read_series
from .seg_file import is_dicom_seg, read_dicom_seg
from .volume_file import VOLUME_SUFFIXES, read_image, read_volume_file, volume_suffix

__all__ = ["load_ct", "list_series", "load_label_map", "VOLUME_SUFFIXES"]

log = logging.getLogger(__name__)


def _existing(path) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(
            f"{p} does not exist: give a folder holding a DICOM CT series or a CT volume file "
            f"({', '.join(VOLUME_SUFFIXES)})."
        )
    return p


def _scan(folder: Path) -> FolderScan:
    if not any(folder.iterdir()):
        raise InputError(f"The folder {folder} is empty: give the folder that holds the CT series.")
    scan = scan_folder(folder)
    if not scan.series:
        what = f"{scan.n_files} files looked at"
        if scan.unreadable:
            what += f", {len(scan.unreadable)} of them unreadable or corrupt DICOM"
        if scan.n_dicomdir:
            what += ", only a DICOMDIR index without the images it lists"
        raise InputError(
            f"No DICOM images found in {folder} ({what}): give the folder that holds the CT "
            "series' image files."
        )
    if scan.unreadable:
        log.warning("Skipped %d unreadable or corrupt files in %s.", len(scan.unreadable), folder)
    return scan


def _choose(scan: FolderScan, folder: Path, series_uid: str | None) -> SeriesGroup:
    if series_uid:
        wanted = series_uid.strip()
        hits = [g for g in scan.series if wanted and (g.uid == wanted or g.key.startswith(wanted))]
        if len(hits) != 1:
            keys = ", ".join(g.key for g in scan.series)
            raise InputError(
                f"No single series in {folder} matches --series-uid {wanted} (series there: "
                f"{keys}): give a UID or a key that 'implantgen inspect {folder}' lists."
            )
        return hits[0]
    ct = [g for g in scan.series if g.is_ct and g.slices]
    if not ct and any(g.is_ct for g in scan.series):
        raise InputError(
            f"The folder {folder} holds only localizer (scout) CT images, not the CT series "
            "itself: export the axial CT series."
        )
    if not ct:
        found = ", ".join(f"{g.modality} ({len(g.slices)} images)" for g in scan.series)
        raise InputError(
            f"No CT series in {folder}: found {found}; implantgen needs a CT series in "
            "Hounsfield units."
        )
    # The CT series with most slices (scan.series is sorted that way).
    if len(ct) > 1:
        others = ", ".join(f"{g.key} ({len(g.slices)})" for g in ct[1:])
        log.warning("%d CT series in the folder: using %s (%d slices), not %s; pick one with "
                    "--series-uid KEY ('implantgen inspect' lists them).", len(ct), ct[0].key,
                    len(ct[0].slices), others)
    return ct[0]


def load_ct(path, series_uid: str | None = None, *, allocate=np.empty) -> Volume:
    """Read a CT as a Volume in Hounsfield units with its full LPS geometry.

    ``path`` is a folder holding DICOM files (any names, nested, other series beside), or one
    volume file (.nii, .nii.gz, .nrrd, .mha).  ``series_uid`` picks a series of a folder by its
    SeriesInstanceUID or by the key that `list_series` shows; by default, the CT series with
    most slices.  Raises InputError with a plain sentence for anything unusable.  ``allocate``
    (shape, dtype) makes the array a DICOM series is read into (the pipeline's: in memory its
    forked child shares).
    """
    p = _existing(path)
    if p.is_file():
        if volume_suffix(p) is None:
            raise InputError(
                f"{p} is a single file but not a volume file ({', '.join(VOLUME_SUFFIXES)}): "
                "for DICOM, give the folder that holds the series."
            )
        return read_volume_file(p)
    scan = _scan(p)
    return read_series(_choose(scan, p, series_uid), str(p), allocate)


def list_series(path) -> list[SeriesSummary]:
    """A de-identified summary of every series in a folder (or of one volume file).

    CT series are read fully (to report their checked geometry); a series that cannot be read
    is listed with the reason as a warning instead of stopping the listing.
    """
    p = _existing(path)
    if p.is_file():
        return [load_ct(p).summary]
    out = []
    for group in _scan(p).series:
        try:
            out.append(read_series(group, str(p)).summary)
        except InputError as exc:
            ds = group.slices[0].ds if group.slices else None
            out.append(SeriesSummary(
                series_key=group.key, source="dicom", modality=group.modality,
                size=(int(getattr(ds, "Columns", 0) or 0), int(getattr(ds, "Rows", 0) or 0), len(group.slices)),
                spacing=(0.0, 0.0, 0.0),
                n_files=len(group.slices), warnings=(exc.sentence,),
            ))
    return out


def load_label_map(path, reference: Volume) -> np.ndarray:
    """A label map made elsewhere (NRRD, NIfTI, DICOM-SEG), resampled onto ``reference``'s grid.

    Alignment is by physical coordinates (nearest neighbour), never by array index: label maps
    from other tools often store the axes in another order or flipped.
    """
    p = _existing(path)
    if p.is_file() and volume_suffix(p) is None and is_dicom_seg(p):
        labels = read_dicom_seg(p)
    elif not p.is_file() or volume_suffix(p) is None:
        raise InputError(
            f"{p} is not a label map file: give a .nrrd, .nii or .nii.gz label map or a DICOM-SEG file."
        )
    else:
        labels = read_image(p)
    if labels.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        arr = sitk.GetArrayViewFromImage(labels)
        if not np.all(np.mod(arr, 1) == 0):
            raise InputError(f"{p} holds fractional values, not integer labels: give a label map.")
        labels = sitk.Cast(labels, sitk.sitkInt32)
    # Only the reference's grid is needed, not a copy of its voxels.
    f = sitk.ResampleImageFilter()
    f.SetSize([int(n) for n in reference.shape[::-1]])
    f.SetOutputSpacing([float(s) for s in reference.spacing])
    f.SetOutputOrigin([float(o) for o in reference.origin])
    f.SetOutputDirection([float(d) for d in reference.direction.ravel()])
    f.SetInterpolator(sitk.sitkNearestNeighbor)
    f.SetDefaultPixelValue(0)
    arr = sitk.GetArrayFromImage(f.Execute(labels))
    if arr.max() == 0 and sitk.GetArrayViewFromImage(labels).max() > 0:
        raise InputError(
            f"The label map {p} does not overlap the CT in patient coordinates: check that it "
            "was made on this scan."
        )
    return arr
