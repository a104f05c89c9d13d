"""Printability checks on meshes whose truth is known: boxes, shells, holes, overhangs, sizes."""

from __future__ import annotations

import json

import manifold3d
import numpy as np
import pytest
import trimesh
from scipy.optimize import linprog

from implantgen.mesh.cut import from_manifold, to_manifold
from implantgen.mesh.printability import overhang_area, printability
from implantgen.mesh.broadphase import candidate_pairs
from implantgen.mesh.selfintersect import intersecting_pairs, penetration_depths


def box(size, centre=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=size)
    m.apply_translation(centre)
    return m


def difference(a: trimesh.Trimesh, b: trimesh.Trimesh) -> trimesh.Trimesh:
    return from_manifold(to_manifold(a) - to_manifold(b))


def union(a: trimesh.Trimesh, b: trimesh.Trimesh) -> trimesh.Trimesh:
    return from_manifold(to_manifold(a) + to_manifold(b))


def cylinder(radius, height, segments=64) -> trimesh.Trimesh:
    m = manifold3d.Manifold.cylinder(height, radius, radius, segments, True)
    return from_manifold(m)


# --- a plain box: every check passes, the numbers are exact ---------------------------------


def test_box_passes_with_exact_figures():
    r = printability(box((10, 20, 30)))
    assert r["closed"] and r["oriented"] and r["outward"]
    assert r["bodies"] == 1 and r["voids"] == 0 and r["self_intersections"] == r["self_contacts"] == 0
    assert r["volume_ml"] == pytest.approx(6.0)
    # Rays cross the box along x, y or z: 10, 20 or 30 mm, never less near the 90-degree edges.
    assert r["thinnest_wall_mm"] == pytest.approx(10.0, abs=1e-6)
    assert r["thin_wall_share"] == 0.0
    assert r["wall_measured"] > 0.9 * r["wall_samples"]
    assert r["passed"] and r["failures"] == []
    json.dumps(r)  # JSON-able as it is


def test_same_mesh_same_report_and_frame_independent():
    m = box((10, 20, 30), centre=(-120.5, 80.25, 310.0))  # patient coordinates, far from 0
    first = printability(m)
    again = printability(trimesh.Trimesh(m.vertices.copy(), m.faces.copy()))
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert first["thinnest_wall_mm"] == pytest.approx(10.0, abs=1e-6)
    assert first["volume_ml"] == pytest.approx(6.0)


# --- walls ------------------------------------------------------------------------------------


def test_half_millimetre_cup_fails_the_wall_check():
    # A 20 mm cup with 0.5 mm walls and floor (open at the top: one body, no void).
    cup = difference(box((20, 20, 20)), box((19, 19, 20), centre=(0, 0, 0.5)))
    r = printability(cup)
    assert r["closed"] and r["outward"] and r["bodies"] == 1 and r["voids"] == 0
    assert r["thinnest_wall_mm"] == pytest.approx(0.5, abs=1e-6)
    assert r["thin_wall_share"] > 0.9  # nearly all the surface belongs to the thin walls
    assert not r["passed"]
    assert len(r["failures"]) == 1 and "thinnest wall is 0.50 mm" in r["failures"][0]
    assert printability(cup, min_wall_mm=0.4)["passed"]


def test_sealed_hollow_box_has_a_void():
    shell = difference(box((20, 20, 20)), box((18, 18, 18)))
    r = printability(shell)
    assert r["closed"] and r["outward"]
    assert r["bodies"] == 1 and r["voids"] == 1
    assert r["volume_ml"] == pytest.approx((8000 - 5832) / 1000)
    assert r["thinnest_wall_mm"] == pytest.approx(1.0, abs=1e-6)
    assert any("void" in f for f in r["failures"])


def test_l_shape_concave_corner_measures_the_thinner_leg():
    l_shape = union(box((30, 10, 4), centre=(15, 5, 2)), box((4, 10, 30), centre=(2, 5, 15)))
    r = printability(l_shape)
    assert r["thinnest_wall_mm"] == pytest.approx(4.0, abs=1e-6)
    assert r["passed"]


def test_cylinder_with_through_hole():
    ring = difference(cylinder(10, 20), cylinder(3, 30))
    r = printability(ring, hole_diameters_mm=(6.0,))
    assert r["closed"] and r["outward"] and r["bodies"] == 1 and r["self_intersections"] == 0
    # Radial wall: outer facets at 10 cos(pi/64), inner polygon between 3 cos(pi/64) and 3.
    assert 10 * np.cos(np.pi / 64) - 3 - 0.02 <= r["thinnest_wall_mm"] <= 7.0 + 1e-6
    assert r["holes"] == [{"diameter_mm": 6.0, "ok": True}]
    assert r["passed"]
    small = printability(ring, hole_diameters_mm=(6.0, 0.8), min_hole_mm=1.0)
    assert small["holes"][1] == {"diameter_mm": 0.8, "ok": False}
    assert small["failures"] == ["A hole of 0.8 mm is under the 1 mm minimum."]


# --- topology -------------------------------------------------------------------------------


def test_open_mesh_fails_closed():
    m = box((10, 20, 30))
    opened = trimesh.Trimesh(m.vertices, m.faces[1:], process=False)
    r = printability(opened)
    assert not r["closed"] and r["open_edges"] == 3
    assert r["volume_ml"] is None and not r["outward"]
    assert not r["passed"] and any("not closed" in f for f in r["failures"])


def test_inverted_mesh_fails_outward_but_measures_walls():
    m = box((10, 20, 30))
    m.invert()
    r = printability(m)
    assert r["closed"] and r["oriented"] and not r["outward"]
    assert r["volume_ml"] == pytest.approx(-6.0)
    assert r["thinnest_wall_mm"] == pytest.approx(10.0, abs=1e-6)
    assert r["bodies"] == 1 and r["voids"] == 0
    assert any("inside out" in f for f in r["failures"])


def test_one_flipped_face_fails_oriented():
    m = box((10, 20, 30))
    faces = m.faces.copy()
    faces[0] = faces[0][::-1]
    r = printability(trimesh.Trimesh(m.vertices, faces, process=False))
    assert r["closed"] and not r["oriented"] and not r["outward"]
    assert any("consistently oriented" in f for f in r["failures"])


def test_empty_mesh_fails_plainly():
    r = printability(trimesh.Trimesh())
    assert r["failures"] == ["The mesh has no triangles."] and not r["passed"]
    json.dumps(r)


def test_two_separate_bodies():
    pair = trimesh.util.concatenate([box((10, 10, 10)), box((10, 10, 10), centre=(30, 0, 0))])
    r = printability(pair)
    assert r["bodies"] == 2 and r["self_intersections"] == 0
    assert any("2 separate bodies" in f for f in r["failures"])


# --- self-intersections ---------------------------------------------------------------------


def test_overlapping_boxes_intersect():
    pair = trimesh.util.concatenate([box((10, 10, 10)), box((10, 10, 10), centre=(5, 5, 5))])
    r = printability(pair)
    assert r["self_intersections"] > 0 and not r["passed"]
    assert any("intersects itself" in f for f in r["failures"])


def test_boxes_touching_face_to_face_count_as_meeting():
    pair = trimesh.util.concatenate([box((10, 10, 10)), box((10, 10, 10), centre=(10, 3, 0))])
    assert len(intersecting_pairs(pair.vertices, pair.faces)) > 0
    r = printability(pair)
    assert r["self_intersections"] == 0 and r["self_contacts"] > 0  # a touch has no depth
    assert r["bodies"] == 2 and not r["passed"]


@pytest.mark.parametrize("overlap, crossing", [(1e-5, False), (0.5, True)])
def test_kernel_tolerance_overlap_is_a_contact(overlap, crossing):
    # Box b reaches `overlap` mm into box a, offset sideways so that faces cross (not coplanar).
    a, b = box((10, 10, 10)), box((10, 10, 10), centre=(10 - overlap, 1.0, 2.0))
    pair = trimesh.util.concatenate([a, b])
    meeting = intersecting_pairs(pair.vertices, pair.faces)
    assert len(meeting) > 0  # exactly, they do meet
    depth = penetration_depths(pair.vertices, pair.faces, meeting)
    assert depth.max() == pytest.approx(overlap, rel=1e-3)
    r = printability(pair)
    assert (r["self_intersections"] > 0) == crossing
    assert r["self_intersections"] + r["self_contacts"] == len(meeting)


def test_sphere_with_a_vertex_pushed_through_intersects():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=10)
    assert len(intersecting_pairs(sphere.vertices, sphere.faces)) == 0
    v = sphere.vertices.copy()
    top = int(np.argmax(v[:, 2]))
    v[top] = [0, 0, -12]  # through the sphere and out of the far side
    dented = trimesh.Trimesh(v, sphere.faces, process=False)
    r = printability(dented)
    assert r["closed"] and r["oriented"]
    assert r["self_intersections"] > 0


def test_manifold_boolean_result_is_clean():
    part = difference(union(cylinder(10, 40), box((30, 8, 8))), cylinder(2, 60))
    assert len(intersecting_pairs(part.vertices, part.faces)) == 0


def test_broad_phase_finds_every_overlapping_pair():
    """Triangles of very different sizes (long slivers of a CAD-like part, a fine sphere): the
    size-class search must return exactly the pairs whose bounding boxes overlap."""
    part = difference(union(cylinder(10, 80, segments=96), box((40, 6, 6))), cylinder(2, 100, segments=24))
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=6)
    sphere.apply_translation((0, 0, 30))
    mesh = trimesh.util.concatenate([part, sphere])
    tri = mesh.vertices[mesh.faces]
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    i, j = np.triu_indices(len(tri), 1)
    brute = np.all((lo[i] <= hi[j]) & (lo[j] <= hi[i]), axis=1)
    expected = set(zip(i[brute].tolist(), j[brute].tolist()))
    assert {tuple(p) for p in candidate_pairs(tri).tolist()} == expected


def _meet_reference(a: np.ndarray, b: np.ndarray) -> bool:
    """Independent answer by linear programming: a point of both triangles with weight on a
    vertex of ``a`` that ``b`` does not share (coordinates small integers: no tolerance issue)."""
    shared = [any(np.array_equal(p, q) for q in b) for p in a]
    if all(shared):
        return True  # the same triangle twice: they share their whole inside
    # Unknowns: barycentric weights l (3) on a and m (3) on b.
    eq = np.zeros((5, 6))
    eq[0, :3] = 1
    eq[1, 3:] = 1
    eq[2:, :3] = a.T
    eq[2:, 3:] = -b.T
    rhs = [1, 1, 0, 0, 0]
    objective = np.r_[[0.0 if s else -1.0 for s in shared], [0.0, 0.0, 0.0]]
    res = linprog(objective, A_eq=eq, b_eq=rhs, bounds=[(0, None)] * 6, method="highs")
    if res.status != 0:
        return False
    return True if not any(shared) else -res.fun > 1e-9


def test_self_intersection_matches_a_linear_programming_reference():
    """Random triangle pairs on a 4 x 4 x 4 integer grid: coplanar, touching and shared-vertex
    configurations are common, and each pair's verdict is compared with the LP reference."""
    rng = np.random.default_rng(7)
    vertices, faces, cases = [], [], []
    while len(cases) < 600:
        a = rng.integers(0, 4, (3, 3)).astype(float)
        b = rng.integers(0, 4, (3, 3)).astype(float)
        if rng.random() < 0.4:  # share one or two corners
            k = rng.integers(1, 3)
            b[:k] = a[rng.permutation(3)[:k]]
        if any(np.linalg.norm(np.cross(t[1] - t[0], t[2] - t[0])) == 0 for t in (a, b)):
            continue
        offset = np.array([100.0 * len(cases), 0, 0])  # far apart: pairs only within a case
        base = 6 * len(cases)
        vertices.extend(list(a + offset) + list(b + offset))
        faces.extend([[base, base + 1, base + 2], [base + 3, base + 4, base + 5]])
        cases.append((a, b))
    found = {tuple(p) for p in intersecting_pairs(np.array(vertices), np.array(faces)).tolist()}
    mine = np.array([(2 * k, 2 * k + 1) in found for k in range(len(cases))])
    reference = np.array([_meet_reference(a, b) for a, b in cases])
    assert 0.2 < reference.mean() < 0.8  # both verdicts well represented
    assert np.array_equal(mine, reference), np.flatnonzero(mine != reference)[:10]


def test_closed_meshes_match_brute_force_reference():
    """Jittered spheres (some fold through themselves): the fast path with certified vertex
    rings must agree with the LP verdict on every pair of faces."""
    sphere = trimesh.creation.icosphere(subdivisions=1, radius=4)
    rng = np.random.default_rng(4)
    for amplitude in (1.0, 1.3):
        v = np.round((sphere.vertices + rng.normal(0, amplitude, sphere.vertices.shape)) * 8) / 8
        faces = sphere.faces
        found = {tuple(p) for p in intersecting_pairs(v, faces).tolist()}
        tri = v[faces]
        lo, hi = tri.min(axis=1), tri.max(axis=1)
        i, j = np.triu_indices(len(faces), 1)
        near = np.all((lo[i] <= hi[j]) & (lo[j] <= hi[i]), axis=1)  # the LP only where boxes meet
        expected = {(a, b) for a, b in zip(i[near], j[near]) if _meet_reference(tri[a], tri[b])}
        assert found == expected, (amplitude, sorted(found ^ expected)[:5])
        assert expected  # these jitters do fold the sphere through itself


# --- orientation, overhang, build volume -----------------------------------------------------


def mushroom() -> trimesh.Trimesh:
    """A 40 x 40 x 10 cap on a 10 x 10 x 30 stem (z 0 to 40)."""
    return union(box((10, 10, 30), centre=(0, 0, 15)), box((40, 40, 10), centre=(0, 0, 35)))


def test_mushroom_overhangs_are_analytic():
    m = mushroom()
    assert overhang_area(m, (0, 0, 1)) == pytest.approx(40 * 40 - 10 * 10)  # cap underside
    assert overhang_area(m, (0, 0, -1)) == pytest.approx(0.0)  # cap on the plate
    for side in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0)):
        assert overhang_area(m, side) == pytest.approx(10 * 30)  # the stem's far side; cap side on plate
    r = printability(m)
    assert r["build_direction"] == [0.0, 0.0, -1.0]
    assert r["overhang_area_mm2"] == pytest.approx(0.0)
    assert sorted(r["extent_mm"]) == pytest.approx([40, 40, 40])
    assert r["fits_build_volume"] and r["passed"]


def test_overhang_angle_threshold():
    # A 20 x 20 x 2 plate tilted 30 degrees about x: its underside is 30 degrees from horizontal
    # (normal 30 degrees from straight down), one 2 mm edge face 60 degrees from horizontal.
    plate = box((20, 20, 2))
    plate.apply_transform(trimesh.transformations.rotation_matrix(np.radians(30), (1, 0, 0)))
    up = (0, 0, 1)
    # Overhang: normal within (90 - overhang_deg) degrees of straight down.
    assert overhang_area(plate, up, overhang_deg=45) == pytest.approx(400)  # 30 < 45
    assert overhang_area(plate, up, overhang_deg=55) == pytest.approx(400)  # 30 < 35
    assert overhang_area(plate, up, overhang_deg=65) == pytest.approx(0)  # 30 > 25
    assert overhang_area(plate, up, overhang_deg=35) == pytest.approx(400)  # 60 > 55
    assert overhang_area(plate, up, overhang_deg=25) == pytest.approx(440)  # 60 < 65: edge face too


def test_part_too_big_for_the_printer():
    r = printability(box((300, 300, 20)))
    assert not r["fits_build_volume"] and not r["passed"]
    assert r["failures"] == ["The part does not fit the 250 x 210 x 210 mm build volume in any orientation tried."]


def test_long_bar_fits_diagonally():
    r = printability(box((300, 20, 20)))
    assert r["fits_build_volume"] and r["passed"]
    bar_axis_on_bed = abs(np.dot(r["bed_x_direction"], (1, 0, 0)))
    assert 0.1 < bar_axis_on_bed < 0.9  # only a diagonal placement fits
    assert abs(np.dot(r["bed_x_direction"], r["build_direction"])) < 1e-6
    x, y, z = r["extent_mm"]
    assert x <= 250 and y <= 210 and z <= 210
    assert r["build_volume_mm"] == [250.0, 210.0, 210.0]


def test_float32_twin_vertices_are_joined_so_the_stl_stays_closed():
    # A closed sphere with one edge shrunk to 1e-7 mm (simplify() was seen to leave such an edge
    # at a sharp corner): as float32, as an STL stores it, its ends are one point.
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=10.0)
    v = np.array(sphere.vertices, dtype=np.float64) + [-91.7, 26.2, -270.5]  # patient-like mm
    a, b = sphere.edges_unique[0]
    v[b] = v[a] + 1e-7 * (v[b] - v[a]) / np.linalg.norm(v[b] - v[a])
    assert len(np.unique(v.astype(np.float32), axis=0)) == len(v) - 1
    read = trimesh.Trimesh(v.astype(np.float32).astype(np.float64), sphere.faces, process=True)
    assert not read.is_watertight  # what a reader made of it before: two slivers, not closed

    from implantgen.mesh.cut import float32_twins_joined

    verts, faces = float32_twins_joined(v, np.asarray(sphere.faces))
    assert len(verts) == len(v) - 1 and len(faces) == len(sphere.faces) - 2
    joined = trimesh.Trimesh(verts.astype(np.float32).astype(np.float64), faces, process=True)
    assert joined.is_watertight and joined.is_winding_consistent and joined.volume > 0
    assert abs(joined.volume - trimesh.Trimesh(v, sphere.faces).volume) < 1e-3
    # No twins: the very same arrays back.
    same = float32_twins_joined(np.asarray(sphere.vertices), np.asarray(sphere.faces))
    assert same[0] is not None and np.array_equal(same[1], sphere.faces)
