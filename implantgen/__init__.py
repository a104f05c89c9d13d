"""implantgen: from a CT scan to a 3D-printable, patient-specific bone implant.

Not for clinical use: the pipeline proposes, a surgeon decides.

The stages, in order (``implantgen.pipeline`` is the one place that runs them):
    load        CT series -> Volume (HU, LPS geometry)        implantgen.load
    segment     Volume -> bones and lesion                     (to come)
    plan        segmentation -> osteotomy planes, risk        (to come)
    design      plan -> prosthesis and plate solids           (to come)
    export      solids -> STL/3MF, plan.json, manifest        implantgen.export
    report/view                                               (to come)
"""

__version__ = "0.1.0"

from .errors import InputError, PlanNotFeasible  # noqa: E402
from .records import SeriesSummary, Volume  # noqa: E402

__all__ = ["__version__", "InputError", "PlanNotFeasible", "SeriesSummary", "Volume", "load_ct", "list_series"]


def load_ct(path, series_uid=None):
    """Read a CT series or volume file as a Volume in HU (see implantgen.load.load_ct)."""
    from .load import load_ct as _load_ct

    return _load_ct(path, series_uid=series_uid)


def list_series(path):
    """De-identified summaries of the series in a folder (see implantgen.load.list_series)."""
    from .load import list_series as _list_series

    return _list_series(path)
