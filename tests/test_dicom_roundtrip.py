"""Write a series and read it back: same HU and geometry, however the folder is laid out.

Covers phantoms with a tilted bone and an oblique image plane, shuffled and nested files with a
DICOMDIR and stray files, several series, unusual rescales, compressed transfer syntaxes, and
gantry tilt (sheared slices resampled onto a regular grid).
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from implantgen import list_series, load_ct
from implantgen.phantom import FemurSpec, femur_phantom
from implantgen.phantom.dicom_write import write_ct_series, write_slices
from implantgen.records import Volume

from .conftest import small_volume


def _assert_same(vol: Volume, ref: Volume, atol_mm=1e-4):
    assert vol.shape == ref.shape
    np.testing.assert_array_equal(vol.array, ref.array)
    np.testing.assert_allclose(vol.spacing, ref.spacing, atol=atol_mm)
    np.testing.assert_allclose(vol.origin, ref.origin, atol=atol_mm)
    np.testing.assert_allclose(vol.direction, ref.direction, atol=1e-6)


def _oblique(deg: float) -> np.ndarray:
    a, b = np.radians(deg), np.radians(deg / 3)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return rz @ rx


SMALL = dict(size=80, pixel_mm=2.0, slices=48, slice_mm=4.0, bone_length_mm=170.0,
             lesion_length_mm=30.0)


@pytest.mark.parametrize("name, spec", [
    ("straight", FemurSpec(**SMALL)),
    ("tilted_bone", FemurSpec(**SMALL, tilt_deg=15.0, tilt_azimuth_deg=40.0)),
    ("oblique_plane", FemurSpec(**SMALL, direction=tuple(_oblique(20.0).ravel()))),
    ("blastic", FemurSpec(**SMALL, lesion_type="blastic", seed=3)),
])
def test_phantom_roundtrip(tmp_path, name, spec):
    case = femur_phantom(spec)
    write_ct_series(case.volume, tmp_path / name)
    back = load_ct(tmp_path / name)
    _assert_same(back, case.volume)
    expected = "axial" if name != "oblique_plane" else "oblique"
    assert back.summary.orientation == expected
    # An independent reader (GDCM through SimpleITK) agrees: the files are valid CT images.
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / name)))
    img = reader.Execute()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img), case.volume.array)
    np.testing.assert_allclose(np.reshape(img.GetDirection(), (3, 3)), case.volume.direction, atol=1e-6)
    np.testing.assert_allclose(img.GetOrigin(), case.volume.origin, atol=1e-4)


def _messy_export(tmp: Path, vol: Volume) -> Path:
    """A PACS-style export: DICOMDIR, nested folders, odd names, stray files, a second series."""
    from pydicom.fileset import FileSet

    plain = tmp / "plain"
    write_ct_series(vol, plain, description="main")
    small = small_volume(shape=(5, 16, 16))
    write_ct_series(small, tmp / "other", description="other", seed=9)
    fs = FileSet()
    for p in sorted(plain.iterdir()) + sorted((tmp / "other").iterdir()):
        fs.add(pydicom.dcmread(p))
    export = tmp / "export"
    fs.write(export)
    files = sorted(p for p in export.rglob("*") if p.is_file() and p.name != "DICOMDIR")
    # Rename to meaningless names in shuffled order, some moved one folder deeper.
    rng = random.Random(4)
    rng.shuffle(files)
    for n, p in enumerate(files):
        dest = p.parent / ("deeper" if n % 3 == 0 else "") / f"{rng.getrandbits(40):x}"
        dest.parent.mkdir(exist_ok=True)
        p.rename(dest)
    (export / "README.TXT").write_text("burned to CD by a PACS\n")
    (export / "autorun.inf").write_bytes(b"\x00\x01garbage")
    (export / "VIEWER").mkdir()
    (export / "VIEWER" / "viewer.exe").write_bytes(b"MZ" + bytes(200))
    return export


def test_messy_export_reads_the_largest_ct_series(tmp_path, caplog):
    vol = femur_phantom(FemurSpec(**SMALL, tilt_deg=8.0, seed=5)).volume
    export = _messy_export(tmp_path, vol)
    assert (export / "DICOMDIR").is_file()
    _assert_same(load_ct(export), vol)
    listed = list_series(export)
    # The user is told another CT series was left aside, and how to pick it.
    said = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert f"2 CT series in the folder: using {listed[0].series_key} (48 slices), not {listed[1].series_key} (5)" in said
    assert "--series-uid" in said
    assert [s.size[2] for s in listed] == [48, 5]
    # --series-uid picks the other one, by the key shown or by the real UID.
    other = load_ct(export, series_uid=listed[1].series_key)
    assert other.shape == (5, 16, 16)
    uid = pydicom.dcmread(sorted((tmp_path / "other").iterdir())[0]).SeriesInstanceUID
    assert load_ct(export, series_uid=uid).shape == (5, 16, 16)


def test_corrupt_extra_file_is_skipped_with_a_warning(tmp_path):
    vol = small_volume()
    folder = tmp_path / "s"
    write_ct_series(vol, folder)
    first = sorted(folder.iterdir())[0]
    # A half-copied duplicate of a slice under another name and instance UID.
    ds = pydicom.dcmread(first)
    ds.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=["copy"])
    ds.save_as(folder / "zz_copy.dcm")
    data = (folder / "zz_copy.dcm").read_bytes()
    (folder / "zz_copy.dcm").write_bytes(data[: len(data) - 1500])
    back = load_ct(folder)
    _assert_same(back, vol)
    assert any("corrupt" in w and "zz_copy.dcm" in w for w in back.warnings)


def test_exact_duplicate_files_are_ignored(tmp_path):
    vol = small_volume()
    folder = tmp_path / "s"
    write_ct_series(vol, folder)
    shutil.copy(sorted(folder.iterdir())[3], folder / "copy_of_slice_4")
    back = load_ct(folder)
    _assert_same(back, vol)
    assert any("duplicate" in w for w in back.warnings)


@pytest.mark.parametrize("rescale, dtype", [((0.5, -2048.0), np.float32), ((1.0, -1024.0), np.int16),
                                            ((2.0, -3000.0), np.int16), ((1.0, 0.0), np.int16)])
def test_rescale_slope_and_intercept(tmp_path, rescale, dtype):
    vol = small_volume()
    if rescale[0] == 2.0:  # a slope of 2 stores only even HU: give it even HU
        vol = Volume(vol.array // 2 * 2, vol.spacing, vol.origin, vol.direction)
    write_ct_series(vol, tmp_path / "s", rescale=rescale)
    back = load_ct(tmp_path / "s")
    assert back.array.dtype == dtype
    _assert_same(back, vol)


@pytest.mark.parametrize("compression", ["rle", "j2k"])
def test_compressed_transfer_syntaxes(tmp_path, compression):
    vol = small_volume()
    write_ct_series(vol, tmp_path / "s", compression=compression)
    back = load_ct(tmp_path / "s")
    _assert_same(back, vol)
    assert back.summary.transfer_syntax != "Explicit VR Little Endian"


def test_compressed_slices_are_decoded_on_two_cores(tmp_path, monkeypatch):
    """JPEG 2000 decoding holds the GIL: the second half of the slices is decoded in a forked
    worker (load/decode.py), and the volume is the same as decoded in one process."""
    from implantgen.load import decode as dec
    from implantgen.load.dicom_scan import scan_folder

    vol = small_volume()
    write_ct_series(vol, tmp_path / "s", compression="j2k")
    slices = sorted(scan_folder(tmp_path / "s").series[0].slices,
                    key=lambda s: float(s.ds.ImagePositionPatient[2]))
    plain = dec.decode
    monkeypatch.setattr(dec, "decode", lambda s, rows, cols: (os.getpid(), plain(s, rows, cols)))
    shared = dec.decode_many(slices, 40, 48)
    alone = dec.decode_many(slices, 40, 48, share=False)
    half = len(slices) // 2
    assert {pid for pid, _ in shared[:half]} == {os.getpid()}
    assert os.getpid() not in {pid for pid, _ in shared[half:]}
    assert {pid for pid, _ in alone} == {os.getpid()}
    for (_, a), (_, b), s in zip(shared, alone, slices):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, pydicom.dcmread(s.path).pixel_array)
    monkeypatch.setattr(dec, "decode", plain)
    _assert_same(load_ct(tmp_path / "s"), vol)
    monkeypatch.setenv("IMPLANTGEN_FORK", "0")  # no fork: all slices here, the same volume
    _assert_same(load_ct(tmp_path / "s"), vol)


def test_gantry_tilt_is_resampled_onto_a_regular_grid(tmp_path):
    """Slices tilted 15 degrees about x, table moving along z: the stack is sheared.

    The HU written are a linear function of position (exact under linear interpolation), so
    every resampled voxel away from the edges must hold that function at its own position.
    """
    tilt = np.radians(15.0)
    row, col = np.array([1.0, 0, 0]), np.array([0, np.cos(tilt), np.sin(tilt)])
    rows, cols, n, ps, dz = 40, 44, 16, 1.0, 3.0
    positions = np.array([[-22.0, -20.0, -50.0 + k * dz] for k in range(n)])
    f = lambda p: 2.0 * p[..., 0] - 3.0 * p[..., 1] + 5.0 * p[..., 2]  # noqa: E731
    jj, ii = np.mgrid[0:rows, 0:cols]
    slices = np.stack([
        f(positions[k] + ii[..., None] * ps * row + jj[..., None] * ps * col) for k in range(n)
    ])
    write_slices(slices, positions, np.concatenate([row, col]), (ps, ps), tmp_path / "s",
                 gantry_tilt_deg=15.0)
    back = load_ct(tmp_path / "s")
    assert any("Gantry tilt of 15.0 degrees" in w for w in back.warnings)
    normal = np.cross(row, col)
    np.testing.assert_allclose(back.direction[:, 2], normal, atol=1e-6)
    np.testing.assert_allclose(back.spacing[2], dz * np.cos(tilt), atol=1e-4)
    k, j, i = np.mgrid[0:n, 0:rows, 0:cols]
    xyz = back.index_to_physical(np.stack([i, j, k], -1).reshape(-1, 3)).reshape(n, rows, cols, 3)
    shift_px = dz * np.sin(tilt) * (n - 1) / ps  # the largest in-plane shift, in pixels
    inner = (slice(None), slice(int(np.ceil(shift_px)) + 1, rows - int(np.ceil(shift_px)) - 1), slice(1, -1))
    err = np.abs(back.array[inner].astype(float) - f(xyz)[inner])
    assert err.max() <= 1.0  # rounding to integers only
