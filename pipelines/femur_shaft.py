"""Recipe: a metastasis in the femoral shaft -> intercalary prosthesis and bridging plate.

Run:  python pipelines/femur_shaft.py SERIES OUT_DIR [MARGIN_MM]

Each step is one call on plain records, in the order implantgen.pipeline.plan_case runs them for
the command line; the last call writes the output folder (it runs the same stages again, so the
files are exactly what `implantgen plan` would write).
"""

from __future__ import annotations

import sys

import implantgen
from implantgen.design import design_implant, design_params
from implantgen.pipeline import plan_case
from implantgen.plan import make_plan
from implantgen.segment import segment_bones
from implantgen.segment.target import find_target


def main(series: str, out: str, margin_mm: float = 20.0) -> None:
    ct = implantgen.load_ct(series)                       # 1. CT in HU, LPS geometry, checked
    print(f"CT {ct.summary.size} voxels of {ct.spacing.round(3)} mm, {ct.summary.orientation}")
    bones = segment_bones(ct)                             # 2. bones, each its own label; metal
    target = find_target(ct, bones)                       #    the bone with the lesion, and the lesion
    print(f"{target.lesion.type} lesion of {target.lesion.volume_ml:.1f} ml in the {target.name}")
    plan = make_plan(ct, target, margin_mm)               # 3. osteotomies at the margin, risk
    print(f"resection {plan.resection_length_mm:.1f} mm; Mirels without pain "
          f"{plan.risk['mirels']['total_without_pain']}")
    design = design_implant(ct, target, plan, design_params(None))  # 4. prosthesis + plate
    print(f"stems {[s.diameter_mm for s in design.stems]} mm, plate {design.plate_info['length_mm']:.0f} mm "
          f"with {design.plate_info['holes']} holes")
    result = plan_case(series, out, margin_mm=margin_mm)  # 5. all of it, written to OUT_DIR
    print(f"wrote {result.out_dir}; warnings: {len(result.warnings)}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], *(float(a) for a in sys.argv[3:4]))
