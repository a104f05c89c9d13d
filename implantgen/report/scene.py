"""A planned case's 3D scene: what the report pictures and the viewer shows, read from its folder.

``case_scene(folder)`` returns the layers in drawing order, each a PyVista dataset with its
colour, opacity and a key to toggle it.  Only the folder's own files are read (the contract's
output folder), so a case can be looked at on another machine, without the CT series.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError


@dataclass
class Layer:
    name: str  # shown in the legend
    key: str  # keyboard toggle in the viewer
    data: object  # pyvista.PolyData (or other dataset)
    color: str
    opacity: float = 1.0
    visible: bool = True


@dataclass
class CaseScene:
    folder: Path
    plan: dict
    layers: list[Layer] = field(default_factory=list)

    def layer(self, name: str) -> Layer | None:
        return next((lay for lay in self.layers if lay.name == name), None)

    def numbers(self) -> list[str]:
        """The key numbers, one line each, for a legend or a caption."""
        p = self.plan
        lines = [f"{p['bone']['name']}: {p['lesion']['type']} lesion, {p['lesion']['volume_ml']:.1f} ml",
                 f"margin {p['margin_mm']:g} mm, resection {p['resection_length_mm']:.1f} mm"]
        if p.get("implant"):
            stems = ", ".join(f"{s['diameter_mm']:g} x {s['length_mm']:.0f} mm" for s in p["implant"]["stems"])
            lines.append(f"stems {stems}; plate {p['plate']['length_mm']:.0f} mm, {p['plate']['holes']} holes")
        lines.append("NOT FOR CLINICAL USE")
        return lines


def read_plan(folder) -> dict:
    folder = Path(folder)
    path = folder / "plan.json"
    if not path.is_file():
        raise InputError(f"{folder} holds no plan.json: give the output folder of 'implantgen plan'.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise InputError(f"{path} is not valid JSON: re-run 'implantgen plan' to write it again.") from None


def _plane(point, normal, size: float):
    import pyvista as pv

    return pv.Plane(center=point, direction=normal, i_size=size, j_size=size)


def _screw_lines(plan: dict):
    import pyvista as pv

    holes = (plan.get("implant") or {}).get("screw_holes", [])
    if not holes:
        return None
    lines = []
    for h in holes:
        c, a = np.asarray(h["center"], float), np.asarray(h["axis"], float)
        half = h.get("screw_length_mm", 40.0) / 2 + 5.0
        lines.append(pv.Line(c - half * a, c + half * a))
    return lines[0].merge(lines[1:]) if len(lines) > 1 else lines[0]


def case_scene(folder, plan: dict | None = None, only: tuple[str, ...] | None = None) -> CaseScene:
    """The layers of a planned case folder (meshes, planes, screw axes); ``plan`` stands for its
    plan.json when the caller holds it (as read back) before the file is written; ``only``: just
    those surfaces, no planes or axes."""
    import pyvista as pv

    folder = Path(folder)
    plan = read_plan(folder) if plan is None else plan
    scene = CaseScene(folder=folder, plan=plan)
    meshes = (("bone", "b", "bone.stl", "ivory", 0.35), ("lesion", "l", "lesion.stl", "crimson", 1.0),
              ("resected segment", "r", "resected_segment.stl", "gold", 0.5),
              ("implant", "i", "implant.stl", "darkorange", 1.0), ("plate", "p", "plate.stl", "steelblue", 1.0))
    for name, key, file, color, opacity in meshes:
        if (only is None or name in only) and (folder / file).is_file():
            scene.layers.append(Layer(name, key, pv.read(folder / file), color, opacity,
                                      visible=name != "resected segment"))
    if only is not None:
        return scene
    bone = scene.layer("bone")
    size = 2.5 * max(bone.data.bounds[1] - bone.data.bounds[0], bone.data.bounds[3] - bone.data.bounds[2]) \
        if bone else 80.0
    for n, cut in enumerate(plan.get("osteotomies", [])):
        scene.layers.append(Layer(f"osteotomy {n + 1}", "o", _plane(cut["point"], cut["normal"], size),
                                  "mediumseagreen", 0.45))
    screws = _screw_lines(plan)
    if screws is not None:
        scene.layers.append(Layer("screw axes", "s", screws, "magenta", 1.0))  # seen on dark and light
    return scene
