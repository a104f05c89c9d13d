"""Closed solids from sampled outlines, as manifold3d solids (the project's boolean kernel).

``tube``: rings of radii around centre points, capped at both ends; ``slab``: a curved plate
between an inner and an outer grid of points; ``cylinder``: a round bar along an axis.  Each is
closed and outward by construction, then checked by manifold3d on the way in.
"""

from __future__ import annotations

import manifold3d
import numpy as np
import trimesh

from ..geometry import perpendicular_frame, unit
from ..mesh.cut import from_manifold, to_manifold

__all__ = ["tube", "slab", "cylinder", "to_manifold", "from_manifold", "union", "difference"]


def _solid(vertices: np.ndarray, faces: np.ndarray) -> manifold3d.Manifold:
    # Built one way round; the sign of the volume says which (the sum of the faces' triple
    # products, 6 times the volume: trimesh's mass properties work out the inertia too).
    v = np.asarray(vertices, dtype=float)[faces]
    if np.einsum("ij,ij->", v[:, 0], np.cross(v[:, 1], v[:, 2])) < 0:
        faces = np.ascontiguousarray(faces[:, ::-1])  # as trimesh's invert()
    return to_manifold(trimesh.Trimesh(vertices, faces, process=False))


def tube(centres: np.ndarray, rays: np.ndarray, radii: np.ndarray) -> manifold3d.Manifold:
    """A solid through ``centres`` (n, 3): ring k is centres[k] + radii[k, a] * rays[a].

    ``rays`` (m, 3) are unit vectors across the tube, in angular order; rings lie in parallel
    planes, so consecutive rings never cross as long as the centres advance along the axis.
    """
    n, m = radii.shape
    ring = centres[:, None, :] + radii[:, :, None] * rays[None, :, :]
    verts = np.vstack([ring.reshape(-1, 3), centres[0], centres[-1]])
    k, a = np.meshgrid(np.arange(n - 1), np.arange(m), indexing="ij")
    v00, v01 = k * m + a, k * m + (a + 1) % m
    v10, v11 = v00 + m, v01 + m
    side = np.concatenate([np.stack([v00, v01, v11], -1).reshape(-1, 3),
                           np.stack([v00, v11, v10], -1).reshape(-1, 3)])
    a = np.arange(m)
    cap0 = np.stack([np.full(m, n * m), (a + 1) % m, a], -1)
    cap1 = np.stack([np.full(m, n * m + 1), (n - 1) * m + a, (n - 1) * m + (a + 1) % m], -1)
    return _solid(verts, np.concatenate([side, cap0, cap1]))


def slab(inner: np.ndarray, outer: np.ndarray) -> manifold3d.Manifold:
    """A closed plate between two (ns, nt, 3) grids of matching points (inner and outer face)."""
    ns, nt, _ = inner.shape
    idx = np.arange(ns * nt).reshape(ns, nt)
    off = ns * nt
    verts = np.vstack([inner.reshape(-1, 3), outer.reshape(-1, 3)])

    def quads(g):  # two triangles per cell of an index grid
        a, b, c, d = g[:-1, :-1], g[:-1, 1:], g[1:, 1:], g[1:, :-1]
        return np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])

    def strip(edge):  # a wall joining an inner edge (1-D index run) to its outer twin
        g = np.stack([edge, edge + off], axis=1)
        return quads(g)

    faces = [quads(idx)[:, ::-1], quads(idx + off),
             strip(idx[0, :])[:, ::-1], strip(idx[-1, :]),
             strip(idx[:, 0]), strip(idx[:, -1])[:, ::-1]]
    return _solid(verts, np.concatenate(faces))


def cylinder(point, axis, diameter: float, length: float, segments: int = 32) -> manifold3d.Manifold:
    """A round bar of ``diameter`` along ``axis``, centred on ``point``, ``length`` long."""
    z = unit(axis)
    x, y = perpendicular_frame(z)
    # Turn the facets half a step: otherwise two of its edges lie in the plane that holds the
    # bone's axis and the screw's, where the plate and body have vertex lines too, and the
    # boolean leaves slivers a hair apart there.
    a = np.pi / segments
    x, y = np.cos(a) * x + np.sin(a) * y, np.cos(a) * y - np.sin(a) * x
    c = manifold3d.Manifold.cylinder(float(length), float(diameter) / 2, float(diameter) / 2, segments, True)
    m = np.column_stack([x, y, z, np.asarray(point, float)])  # 3x4: columns are the new axes
    return c.transform(m)


def union(parts: list[manifold3d.Manifold]) -> manifold3d.Manifold:
    return manifold3d.Manifold.batch_boolean(parts, manifold3d.OpType.Add)


def difference(solid: manifold3d.Manifold, cutters: list[manifold3d.Manifold]) -> manifold3d.Manifold:
    if not cutters:
        return solid
    return solid - union(cutters)
