"""Binary STL in patient millimetres (LPS), with a header that holds no patient data."""

from __future__ import annotations

from pathlib import Path

import trimesh
from trimesh.exchange.stl import export_stl

HEADER = b"implantgen binary STL; units mm; frame DICOM LPS; NOT FOR CLINICAL USE"


def stl_bytes(mesh: trimesh.Trimesh) -> bytes:
    data = export_stl(mesh)
    # Never start with "solid": some readers then take a binary file for ASCII.
    return HEADER.ljust(80, b" ")[:80] + data[80:]


def write_stl(mesh: trimesh.Trimesh, path: Path) -> Path:
    Path(path).write_bytes(stl_bytes(mesh))
    return Path(path)
