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
    """The solid as a trimesh, vertices as the kernel made them (no merging by distance)."""
    out = m.simplify(TOLERANCE_MM).to_mesh64()
    return trimesh.Trimesh(np.asarray(out.vert_properties)[:, :3], np.asarray(out.tri_verts, np.int64),
                           process=False)


def keep_between_planes(mesh: trimesh.Trimesh, low: tuple, high: tuple) -> trimesh.Trimesh:
    """The part of ``mesh`` above plane ``low`` and below plane ``high``.

    Each plane is (point, normal) with the normal pointing from low towards high.
    """
    m = to_manifold(mesh)
    (p0, n0), (p1, n1) = [(np.asarray(p, float), np.asarray(n, float) / np.linalg.norm(n)) for p, n in (low, high)]
    m = m.trim_by_plane(tuple(n0), float(n0 @ p0))  # keeps n0 . x >= n0 . p0
    m = m.trim_by_plane(tuple(-n1), float(-n1 @ p1))  # keeps n1 . x <= n1 . p1
    return from_manifold(m)
