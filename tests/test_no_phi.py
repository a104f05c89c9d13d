"""No patient identifier leaves the building: a series carrying known identifiers is planned, and
every output byte, every output file name and every log line is searched for them."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import pydicom

from .test_cli import PLAN_ARGS

NAME = "Quixote^Alonso^Q"
IDENTIFIERS = {
    "PatientName": NAME,
    "PatientID": "PID-7788990",
    "PatientBirthDate": "19470312",
    "AccessionNumber": "ACC5544332",
    "OtherPatientIDs": "OPID-1122",
    "PatientAddress": "Calle Mayor 12, La Mancha",
    "InstitutionName": "Hospital de Quixote",
    "ReferringPhysicianName": "Panza^Sancho",
    "StudyID": "STUDY-9911",
    "SeriesDescription": "QUIXOTE ALONSO THIGH CT",  # free text that some sites fill with names
    "StudyDescription": "CT FEMUR QUIXOTE",
}


def _needles(series: Path) -> list[bytes]:
    ds = pydicom.dcmread(next(series.rglob("*.dcm")), stop_before_pixels=True)
    values = [v for v in IDENTIFIERS.values()] + ["Quixote", "Alonso", "PID-7788990", "Sancho"]
    values += [str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)]
    out = set()
    for v in values:
        for variant in (v, v.upper(), v.lower(), v.replace("^", " ")):
            out.add(variant.encode())
            out.add(variant.encode("utf-16-le"))  # in case something writes UTF-16
    return sorted(out)


def _plant(series: Path) -> None:
    for path in sorted(series.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        for key, value in IDENTIFIERS.items():
            setattr(ds, key, value)
        ds.save_as(path)


def test_no_identifier_in_any_output_file_name_or_log_line(tmp_path, run_cli, caplog):
    # The patient's name is in the folder's name too, as PACS exports often do.
    case = tmp_path / "Quixote_Alonso_PID-7788990"
    assert run_cli("phantom", case, *PLAN_ARGS)[0] == 0
    _plant(case)
    needles = _needles(case)
    out = tmp_path / "result"
    caplog.set_level(logging.DEBUG)
    code, stdout, stderr = run_cli("plan", case, "--out", out)
    assert code == 0, stderr
    logged = "\n".join(r.getMessage() for r in caplog.records) + stdout + stderr
    for needle in needles:
        assert needle.decode("utf-8", "replace") not in logged, needle
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"plan.json", "manifest.json", "implant.stl", "plate.stl", "implant.3mf"}
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".3mf":  # a zip: search what is inside, uncompressed
            with zipfile.ZipFile(path) as z:
                data += b"".join(z.read(n) + n.encode() for n in z.namelist())
        for needle in needles:
            assert needle not in path.name.encode(), (path.name, needle)
            assert needle not in data, (path.name, needle)
    # inspect shows no identifiers either (it is what a user pastes into a ticket).
    code, stdout, stderr = run_cli("inspect", case, "--json")
    assert code == 0
    for needle in needles:
        assert needle.decode("utf-8", "replace") not in stdout + stderr, needle
