"""The one place that knows the order of the stages.

    load -> segment -> plan -> design -> export

Each stage is a function on plain records; this module only calls them in order, times them,
and writes the output folder atomically.  The CLI is a thin layer over ``plan_case`` and
``segment_case``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from .config import feasibility_limits, lesion_criteria
from .design import DESIGN_SECTIONS, design_params
from .errors import InputError, PlanNotFeasible
from .export import build_manifest, pixel_hash, write_json
from .export.manifest import add_outputs
from .export.plan_json import as_written, design_blocks, plan_dict
from .load import load_ct, load_label_map
from .outdir import atomic_output_dir, check_output_dir
from .parallel import Background, Inbox, WorkerDied, shared_memory
from .progress import StageProgress, stage_progress
from .records import (BONE_LABEL, LESION_LABEL, OTHER_BONE_LABEL, PAIN_SCORES, BoneSegmentation, SeriesSummary,
                      Volume)

if TYPE_CHECKING:
    from .design import Design
    from .plan import ResectionPlan
    from .report.write import Pictures
    from .segment.target import Target

# The segmentation and the plan need scipy, scikit-image and cc3d (half a second of imports), the
# stages after them trimesh, manifold3d, VTK and pyvista (about a second more, and half a second
# in the report's drawing worker).  plan_case forks the child that segments and plans before it
# reads the CT: the child imports its libraries while this process reads, and this process
# imports the later ones (and the child's, to take its results) while the child works.  Only the
# functions that use a stage's module name it.
LATER_MODULES = ("implantgen.segment.target", "implantgen.plan", "implantgen.design.implant",
                 "implantgen.export.case_files", "implantgen.export.design_files", "implantgen.report.write",
                 "implantgen.report.views", "pyvista", "vtkmodules.vtkRenderingOpenGL2", "vtkmodules.vtkRenderingCore",
                 "vtkmodules.vtkFiltersCore", "vtkmodules.vtkCommonColor")

log = logging.getLogger("implantgen")

_CONFIG_SECTIONS = ("lesion", "feasibility") + DESIGN_SECTIONS


@dataclass
class CaseResult:
    """What ``plan_case`` returns: the output folder and what went into it."""

    out_dir: Path
    summary: SeriesSummary
    plan: dict
    stage_seconds: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    volume: Volume | None = None
    bones: BoneSegmentation | None = None
    target: Target | None = None
    resection: ResectionPlan | None = None
    design: Design | None = None


class _Stages:
    """Times each stage, shows the progress display when asked, and says what it did."""

    def __init__(self, names: tuple[str, ...], progress: bool | StageProgress = False):
        self.seconds: dict[str, float] = {}
        # A forked child carries on its parent's display (the same bar on the same terminal)
        self._context = contextlib.nullcontext(progress) if isinstance(progress, StageProgress) \
            else stage_progress(names, progress)

    def __enter__(self):
        self.progress = self._context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)

    def run(self, name: str, func, *args, **kwargs):
        self.progress.start(name)
        t0 = time.perf_counter()
        result = func(*args, **kwargs)
        self.seconds[name] = round(time.perf_counter() - t0, 3)
        self.progress.finish(name)
        return result

    def ran(self, seconds: dict[str, float]) -> None:
        """Stages that ran elsewhere (a forked child, which drew them on the display), with their
        times: counted as done here too."""
        self.seconds.update(seconds)
        self.progress.caught_up(seconds)


PLAN_STAGES = ("load", "segment", "target", "plan", "design", "export", "report")
SEGMENT_STAGES = ("load", "segment", "target", "export")


def _one_blas_thread():
    """The pipeline's matrix products are small (N x 3 points, 3 x 3 frames); after each, OpenBLAS's
    worker threads spin on the other core, where the forked workers run: 0.8 s of CPU on a
    512 x 512 x 400 CT.  BLAS runs on the calling thread while the pipeline runs."""
    return threadpool_limits(limits=1, user_api="blas")


def _check_options(margin_mm: float, lesion_mask, lesion_seed, pain) -> tuple | None:
    if not np.isfinite(margin_mm) or margin_mm <= 0:
        raise InputError(f"The margin {margin_mm} mm is not a positive distance: give --margin-mm above 0, e.g. 20.")
    if lesion_mask is not None and not Path(lesion_mask).is_file():
        raise InputError(f"The lesion mask {lesion_mask} does not exist: give a .nrrd, .nii, .nii.gz or DICOM-SEG file.")
    if pain is not None and pain not in PAIN_SCORES:
        raise InputError(f"The pain '{pain}' is not one of {', '.join(PAIN_SCORES)}: give one of them.")
    if lesion_seed is None:
        return None
    seed = tuple(float(v) for v in lesion_seed)
    if len(seed) != 3 or not all(np.isfinite(seed)):
        raise InputError("The lesion seed must be three numbers X,Y,Z in patient mm (LPS), e.g. --lesion-seed -90.5,20,-250.")
    return seed


def _check_seed_inside(volume: Volume, seed) -> None:
    ijk = volume.physical_to_index([seed])[0]
    if np.any(ijk < -0.5) or np.any(ijk > np.array(volume.shape[::-1]) - 0.5):
        raise InputError(
            f"The lesion seed {seed} mm lies outside the CT: give a point inside the scan, in "
            "patient mm (LPS)."
        )


def _lesion_voxels(labels: np.ndarray, path) -> np.ndarray:
    """A lesion mask's lesion: its nonzero voxels; but from a label map in segmentation.nrrd's
    labels (bone, lesion and other bone, e.g. an earlier plan's, its lesion edited in 3D Slicer)
    the lesion's label alone: all of it made the whole bone the lesion."""
    present = set(np.unique(labels).tolist()) - {0}
    if LESION_LABEL in present and len(present) > 1 and present <= {BONE_LABEL, LESION_LABEL, OTHER_BONE_LABEL}:
        log.info("lesion mask %s: segmentation.nrrd's labels, its label %d taken as the lesion",
                 Path(path).name, LESION_LABEL)
        return labels == LESION_LABEL
    return labels > 0


def _load(series, series_uid, seed, lesion_mask, shared=None):
    """(volume, lesion mask or None); with ``shared`` (parallel.SharedMemory), the CT's array is
    read into it."""
    volume = load_ct(series, series_uid=series_uid, allocate=np.empty if shared is None else shared.empty)
    if shared is not None:  # a volume file, or a series resampled or with slices skipped
        volume = replace(volume, array=shared.holding(volume.array))
    if seed is not None:
        _check_seed_inside(volume, seed)
    mask = None
    if lesion_mask is not None:
        mask = _lesion_voxels(load_label_map(lesion_mask, volume), lesion_mask)
        if not mask.any():
            raise InputError(f"The lesion mask {lesion_mask} is empty on this CT: give a mask with the lesion in it.")
    return volume, mask


def _ct_bytes(series) -> int:
    """Room for the CT read from ``series``: twice its files' bytes (HU as float32 from 16-bit
    pixels), four times a compressed volume file's, and 64 MB besides."""
    path = Path(series)
    if path.is_file():
        return 4 * path.stat().st_size + (64 << 20)
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0
    return 2 * total + (64 << 20)


def _check_config(config: dict | None) -> None:
    unknown = sorted(set(config or {}) - set(_CONFIG_SECTIONS))
    if unknown:
        raise InputError(f"The config has unknown section(s) [{'], ['.join(unknown)}]: known are "
                         f"[{'], ['.join(_CONFIG_SECTIONS)}] (see the README).")


def _check_bones_options(bones_file, bone_names) -> None:
    """Before any work: the label map and its names file exist, and names go with a label map."""
    if bones_file is not None and not Path(bones_file).is_file():
        raise InputError(f"The bone label map {bones_file} does not exist: give a .nrrd, .nii or .nii.gz file.")
    if bone_names is not None and bones_file is None:
        raise InputError("--bone-names names the labels of a --bones FILE: give that label map too, or drop "
                         "--bone-names.")
    if isinstance(bone_names, (str, Path)) and bone_names != "totalsegmentator" and not Path(bone_names).is_file():
        raise InputError(f"The label names file {bone_names} does not exist: give 'totalsegmentator' or a "
                         "JSON file {label: name}.")


def _bones(volume: Volume, bones_file, bone_names) -> BoneSegmentation:
    if bones_file is None:
        from .segment import segment_bones

        return segment_bones(volume)
    from .segment.external import bones_from_label_map

    return bones_from_label_map(bones_file, volume, bone_names)


def _segment_and_plan(loaded: Inbox, bones_file, bone_names, seed, criteria, margin_mm, pain, limits,
                      progress: StageProgress | bool = False):
    """(bones, target, resection plan, seconds per stage): the stages from the CT to the plan,
    once ``loaded`` holds (volume, lesion mask).  Run in a forked child, it imports its libraries
    while the parent reads the CT, and draws the parent's progress display."""
    from .plan import make_plan
    from .segment import segment_bones  # noqa: F401 - imported before the CT arrives
    from .segment.target import find_target

    volume, mask = loaded.get()
    if isinstance(progress, StageProgress):  # the parent read the CT after this copy was made
        progress.caught_up(["load"])
    with _Stages(("segment", "target", "plan"), progress) as stages:
        bones = stages.run("segment", _bones, volume, bones_file, bone_names)
        target = stages.run("target", find_target, volume, bones, lesion_mask=mask, seed=seed, criteria=criteria)
        resection = stages.run("plan", make_plan, volume, target, margin_mm, pain=pain, limits=limits)
    # The solid's voxel points served the plan; they need not cross to the parent (12 MB here).
    return bones, replace(target, points=None), resection, stages.seconds


def plan_case(series, out, *, margin_mm: float = 20.0, series_uid: str | None = None,
              lesion_mask=None, lesion_seed=None, pain: str | None = None,
              bones_file=None, bone_names=None, config: dict | None = None,
              strict: bool = False, progress: bool = False) -> CaseResult:
    """Run the pipeline on a CT series and write its output folder ``out``.

    Returns a CaseResult; raises InputError (bad input) or PlanNotFeasible with one plain
    sentence.  With ``strict``, a failed printability check is such an error too.  On any
    error ``out`` is left as it was.  ``progress`` shows a bar per stage on stderr.
    """
    seed = _check_options(margin_mm, lesion_mask, lesion_seed, pain)
    check_output_dir(out, inputs=(series, lesion_mask, bones_file))
    _check_bones_options(bones_file, bone_names)
    _check_config(config)
    criteria, limits = lesion_criteria(config), feasibility_limits(config)
    params = design_params(config)
    parameters = {"margin_mm": float(margin_mm), "series_uid_given": series_uid is not None,
                  "lesion_mask_given": lesion_mask is not None, "lesion_seed": seed, "pain": pain,
                  "lesion_criteria": criteria.__dict__, "feasibility_limits": limits.__dict__,
                  "design": params.as_dict(), "strict": strict, "config": config or {}}
    with _one_blas_thread(), _Stages(PLAN_STAGES, progress) as stages:
        # Segmenting, the lesion and the plan run in a child forked before the CT is read
        # (implantgen.parallel), which imports its libraries meanwhile and gets the CT through
        # shared memory; this process then imports the later stages' libraries and hashes the
        # input, work that would otherwise wait its turn on one core.
        loaded = Inbox(shared_memory(_ct_bytes(series)))
        with loaded, Background(_segment_and_plan, loaded, bones_file, bone_names, seed, criteria, margin_mm,
                                pain, limits, stages.progress) as head:
            volume, mask = stages.run("load", _load, series, series_uid, seed, lesion_mask, loaded.shared)
            loaded.put((volume, mask))
            s = volume.summary
            log.info("load: %s CT %dx%dx%d, spacing %.3g x %.3g x %.3g mm (%.1f s)", s.orientation, *s.size,
                     *s.spacing, stages.seconds["load"])
            for name in LATER_MODULES:
                importlib.import_module(name)
            input_hash = pixel_hash(volume)
            bones, target, resection, seconds = head.result()
        stages.ran(seconds)
        log.info("segment: %d bone(s)%s; %s lesion of %.1f ml in %s (%.1f s)", len(bones.names),
                 ", metal found" if bones.has_metal else "", target.lesion.type, target.lesion.volume_ml,
                 target.name, stages.seconds["segment"] + stages.seconds["target"])
        log.info("plan: osteotomies %.1f mm apart at a %g mm margin (%.1f s)", resection.resection_length_mm,
                 margin_mm, stages.seconds["plan"])
        parameters["bones"] = bones.method
        from .design import design_implant
        from .export.case_files import ct_crop_image, label_map_image, segmentation_labels, write_case_files
        with atomic_output_dir(out) as tmp:
            # The case's own files (label map, CT crop, surfaces) need no design: they are
            # written on the other core while the design is made (implantgen.parallel).
            images = {"label_image": label_map_image(segmentation_labels(bones.labels, target.solid,
                                                                         target.lesion.mask), volume),
                      "ct_image": ct_crop_image(volume, target.solid)}
            with Background(write_case_files, tmp, volume, target.solid, target.lesion.mask,
                            resection.osteotomies, images) as case_files:
                design = stages.run("design", design_implant, volume, target, resection, params, bones)
                log.info("design: %.0f mm prosthesis with %s stems, %.0f mm plate with %d holes (%.1f s)",
                         design.length_mm,
                         " and ".join(f"{d.diameter_mm:g} x {d.length_mm:.0f} mm" for d in design.stems),
                         design.plate_info["length_mm"], design.plate_info["holes"], stages.seconds["design"])
                result = CaseResult(out_dir=Path(out), summary=s, plan={}, stage_seconds=stages.seconds,
                                    volume=volume, bones=bones, target=target, resection=resection,
                                    design=design)
                pictures = stages.run("export", _export_plan, result, tmp, params, strict, case_files, images)
                failed = sum(1 for w in result.warnings if w.startswith("Printability: "))
                log.info("export: surfaces, implant and plate (STL, 3MF), plan.json; printability %s (%.1f s)",
                         f"{failed} check(s) failed" if failed else "passed", stages.seconds["export"])
            with pictures:
                stages.run("report", _report_and_manifest, result, tmp, parameters, input_hash, images,
                           pictures)
            log.info("report: report.html and manifest.json (%.1f s)", stages.seconds["report"])
        result.plan = _as_written(result.out_dir / "plan.json")
    for w in result.warnings:
        log.warning(w)
    return result


class _Pictures:
    """The report's CT pictures and 3D views, drawn by two forked workers: the CT pictures need
    only the implant and the plate, and start as soon as those are written; the 3D views need the
    case's surfaces too, and start once the case-file worker has written them.  ``result()``
    joins them; a worker that died leaves its part saying so (a graphics driver crash, say), and
    the report is written."""

    def __init__(self):
        self.parts: dict[str, Background] = {}

    def draw(self, part: str, tmp: Path, plan: dict, **images) -> None:
        from .report.write import report_pictures

        self.parts[part] = Background(report_pictures, tmp, plan, part=part, **images)

    def result(self) -> Pictures:
        from .report.write import Pictures

        drawn = []
        for name in ("views", "slices"):
            try:
                drawn.append(self.parts[name].result())
            except WorkerDied as exc:
                log.warning("Some of the report's pictures could not be drawn (%s); the report says so.", exc)
                why = f"not available (the drawing process ended: {exc})"
                drawn.append(Pictures([], [], [f"3D views: {why}"], [], [f"CT pictures: {why}"]))
        return Pictures.joined(*drawn)

    def close(self) -> None:
        for part in self.parts.values():
            part.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _export_plan(result: CaseResult, tmp: Path, params, strict: bool, case_files: Background,
                 images: dict) -> _Pictures:
    """Write the design's files and plan.json into ``tmp`` (fills ``result.warnings``), once
    ``case_files`` (write_case_files, in the background) has written the case's own.  Returns
    the report's pictures, being drawn in the background meanwhile (report_pictures)."""
    from .export.design_files import write_design, write_stls

    volume, bones, resection, target, design = (result.volume, result.bones, result.resection, result.target,
                                                result.design)
    warnings = (list(volume.warnings) + list(bones.warnings) + list(resection.warnings)
                + list(design.warnings))
    if bones.has_metal:
        warnings.append("Metal was found on this CT (an implant?): it is marked as metal, not bone; "
                        "streak artefacts near it lower the accuracy there.")
    read_back = write_stls(tmp, design)
    blocks = design_blocks(design)
    # The pictures (VTK, about 1.4 s) are drawn by two workers while the printability checks run
    # here; they need only the plan's geometry.  The design used manifold3d's thread pool; the
    # workers only render and never call manifold3d, so the forks are safe.
    pictures = _Pictures()
    try:
        plan = plan_dict(resection, target)
        plan["implant"], plan["plate"] = blocks
        pictures.draw("slices", tmp, as_written(plan), **images)
        plan = plan_dict(resection, target, case_files.result())
        plan["implant"], plan["plate"] = blocks
        pictures.draw("views", tmp, as_written(plan))
        printing = write_design(tmp, design, params.printing, read_back)
        failures = [f"{name}: {f}" for name, r in printing.items() for f in r.get("failures", [])]
        if failures and strict:
            raise PlanNotFeasible(f"The printability check failed ({'; '.join(failures)}) and --strict "
                                  "was given: change the design parameters or drop --strict.")
    except BaseException:
        pictures.close()
        raise
    warnings += [f"Printability: {f}" for f in failures]
    plan["printability"] = printing
    plan["warnings"] = warnings
    write_json(tmp / "plan.json", plan)
    result.warnings = warnings
    return pictures


def _report_and_manifest(result: CaseResult, tmp: Path, parameters: dict, input_hash: str,
                         images: dict, pictures: _Pictures) -> None:
    """report.html, then manifest.json last, so that it hashes every other file (the report too)."""
    from .report import write_report

    done = {name: "done" for name in PLAN_STAGES}
    manifest = build_manifest(tmp, parameters=parameters, input_summary=result.volume.summary.as_dict(),
                              input_hash=input_hash, stages=done)
    report = write_report(tmp, manifest=manifest, pictures=pictures.result(), **images)
    write_json(tmp / "manifest.json", add_outputs(manifest, tmp, [Path(report).name]))


def _as_written(path: Path) -> dict:
    """A JSON file as the user reads it (plain lists and rounded floats, not numpy arrays)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def segment_case(series, out, *, series_uid: str | None = None, lesion_seed=None,
                 bones_file=None, bone_names=None, config: dict | None = None,
                 progress: bool = False) -> CaseResult:
    """Segment bones (and a lesion where one is found); write bones.nrrd, bones.json and, with a
    lesion, segmentation.nrrd."""
    seed = _check_options(20.0, None, lesion_seed, None)
    check_output_dir(out, inputs=(series, bones_file))
    _check_bones_options(bones_file, bone_names)
    _check_config(config)
    criteria = lesion_criteria(config)
    with _one_blas_thread(), _Stages(SEGMENT_STAGES, progress) as stages:
        volume, _ = stages.run("load", _load, series, series_uid, seed, None)
        bones = stages.run("segment", _bones, volume, bones_file, bone_names)
        warnings = list(volume.warnings) + list(bones.warnings)
        from .segment.target import find_target

        try:
            target = stages.run("target", find_target, volume, bones, seed=seed, criteria=criteria)
        except PlanNotFeasible as exc:
            target = None
            warnings.append(exc.sentence)
        result = CaseResult(out_dir=Path(out), summary=volume.summary, plan={}, stage_seconds=stages.seconds,
                            warnings=warnings, volume=volume, bones=bones, target=target)
        stages.run("export", _export_segmentation, result, {"series_uid_given": series_uid is not None,
                                                             "lesion_seed": seed})
    for w in warnings:
        log.warning(w)
    return result


def _export_segmentation(result: CaseResult, parameters: dict) -> None:
    from .export.case_files import segmentation_labels, write_label_map

    volume, bones, target = result.volume, result.bones, result.target
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    counts = np.bincount(bones.labels.ravel().astype(np.int64))
    info = {"labels": {str(k): {"name": n, "volume_ml": round(float(counts[k]) * voxel_ml, 3) if k < len(counts) else 0.0}
                       for k, n in sorted(bones.names.items())},
            "metal": bones.has_metal,
            "method": bones.method,
            "lesion": None if target is None else {"bone": target.name, "type": target.lesion.type,
                                                    "volume_ml": round(target.lesion.volume_ml, 3)},
            "warnings": result.warnings}
    with atomic_output_dir(result.out_dir) as tmp:
        write_label_map(bones.labels, volume, tmp / "bones.nrrd")
        if target is not None:
            write_label_map(segmentation_labels(bones.labels, target.solid, target.lesion.mask), volume,
                            tmp / "segmentation.nrrd")
        write_json(tmp / "bones.json", info)
        manifest = build_manifest(tmp, parameters=parameters, input_summary=volume.summary.as_dict(),
                                  input_hash=pixel_hash(volume), stages={"load": "done", "segment": "done"})
        write_json(tmp / "manifest.json", manifest)
    result.plan = _as_written(result.out_dir / "bones.json")
