"""Cuts with a robust boolean kernel (manifold3d): the piece of a solid between two planes."""

from __future__ import annotations

import manifold3d
import numpy as np
import trimesh

from ..geometry import bbox
from .checks import mesh_report
from .surface import mask_surface


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


def mask_between_planes(volume, mask: np.ndarray, low: tuple, high: tuple, whole: trimesh.Trimesh) -> trimesh.Trimesh:
    """``keep_between_planes(whole, low, high)``, where ``whole`` is ``mask_surface(volume, mask)``,
    made from the mask's voxels near the slab alone: the kernel took 0.5 s to take in a whole
    femur's surface and cut away all but a tenth of it.

    Marching cubes is local: a cell's triangles depend only on its eight corner voxels, so
    where every corner lies within a voxel's diagonal of the slab, the mask cut off past that
    distance gives the same triangles, and the piece between the planes is the same.  Should
    the cut-off mask's surface not be closed (a cavity meeting the cut along a voxel edge: the
    kernel takes such a surface without a word), the whole surface is cut instead.
    """
    box = bbox(mask)
    reach = 1.5 * float(np.linalg.norm(volume.spacing))
    near = mask[box] & (_along(volume, box, *low) >= -reach) & (_along(volume, box, *high) <= reach)
    if near.any():
        surface = mask_surface(volume, near, box)
        if mesh_report(surface)["watertight"]:
            return keep_between_planes(surface, low, high)
    return keep_between_planes(whole, low, high)


def _along(volume, box, point, normal) -> np.ndarray:
    """Signed distance (mm, float32) of the voxel centres of ``box`` from the plane (point,
    normal), positive on the normal's side."""
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    step = n @ (volume.direction * volume.spacing[None, :])  # mm per index step along i, j, k
    k, j, i = (np.arange(b.start, b.stop, dtype=np.float64) * s for b, s in zip(box, step[::-1]))
    i = i + n @ (volume.origin - np.asarray(point, float))
    # float32 (well under a micrometre at half a metre) halves the memory of the sums on a long bone's box
    k, j, i = (a.astype(np.float32) for a in (k, j, i))
    return k[:, None, None] + j[None, :, None] + i[None, None, :]
