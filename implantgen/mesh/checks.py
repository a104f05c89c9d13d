"""Geometric facts about a mesh that a printer slicer relies on."""

from __future__ import annotations

import numpy as np
import trimesh


def _bodies(mesh: trimesh.Trimesh) -> int:
    """Groups of faces joined by edges: what ``len(mesh.split(only_watertight=False))`` counts,
    without building a mesh per group (0.1 s on a bone surface, only to count them)."""
    if not len(mesh.faces):
        return 0
    groups = trimesh.graph.connected_components(edges=mesh.face_adjacency, nodes=np.arange(len(mesh.faces)),
                                                min_len=1)
    return len(groups)


def mesh_report(mesh: trimesh.Trimesh) -> dict:
    """Closed, consistently and outward oriented, one body, volume and size."""
    return {
        "watertight": bool(mesh.is_watertight),
        "winding_consistent": bool(mesh.is_winding_consistent),
        "outward": bool(mesh.is_volume and mesh.volume > 0),
        "bodies": _bodies(mesh),
        "volume_ml": round(float(mesh.volume) / 1000.0, 4) if mesh.is_watertight else None,
        "triangles": int(len(mesh.faces)),
        "extent_mm": [round(float(x), 3) for x in mesh.extents],
    }
