"""A corpus of bad inputs built here: each gives its plain sentence, its exit code, and no output.

Every case runs `implantgen plan CASE --out OUT` as a user would: exit 2 (bad input), one line on
stderr starting 'implantgen: error:' and ending with a full stop, no traceback, and neither OUT
nor any half-written sibling folder left behind; the input is not modified.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from implantgen.phantom.dicom_write import write_ct_series, write_slices

from .conftest import small_volume


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _series(tmp: Path, name="case", **options) -> Path:
    folder = tmp / name
    write_ct_series(small_volume(), folder, **options)
    return folder


def _edit(folder: Path, index: int, **attrs) -> None:
    path = _files(folder)[index]
    ds = pydicom.dcmread(path)
    for key, value in attrs.items():
        setattr(ds, key, value)
    ds.save_as(path)


# Each builder makes one bad input under tmp and returns its path.
def missing_folder(tmp):
    return tmp / "no_such_folder"


def empty_folder(tmp):
    (tmp / "empty").mkdir()
    return tmp / "empty"


def no_dicom(tmp):
    folder = tmp / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not an image\n")
    (folder / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    return folder


def mr_series(tmp):
    folder = _series(tmp)
    for p in _files(folder):
        ds = pydicom.dcmread(p)
        ds.Modality = "MR"
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.MRImageStorage
        ds.save_as(p)
    return folder


def secondary_capture(tmp):
    folder = _series(tmp)
    for p in _files(folder):
        ds = pydicom.dcmread(p)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.SecondaryCaptureImageStorage
        ds.save_as(p)
    return folder


def single_slice(tmp):
    folder = _series(tmp)
    for p in _files(folder)[1:]:
        p.unlink()
    return folder


def missing_slices(tmp):
    folder = _series(tmp)
    _files(folder)[5].unlink()
    return folder


def different_sizes(tmp):
    folder = _series(tmp)
    vol = small_volume(shape=(1, 30, 48))
    write_slices(vol.array, np.array([[-20.0, -16.0, -70.0]]), np.array([1, 0, 0, 0, 1, 0]),
                 (0.9, 0.8), folder, file_names=["odd.dcm"])
    ds = pydicom.dcmread(_files(folder)[0])
    odd = pydicom.dcmread(folder / "odd.dcm")
    odd.SeriesInstanceUID = ds.SeriesInstanceUID  # same series, other size
    odd.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=["odd"])
    odd.save_as(folder / "odd.dcm")
    return folder


def different_orientations(tmp):
    folder = _series(tmp)
    _edit(folder, 3, ImageOrientationPatient=[1, 0, 0, 0, 0.9, 0.43589])
    return folder


def different_pixel_spacing(tmp):
    folder = _series(tmp)
    _edit(folder, 4, PixelSpacing=[0.7, 0.9])
    return folder


def truncated_middle_file(tmp):
    folder = _series(tmp)
    path = _files(folder)[6]
    path.write_bytes(path.read_bytes()[:2000])  # header kept, pixels cut: skipped -> a gap
    return folder


def no_pixel_data(tmp):
    folder = _series(tmp)
    for p in _files(folder):
        ds = pydicom.dcmread(p)
        del ds.PixelData
        ds.save_as(p)
    return folder


def dicomdir_only(tmp):
    from pydicom.fileset import FileSet

    src = _series(tmp, "src")
    fs = FileSet()
    for p in _files(src):
        fs.add(pydicom.dcmread(p))
    fs.write(tmp / "export")
    for p in _files(tmp / "export"):
        if p.name != "DICOMDIR":
            p.unlink()
    return tmp / "export"


def same_positions(tmp):
    folder = _series(tmp)
    first = pydicom.dcmread(_files(folder)[0])
    _edit(folder, 1, ImagePositionPatient=first.ImagePositionPatient)
    return folder


def uneven_spacing(tmp):
    folder = tmp / "uneven"
    vol = small_volume()
    z = -100.0 + np.cumsum([0] + [2.5] * 5 + [3.2] * 6)
    pos = np.stack([np.full(12, -20.0), np.full(12, -16.0), z], axis=1)
    write_slices(vol.array, pos, np.array([1, 0, 0, 0, 1, 0]), (0.9, 0.8), folder)
    return folder


def localizer_only(tmp):
    folder = _series(tmp)
    for p in _files(folder):
        ds = pydicom.dcmread(p)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
        ds.save_as(p)
    return folder


def not_a_volume_file(tmp):
    path = tmp / "scan.dcm"
    write_ct_series(small_volume(shape=(2, 20, 20)), tmp / "s")
    shutil.copy(_files(tmp / "s")[0], path)
    return path


def corrupt_nifti(tmp):
    path = tmp / "ct.nii.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(100))
    return path


def flat_nifti(tmp):
    path = tmp / "slice.nii.gz"
    img = sitk.GetImageFromArray(small_volume(shape=(1, 20, 20)).array)
    sitk.WriteImage(img, str(path))
    return path


def colour_nrrd(tmp):
    path = tmp / "rgb.nrrd"
    img = sitk.GetImageFromArray(np.zeros((4, 8, 8, 3), np.uint8), isVector=True)
    sitk.WriteImage(img, str(path))
    return path


CASES = [
    (missing_folder, "does not exist"),
    (empty_folder, "is empty"),
    (no_dicom, "No DICOM images found"),
    (mr_series, "No CT series"),
    (secondary_capture, "secondary capture"),
    (single_slice, "single slice"),
    (missing_slices, "Slices are missing"),
    (different_sizes, "different sizes"),
    (different_orientations, "different orientations"),
    (different_pixel_spacing, "different pixel spacings"),
    (truncated_middle_file, "Slices are missing"),
    (no_pixel_data, "usable pixel data"),
    (dicomdir_only, "only a DICOMDIR"),
    (same_positions, "same position"),
    (uneven_spacing, "uneven"),
    (localizer_only, "localizer"),
    (not_a_volume_file, "not a volume file"),
    (corrupt_nifti, "cannot be read"),
    (flat_nifti, "single slice"),
    (colour_nrrd, "colour or vector"),
]


def _snapshot(path: Path) -> dict:
    if not path.exists():
        return {}
    files = [path] if path.is_file() else _files(path)
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.parametrize("build, phrase", CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input_is_refused_plainly(tmp_path, run_cli, build, phrase):
    src = tmp_path / "in"
    src.mkdir()
    case = build(src)
    before = _snapshot(case)
    out_parent = tmp_path / "results"
    out_parent.mkdir()
    code, stdout, stderr = run_cli("plan", case, "--out", out_parent / "case1")
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("implantgen: error: ") and lines[0].endswith("."), lines[0]
    assert phrase in lines[0]
    assert "Traceback" not in stderr
    assert list(out_parent.iterdir()) == []  # nothing written, not even a partial folder
    assert _snapshot(case) == before  # the input is untouched


def test_corpus_is_large_enough():
    assert len(CASES) >= 12


def test_inspect_lists_an_unreadable_series_with_its_reason(tmp_path, run_cli):
    case = missing_slices(tmp_path)
    code, out, err = run_cli("inspect", case)
    assert code == 0
    assert "Slices are missing" in out


@pytest.mark.parametrize("argv, phrase", [
    (["--margin-mm", "-5"], "not a positive distance"),
    (["--lesion-seed", "1,2"], "3 comma-separated numbers"),
    (["--lesion-seed", "1000,1000,1000"], "outside the CT"),
    (["--lesion-mask", "nowhere.nrrd"], "does not exist"),
    (["--series-uid", "1.2.3.4"], "No single series"),
])
def test_bad_options_are_refused_plainly(small_series, tmp_path, run_cli, argv, phrase):
    folder, _ = small_series
    code, _, err = run_cli("plan", folder, "--out", tmp_path / "out", *argv)
    assert code == 2 and phrase in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_output_path_that_is_not_ours_is_left_alone(small_series, tmp_path, run_cli):
    folder, _ = small_series
    mine = tmp_path / "my_documents"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    code, _, err = run_cli("plan", folder, "--out", mine)
    assert code == 2 and "choose a new folder" in err
    assert [p.name for p in mine.iterdir()] == ["thesis.txt"]


def test_not_hu_volume_file_warns_but_loads(tmp_path, run_cli):
    raw = small_volume().array.astype(np.int32) + 1024  # intercept dropped by a converter
    img = sitk.GetImageFromArray(raw.astype(np.uint16))
    sitk.WriteImage(img, str(tmp_path / "raw.nrrd"))
    code, out, err = run_cli("inspect", tmp_path / "raw.nrrd")
    assert code == 0 and "not HU" in out
    mask = sitk.GetImageFromArray((small_volume().array > 0).astype(np.uint8))
    sitk.WriteImage(mask, str(tmp_path / "mask.nii.gz"))
    code, out, err = run_cli("inspect", tmp_path / "mask.nii.gz")
    assert code == 0 and "mask or a normalised image" in out
    code, out, err = run_cli("plan", tmp_path / "mask.nii.gz", "--out", tmp_path / "o")
    assert code == 3 and "No bone" in err and not (tmp_path / "o").exists()


def test_output_path_under_a_file_is_refused_before_any_work(small_series, tmp_path, run_cli):
    folder, _ = small_series
    (tmp_path / "afile").write_text("x")
    code, _, err = run_cli("plan", folder, "--out", tmp_path / "afile" / "sub" / "out")
    assert code == 2 and "which is a file" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "afile").read_text() == "x"


def test_output_folder_that_cannot_be_written_is_refused_before_any_work(small_series, run_cli):
    folder, _ = small_series
    # /proc refuses new folders even to root (a chmod'ed folder would not stop root)
    code, _, err = run_cli("segment", folder, "--out", "/proc/implantgen-test-out")
    assert code == 2 and "cannot be written" in err and len(err.strip().splitlines()) == 1


_LESION_CONFIGS = [
    ('[lesion]\nlytic_hu = [150, 0]\n', "lesion.lytic_hu = [150, 0] is not a range"),
    ('[lesion]\nlytic_hu = "x"\n', "is not a range"),
    ('[lesion]\nfoo = 1\n', "[lesion] has unknown setting(s) foo"),
    ('[lesion]\nmin_volume_ml = -1\n', "lesion.min_volume_ml = -1 is not a positive number"),
    ('lesion = 3\n', "[lesion] must be a table"),
]


@pytest.mark.parametrize("command, toml, phrase", [("segment", *c) for c in _LESION_CONFIGS] + [
    ("plan", *c) for c in _LESION_CONFIGS + [
        ('[feasibility]\nmin_fixation_mm = "x"\n', "feasibility.min_fixation_mm = 'x' is not a positive"),
        ('[stem]\nmax_length_mm = 1e400\n', "stem.max_length_mm = inf is not a positive number"),
        ('[stem]\ncortex_hu = "abc"\n', "stem.cortex_hu = 'abc' is not a number"),
        ('[printing]\nbuild_volume_mm = ["a"]\n', "printing.build_volume_mm = ['a'] is not 3 positive numbers"),
        ('[plate]\nside = ["a", "b", "c"]\n', "a direction needs three numbers"),
        ('[plate]\nside = [0, 0, 0]\n', "not all zero"),
    ]])
def test_bad_config_values_are_refused_plainly(small_series, tmp_path, run_cli, command, toml, phrase):
    folder, _ = small_series
    (tmp_path / "c.toml").write_text(toml)
    code, _, err = run_cli(command, folder, "--out", tmp_path / "out", "--config", tmp_path / "c.toml")
    assert code == 2 and phrase in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_output_folder_holding_an_input_is_not_replaced(small_series, tmp_path, run_cli):
    """Re-planning an earlier result's own CT crop into that result's folder would delete it."""
    folder, vol = small_series
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "manifest.json").write_text('{"tool": "implantgen"}')  # an earlier result
    image = sitk.GetImageFromArray(vol.array)
    sitk.WriteImage(image, str(earlier / "ct.nrrd"))
    before = (earlier / "ct.nrrd").read_bytes()
    for argv in (["plan", earlier / "ct.nrrd"], ["segment", earlier / "ct.nrrd"],
                 ["plan", folder, "--lesion-mask", earlier / "ct.nrrd"]):
        code, _, err = run_cli(*argv, "--out", earlier)
        assert code == 2 and "holds the input" in err and len(err.strip().splitlines()) == 1, err
        assert (earlier / "ct.nrrd").read_bytes() == before


def test_output_folder_inside_the_input_series_folder_is_refused(small_series, tmp_path, run_cli):
    """The series folder is read with its subfolders: a result written into it would change what
    the user gave, and be read back as part of the series next time."""
    folder, _ = small_series
    before = sorted(p.name for p in folder.rglob("*"))
    for command in ("plan", "segment"):
        code, _, err = run_cli(command, folder, "--out", folder / "plan_out")
        assert code == 2 and "lies inside the input folder" in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in folder.rglob("*")) == before


@pytest.mark.parametrize("argv, phrase", [
    (["--bones", "nowhere.nrrd"], "bone label map nowhere.nrrd does not exist"),
    (["--bone-names", "totalsegmentator"], "give that label map too"),
    (["--bones", "LABELS", "--bone-names", "totalsegmentatr"], "label names file totalsegmentatr does not exist"),
])
@pytest.mark.parametrize("command", ["plan", "segment"])
def test_bad_bone_options_are_refused_before_loading(small_series, tmp_path, run_cli, command, argv, phrase):
    folder, vol = small_series
    labels = tmp_path / "labels.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray((vol.array > 300).astype(np.uint8)), str(labels))
    argv = [str(labels) if a == "LABELS" else a for a in argv]
    code, _, err = run_cli(command, folder, "--out", tmp_path / "out", *argv)
    assert code == 2 and phrase in err and len(err.strip().splitlines()) == 1, err
    assert "load:" not in err  # refused before the CT was read
    assert not (tmp_path / "out").exists()


def test_phantom_over_an_earlier_phantom_is_refused_truthfully(tmp_path, run_cli):
    """A phantom folder is implantgen's but no plan: it is kept, and the sentence does not
    claim implantgen did not write it."""
    args = ["--size", "32", "--pixel-mm", "4", "--slices", "20", "--slice-mm", "10", "--no-masks"]
    assert run_cli("phantom", tmp_path / "case", *args)[0] == 0
    code, _, err = run_cli("phantom", tmp_path / "case", *args)
    assert code == 2 and "not an earlier implantgen plan or segmentation" in err
    assert "not written by implantgen" not in err


@pytest.mark.parametrize("out", [".", ".."])
def test_current_folder_as_output_is_refused_before_any_work(small_series, tmp_path, run_cli, monkeypatch, out):
    """--out . in an empty folder ran the whole plan, then failed to rename '.' (internal error),
    leaving '..partial-*' and '..old-*' folders behind."""
    folder, _ = small_series
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    code, _, err = run_cli("plan", folder, "--out", out)
    assert code == 2 and "is the current folder or holds it" in err and len(err.strip().splitlines()) == 1
    assert list(here.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["here", "series"]
