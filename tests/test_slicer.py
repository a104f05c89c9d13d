"""PrusaSlicer judges our files: clean meshes pass, broken ones are caught, parts slice.

These tests need prusa-slicer (CI installs it); without it they fail, they are not skipped.
"""

from __future__ import annotations

import pytest
import trimesh

from implantgen.mesh.stl import write_stl
from implantgen.mesh.threemf import write_3mf

from . import slicer
from .slicer import parse_info, slice_to_gcode, slicer_info


def box(size=(10, 20, 30), centre=(0, 0, 0)):
    m = trimesh.creation.box(extents=size)
    m.apply_translation(centre)
    return m


def stl(tmp_path, name, mesh):
    return write_stl(mesh, tmp_path / f"{name}.stl")


def test_closed_box_is_clean(tmp_path):
    info = slicer_info(stl(tmp_path, "box", box()))
    assert info["returncode"] == 0
    assert info["manifold"] is True and info["open_edges"] == 0 and info["facets_reversed"] == 0
    assert not info["repaired"] and info["clean"]
    assert info["number_of_parts"] == 1 and info["number_of_facets"] == 12
    assert info["volume"] == pytest.approx(6000.0)
    assert info["size"] == [[10.0, 20.0, 30.0]]


def test_open_mesh_is_not_clean(tmp_path):
    m = box()
    info = slicer_info(stl(tmp_path, "open", trimesh.Trimesh(m.vertices, m.faces[1:], process=False)))
    assert info["returncode"] == 0  # the exit status says nothing
    assert info["manifold"] is False and info["open_edges"] == 3
    assert not info["clean"]


def test_flipped_face_is_not_clean(tmp_path):
    m = box()
    faces = m.faces.copy()
    faces[0] = faces[0][::-1]
    info = slicer_info(stl(tmp_path, "flipped", trimesh.Trimesh(m.vertices, faces, process=False)))
    # PrusaSlicer turns the face round itself and then calls the mesh manifold: only the repair
    # count gives it away.
    assert info["returncode"] == 0 and info["facets_reversed"] > 0 and info["repaired"]
    assert not info["clean"]


def test_inside_out_mesh_is_not_clean(tmp_path):
    m = box()
    m.invert()
    info = slicer_info(stl(tmp_path, "inverted", m))
    assert info["facets_reversed"] == 12 and not info["clean"]


def test_3mf_from_write_3mf_is_clean(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=8)
    sphere.apply_translation((-140.0, 35.5, 410.0))
    parts = {"implant": box(centre=(-120.0, 30.0, 380.0)), "plate": sphere}
    path = write_3mf(parts, tmp_path / "parts.3mf", {"Title": "slicer test"})
    info = slicer_info(path)
    assert info["clean"], info
    assert len(info["objects"]) == 2 and info["number_of_parts"] == 2
    volumes = sorted(o["volume"] for o in info["objects"])
    assert volumes == pytest.approx(sorted([6000.0, sphere.volume]), rel=1e-5)
    ok, message = slice_to_gcode(path, tmp_path / "parts.gcode")
    assert ok, message


def test_box_slices_to_gcode(tmp_path):
    out = tmp_path / "box.gcode"
    ok, message = slice_to_gcode(stl(tmp_path, "box", box()), out)
    assert ok, message
    heights = slicer.gcode_layers(out)
    # Default settings: 0.35 mm first layer, then 0.3 mm, up to the 30 mm top.
    assert heights[0] == pytest.approx(0.35) and max(heights) == pytest.approx(30.0, abs=0.3)
    assert len(heights) == 100


def test_tall_part_far_from_the_origin_slices(tmp_path):
    # 250 mm tall, in patient coordinates: taller than the default 200 mm printer, off its bed.
    tall = box((20, 20, 250), centre=(-160.0, 80.0, 900.0))
    out = tmp_path / "tall.gcode"
    ok, message = slice_to_gcode(stl(tmp_path, "tall", tall), out)
    assert ok, message
    assert max(slicer.gcode_layers(out)) == pytest.approx(250.0, abs=0.3)


def test_parser_reads_repair_counts():
    text = """[x.stl]
size_x = 10.000000
size_y = 20.000000
size_z = 30.000000
number_of_facets = 11
manifold = no
open_edges = 3
facets_reversed = 2
number_of_parts =  1
volume = 5000.000000
"""
    (obj,) = parse_info(text)
    assert obj["manifold"] is False and obj["open_edges"] == 3 and obj["facets_reversed"] == 2
    assert obj["number_of_parts"] == 1 and obj["volume"] == 5000.0 and obj["size_z"] == 30.0


def test_missing_slicer_is_an_error_not_a_skip(monkeypatch, tmp_path):
    monkeypatch.setattr(slicer, "EXECUTABLE", "prusa-slicer-that-is-not-installed")
    with pytest.raises(RuntimeError, match="prusa-slicer is not installed"):
        slicer_info(tmp_path / "whatever.stl")
