"""The implant's files: implant.stl, plate.stl, implant.3mf, each checked as a printer will see it.

A solid is checked twice: as the kernel made it (printability: closed, outward, walls,
overhangs, build volume) and as read back from its STL bytes, where readers join vertices by
their float32 positions; only a file that is still one closed, outward body is written.
"""

from __future__ import annotations

import io
from pathlib import Path

import trimesh

from .. import __version__
from ..mesh import mesh_report
from ..mesh.printability import printability
from ..mesh.stl import stl_bytes
from ..mesh.threemf import write_3mf

NOTICE = "NOT FOR CLINICAL USE: a planning proposal for engineers; a surgeon decides."


def _as_read_back(data: bytes) -> dict:
    mesh = trimesh.load(io.BytesIO(data), file_type="stl", process=True)
    report = mesh_report(mesh)
    if not (report["watertight"] and report["outward"] and report["bodies"] == 1):
        raise RuntimeError(f"the STL as read back is not one closed, outward body: {report}")
    return report


def write_stls(folder: Path, design) -> dict:
    """implant.stl and plate.stl, each checked as read back from its bytes; returns those checks
    (written first, apart from the slower printability checks, so that the report's pictures
    can be drawn from the folder while the checks run)."""
    read_back = {}
    for name, mesh in (("implant", design.implant), ("plate", design.plate)):
        data = stl_bytes(mesh)
        read_back[name] = _as_read_back(data)
        (Path(folder) / f"{name}.stl").write_bytes(data)
    return read_back


def write_design(folder: Path, design, print_params, read_back: dict | None = None) -> dict:
    """Write the implant's files into ``folder`` (the STLs too unless ``read_back``, what
    write_stls returned, says they are written); returns the printability block of plan.json."""
    folder = Path(folder)
    read_back = read_back if read_back is not None else write_stls(folder, design)
    holes = {"implant": sorted({s.drill_mm for s in design.screws}),
             "plate": sorted({s.plate_hole_mm for s in design.screws})}
    checks = {}
    for name, mesh in (("implant", design.implant), ("plate", design.plate)):
        report = printability(mesh, min_wall_mm=print_params.min_wall_mm, overhang_deg=print_params.overhang_deg,
                              build_volume_mm=tuple(print_params.build_volume_mm),
                              hole_diameters_mm=holes[name], min_hole_mm=print_params.min_hole_mm)
        report["stl_read_back"] = read_back[name]
        checks[f"{name}.stl"] = report
    write_3mf({"implant": design.implant, "plate": design.plate}, folder / "implant.3mf",
              {"Title": "implantgen segmental prosthesis and bridging plate",
               "Application": f"implantgen {__version__}", "Description": NOTICE,
               "Units": "millimetre, DICOM patient coordinates (LPS)"})
    return checks


__all__ = ["write_design", "write_stls"]
