"""Cuts with a robust boolean kernel (manifold3d): the piece of a solid between two planes."""

from __future__ import annotations

import manifold3d
import numpy as np
import trimesh


# Booleans can leave vertices a hair apart; STL stores float32 and readers merge equal
# positions, so such pairs would turn into non-manifold edges.  Surfaces are simplified to this
# tolerance (far below a printer's resolution) before they leave the kernel.
TOLERANCE_MM = 1e-3


def to_manifold(mesh: trimesh.Trimesh) -> manifold3d.Manifold:
    m = manifold3d.Manifold(manifold3d.Mesh64(vert_properties=np.array(mesh.vertices, dtype=np.float64, order="C"),
                                              tri_verts=np.array(mesh.faces, dtype=np.uint64, order="C")))
    if m.status() != manifold3d.Error.NoError:
        raise ValueError(f"mesh is not a closed manifold ({m.status()})")
    return m


def from_manifold(m: manifold3d.Manifold) -> trimesh.Trimesh:
    """The solid as a trimesh, vertices as the kernel made them (no merging by distance), save
    any pair that an STL's float32 would make one (see float32_twins_joined)."""
    out = m.simplify(TOLERANCE_MM).to_mesh64()
    vertices, faces = float32_twins_joined(np.asarray(out.vert_properties)[:, :3],
                                           np.asarray(out.tri_verts, np.int64))
    return trimesh.Trimesh(vertices, faces, process=False)


def float32_twins_joined(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, faces) with vertices equal in float32 joined (the first one kept), the faces
    that collapse dropped, and unused vertices removed.

    simplify() leaves an edge shorter than its tolerance where collapsing it would fold a
    sharp corner (one of 5.6e-6 mm was seen); an STL reader joins its ends by their float32
    positions, and the two triangles on it become slivers of zero area, so the read-back file
    would not be closed.  Collapsing such an edge here keeps the solid closed (the read-back
    check in export.design_files holds it to that).
    """
    _, first, twin = np.unique(vertices.astype(np.float32), axis=0, return_index=True, return_inverse=True)
    if len(first) == len(vertices):
        return vertices, faces
    faces = first[twin.ravel()][faces]  # every vertex as the first of its float32 twins
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    used, faces = np.unique(faces, return_inverse=True)
    return vertices[used], faces.reshape(-1, 3)


def keep_between_planes(mesh: trimesh.Trimesh, low: tuple, high: tuple) -> trimesh.Trimesh:
    """The part of ``mesh`` above plane ``low`` and below plane ``high``.

    Each plane is (point, normal) with the normal pointing from low towards high.
    """
    m = to_manifold(mesh)
    (p0, n0), (p1, n1) = [(np.asarray(p, float), np.asarray(n, float) / np.linalg.norm(n)) for p, n in (low, high)]
    m = m.trim_by_plane(tuple(n0), float(n0 @ p0))  # keeps n0 . x >= n0 . p0
    m = m.trim_by_plane(tuple(-n1), float(-n1 @ p1))  # keeps n1 . x <= n1 . p1
    return from_manifold(m)
