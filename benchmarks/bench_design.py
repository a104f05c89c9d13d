"""Design-stage speed on the sample case, on one core.

Runs the pipeline on ``sample_dicom/`` up to the resection plan once, then times the design
stage (prosthesis body, stems, plate, screw holes: ``implantgen.design.design_implant``) and,
separately, the printability checks of the two solids, several times each.  BLAS and OpenMP
are held to one thread before numpy loads, so the figures are for one core.  The implant issue
wants the design stage within 2 s.

    python benchmarks/bench_design.py [--runs 5] [--series sample_dicom]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--series", default=str(Path(__file__).resolve().parents[1] / "sample_dicom"))
    args = ap.parse_args()

    from implantgen.design import design_implant
    from implantgen.load import load_ct
    from implantgen.mesh.printability import printability
    from implantgen.plan import make_plan
    from implantgen.segment import segment_bones
    from implantgen.segment.target import find_target

    t0 = time.perf_counter()
    volume = load_ct(args.series)
    target = find_target(volume, segment_bones(volume))
    plan = make_plan(volume, target, 20.0)
    print(f"set-up (load, segment, plan): {time.perf_counter() - t0:.1f} s; "
          f"CT {'x'.join(str(n) for n in volume.shape[::-1])}, resection {plan.resection_length_mm:.1f} mm")

    design_s, check_s = [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        design = design_implant(volume, target, plan)
        design_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        for mesh in (design.implant, design.plate):
            printability(mesh)
        check_s.append(time.perf_counter() - t)
    print(f"design stage: median {statistics.median(design_s):.2f} s, min {min(design_s):.2f} s "
          f"over {args.runs} runs (target <= 2 s, one core)")
    print(f"printability checks (implant + plate): median {statistics.median(check_s):.2f} s")
    print(f"implant {len(design.implant.faces)} triangles, plate {len(design.plate.faces)} triangles")


if __name__ == "__main__":
    main()
