"""Recipe: a metastasis in the femoral shaft -> intercalary prosthesis and bridging plate.

Run:  python pipelines/femur_shaft.py SERIES OUT_DIR [MARGIN_MM]

Each step is one call on plain records; implantgen.pipeline.plan_case runs the same steps for the
command line.  Stages not yet in this version are listed, so the recipe reads as the whole plan.
"""

from __future__ import annotations

import sys

import implantgen
from implantgen.pipeline import plan_case


def main(series: str, out: str, margin_mm: float = 20.0) -> None:
    ct = implantgen.load_ct(series)                  # 1. CT in HU, LPS geometry, checked
    print(f"CT {ct.summary.size} voxels of {ct.spacing.round(3)} mm, {ct.summary.orientation}")
    # 2. segment bone and lesion            (to come)
    # 3. plan osteotomies at margin_mm      (to come)
    # 4. design prosthesis + plate          (to come)
    result = plan_case(series, out, margin_mm=margin_mm)  # 5. export plan.json + manifest
    print(f"wrote {result.out_dir}; warnings: {len(result.warnings)}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], *(float(a) for a in sys.argv[3:4]))
