"""Pixel data that cannot be read straight from the file: decoded by pydicom, on both cores.

PACS exports are often JPEG 2000 (lossless): OpenJPEG takes about 70 ms a 512 x 512 slice here,
half a minute for a 400-slice series on one core.  pydicom's decoders hold the GIL (OpenJPEG
reads through a Python file object), so threads do not help; a forked copy of this process
decodes the second half of the slices while this one decodes the first
(implantgen.parallel.Background, which runs both halves here where fork is not there).
The same values come back either way; the caller applies the rescales in slice order.
"""

from __future__ import annotations

import numpy as np
from pydicom.pixels import pixel_array

from ..parallel import Background, WorkerDied
from .dicom_scan import SliceHeader, tag_value
from .native_pixels import native_dtype, read_native

# Fewer slices than this are decoded here: a fork and the pixels' way back cost more than half
# of a few slices' decoding.
MIN_SHARED = 8


def decode(s: SliceHeader, rows: int, cols: int) -> np.ndarray | str:
    """The slice's stored values, or a short reason why they cannot be had."""
    dtype = native_dtype(s.ds, s.transfer_syntax)
    if dtype is not None:
        arr = np.empty((rows, cols), dtype=dtype)
        if read_native(s.path, s.pixel_offset, s.transfer_syntax, arr, int(tag_value(s.ds, "BitsStored"))):
            return arr
    return decode_pydicom(s.path, rows, cols)


def decode_pydicom(path, rows: int, cols: int) -> np.ndarray | str:
    try:
        # Reads the file once, straight to pixels (faster than dcmread + ds.pixel_array).
        arr = pixel_array(path)
    except Exception as exc:  # noqa: BLE001 - truncated data, no pixel data, missing decoder...
        text = str(exc)
        if "Pixel Data" in text and ("no " in text.lower() or "missing" in text.lower()):
            return "no pixel data"
        return f"pixel data cannot be decoded ({type(exc).__name__}: {text[:80]})"
    if arr.shape != (rows, cols):
        return f"pixel data has shape {arr.shape}, expected {(rows, cols)} (not one greyscale frame)"
    return arr


def _decode_list(slices: list[SliceHeader], rows: int, cols: int) -> list:
    return [decode(s, rows, cols) for s in slices]


def decode_many(slices: list[SliceHeader], rows: int, cols: int, *, share: bool = True) -> list:
    """[decode(s, rows, cols) for s in slices], the second half in a forked worker when there
    are at least MIN_SHARED slices and ``share``."""
    if not share or len(slices) < MIN_SHARED:
        return _decode_list(slices, rows, cols)
    half = len(slices) // 2
    with Background(_decode_list, slices[half:], rows, cols) as other:
        first = _decode_list(slices[:half], rows, cols)
        try:
            second = other.result()
        except WorkerDied:  # killed, or its decoder crashed: try the slices here, as one core would
            second = _decode_list(slices[half:], rows, cols)
    return first + second
