"""Uncompressed little-endian greyscale pixel data read straight from the file.

pydicom's pixel_array parses the whole header again and copies the frame twice; for the common
case (one uncompressed greyscale frame) the frame is just Rows x Columns integers at the offset
where the header scan stopped.  This reads them into a caller's array and applies the one
correction pydicom applies (unused high bits, PS3.5 8.1.1), so the values are pydicom's to the
bit.  Anything else (compressed, big endian, colour, odd sizes, a file that does not match its
header) is declined with None, and the caller falls back on pydicom.
"""

from __future__ import annotations

import struct

import numpy as np

from .dicom_scan import tag_value

# Implicit and Explicit VR Little Endian: pixel data stored as plain integers.
_NATIVE_LE = {"1.2.840.10008.1.2": True, "1.2.840.10008.1.2.1": False}  # uid -> implicit VR
_PIXEL_DATA = (0x7FE0, 0x0010)


def native_dtype(ds, transfer_syntax: str | None) -> np.dtype | None:
    """The dtype pydicom gives this slice's pixels, or None when the slice needs pydicom."""
    if transfer_syntax not in _NATIVE_LE:
        return None
    try:
        bits = int(tag_value(ds, "BitsAllocated"))
        stored = int(tag_value(ds, "BitsStored"))
        signed = int(tag_value(ds, "PixelRepresentation"))
        ok = (
            int(tag_value(ds, "SamplesPerPixel")) == 1
            and str(tag_value(ds, "PhotometricInterpretation")) in ("MONOCHROME1", "MONOCHROME2")
            and bits in (8, 16, 32)
            and 1 <= stored <= bits
            and signed in (0, 1)
            and int(tag_value(ds, "NumberOfFrames", 1)) == 1
            and 0 < int(tag_value(ds, "Rows")) < 65536
            and 0 < int(tag_value(ds, "Columns")) < 65536
        )
    except (AttributeError, TypeError, ValueError):  # a missing or malformed tag: pydicom's call
        return None
    if not ok:
        return None
    return np.dtype(f"<{'ui'[signed]}{bits // 8}")


def read_native(path, offset: int | None, transfer_syntax: str, out: np.ndarray, bits_stored: int) -> bool:
    """Fill ``out`` (dtype from native_dtype, one frame) with the pixel data element at ``offset``.

    Returns False, with ``out`` partly written, when the element is not there or is short.
    """
    if offset is None:
        return False
    implicit = _NATIVE_LE[transfer_syntax]
    try:
        with open(path, "rb", buffering=0) as f:
            f.seek(offset)
            head = f.read(8 if implicit else 12)
            if len(head) != (8 if implicit else 12):
                return False
            if implicit:
                group, elem, length = struct.unpack("<HHL", head)
            else:
                group, elem, _vr, _, length = struct.unpack("<HH2sHL", head)
            if (group, elem) != _PIXEL_DATA or length == 0xFFFFFFFF or length < out.nbytes:
                return False
            if f.readinto(memoryview(out).cast("B")) != out.nbytes:
                return False
    except OSError:
        return False
    unused = out.dtype.itemsize * 8 - bits_stored
    if unused:
        # pydicom's correction: the bits above Bits Stored mean nothing; shifting them out in
        # the signed or unsigned type sign-extends or clears them.
        np.left_shift(out, unused, out=out)
        np.right_shift(out, unused, out=out)
    return True
