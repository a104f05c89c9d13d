"""Geometric facts about a mesh that a printer slicer relies on."""

from __future__ import annotations

import trimesh


def mesh_report(mesh: trimesh.Trimesh) -> dict:
    """Closed, consistently and outward oriented, one body, volume and size."""
    bodies = len(mesh.split(only_watertight=False)) if len(mesh.faces) else 0
    return {
        "watertight": bool(mesh.is_watertight),
        "winding_consistent": bool(mesh.is_winding_consistent),
        "outward": bool(mesh.is_volume and mesh.volume > 0),
        "bodies": int(bodies),
        "volume_ml": round(float(mesh.volume) / 1000.0, 4) if mesh.is_watertight else None,
        "triangles": int(len(mesh.faces)),
        "extent_mm": [round(float(x), 3) for x in mesh.extents],
    }
