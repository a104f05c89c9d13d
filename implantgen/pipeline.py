"""The one place that knows the order of the stages.

    load -> (segment -> plan -> design: not yet in this version) -> export

Each stage is a function on plain records; this module only calls them in order, times them,
and writes the output folder atomically.  The CLI is a thin layer over ``plan_case``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .export import build_manifest, pixel_hash, write_json
from .export.plan_json import empty_plan
from .load import load_ct, load_label_map
from .outdir import atomic_output_dir, check_output_dir
from .records import SeriesSummary, Volume

log = logging.getLogger("implantgen")

# Stages of the full pipeline that this version does not have yet, said plainly in every plan.
_MISSING_STAGES = ("segment", "plan", "design")


@dataclass
class CaseResult:
    """What ``plan_case`` returns: the output folder and what went into it."""

    out_dir: Path
    summary: SeriesSummary
    plan: dict
    stage_seconds: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    volume: Volume | None = None


def _check_options(margin_mm: float, lesion_mask, lesion_seed) -> tuple | None:
    if not np.isfinite(margin_mm) or margin_mm <= 0:
        raise InputError(f"The margin {margin_mm} mm is not a positive distance: give --margin-mm above 0, e.g. 20.")
    if lesion_mask is not None and not Path(lesion_mask).is_file():
        raise InputError(f"The lesion mask {lesion_mask} does not exist: give a .nrrd, .nii or .nii.gz label map.")
    if lesion_seed is None:
        return None
    seed = tuple(float(v) for v in lesion_seed)
    if len(seed) != 3 or not all(np.isfinite(seed)):
        raise InputError("The lesion seed must be three numbers X,Y,Z in patient mm (LPS), e.g. --lesion-seed -90,20,-250.")
    return seed


def _check_seed_inside(volume: Volume, seed) -> None:
    ijk = volume.physical_to_index([seed])[0]
    if np.any(ijk < -0.5) or np.any(ijk > np.array(volume.shape[::-1]) - 0.5):
        raise InputError(
            f"The lesion seed {seed} mm lies outside the CT: give a point inside the scan, in "
            "patient mm (LPS)."
        )


def plan_case(series, out, *, margin_mm: float = 20.0, series_uid: str | None = None,
              lesion_mask=None, lesion_seed=None, config: dict | None = None) -> CaseResult:
    """Run the pipeline on a CT series and write its output folder ``out``.

    Returns a CaseResult; raises InputError (bad input) or PlanNotFeasible with one plain
    sentence.  On any error ``out`` is left as it was.
    """
    seed = _check_options(margin_mm, lesion_mask, lesion_seed)
    check_output_dir(out)
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    volume = load_ct(series, series_uid=series_uid)
    if seed is not None:
        _check_seed_inside(volume, seed)
    if lesion_mask is not None:
        load_label_map(lesion_mask, volume)  # checked now, so a bad mask fails before any output
    seconds["load"] = time.perf_counter() - t0
    s = volume.summary
    log.info("load: %s CT %dx%dx%d, spacing %.3g x %.3g x %.3g mm (%.1f s)", s.orientation, *s.size,
             *s.spacing, seconds["load"])

    warnings = list(volume.warnings)
    warnings.append(
        "This version of implantgen loads and checks the CT only: segmentation, resection "
        "planning and implant design are not available yet, so this plan holds no geometry."
    )
    plan = empty_plan(margin_mm)
    plan["warnings"] = warnings

    t0 = time.perf_counter()
    parameters = {"margin_mm": float(margin_mm), "series_uid_given": series_uid is not None,
                  "lesion_mask_given": lesion_mask is not None, "lesion_seed": seed,
                  "config": config or {}}
    stages = {"load": "done", **{name: "not available in this version" for name in _MISSING_STAGES},
              "export": "done"}
    with atomic_output_dir(out) as tmp:
        write_json(tmp / "plan.json", plan)
        manifest = build_manifest(tmp, parameters=parameters, input_summary=s.as_dict(),
                                  input_hash=pixel_hash(volume), stages=stages)
        write_json(tmp / "manifest.json", manifest)
    seconds["export"] = time.perf_counter() - t0
    for w in warnings:
        log.warning(w)
    return CaseResult(out_dir=Path(out), summary=s, plan=plan, stage_seconds=seconds,
                      warnings=warnings, volume=volume)
