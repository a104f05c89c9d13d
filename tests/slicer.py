"""PrusaSlicer as an outside judge of mesh files (a test helper, not part of the package).

PrusaSlicer repairs broken meshes silently and exits 0 either way, so its exit status says
nothing about the file: ``slicer_info`` parses what ``prusa-slicer --info`` prints (including
the repair counts it prints only when it had to repair) and ``slice_to_gcode`` checks the G-code
it writes.  Measured with PrusaSlicer 2.5 on a machine without a display: neither action needs
one (no GUI is started), so no xvfb-run here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

EXECUTABLE = "prusa-slicer"
# Printed by 2.5 only after a repair, each only when non-zero (Model.cpp, ModelObject::print_info).
REPAIR_FIELDS = ("degenerate_facets", "edges_fixed", "facets_removed", "facets_added", "facets_reversed",
                 "backwards_edges")
# A virtual printer big enough for any part: the build volume is judged by printability(), the
# slicer only by whether it slices.  Default print settings otherwise (0.3 mm layers).
BED_MM = 1000
SLICE_OPTIONS = [f"--bed-shape=0x0,{BED_MM}x0,{BED_MM}x{BED_MM},0x{BED_MM}", f"--max-print-height={BED_MM}",
                 f"--center={BED_MM // 2},{BED_MM // 2}", "--ensure-on-bed"]
_LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:.]+\] \[0x[0-9a-f]+\] \[(\w+)\]\s*(.*)$")
_PROGRESS = re.compile(r"^\d+ => ")


def executable() -> str:
    """Path of prusa-slicer; a missing slicer is an error, never a reason to skip."""
    path = shutil.which(EXECUTABLE)
    if path is None:
        raise RuntimeError(
            "prusa-slicer is not installed, so the 3MF/STL files cannot be checked by a slicer: "
            "install it (apt-get install -y prusa-slicer; .ci/run does this in CI)."
        )
    return path


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run prusa-slicer with an empty private settings folder (no user profile can interfere)."""
    with tempfile.TemporaryDirectory(prefix="prusa-datadir-") as datadir:
        return subprocess.run([executable(), "--datadir", datadir, "--loglevel", "2", *args],
                              capture_output=True, text=True, timeout=timeout)


def _notes(text: str) -> list[str]:
    """Lines worth reading: warnings and errors, anything mentioning a repair; not trace or progress."""
    notes = []
    for line in text.splitlines():
        line = line.strip()
        log = _LOG_LINE.match(line)
        if log:
            if log.group(1) not in ("trace", "debug", "info"):
                notes.append(f"{log.group(1)}: {log.group(2)}")
            continue
        if not line or _PROGRESS.match(line) or " = " in line or line.startswith("["):
            continue
        notes.append(line)
    return notes


def parse_info(stdout: str) -> list[dict]:
    """One dict per object block of ``--info`` output (each block starts with ``[file name]``)."""
    objects: list[dict] = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]") and not _LOG_LINE.match(line):
            objects.append({"file": line[1:-1]})
            continue
        key, sep, value = line.partition(" = ")
        if not sep or not objects:
            continue
        key, value = key.strip(), value.strip()
        if key == "manifold":
            objects[-1][key] = value == "yes"
        elif re.fullmatch(r"-?\d+", value):
            objects[-1][key] = int(value)
        else:
            try:
                objects[-1][key] = float(value)
            except ValueError:
                objects[-1][key] = value
    return objects


def slicer_info(path) -> dict:
    """What PrusaSlicer says about a mesh file: per object and in total, and whether it is clean.

    clean: every object manifold, no open edge, nothing repaired, positive volume, exit status 0.
    """
    proc = run("--info", str(path))
    objects = parse_info(proc.stdout)
    repairs = {f: sum(o.get(f, 0) for o in objects) for f in REPAIR_FIELDS}
    info = {
        "returncode": proc.returncode,
        "objects": objects,
        "manifold": bool(objects) and all(o.get("manifold") is True for o in objects),
        "open_edges": sum(o.get("open_edges", 0) for o in objects),
        "facets_reversed": repairs["facets_reversed"],
        "repairs": repairs,
        "repaired": any(repairs.values()),
        "number_of_parts": sum(o.get("number_of_parts", 0) for o in objects),
        "number_of_facets": sum(o.get("number_of_facets", 0) for o in objects),
        "volume": sum(o.get("volume", 0.0) for o in objects),
        "size": [[o.get(f"size_{a}") for a in "xyz"] for o in objects],
        "notes": _notes(proc.stdout) + _notes(proc.stderr),
    }
    info["clean"] = (
        proc.returncode == 0
        and info["manifold"]
        and info["open_edges"] == 0
        and not info["repaired"]
        and all(o.get("volume", 0) > 0 for o in objects)
    )
    return info


def gcode_layers(gcode: Path) -> list[float]:
    """Heights of the layers PrusaSlicer wrote (its ';Z:' comment after each ';LAYER_CHANGE')."""
    heights = []
    for line in gcode.read_text(errors="replace").splitlines():
        if line.startswith(";Z:"):
            heights.append(float(line[3:]))
    return heights


def slice_to_gcode(path, out_gcode) -> tuple[bool, str]:
    """Slice with default print settings on a large virtual bed; check that G-code with layers came out."""
    out_gcode = Path(out_gcode)
    if out_gcode.exists():
        out_gcode.unlink()  # an old file must not pass for a new one
    proc = run("--export-gcode", *SLICE_OPTIONS, "--output", str(out_gcode), str(path))
    notes = "; ".join(_notes(proc.stdout) + _notes(proc.stderr))
    if proc.returncode != 0:
        return False, f"prusa-slicer exited with status {proc.returncode}: {notes}"
    if not out_gcode.is_file() or out_gcode.stat().st_size == 0:
        return False, f"no G-code written: {notes}"
    layers = gcode_layers(out_gcode)
    if not layers:
        return False, "the G-code has no layers"
    if not any(re.match(r"G1 .*E\d", line) for line in out_gcode.read_text(errors="replace").splitlines()):
        return False, "the G-code extrudes nothing"
    return True, f"{len(layers)} layers up to z = {max(layers):.2f} mm" + (f" ({notes})" if notes else "")
