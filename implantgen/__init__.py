"""implantgen: from a CT scan to a 3D-printable, patient-specific bone implant.

Not for clinical use: the pipeline proposes, a surgeon decides.

The stages, in order (``implantgen.pipeline`` is the one place that runs them):
    load        CT series -> Volume (HU, LPS geometry)            implantgen.load
    segment     Volume -> bones, metal, the lesion               implantgen.segment
    plan        segmentation -> osteotomy planes, feasibility, risk   implantgen.plan
    design      plan -> prosthesis and plate solids               implantgen.design
    export      solids -> STL/3MF, plan.json, manifest            implantgen.export, implantgen.mesh
    report      case folder -> report.html                        implantgen.report
    view        case folder -> interactive 3D window              implantgen.viewer

The whole job from Python::

    import implantgen
    result = implantgen.plan_case("sample_dicom", "outputs/sample", margin_mm=20)
    result.plan["osteotomies"], result.design.stems, result.stage_seconds
"""

__version__ = "0.1.0"

from .errors import InputError, PlanNotFeasible  # noqa: E402
from .records import SeriesSummary, Volume  # noqa: E402

__all__ = ["__version__", "InputError", "PlanNotFeasible", "SeriesSummary", "Volume", "load_ct", "list_series",
           "plan_case", "segment_case"]


def load_ct(path, series_uid=None):
    """Read a CT series or volume file as a Volume in HU (see implantgen.load.load_ct)."""
    from .load import load_ct as _load_ct

    return _load_ct(path, series_uid=series_uid)


def list_series(path):
    """De-identified summaries of the series in a folder (see implantgen.load.list_series)."""
    from .load import list_series as _list_series

    return _list_series(path)


def plan_case(series, out, **options):
    """The whole pipeline on a CT series, written to the folder ``out``; returns a
    ``implantgen.pipeline.CaseResult`` (plan dict, stage times, warnings, and the records of every
    stage: volume, bones, target, resection, design).  Options as ``implantgen plan``:
    margin_mm, series_uid, lesion_mask, lesion_seed, pain, bones_file, bone_names, config (a
    dict, as the TOML file), strict, progress.  Raises InputError / PlanNotFeasible with one
    plain sentence."""
    from .pipeline import plan_case as _plan_case

    return _plan_case(series, out, **options)


def segment_case(series, out, **options):
    """Bones (and a lesion where one is found) only; see ``implantgen segment``."""
    from .pipeline import segment_case as _segment_case

    return _segment_case(series, out, **options)
