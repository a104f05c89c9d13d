"""Stage 6, report: what was planned, in pictures and numbers (report.html), from the case folder."""

from .scene import CaseScene, Layer, case_scene, read_plan
from .write import write_report

__all__ = ["CaseScene", "Layer", "case_scene", "read_plan", "write_report"]
