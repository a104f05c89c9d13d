"""The fast read of uncompressed pixel data gives pydicom's pixel_array to the bit, and declines
what it does not handle (the loader then asks pydicom)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless, generate_uid

from implantgen.load.dicom_scan import _read_header
from implantgen.load.native_pixels import native_dtype, read_native


def _write(path, raw: np.ndarray, *, syntax, bits_stored, signed, compress=False):
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.SOPClassUID, ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SamplesPerPixel, ds.PhotometricInterpretation = "CT", 1, "MONOCHROME2"
    ds.Rows, ds.Columns = raw.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = raw.dtype.itemsize * 8, bits_stored, bits_stored - 1
    ds.PixelRepresentation = int(signed)
    ds.PixelData = raw.tobytes()
    if compress:
        ds.compress(RLELossless, raw)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("dtype,bits_stored", [(np.int16, 12), (np.uint16, 12), (np.int16, 16), (np.uint8, 7)])
def test_fast_read_equals_pydicom_with_garbage_in_the_unused_bits(tmp_path, syntax, dtype, bits_stored):
    rng = np.random.default_rng(bits_stored)
    info = np.iinfo(dtype)
    raw = rng.integers(info.min, info.max, size=(7, 9), endpoint=True).astype(dtype)  # high bits set at random
    path = _write(tmp_path / "s.dcm", raw, syntax=syntax, bits_stored=bits_stored, signed=info.min < 0)
    ds, offset = _read_header(path)
    dt = native_dtype(ds, str(ds.file_meta.TransferSyntaxUID))
    out = np.empty(raw.shape, dt)
    assert read_native(path, offset, str(ds.file_meta.TransferSyntaxUID), out, bits_stored)
    expected = pydicom.dcmread(path).pixel_array
    assert out.dtype == expected.dtype and np.array_equal(out, expected)
    if bits_stored < raw.dtype.itemsize * 8:
        assert not np.array_equal(out, raw)  # the correction did act


def test_compressed_and_short_data_are_left_to_pydicom(tmp_path):
    raw = np.arange(63, dtype=np.int16).reshape(7, 9)
    rle = _write(tmp_path / "rle.dcm", raw, syntax=ExplicitVRLittleEndian, bits_stored=16, signed=True, compress=True)
    ds, _ = _read_header(rle)
    assert native_dtype(ds, str(ds.file_meta.TransferSyntaxUID)) is None
    plain = _write(tmp_path / "p.dcm", raw, syntax=ExplicitVRLittleEndian, bits_stored=16, signed=True)
    ds, offset = _read_header(plain)
    data = plain.read_bytes()
    plain.write_bytes(data[:-10])  # truncated: the element says more than the file holds
    out = np.empty((7, 9), np.int16)
    assert not read_native(plain, offset, ExplicitVRLittleEndian, out, 16)
    assert not read_native(plain, None, ExplicitVRLittleEndian, out, 16)
