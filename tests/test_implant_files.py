"""The implant's files as a lab receives them: from `implantgen plan` on the sample series to a
real printer slicer (PrusaSlicer), which must accept implant.stl and plate.stl untouched."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh

from implantgen.cli import main

from .slicer import slice_to_gcode, slicer_info

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "sample"
    assert main(["plan", str(SAMPLE), "--out", str(out), "--quiet"]) == 0
    return out


def test_plan_json_holds_the_implant_and_plate_per_the_contract(case):
    plan = json.loads((case / "plan.json").read_text())
    implant, plate = plan["implant"], plan["plate"]
    assert implant["length_mm"] == pytest.approx(plan["resection_length_mm"], abs=2.0)
    assert implant["volume_ml"] > 0
    assert len(implant["stems"]) == 2
    for stem in implant["stems"]:
        assert stem["diameter_mm"] > 0 and stem["length_mm"] >= 60
    holes = implant["screw_holes"]
    assert {h["in"] for h in holes} == {"implant", "bone"}
    for h in holes:
        assert len(h["center"]) == 3 and np.linalg.norm(h["axis"]) == pytest.approx(1.0, abs=1e-5)
        assert h["diameter_mm"] == 3.2
    assert plate["holes"] == len(holes) and plate["length_mm"] > implant["length_mm"]
    assert not any("not available" in w for w in plan["warnings"])
    for name in ("implant.stl", "plate.stl"):
        check = plan["printability"][name]
        assert check["passed"], check["failures"]
        assert check["thinnest_wall_mm"] >= 0.8


def test_stl_files_are_closed_outward_and_carry_no_patient_data(case):
    for name in ("implant.stl", "plate.stl"):
        data = (case / name).read_bytes()
        assert data[:80].startswith(b"implantgen binary STL; units mm; frame DICOM LPS; NOT FOR CLINICAL USE")
        mesh = trimesh.load(case / name)  # merged by position, as slicers read it
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
        assert len(mesh.split(only_watertight=False)) == 1


def test_3mf_is_in_millimetres_with_both_parts(case):
    with zipfile.ZipFile(case / "implant.3mf") as z:
        model = z.read("3D/3dmodel.model").decode()
    assert 'unit="millimeter"' in model
    assert "NOT FOR CLINICAL USE" in model
    assert model.count("<object ") == 2
    scene = trimesh.load(case / "implant.3mf")
    volumes = sorted(g.volume for g in scene.geometry.values())
    plan = json.loads((case / "plan.json").read_text())
    expected = sorted([plan["implant"]["volume_ml"] * 1000, plan["plate"]["volume_ml"] * 1000])
    assert np.allclose(volumes, expected, rtol=1e-3)


def test_manifest_records_design_parameters_and_output_hashes(case):
    manifest = json.loads((case / "manifest.json").read_text())
    design = manifest["parameters"]["design"]
    assert design["screws"]["drill_mm"] == 3.2 and design["stem"]["fixation"] == "cemented"
    for name in ("implant.stl", "plate.stl", "implant.3mf", "plan.json"):
        assert len(manifest["outputs"][name]["sha256"]) == 64
    assert manifest["stages"]["design"] == "done"


@pytest.mark.parametrize("name", ["implant.stl", "plate.stl"])
def test_prusaslicer_accepts_the_part_untouched(case, name, tmp_path):
    info = slicer_info(case / name)
    assert info["manifold"] is True, info
    assert info.get("open_edges", 0) == 0 and info.get("facets_reversed", 0) == 0, info
    assert not info.get("repaired"), info
    assert info["number_of_parts"] == 1
    ok, message = slice_to_gcode(case / name, tmp_path / f"{name}.gcode")
    assert ok, message


def test_strict_turns_a_failed_printability_check_into_an_error(tmp_path, capsys):
    config = tmp_path / "small_printer.toml"
    config.write_text("[printing]\nbuild_volume_mm = [120, 120, 120]\n")  # the implant is ~280 mm long
    out = tmp_path / "strict"
    code = main(["plan", str(SAMPLE), "--out", str(out), "--config", str(config), "--strict", "--quiet"])
    err = capsys.readouterr().err
    assert code == 3
    assert "printability" in err.lower() and "--strict" in err
    assert not out.exists()


def test_unknown_config_section_is_refused(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("[stems]\nfixation = \"cemented\"\n")
    code = main(["plan", str(SAMPLE), "--out", str(tmp_path / "x"), "--config", str(config)])
    assert code == 2
    assert "unknown section" in capsys.readouterr().err
