"""write_report: a planned case folder -> its report.html (one self-contained page)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from . import html as h
from .design_sections import implant_section, plate_section, printability_section, surfaces_section, \
    warnings_section
from .images import Picture, ct_pictures, legend_text
from .plan_sections import key_numbers, plan_section, risk_section
from .provenance import availability, case_line, parameters_section, provenance_section, read_manifest
from .scene import CaseScene, case_scene, read_plan
from .views import render_views

log = logging.getLogger("implantgen")

NOTICE = "NOT FOR CLINICAL USE"
REPORT_NAME = "report.html"


@dataclass
class Pictures:
    """The report's pictures, drawn apart from the page so that a worker process can draw them
    while the plan's checks run (plain bytes and strings: they cross back by pickling)."""

    legend: list[tuple[str, str]]  # (layer name, CSS colour) of the 3D views
    views: list[Picture]
    views_missing: list[str]
    slices: list[Picture]
    slices_missing: list[str]

    @staticmethod
    def joined(views: "Pictures", slices: "Pictures") -> "Pictures":
        """The 3D views of one, the CT pictures of the other (drawn by two workers)."""
        return Pictures(views.legend, views.views, views.views_missing, slices.slices, slices.slices_missing)


def _legend(scene: CaseScene) -> list[tuple[str, str]]:
    items = [(lay.name, lay.color) for lay in scene.layers if not lay.name.startswith("osteotomy ")]
    planes = [lay.color for lay in scene.layers if lay.name.startswith("osteotomy ")]
    return items + [("osteotomy planes", planes[0])] if planes else items


def _legend_html(legend: list[tuple[str, str]]) -> str:
    """Colour swatches of the 3D layers (the scene's colours are CSS colour names)."""
    return "<p>" + "".join(
        f'<span style="display:inline-block;width:12px;height:12px;background:{h.esc(color)};'
        f'border:1px solid #555;margin:0 4px 0 10px"></span>{h.esc(name)}' for name, color in legend) + "</p>"


def _meshes(scene: CaseScene) -> dict:
    return {name: (scene.layer(name).data if scene.layer(name) else None) for name in ("implant", "plate")}


def report_pictures(folder, plan: dict | None = None, *, ct_image=None, label_image=None,
                    part: str = "all") -> Pictures:
    """The 3D views and CT pictures of a case folder.  ``plan`` stands for plan.json (as read
    back) when the caller holds it before the file is written; the pictures need only its
    geometry (axis, extent, planes, screws, plate side), not its checks or warnings.  ``part``:
    "views" or "slices" draws only those (two workers draw one each; Pictures.joined)."""
    views, slices = part in ("all", "views"), part in ("all", "slices")
    # The CT pictures outline only the implant and the plate: the bone's surface is not read.
    scene = case_scene(folder, plan, None if views else ("implant", "plate"))
    drawn_views, views_missing = render_views(scene) if views else ([], [])
    drawn_slices, slices_missing = ct_pictures(Path(folder), scene.plan, _meshes(scene), ct_image,
                                               label_image) if slices else ([], [])
    return Pictures(_legend(scene) if views else [], drawn_views, views_missing, drawn_slices, slices_missing)


def _body(folder: Path, plan: dict, manifest: dict | None, pictures: Pictures) -> str:
    slices, slices_missing = pictures.slices, pictures.slices_missing
    missing = availability(folder)
    top = (f"<h1>implantgen case report</h1><div class=\"banner\">{NOTICE}: a planning proposal for "
           "engineers; the surgeon decides.</div>"
           f"<p class=\"case\">{case_line(plan, manifest)}</p>" + key_numbers(plan))
    if missing:
        top += "<p>" + h.na("Files not in the folder: " + " ".join(missing)) + "</p>"
    parts = [
        top,
        h.section("3D views", _legend_html(pictures.legend) + h.figures(pictures.views, pictures.views_missing),
                  "views"),
        h.section("CT with the plan", f"<p>{h.esc(legend_text(bool(slices) and not slices_missing))}.</p>"
                  + h.figures(slices, slices_missing), "ct"),
        h.section("Plan", plan_section(plan), "plan"),
        h.section("Fracture risk", risk_section(plan), "risk"),
        h.section("Implant", implant_section(plan), "implant"),
        h.section("Plate", plate_section(plan), "plate"),
        h.section("Printability", printability_section(plan), "printability"),
        h.section("Surfaces", surfaces_section(plan), "surfaces"),
        h.section("Warnings", warnings_section(plan), "warnings"),
        h.section("Parameters", parameters_section(manifest), "parameters"),
        h.section("Provenance", provenance_section(folder, manifest), "provenance"),
    ]
    return "".join(parts)


def write_report(folder, manifest: dict | None = None, *, ct_image=None, label_image=None,
                 pictures: Pictures | None = None) -> Path:
    """Write ``report.html`` into a planned case folder and return its path.

    ``manifest`` is the run's manifest when the caller has it before manifest.json is written
    (its parameters, input summary and output hashes go into the report); else manifest.json is
    read when present, and without either the report says "not available" for the parameters
    and the series and hashes the folder's files itself.  Missing optional files (a plate, the
    CT crop...) are reported as not available, never an error.  ``ct_image`` and
    ``label_image`` are the SimpleITK images the export wrote to ct.nrrd and segmentation.nrrd
    (what write_ct_crop and write_label_map return), to save reading them back.  ``pictures``
    are what report_pictures returned when they were drawn beforehand (in a worker).
    """
    t0 = time.perf_counter()
    folder = Path(folder)
    manifest = manifest if manifest is not None else read_manifest(folder)
    plan = read_plan(folder)
    if pictures is None:
        pictures = report_pictures(folder, plan, ct_image=ct_image, label_image=label_image)
    footer = (f"Made by implantgen {h.esc(__version__)}. <b>{NOTICE}.</b> Geometry in millimetres, "
              "DICOM patient coordinates (LPS). The report holds no patient identifiers.")
    page = h.page(f"implantgen report: {plan.get('bone', {}).get('name', 'case')}",
                  _body(folder, plan, manifest, pictures), footer)
    path = folder / REPORT_NAME
    path.write_text(page, encoding="utf-8")
    log.debug("report: %s written in %.1f s", REPORT_NAME, time.perf_counter() - t0)
    return path
