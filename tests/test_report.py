"""report.html: one self-contained page with the plan's numbers, pictures that show something,
and no patient identifier, also when identifiers are planted in the DICOM series."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from implantgen.parallel import can_fork
from implantgen.pipeline import plan_case
from implantgen.report import write_report
from implantgen.report.images import _plane_line, ct_pictures
from implantgen.report.reformat import Section, read_ct, read_labels_on

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom"
PLANTED = {"PatientName": "Planted^Report^Q", "PatientID": "PID-REPORT-4242",
           "PatientBirthDate": "19010203", "AccessionNumber": "ACC-REPORT-777"}
NEEDLES = ["Planted", "PLANTED", "PID-REPORT-4242", "19010203", "ACC-REPORT-777"]


def _planted_copy(root: Path) -> Path:
    """The sample series with known identifiers, in a folder named after the patient."""
    series = root / "Planted_Report_PID-REPORT-4242"
    shutil.copytree(SAMPLE, series)
    for path in sorted(series.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        for key, value in PLANTED.items():
            setattr(ds, key, value)
        ds.save_as(path)
    return series


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The planned sample (identifiers planted), its report written once, and what was there."""
    root = tmp_path_factory.mktemp("report")
    series = _planted_copy(root)
    out = root / "case"
    plan_case(series, out)
    before = {p.name for p in out.iterdir()}
    t0 = time.perf_counter()
    path = write_report(out)
    seconds = time.perf_counter() - t0
    print(f"write_report: {seconds:.1f} s")
    return {"out": out, "series": series, "before": before, "path": path, "seconds": seconds,
            "page": path.read_text(encoding="utf-8"),
            "plan": json.loads((out / "plan.json").read_text(encoding="utf-8"))}


def _text(page: str) -> str:
    """The page's visible text: tags out, entities decoded, spaces collapsed."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_one_self_contained_file(case):
    assert case["path"] == case["out"] / "report.html"
    after = {p.name for p in case["out"].iterdir()}
    assert after - case["before"] <= {"report.html"} and "report.html" in after
    page = case["page"]
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower() and "url(" not in page
    sources = re.findall(r"""src\s*=\s*["']?([^"' >]*)""", page)
    assert sources and all(s.startswith("data:") for s in sources)
    assert "NOT FOR CLINICAL USE" in page
    assert "Made by implantgen" in _text(page)


def test_the_plan_numbers_are_there(case):
    plan, text = case["plan"], _text(case["page"])
    assert f"{plan['resection_length_mm']:.1f} mm" in text
    assert f"margin {plan['margin_mm']:.1f} mm" in text
    lo, hi = plan["lesion"]["extent_along_axis_mm"]
    assert f"{lo:.1f} to {hi:.1f} mm" in text
    for stem in plan["implant"]["stems"]:
        assert f"{stem['diameter_mm']:.1f} mm" in text and f"{stem['length_mm']:.1f} mm" in text
    assert f"{plan['plate']['length_mm']:.1f} mm" in text
    assert "not entered" in text  # Mirels' pain, not given on the command line
    for cut in plan["osteotomies"]:
        assert "({:.1f}, {:.1f}, {:.1f})".format(*cut["point"]) in text


def test_printability_and_warnings_are_there(case):
    plan, text = case["plan"], _text(case["page"])
    for part, result in plan["printability"].items():
        assert f"{part}: {'pass' if result['passed'] else 'FAIL'}" in text
        assert f"{result['thinnest_wall_mm']:.2f} mm" in text
        for failure in result["failures"]:
            assert failure in text
    assert plan["warnings"]
    for warning in plan["warnings"]:
        assert re.sub(r"\s+", " ", warning) in text
    manifest = json.loads((case["out"] / "manifest.json").read_text(encoding="utf-8"))
    for name, entry in manifest["outputs"].items():
        assert entry["sha256"] in text, name
    assert manifest["input"]["pixel_sha256"] in text


def test_pictures_decode_and_show_something(case):
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', case["page"])
    assert len(images) >= 4
    for data in images:
        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"), dtype=float)
        assert min(img.shape[:2]) >= 100
        assert img.std() > 10.0  # not one flat colour


def test_no_patient_identifier_in_the_report(case):
    data = case["path"].read_bytes()
    for needle in NEEDLES + [str(case["series"]), str(case["out"])]:
        for variant in (needle, needle.replace("^", " "), needle.lower()):
            assert variant.encode() not in data, variant
    ds = pydicom.dcmread(next(case["series"].rglob("*.dcm")), stop_before_pixels=True)
    for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
        assert str(uid).encode() not in data


def test_missing_optional_files_are_said_not_available(case, tmp_path):
    folder = tmp_path / "partial"
    shutil.copytree(case["out"], folder)
    for name in ("plate.stl", "segmentation.nrrd", "manifest.json", "report.html"):
        (folder / name).unlink()
    text = _text(write_report(folder).read_text(encoding="utf-8"))
    for name in ("plate.stl", "segmentation.nrrd"):
        assert f"{name}: not available" in text
    assert "Parameters: not available" in text
    assert "computed by the report" in text  # hashes of the files that are there
    assert "NOT FOR CLINICAL USE" in text


def test_no_ct_crop_gives_no_ct_pictures(case, tmp_path):
    pictures, missing = ct_pictures(tmp_path, case["plan"], {})
    assert pictures == [] and missing == ["ct.nrrd: not available, so no CT pictures."]


def test_labels_land_on_the_ct_crop_by_physical_position(case):
    import SimpleITK as sitk

    ct = read_ct(case["out"])
    labels = read_labels_on(case["out"], ct)
    seg = sitk.ReadImage(str(case["out"] / "segmentation.nrrd"))
    full = sitk.GetArrayFromImage(seg)
    k, j, i = np.argwhere(full == 2)[len(np.argwhere(full == 2)) // 2]
    point = np.array(seg.TransformIndexToPhysicalPoint((int(i), int(j), int(k))))
    idx = np.rint(ct.to_index(point[None])[:, 0]).astype(int)
    assert labels[tuple(idx)] == 2


def test_an_osteotomy_plane_is_a_line_at_its_height():
    # a coronal-like picture: 1 mm pixels, top row at z = 100, rows going down in z
    section = Section("test", np.array([0.0, 0, 100]), np.array([1.0, 0, 0]), np.array([0, 0, -1.0]),
                      (200, 100), 1.0)
    (c0, r0), (c1, r1) = _plane_line(section, [5.0, 3.0, 40.0], [0, 0, 1.0])
    assert (c0, c1) == (0, 99) and r0 == pytest.approx(60) and r1 == pytest.approx(60)
    tilted = _plane_line(section, [0.0, 0, 40.0], [np.sin(0.1), 0, np.cos(0.1)])
    # z = 40 - x tan(0.1): lower (a larger row) to the right
    assert tilted[1][1] - tilted[0][1] == pytest.approx(99 * np.tan(0.1))


def _killed(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # as a crash in a graphics driver would end it


@pytest.mark.skipif(not can_fork(), reason="the pictures are drawn in a forked worker only where fork is used")
def test_a_picture_worker_that_dies_leaves_a_report_that_says_so(tmp_path, monkeypatch):
    import implantgen.report.write as write

    monkeypatch.setattr(write, "report_pictures", _killed)  # the pipeline imports it where it forks
    out = tmp_path / "case"
    plan_case(SAMPLE, out)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<img" not in page and page.count("the drawing process ended") == 2  # 3D views, CT
    assert "NOT FOR CLINICAL USE" in page and "Printability" in page
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {"report.html", "plan.json", "implant.stl", "implant.3mf"} <= set(manifest["outputs"])
