"""3MF writer: millimetres, named objects, metadata, lossless and byte-for-byte reproducible."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
import trimesh

from implantgen import __version__
from implantgen.mesh.threemf import write_3mf

NS = {"m": "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"}


def parts():
    """Two solids in patient coordinates (far from the origin, awkward decimals)."""
    box = trimesh.creation.box((10, 20, 30))
    box.apply_translation((-123.456789, 45.1, 301.25))
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=7.3)
    sphere.apply_translation((-100.0 / 3.0, 60.0, 320.0))
    return {"prosthesis": box, "plate": sphere}


def model_root(path):
    with zipfile.ZipFile(path) as z:
        return ET.fromstring(z.read("3D/3dmodel.model"))


def test_round_trip_through_trimesh(tmp_path):
    meshes = parts()
    path = write_3mf(meshes, tmp_path / "parts.3mf", {"Title": "test parts"})
    scene = trimesh.load(path)
    assert scene.units == "millimeter"
    assert sorted(scene.geometry) == ["plate", "prosthesis"]
    for name, mesh in meshes.items():
        back = scene.geometry[name]
        assert len(back.vertices) == len(mesh.vertices)
        assert back.volume == pytest.approx(mesh.volume, rel=1e-9)
        # The build items carry no transform: patient coordinates come back where they were.
        placed = scene.dump(concatenate=False)
        assert any(np.allclose(p.bounds, mesh.bounds) for p in placed)


def test_coordinates_are_lossless(tmp_path):
    meshes = parts()
    root = model_root(write_3mf(meshes, tmp_path / "parts.3mf", {}))
    for obj in root.findall("m:resources/m:object", NS):
        xyz = np.array([[float(v.get(a)) for a in "xyz"] for v in obj.findall("m:mesh/m:vertices/m:vertex", NS)])
        tri = np.array([[int(t.get(f"v{k}")) for k in (1, 2, 3)] for t in obj.findall("m:mesh/m:triangles/m:triangle", NS)])
        mesh = meshes[obj.get("name")]
        assert np.array_equal(xyz, mesh.vertices)  # exactly, not approximately
        assert np.array_equal(tri, mesh.faces)
        assert obj.get("type") == "model"


def test_unit_and_metadata(tmp_path):
    path = write_3mf(parts(), tmp_path / "parts.3mf", {"Title": "Segmental prosthesis <test> & plate",
                                                         "Description": "Synthetic case.", "case_key": "ab12"})
    root = model_root(path)
    assert root.get("unit") == "millimeter"
    meta = {m.get("name"): m.text for m in root.findall("m:metadata", NS)}
    assert meta["Title"] == "Segmental prosthesis <test> & plate"
    assert meta["Application"] == f"implantgen {__version__}"
    assert meta["Description"].startswith("Synthetic case.") and "NOT FOR CLINICAL USE" in meta["Description"]
    assert meta["CreationDate"] == "1980-01-01"  # fixed, never the wall clock
    assert meta["implantgen:case_key"] == "ab12"  # other names in implantgen's namespace
    assert time.strftime("%Y-%m-%d") not in path.read_bytes().decode("latin-1")


def test_given_creation_date_and_defaults(tmp_path):
    root = model_root(write_3mf(parts(), tmp_path / "a.3mf", {"CreationDate": "2024-05-01"}))
    meta = {m.get("name"): m.text for m in root.findall("m:metadata", NS)}
    assert meta["CreationDate"] == "2024-05-01"
    assert meta["Title"] and "NOT FOR CLINICAL USE" in meta["Description"]


def test_two_writes_are_byte_identical(tmp_path, monkeypatch):
    first = write_3mf(parts(), tmp_path / "first.3mf", {"Title": "t"}).read_bytes()
    # A day later, objects given in another order: still the same bytes.
    later = time.time() + 86400
    monkeypatch.setattr(time, "time", lambda: later)
    reordered = dict(reversed(list(parts().items())))
    second = write_3mf(reordered, tmp_path / "second.3mf", {"Title": "t"}).read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "second.3mf") as z:
        infos = z.infolist()
    assert [i.filename for i in infos] == ["[Content_Types].xml", "_rels/.rels", "3D/3dmodel.model"]
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)


def test_package_parts_follow_the_core_spec(tmp_path):
    path = write_3mf(parts(), tmp_path / "parts.3mf", {})
    with zipfile.ZipFile(path) as z:
        types = ET.fromstring(z.read("[Content_Types].xml"))
        rels = ET.fromstring(z.read("_rels/.rels"))
    exts = {d.get("Extension"): d.get("ContentType") for d in types}
    assert exts["model"] == "application/vnd.ms-package.3dmanufacturing-3dmodel+xml"
    (rel,) = list(rels)
    assert rel.get("Target") == "/3D/3dmodel.model"
    assert rel.get("Type") == "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
    root = model_root(path)
    ids = [o.get("id") for o in root.findall("m:resources/m:object", NS)]
    assert [i.get("objectid") for i in root.findall("m:build/m:item", NS)] == ids == ["1", "2"]


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(ValueError):
        write_3mf({}, tmp_path / "empty.3mf", {})
    with pytest.raises(ValueError):
        write_3mf(parts(), tmp_path / "bad.3mf", {"not a name": "x"})
    broken = trimesh.creation.box((1, 1, 1))
    broken.vertices[0] = [np.nan, 0, 0]
    with pytest.raises(ValueError):
        write_3mf({"broken": broken}, tmp_path / "nan.3mf", {})
