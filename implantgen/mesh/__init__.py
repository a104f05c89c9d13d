"""Surfaces: masks to closed, outward meshes in patient mm; cuts; checks; STL files."""

from .checks import mesh_report
from .cut import keep_between_planes, mask_between_planes
from .stl import stl_bytes, write_stl
from .surface import mask_surface

__all__ = ["mask_surface", "keep_between_planes", "mask_between_planes", "mesh_report", "stl_bytes", "write_stl"]
