"""The report's case line, parameters and provenance, from manifest.json (or the folder itself).

Nothing here may identify the patient: the case line is built from a whitelist of the input
summary's fields (no series description, which is free text), and any parameter that looks like
a file path or file name is not shown (a file name can carry a patient's name).
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
from pathlib import Path

from .. import __version__
from ..export.manifest import sha256_file
from .html import esc, na, num, pairs, table

# the contract's output files of 'plan', in the order a reader meets them
CASE_FILES = ("plan.json", "segmentation.nrrd", "ct.nrrd", "bone.stl", "lesion.stl", "resected_segment.stl",
              "implant.stl", "plate.stl", "implant.3mf")
_NOT_HASHED = ("report.html", "manifest.json")  # the report cannot hold its own hash, nor the manifest's
_REPORT_LIBS = ("pyvista", "vtk", "pillow")
_FILE_LIKE = re.compile(r"[/\\]|\.(nrrd|nii|gz|dcm|mha|mhd|json|toml|seg)$", re.IGNORECASE)


def read_manifest(folder: Path) -> dict | None:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def case_line(plan: dict, manifest: dict | None) -> str:
    """Bone, lesion and the series' size and spacing: nothing that names the patient or the study."""
    bone, lesion = plan.get("bone") or {}, plan.get("lesion") or {}
    text = f"{bone.get('name', 'bone not available')}, {lesion.get('type', 'unknown')} lesion"
    if lesion.get("volume_ml") is not None:
        text += f" of {lesion['volume_ml']:.1f} ml"
    s = (manifest or {}).get("input")
    if not s:
        return esc(text) + f"; CT series: {na()}."
    series = f"{s.get('modality', 'CT')} series {' x '.join(str(n) for n in s.get('size', []))} voxels"
    series += f", spacing {' x '.join(f'{v:g}' for v in s.get('spacing', []))} mm"
    if s.get("slice_thickness"):
        series += f", slice thickness {s['slice_thickness']:g} mm"
    if s.get("orientation"):
        series += f", {s['orientation']}"
    if s.get("kernel"):
        series += f", kernel {s['kernel']}"
    return esc(f"{text}; {series}.")


def _flatten(value, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, value)]


def _shown(key: str, value) -> str:
    if isinstance(value, str) and (_FILE_LIKE.search(value) or value.startswith("external:")):
        return na("a file was given (its name is not shown)")
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return esc(", ".join(str(v) for v in value))
    return num(value) if isinstance(value, bool) else esc(value)


def parameters_section(manifest: dict | None) -> str:
    params = (manifest or {}).get("parameters")
    if params is None:
        return f"<p>{na('Parameters: not available (no manifest).')}</p>"
    rows = [[esc(k), _shown(k, v)] for k, v in _flatten(params)]
    return table(["parameter", "value"], rows)


def _report_versions() -> dict:
    out = {}
    for dist in _REPORT_LIBS:
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


def _output_hashes(folder: Path, manifest: dict | None) -> tuple[dict, str]:
    """name -> {sha256, bytes} from the manifest, else computed here from the folder's files."""
    if manifest and manifest.get("outputs"):
        return manifest["outputs"], "manifest.json"
    outputs = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
               for p in sorted(Path(folder).iterdir()) if p.is_file() and p.name not in _NOT_HASHED}
    return outputs, "computed by the report from the folder"


def provenance_section(folder: Path, manifest: dict | None) -> str:
    versions = {**((manifest or {}).get("versions") or {"implantgen": __version__}), **_report_versions()}
    inp = (manifest or {}).get("input") or {}
    rows = [("tool", esc(f"implantgen {versions.get('implantgen', __version__)}")),
            ("library versions", esc(", ".join(f"{k} {v}" for k, v in versions.items()
                                                if k != "implantgen" and v))),
            ("input pixel SHA-256 (HU voxels and grid only)",
             f"<code>{esc(inp['pixel_sha256'])}</code>" if inp.get("pixel_sha256") else na()),
            ("input files", num(inp.get("n_files"), digits=0) if inp else na())]
    outputs, source = _output_hashes(folder, manifest)
    names = list(CASE_FILES) + sorted(n for n in outputs if n not in CASE_FILES)
    files = [[esc(n), f"<code>{esc(outputs[n]['sha256'])}</code>", num(outputs[n].get("bytes"))]
             if n in outputs else [esc(n), na(), na()] for n in names]
    return (pairs(rows) + f"<h3>Output files (SHA-256 from {esc(source)})</h3>" +
            table(["file", "SHA-256", "bytes"], files) +
            "<p>report.html and manifest.json are not in this list: manifest.json holds the report's hash.</p>")


def availability(folder: Path) -> list[str]:
    """One sentence per contract file the folder lacks."""
    return [f"{name}: not available." for name in CASE_FILES if not (Path(folder) / name).is_file()]
