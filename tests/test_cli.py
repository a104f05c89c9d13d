"""The command line as a user runs it: phantom -> inspect -> plan, atomic and deterministic."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from implantgen import load_ct

PHANTOM_ARGS = ["--size", "64", "--pixel-mm", "2.5", "--slices", "40", "--slice-mm", "5",
                "--bone-length-mm", "180", "--lesion-length-mm", "30", "--tilt-deg", "10"]
# Fine enough to find the lesion and long enough for 20 mm margins and 60 mm stems.
PLAN_ARGS = ["--size", "96", "--pixel-mm", "1.6", "--slices", "96", "--slice-mm", "3",
             "--bone-length-mm", "270", "--lesion-length-mm", "30", "--tilt-deg", "6"]


def test_phantom_command_writes_series_truth_and_masks(tmp_path, run_cli):
    code, _, err = run_cli("phantom", tmp_path / "case", *PHANTOM_ARGS, "--lesion-center-mm", "5",
                           "--rescale", "0.5,-2048", "--seed", "4")
    assert code == 0, err
    truth = json.loads((tmp_path / "case" / "truth.json").read_text())
    assert truth["lesion"]["extent_along_axis_mm"] == [-10.0, 20.0]
    axis = truth["bone"]["axis"]
    np.testing.assert_allclose(truth["osteotomies"][0]["point"],
                               np.add(axis["point"], np.multiply(axis["direction"], -30.0)), atol=0.01)
    assert abs(np.degrees(np.arccos(truth["bone"]["axis"]["direction"][2])) - 10.0) < 0.01
    ct = load_ct(tmp_path / "case")
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "case" / "truth_labels.nrrd")))
    assert labels.shape == ct.shape and set(np.unique(labels)) == {0, 1, 2}
    assert np.median(ct.array[labels == 1]) > 200  # bone, through a slope of 0.5
    # A folder that exists is never written into.
    code, _, err = run_cli("phantom", tmp_path / "case", *PHANTOM_ARGS)
    assert code == 2 and "choose a new folder" in err


def test_phantom_refuses_a_lesion_outside_the_shaft(tmp_path, run_cli):
    code, _, err = run_cli("phantom", tmp_path / "c", *PHANTOM_ARGS, "--lesion-center-mm", "80")
    assert code == 2 and "inside the femoral shaft" in err
    assert not (tmp_path / "c").exists()


def test_plan_is_atomic_deterministic_and_replaces_its_own_result(tmp_path, run_cli, monkeypatch):
    run_cli("phantom", tmp_path / "case", *PLAN_ARGS)
    out1, out2 = tmp_path / "r1", tmp_path / "r2"
    assert run_cli("plan", tmp_path / "case", "--out", out1)[0] == 0
    # the second run does all its work in one process (no fork) on one thread: the same bytes
    with monkeypatch.context() as m:
        m.setenv("IMPLANTGEN_FORK", "0")
        m.setenv("IMPLANTGEN_THREADS", "1")
        assert run_cli("plan", tmp_path / "case", "--out", out2, "--quiet")[0] == 0
    files = ("plan.json", "manifest.json", "segmentation.nrrd", "bone.stl", "lesion.stl", "resected_segment.stl",
             "implant.stl", "plate.stl", "implant.3mf")
    for name in files:
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name
    plan = json.loads((out1 / "plan.json").read_text())
    assert plan["schema"] == "implantgen.plan/1" and plan["units"] == "mm" and plan["frame"] == "LPS"
    assert plan["margin_mm"] == 20.0 and plan["implant"]["volume_ml"] > 0 and plan["plate"]["holes"] >= 7
    assert plan["bone"]["name"] == "femur_right" and plan["lesion"]["type"] == "lytic"
    assert len(plan["osteotomies"]) == 2 and plan["resection_length_mm"] > 60
    manifest = json.loads((out1 / "manifest.json").read_text())
    assert manifest["tool"] == "implantgen" and "plan.json" in manifest["outputs"]
    assert len(manifest["input"]["pixel_sha256"]) == 64
    # Re-running into an earlier result replaces it; a failed run leaves it as it was.
    assert run_cli("plan", tmp_path / "case", "--out", out1, "--margin-mm", "25")[0] == 0
    assert json.loads((out1 / "plan.json").read_text())["margin_mm"] == 25.0
    before = (out1 / "plan.json").read_bytes()
    assert run_cli("plan", tmp_path / "nowhere", "--out", out1)[0] == 2
    assert (out1 / "plan.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case", "r1", "r2"]  # no partial folders


def test_inspect_json_has_no_uids_or_patient_fields(tmp_path, run_cli):
    run_cli("phantom", tmp_path / "case", *PHANTOM_ARGS)
    code, out, _ = run_cli("inspect", tmp_path / "case", "--json")
    assert code == 0
    [summary] = json.loads(out)
    assert summary["modality"] == "CT" and summary["size"] == [64, 64, 40]
    assert "Phantom^Femur" not in out and "PHANTOM" not in out and "1.2.826" not in out


def test_console_script_entry_point(tmp_path):
    # Runs as installed: `python -m implantgen` is the same entry point as the `implantgen` script.
    res = subprocess.run([sys.executable, "-m", "implantgen", "inspect", str(tmp_path / "none")],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.startswith("implantgen: error: ") and "Traceback" not in res.stderr


def test_infeasible_plan_exits_3_and_writes_nothing(tmp_path, run_cli):
    run_cli("phantom", tmp_path / "case", *PLAN_ARGS)
    code, _, err = run_cli("plan", tmp_path / "case", "--out", tmp_path / "r", "--margin-mm", "90")
    assert code == 3 and "osteotomy" in err and "margin" in err
    errors = [line for line in err.strip().splitlines() if line.startswith("implantgen: error:")]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0]  # progress, then one sentence
    assert not (tmp_path / "r").exists()


def test_plan_surfaces_are_closed_outward_and_cut_on_the_planes(tmp_path, run_cli):
    import trimesh

    run_cli("phantom", tmp_path / "case", *PLAN_ARGS)
    assert run_cli("plan", tmp_path / "case", "--out", tmp_path / "r")[0] == 0
    plan = json.loads((tmp_path / "r" / "plan.json").read_text())
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "r" / "segmentation.nrrd")))
    voxel_ml = float(np.prod(load_ct(tmp_path / "case").spacing)) / 1000
    meshes = {}
    for name, label in (("bone.stl", None), ("lesion.stl", 2), ("resected_segment.stl", None)):
        data = (tmp_path / "r" / name).read_bytes()
        assert data[:5] != b"solid" and b"NOT FOR CLINICAL USE" in data[:80]
        mesh = trimesh.load(tmp_path / "r" / name)
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0, name
        meshes[name] = mesh
    lesion_ml = np.count_nonzero(labels == 2) * voxel_ml
    assert abs(meshes["lesion.stl"].volume / 1000 / lesion_ml - 1) < 0.03
    # bone.stl is the bone's solid: its own label plus the lesion's part inside it.
    bone_ml = meshes["bone.stl"].volume / 1000
    assert np.count_nonzero(labels == 1) * voxel_ml * 0.97 < bone_ml < np.count_nonzero(labels > 0) * voxel_ml
    # The resected segment ends exactly on the two osteotomy planes and reaches across them.
    low, high = plan["osteotomies"]
    segment = meshes["resected_segment.stl"]
    v = segment.vertices
    for cut, side in ((low, -1), (high, 1)):
        n, p = np.array(cut["normal"]), np.array(cut["point"])
        d = (v - p) @ n
        assert (d * side).max() < 1e-3  # nothing beyond the plane
        # A cut face lies on it, as large as the shaft's cross-section (radius 13 mm).
        on_plane = np.all(np.abs(d[segment.faces]) < 1e-3, axis=1)
        assert segment.area_faces[on_plane].sum() == pytest.approx(np.pi * 13.0 ** 2, rel=0.1)
    length = (np.array(high["point"]) - np.array(low["point"])) @ np.array(plan["bone"]["axis"]["direction"])
    assert abs(length - plan["resection_length_mm"]) < 0.5


def test_lesion_mask_from_elsewhere_replaces_detection(tmp_path, run_cli):
    run_cli("phantom", tmp_path / "case", *PLAN_ARGS, "--lesion-center-mm", "-10")
    truth = json.loads((tmp_path / "case" / "truth.json").read_text())
    labels = sitk.ReadImage(str(tmp_path / "case" / "truth_labels.nrrd"))
    # Written as NIfTI with the y axis flipped, as other tools do: it must still land right.
    lesion = sitk.Flip(sitk.Cast(labels == 2, sitk.sitkUInt8), [False, True, False])
    sitk.WriteImage(lesion, str(tmp_path / "lesion.nii.gz"))
    code, _, err = run_cli("plan", tmp_path / "case", "--out", tmp_path / "r", "--lesion-mask",
                           tmp_path / "lesion.nii.gz")
    assert code == 0, err
    plan = json.loads((tmp_path / "r" / "plan.json").read_text())
    assert plan["lesion"]["source"] == "given mask" and plan["lesion"]["type"] == "lytic"
    got = np.array(plan["lesion"]["extent_along_axis_mm"]) + (
        (np.array(plan["bone"]["axis"]["point"]) - truth["bone"]["axis"]["point"]) @ np.array(truth["bone"]["axis"]["direction"]))
    assert np.abs(got - truth["lesion"]["extent_along_axis_mm"]).max() < 1.5
    # An earlier plan's segmentation.nrrd (bone 1, lesion 2, other bone 3; say its lesion was
    # edited in 3D Slicer) given back: its lesion label is the lesion, not every label (which
    # made the whole bone the lesion and the plan was refused).
    code, _, err = run_cli("plan", tmp_path / "case", "--out", tmp_path / "again", "--lesion-mask",
                           tmp_path / "r" / "segmentation.nrrd")
    assert code == 0, err
    again = json.loads((tmp_path / "again" / "plan.json").read_text())
    assert again["lesion"]["source"] == "given mask"
    assert np.abs(np.array(again["lesion"]["extent_along_axis_mm"])
                  - plan["lesion"]["extent_along_axis_mm"]).max() < 0.5


def test_lesion_mask_as_dicom_seg(tmp_path, run_cli):
    import highdicom as hd
    import pydicom

    run_cli("phantom", tmp_path / "case", *PLAN_ARGS, "--lesion-center-mm", "8")
    truth = json.loads((tmp_path / "case" / "truth.json").read_text())
    files = sorted((tmp_path / "case" / "CT").iterdir())
    sources = [pydicom.dcmread(f) for f in files]
    sources.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "case" / "truth_labels.nrrd")))
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="metastasis",
        segmented_property_category=hd.sr.CodedConcept("49755003", "SCT", "Morphologically Altered Structure"),
        segmented_property_type=hd.sr.CodedConcept("108369006", "SCT", "Neoplasm"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=(labels == 2).astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=[description],
        series_instance_uid=hd.UID(), series_number=2, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer="test", manufacturer_model_name="test", software_versions="1", device_serial_number="1")
    seg.save_as(tmp_path / "lesion_seg.dcm")
    code, _, err = run_cli("plan", tmp_path / "case", "--out", tmp_path / "r", "--lesion-mask",
                           tmp_path / "lesion_seg.dcm")
    assert code == 0, err
    plan = json.loads((tmp_path / "r" / "plan.json").read_text())
    assert plan["lesion"]["source"] == "given mask"
    got = np.array(plan["lesion"]["extent_along_axis_mm"]) + (
        (np.array(plan["bone"]["axis"]["point"]) - truth["bone"]["axis"]["point"]) @ np.array(truth["bone"]["axis"]["direction"]))
    assert np.abs(got - truth["lesion"]["extent_along_axis_mm"]).max() < 1.5


def test_progress_names_each_stage_and_the_api_returns_records(tmp_path, capfd):
    import implantgen
    from implantgen.cli import main
    from implantgen.pipeline import PLAN_STAGES, CaseResult

    assert main([str(a) for a in ("phantom", tmp_path / "case", *PLAN_ARGS)]) == 0
    capfd.readouterr()
    # The progress display names each stage as it runs (on a terminal the CLI asks for it).
    # Segment, target and plan run in a forked child, which draws them on the same terminal
    # (capfd: the child writes to the file descriptor, not to this process's sys.stderr).
    result = implantgen.plan_case(tmp_path / "case", tmp_path / "r1", progress=True)
    err = capfd.readouterr().err
    shown = re.findall(r"implantgen: (\w+) *: *\((\d)/7 stages done\)", err)
    assert list(dict.fromkeys(name for name, _ in shown)) == list(PLAN_STAGES)
    done = [int(n) for _, n in shown]
    assert done == sorted(done) and done[-1] >= 6  # never steps back
    # The Python API returns the typed records of every stage, and what was written.
    assert isinstance(result, CaseResult) and result.out_dir == tmp_path / "r1"
    assert result.design.implant.is_watertight and len(result.design.stems) == 2
    assert result.plan == json.loads((tmp_path / "r1" / "plan.json").read_text())
    assert set(result.stage_seconds) == {"load", "segment", "target", "plan", "design", "export", "report"}


def test_quiet_and_debug(tmp_path, run_cli):
    from implantgen.pipeline import PLAN_STAGES

    run_cli("phantom", tmp_path / "case", *PLAN_ARGS)
    # --quiet: nothing at all on success; plain runs say what each stage did.
    code, out, err = run_cli("plan", tmp_path / "case", "--out", tmp_path / "r2", "--quiet")
    assert code == 0 and err == "" and out == ""
    code, _, err = run_cli("plan", tmp_path / "case", "--out", tmp_path / "r3")
    assert code == 0 and "\r" not in err  # no bar when not on a terminal
    for stage in PLAN_STAGES:  # a line for each stage (target's shares segment's)
        assert stage == "target" or f"implantgen: {stage}:" in err, stage
    # --debug: a bad input raises with its traceback instead of the one plain sentence.
    with pytest.raises(Exception, match="does not exist|no DICOM|not found"):
        run_cli("plan", tmp_path / "nowhere", "--out", tmp_path / "r4", "--debug")


def test_terminated_plan_leaves_nothing_behind(tmp_path):
    """SIGTERM (a scheduler's kill) mid-run: no output folder and no hidden partial one."""
    import os
    import signal
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "sample_dicom"
    env = {**os.environ, "PYTHONPATH": str(sample.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "implantgen", "plan", str(sample), "--out",
                             str(tmp_path / "out")], stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:  # the output folder is being written from the plan stage on
        if "plan:" in line:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 143
    assert "interrupted; nothing was written" in rest and "Traceback" not in rest
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, option, value", [
    (["plan", "ct", "--out", "o", "--lesion-seed", "-90.5,20,-250"], "lesion_seed", "-90.5,20,-250"),
    (["segment", "ct", "--lesion-seed", "-.5,-2,3", "--out", "o"], "lesion_seed", "-.5,-2,3"),
    (["phantom", "d", "--rescale", "-1,1024"], "rescale", "-1,1024"),
])
def test_a_number_list_starting_with_a_minus_is_the_options_value(argv, option, value):
    """LPS coordinates are negative as often as not; argparse alone took the value for an option
    and stopped with 'expected one argument'."""
    from implantgen.cli import _glued, build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert getattr(build_parser().parse_args(_glued(argv)), option) == value
