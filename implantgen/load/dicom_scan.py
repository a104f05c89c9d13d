"""Find the DICOM image files under a folder and group them into series, reading headers only.

A folder as it comes from a scanner or a PACS export: any file names, any order, nested folders,
a DICOMDIR and stray non-DICOM files beside, several series.  Nothing here decodes pixels.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag

# SOP classes that are never an image we can use: DICOMDIR, presentation states, reports...
_DICOMDIR_UID = "1.2.840.10008.1.3.10"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"

# Only these tags are needed to group, sort and check slices and to read uncompressed pixels:
# reading fewer is faster.  As tags, not keywords: pydicom would look every keyword up again
# for every file (a third of the header time).
_HEADER_TAGS = [Tag(k) for k in (
    "SOPClassUID", "SOPInstanceUID", "Modality", "SeriesInstanceUID", "StudyInstanceUID", "FrameOfReferenceUID",
    "SeriesNumber", "SeriesDescription", "ImageType", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns", "SliceThickness",
    "ConvolutionKernel", "Manufacturer", "ManufacturerModelName", "GantryDetectorTilt",
    "NumberOfFrames", "BitsAllocated", "RescaleSlope", "RescaleIntercept", "InstanceNumber",
    "SamplesPerPixel", "PhotometricInterpretation", "BitsStored", "PixelRepresentation",
)]

# Tags whose value is usually the same on every slice of a series (numbers, codes and UIDs only:
# their conversion does not depend on the character set).
_REPEATED = frozenset(Tag(k) for k in (
    "SOPClassUID", "Modality", "SeriesInstanceUID", "ImageType", "ImageOrientationPatient",
    "PixelSpacing", "Rows", "Columns", "NumberOfFrames", "BitsAllocated", "RescaleSlope",
    "RescaleIntercept", "SamplesPerPixel", "PhotometricInterpretation", "BitsStored",
    "PixelRepresentation",
))
_converted: dict[tuple, object] = {}
_tag = functools.cache(Tag)


def tag_value(ds: pydicom.Dataset, keyword: str, default=None):
    """getattr(ds, keyword, default), but a repeated value is converted once for all slices.

    pydicom converts each raw value on first access (about 20 us a tag); for hundreds of slices
    carrying the same sizes, orientation and pixel format that was a tenth of the loading time.
    Equal raw bytes (same VR and encoding) give the equal value, so it is looked up instead.
    """
    tag = _tag(keyword)
    elem = ds.get_item(tag, keep_deferred=True)
    if elem is None:
        return default
    if tag not in _REPEATED or not isinstance(elem, RawDataElement) or elem.value is None:
        return ds[tag].value
    key = (tag, elem.VR, elem.value, elem.is_implicit_VR, elem.is_little_endian)
    if key not in _converted:
        if len(_converted) > 10_000:  # a bound, for a long-running process
            _converted.clear()
        _converted[key] = ds[tag].value
    return _converted[key]


@dataclass
class SliceHeader:
    path: Path
    ds: pydicom.Dataset  # header only, pixel data not read
    transfer_syntax: str | None
    pixel_offset: int | None = None  # where the header read stopped: the pixel data element


@dataclass
class SeriesGroup:
    """The files of one series (one SeriesInstanceUID, or one fallback identity)."""

    key: str  # short hash standing for the series' identity: shown to users instead of UIDs
    uid: str  # the SeriesInstanceUID ('' when the files have none)
    modality: str
    description: str
    slices: list[SliceHeader] = field(default_factory=list)
    localizers: int = 0  # scout images in the same series, left out

    @property
    def is_ct(self) -> bool:
        return self.modality == "CT"


@dataclass
class FolderScan:
    series: list[SeriesGroup]
    n_files: int
    n_not_dicom: int
    n_dicomdir: int
    n_other_dicom: int  # DICOM but not an image (reports, presentation states, ...)
    unreadable: list[Path]


def _iter_files(folder: Path):
    # Sorted walk: the same folder always gives the same order of discovery.
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def _read_header(path: Path) -> tuple[pydicom.Dataset | None, int | None]:
    """(header, file offset where it ends) of a DICOM file; (None, None) when it is not DICOM.

    The offset is where the pixel data element starts, if there is one: decoding can then go
    straight there instead of parsing the header a second time.
    Raises OSError or ValueError for a DICOM file whose header cannot be parsed (corrupt).
    """
    try:
        with open(path, "rb") as f:
            ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=_HEADER_TAGS)
            return ds, f.tell()
    except InvalidDicomError:
        pass
    except (OSError, EOFError) as exc:
        raise OSError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on a broken header
        raise ValueError(str(exc)) from exc
    # Old files without the 128-byte preamble: accept only what clearly is an image header.
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True, specific_tags=_HEADER_TAGS)
        if "Rows" in ds and "Modality" in ds and "ImagePositionPatient" in ds:
            return ds, None  # rare: decoded by pydicom, which finds the pixels itself
    except Exception:  # noqa: BLE001 - any parse failure means "not a DICOM file"
        pass
    return None, None


def _sop_class(ds: pydicom.Dataset) -> str:
    uid = str(tag_value(ds, "SOPClassUID", "") or "")
    if not uid and hasattr(ds, "file_meta"):
        uid = str(getattr(ds.file_meta, "MediaStorageSOPClassUID", "") or "")
    return uid


def series_identity(ds: pydicom.Dataset) -> tuple[str, str]:
    """(uid, key): the series UID and a short hash that stands for it.

    Some exports blank the UIDs (the shared real series does): fall back on what else
    distinguishes a series, so that such files still group together.
    """
    uid = str(tag_value(ds, "SeriesInstanceUID", "") or "")
    if uid:
        basis = uid
    else:
        iop = getattr(ds, "ImageOrientationPatient", None)
        basis = "|".join(
            str(x)
            for x in (
                getattr(ds, "StudyInstanceUID", ""), getattr(ds, "FrameOfReferenceUID", ""),
                getattr(ds, "SeriesNumber", ""), getattr(ds, "SeriesDescription", ""),
                getattr(ds, "Modality", ""),
                None if iop is None else tuple(round(float(v), 3) for v in iop),
            )
        )
    return uid, hashlib.sha256(basis.encode()).hexdigest()[:12]


def _is_localizer(ds: pydicom.Dataset) -> bool:
    return any(str(t).upper() == "LOCALIZER" for t in (tag_value(ds, "ImageType") or []))


def scan_folder(folder: Path) -> FolderScan:
    """Read the headers of every file under ``folder`` and group the image files by series."""
    groups: dict[str, SeriesGroup] = {}
    n_files = n_not_dicom = n_dicomdir = n_other = 0
    unreadable: list[Path] = []
    for path in _iter_files(folder):
        n_files += 1
        try:
            ds, pixel_offset = _read_header(path)
        except (OSError, ValueError):
            unreadable.append(path)
            continue
        if ds is None:
            n_not_dicom += 1
            continue
        sop = _sop_class(ds)
        if sop == _DICOMDIR_UID or path.name.upper() == "DICOMDIR":
            n_dicomdir += 1
            continue
        if "Rows" not in ds:  # structured reports, presentation states, RT plans...
            n_other += 1
            continue
        uid, key = series_identity(ds)
        group = groups.get(key)
        if group is None:
            group = groups[key] = SeriesGroup(
                key=key, uid=uid, modality=str(getattr(ds, "Modality", "") or "?"),
                description=str(getattr(ds, "SeriesDescription", "") or ""),
            )
        if _is_localizer(ds):
            group.localizers += 1
            continue
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        group.slices.append(SliceHeader(path, ds, str(ts) if ts else None, pixel_offset))
    series = [g for g in groups.values() if g.slices or g.localizers]
    # Largest first, then by key: a stable, meaningful order for listings and defaults.
    series.sort(key=lambda g: (-len(g.slices), g.key))
    return FolderScan(series, n_files, n_not_dicom, n_dicomdir, n_other, unreadable)
