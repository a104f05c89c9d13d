"""Can this surface be printed?  One JSON-able report of the checks a print bureau makes.

Topology (closed, consistently and outward oriented, one body, no void, no self-intersection), volume,
thinnest wall (ray casting, see ``wallthickness``), screw-hole diameters, and a print orientation:
the candidate build direction with the least overhang that fits the printer.  Numbers from
../shared/docs/domain.md: walls >= 0.8 mm for tall walls (0.4 mm for porous struts), overhangs
below 45 degrees from horizontal need support.  Deterministic: the same mesh gives the same dict.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, QhullError

from .selfintersect import edge_pairs, intersecting_pairs, penetration_depths
from .wallthickness import wall_thickness

PLATE_TOLERANCE_MM = 0.01  # a face this close to the lowest point lies on the build plate
# Triangles meeting less deeply than this are a contact, not a self-intersection: boolean kernels
# leave such overlaps within their tolerance (manifold3d simplifies to 1e-3 mm here), and a
# powder-bed printer resolves ~30 um layers with a ~70 um spot.
CONTACT_DEPTH_MM = 0.01
ROTATION_STEP_DEG = 1.0  # turns about the build axis tried when fitting the bed


class Surface(NamedTuple):
    """Plain arrays of a mesh, read once (trimesh re-hashes its arrays on every property access)."""

    vertices: np.ndarray  # (n, 3) float64, mm
    faces: np.ndarray  # (m, 3) int64
    normals: np.ndarray  # (m, 3) unit, zero for degenerate faces
    areas: np.ndarray  # (m,) mm^2

    @classmethod
    def of(cls, mesh: trimesh.Trimesh) -> "Surface":
        v = np.array(mesh.vertices, dtype=np.float64)
        f = np.array(mesh.faces, dtype=np.int64).reshape(-1, 3)
        cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]) if len(f) else np.zeros((0, 3))
        norm = np.linalg.norm(cross, axis=1)
        normals = cross / np.where(norm > 0, norm, 1.0)[:, None]
        return cls(v, f, normals, norm / 2.0)


def printability(
    mesh: trimesh.Trimesh,
    *,
    min_wall_mm: float = 0.8,
    overhang_deg: float = 45.0,
    build_volume_mm=(250.0, 210.0, 210.0),
    hole_diameters_mm=(),
    min_hole_mm: float = 1.0,
) -> dict:
    """Printability report of ``mesh`` (mm, patient LPS frame): checks, figures, passed, failures.

    Keys: closed, open_edges, oriented, outward, bodies (shells enclosing material), voids
    (sealed cavities), self_intersections (pairs of triangles crossing deeper than
    CONTACT_DEPTH_MM), self_contacts (pairs meeting less deeply: touches, kernel tolerance),
    triangles, volume_ml; thinnest_wall_mm, thin_wall_share (share of the surface area whose wall
    is under min_wall_mm), min_wall_mm, wall_samples, wall_measured; holes [{diameter_mm, ok}],
    min_hole_mm; build_direction (unit, mesh frame), overhang_area_mm2, overhang_deg,
    bed_x_direction, extent_mm (along bed x, y and the build direction), fits_build_volume,
    build_volume_mm; failures (one sentence each), passed.
    """
    surf = Surface.of(mesh)
    vertices, faces = surf.vertices, surf.faces
    topo = topology(faces, len(vertices))
    shell_volume = volume = None
    if topo["closed"]:
        shell_volume = signed_volumes(vertices, faces, topo["shell_of_face"], topo["shells"])
        volume = float(shell_volume.sum())
    bodies, voids = bodies_and_voids(topo, shell_volume if topo["oriented"] else None, volume)
    outward = bool(topo["closed"] and topo["oriented"] and volume > 0)
    inside_out = bool(topo["closed"] and topo["oriented"] and volume < 0)
    if inside_out:  # measure walls and overhangs as if turned right side out
        surf = surf._replace(normals=-surf.normals)
    meeting = intersecting_pairs(vertices, faces)
    deep = penetration_depths(vertices, faces, meeting) > CONTACT_DEPTH_MM
    wall = wall_thickness(surf.vertices, surf.faces, surf.normals, surf.areas)
    orient = best_orientation(surf, overhang_deg, build_volume_mm)
    report = {
        "closed": topo["closed"],
        "open_edges": topo["open_edges"],
        "oriented": topo["oriented"],
        "outward": outward,
        "bodies": bodies,
        "voids": voids,
        "self_intersections": int(deep.sum()),
        "self_contacts": int((~deep).sum()),
        "triangles": int(len(faces)),
        "volume_ml": None if volume is None else round(volume / 1000.0, 4),
        **wall_summary(wall["thickness"], min_wall_mm),
        "holes": [{"diameter_mm": float(d), "ok": bool(d >= min_hole_mm)} for d in hole_diameters_mm],
        "min_hole_mm": float(min_hole_mm),
        **orient,
    }
    report["failures"] = failures(report, inside_out)
    report["passed"] = not report["failures"]
    return report


def topology(faces: np.ndarray, n_vertices: int) -> dict:
    """Closed (every edge in exactly two faces), oriented (neighbours traverse their common edge
    in opposite directions), bodies (groups of faces joined by edges)."""
    if len(faces) == 0:
        return {"closed": False, "open_edges": 0, "oriented": True, "shells": 0,
                "shell_of_face": np.zeros(0, dtype=np.int64)}
    directed, order, starts, sizes = edge_pairs(faces, max(n_vertices, 1))
    pair = starts[sizes == 2]
    oriented = np.all(directed[order[pair], 0] == directed[order[pair + 1], 1])
    # Faces on a common edge are neighbours: chain the faces of each edge in sorted order.
    face_of = order // 3
    same = np.ones(len(order) - 1, dtype=bool)
    same[starts[1:] - 1] = False
    a, b = face_of[:-1][same], face_of[1:][same]
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(faces), len(faces)))
    shells, label = connected_components(graph, directed=False)
    return {
        "closed": bool(np.all(sizes == 2)),
        "open_edges": int(np.sum(sizes != 2)),
        "oriented": bool(oriented),
        "shells": int(shells),
        "shell_of_face": label,
    }


def signed_volumes(vertices: np.ndarray, faces: np.ndarray, label: np.ndarray, n: int) -> np.ndarray:
    """Volume of each labelled shell by the divergence theorem, about the vertex mean (patient
    coordinates are far from 0, where the sum would lose digits)."""
    v = vertices - vertices.mean(axis=0)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return np.bincount(label, weights=np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0, minlength=n)


def bodies_and_voids(topo: dict, shell_volume: np.ndarray | None, total: float | None) -> tuple[int, int]:
    """Shells enclosing material (bodies) and shells enclosing a sealed cavity (voids).

    Only a closed, consistently oriented surface tells them apart (by the sign of each shell's
    volume against the whole); otherwise every shell counts as a body.
    """
    if shell_volume is None or not total:
        return topo["shells"], 0
    same_sign = np.sign(shell_volume) == np.sign(total)
    return int(same_sign.sum()), int((~same_sign).sum())


def wall_summary(thickness: np.ndarray, min_wall_mm: float) -> dict:
    measured = thickness[np.isfinite(thickness)]
    if not measured.size:
        return {"thinnest_wall_mm": None, "thin_wall_share": None, "min_wall_mm": float(min_wall_mm),
                "wall_samples": int(len(thickness)), "wall_measured": 0}
    # Samples are area-weighted, so the share of samples is the share of surface area.
    return {
        "thinnest_wall_mm": round(float(measured.min()), 4),
        "thin_wall_share": round(float(np.mean(measured < min_wall_mm)), 4),
        "min_wall_mm": float(min_wall_mm),
        "wall_samples": int(len(thickness)),
        "wall_measured": int(measured.size),
    }


def candidate_frames(surf: Surface) -> list[np.ndarray]:
    """Rotation frames (rows: u = build direction, v, w) for the +/- principal axes and +/- x, y, z.

    Principal axes of the area-weighted surface, signs fixed (largest component positive) so the
    same mesh always gives the same list.
    """
    area = surf.areas
    v, f = surf.vertices, surf.faces
    centre = (v[f[:, 0]] + v[f[:, 1]] + v[f[:, 2]]) / 3.0
    mean = area @ centre / max(area.sum(), 1e-300)
    d = centre - mean
    cov = (area[:, None] * d).T @ d
    _, vecs = np.linalg.eigh(cov)
    axes = vecs.T[::-1].copy()  # major axis first
    for k in range(3):
        if axes[k][np.argmax(np.abs(axes[k]))] < 0:
            axes[k] = -axes[k]
    frames = []
    for basis in (axes, np.eye(3)):
        for k in range(3):
            for sign in (1.0, -1.0):
                u, v = sign * basis[k], basis[(k + 1) % 3]
                frame = np.array([u, v, np.cross(u, v)])
                if not any(f[0] @ u > 1 - 1e-9 for f in frames):
                    frames.append(frame)
    return frames


def overhang_areas(surf: Surface, ups, overhang_deg: float = 45.0) -> np.ndarray:
    """Overhang area (mm^2) for each build direction in ``ups`` (unit rows).

    Overhang: faces whose normal is within (90 - overhang_deg) degrees of straight down, i.e.
    downward surfaces tilted more than ``overhang_deg`` from vertical (at 45 degrees: less than 45
    degrees from horizontal); faces lying on the build plate (all corners within
    PLATE_TOLERANCE_MM of the lowest point) are left out.
    """
    ups = np.atleast_2d(np.asarray(ups, dtype=float))
    # One row per direction (contiguous rows make the per-direction work cheap).
    down = (-ups @ surf.normals.T) > np.sin(np.radians(overhang_deg))  # cos(90 - overhang_deg)
    height = ups @ surf.vertices.T
    areas = np.zeros(len(ups))
    for k in range(len(ups)):
        face = np.flatnonzero(down[k])
        low = height[k] <= height[k].min() + PLATE_TOLERANCE_MM
        on_plate = low[surf.faces[face]].all(axis=1)
        areas[k] = surf.areas[face[~on_plate]].sum()
    return areas


def overhang_area(mesh: trimesh.Trimesh, up, overhang_deg: float = 45.0) -> float:
    """Overhang area (mm^2) of ``mesh`` built along ``up`` (see overhang_areas)."""
    up = np.asarray(up, dtype=float)
    return float(overhang_areas(Surface.of(mesh), up / np.linalg.norm(up), overhang_deg)[0])


def fit_on_bed(vertices: np.ndarray, frame: np.ndarray, build_volume_mm) -> tuple[bool, np.ndarray, list]:
    """Place the part with frame[0] up, turned about it in ROTATION_STEP_DEG steps; of the turns
    that fit the bed, take the smallest footprint.  Returns (fits, bed x axis in the mesh frame,
    extent along bed x, y, z)."""
    bx, by, bz = (float(x) for x in build_volume_mm)
    local = vertices @ frame.T
    height = float(np.ptp(local[:, 0]))
    flat = local[:, 1:]
    try:
        flat = flat[ConvexHull(flat).vertices]
    except (QhullError, ValueError):  # collinear or tiny: every point counts
        pass
    turns = np.radians(np.arange(0.0, 180.0, ROTATION_STEP_DEG))
    angles = np.concatenate([turns, turns + np.pi / 2])
    ext = np.ptp(flat @ np.array([np.cos(angles), np.sin(angles)]), axis=0).reshape(2, -1)
    fits = (ext[0] <= bx) & (ext[1] <= by) & (height <= bz)
    footprint = np.round(ext[0] * ext[1], 6)  # rounded: ties go to the first turn
    k = int(np.argmin(np.where(fits, footprint, np.inf))) if fits.any() else int(np.argmin(footprint))
    bed_x = np.cos(turns[k]) * frame[1] + np.sin(turns[k]) * frame[2]
    return bool(fits.any()), bed_x, [float(ext[0, k]), float(ext[1, k]), height]


def best_orientation(surf: Surface, overhang_deg: float, build_volume_mm) -> dict:
    """The candidate build direction with the least overhang (then the lowest) that fits the bed."""
    report = {"build_direction": None, "overhang_area_mm2": None, "overhang_deg": float(overhang_deg),
              "bed_x_direction": None, "extent_mm": None, "fits_build_volume": False,
              "build_volume_mm": [float(x) for x in build_volume_mm]}
    if len(surf.faces) == 0 or surf.areas.sum() <= 0:
        return report
    frames = candidate_frames(surf)
    ups = np.array([f[0] for f in frames])
    area = overhang_areas(surf, ups, overhang_deg)
    height = np.ptp(surf.vertices @ ups.T, axis=0)
    # Rounded so that float noise between mirror-image candidates cannot reorder them.
    order = sorted(range(len(frames)), key=lambda i: (round(float(area[i]), 6), round(float(height[i]), 6), i))
    chosen, fit = order[0], None
    for i in order:
        fit = fit_on_bed(surf.vertices, frames[i], build_volume_mm)
        if fit[0]:
            chosen = i
            break
    else:
        fit = fit_on_bed(surf.vertices, frames[chosen], build_volume_mm)
    report.update({
        "build_direction": [round(float(x), 6) + 0.0 for x in frames[chosen][0]],
        "overhang_area_mm2": round(float(area[chosen]), 3),
        "bed_x_direction": [round(float(x), 6) + 0.0 for x in fit[1]],
        "extent_mm": [round(x, 3) for x in fit[2]],
        "fits_build_volume": fit[0],
    })
    return report


def failures(r: dict, inside_out: bool) -> list[str]:
    """One plain sentence per failed check."""
    if r["triangles"] == 0:
        return ["The mesh has no triangles."]
    out = []
    if not r["closed"]:
        out.append(f"The surface is not closed: {r['open_edges']} edges are not shared by exactly two triangles.")
    if not r["oriented"]:
        out.append("The triangles are not consistently oriented.")
    elif inside_out:
        out.append("The surface is inside out: its volume is negative.")
    elif r["closed"] and not r["outward"]:
        out.append("The surface encloses no volume.")
    if r["bodies"] != 1:
        out.append(f"The mesh has {r['bodies']} separate bodies, not one.")
    if r["voids"]:
        out.append(f"The part has {r['voids']} sealed internal void(s): unfused powder or resin would stay trapped.")
    if r["self_intersections"]:
        out.append(f"The surface intersects itself ({r['self_intersections']} pairs of triangles cross "
                   f"more than {CONTACT_DEPTH_MM:g} mm deep).")
    if r["thinnest_wall_mm"] is None:
        out.append("The wall thickness could not be measured.")
    elif r["thinnest_wall_mm"] < r["min_wall_mm"]:
        out.append(
            f"The thinnest wall is {r['thinnest_wall_mm']:.2f} mm, under the {r['min_wall_mm']:g} mm minimum "
            f"({100 * r['thin_wall_share']:.1f}% of the surface)."
        )
    for h in r["holes"]:
        if not h["ok"]:
            out.append(f"A hole of {h['diameter_mm']:g} mm is under the {r['min_hole_mm']:g} mm minimum.")
    if not r["fits_build_volume"]:
        size = " x ".join(f"{x:g}" for x in r["build_volume_mm"])
        out.append(f"The part does not fit the {size} mm build volume in any orientation tried.")
    return out
