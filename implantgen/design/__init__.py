"""Stage 4, design: the segmental prosthesis and the bridging plate for a resection plan.

    design_implant(volume, target, plan, params) -> Design   (raises PlanNotFeasible)

The prosthesis is the union of a body (the resected segment's restored outer shape, end faces
on the osteotomy planes, collars seated on the cuts) and two stems into the remaining canals,
with holes along every screw axis that crosses it.  The plate conforms to the bone on one side
and carries at least 3 screws into each remaining bone end and more into the prosthesis.  All
solids come from manifold3d, so each is one closed, outward, self-intersection-free body.

The parameters (``params``) are plain numbers and import at once; the design itself needs
trimesh and manifold3d (about half a second to import), so ``design_implant`` and its records
(implant.py) are imported on first use: the pipeline checks a config before it starts, and
imports the design while the CT is segmented in a forked child (pipeline.py).
"""

from __future__ import annotations

import importlib

from .params import DESIGN_SECTIONS, DesignParams, design_params

__all__ = ["Design", "DesignParams", "DESIGN_SECTIONS", "design_params", "design_implant", "Stem", "Screw"]

_LAZY = {"Design": "implant", "design_implant": "implant", "Stem": "stem", "Screw": "screws"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
