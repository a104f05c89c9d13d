"""Segmentation and lesion search alone, step by step: wall and CPU seconds of each.

Writes (or reuses, with --keep) the same 512x512x400 thigh phantom as bench_pipeline.py, loads
it once, then in this process times ``segment_bones`` and ``find_target`` --runs times and
prints the best of each, with the CPU seconds of the main steps inside them (CPU time is
steadier than wall time on a shared machine).  BLAS threads are best pinned for such a run
(OPENBLAS_NUM_THREADS=1): on 2 busy cores their spinning costs more than it gives.

    python benchmarks/bench_segment.py [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import femur_case, parser

STEPS = {  # module: functions timed inside the two stages
    "implantgen.segment.bones": ["body_parts", "tissue_levels", "bone_solid", "separate_bones",
                                 "bone_features", "_close_long_bone", "add_pockets"],
    "implantgen.segment.solid": ["trabecular_interior", "fatty_marrow", "trim_edge"],
    "implantgen.segment.target": ["_solid_and_axis", "detect_lesion", "_finish"],
}


def _timed(spent, name, f):
    @functools.wraps(f)
    def run(*a, **k):
        t = time.process_time()
        try:
            return f(*a, **k)
        finally:
            spent[name] += time.process_time() - t
    return run


def main() -> None:
    import importlib

    args = parser(__doc__, runs=3).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "phantom"
        femur_case(folder, args)
        from implantgen import load_ct
        from implantgen.segment import segment_bones
        from implantgen.segment.target import find_target

        spent = defaultdict(float)
        for module, names in STEPS.items():
            mod = importlib.import_module(module)
            for name in names:
                setattr(mod, name, _timed(spent, name, getattr(mod, name)))
        volume = load_ct(folder / "CT")
        best = None
        for _ in range(args.runs):
            spent.clear()
            times = {}
            t, c = time.perf_counter(), time.process_time()
            bones = segment_bones(volume)
            times["segment"] = (time.perf_counter() - t, time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            find_target(volume, bones)
            times["target"] = (time.perf_counter() - t, time.process_time() - c)
            total = sum(w for w, _ in times.values())
            if best is None or total < best[0]:
                best = (total, times, dict(spent))
        _, times, steps = best
        for stage, (wall, cpu) in times.items():
            print(f"{stage}: {wall:.2f} s wall, {cpu:.2f} s CPU")
        print("  CPU by step: " + ", ".join(f"{k} {v:.2f}" for k, v in
                                            sorted(steps.items(), key=lambda kv: -kv[1])))

if __name__ == "__main__":
    main()
