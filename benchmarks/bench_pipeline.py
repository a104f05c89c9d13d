"""The whole plan against plain series reading: per-stage time, peak memory, ratio.

Writes a 512x512x400 thigh phantom (a femur with a lytic metastasis) as a DICOM series into a
temporary folder, then, each in a fresh process so that peak memory (VmHWM) is its own:
reads the series with SimpleITK's ImageSeriesReader (plain series reading, the baseline) and
runs ``implantgen.plan_case`` on it (load, segment, lesion, plan, design, export with every
file).  Prints the stage times, the peak memory of the plan, and the ratio of the whole plan to
the plain read.  The vision issue wants the ratio at most 4 and the peak at most 2 GB.  The plan
writes the case's files in a forked worker (implantgen.parallel) while it designs, so memory is
also given as the proportional set size of both processes together (shared pages once), from
one more run of its own: sampling /proc/PID/smaps_rollup every 50 ms walks the page tables of
a process of a GB and slowed the timed runs by a fifth.

    python benchmarks/bench_pipeline.py [--runs 1] [--size 512] [--slices 400] [--keep DIR]
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from _common import femur_case, parser, run_child

CHILD = r"""
import json, os, sys, threading, time
def peak_mb():
    # VmHWM, this process's own peak: ru_maxrss also counts the benchmark's pages, which the
    # child held between fork and exec (the phantom just written: up to +200 MB)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024

folder, how, out, sampled = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "pss"

def pss_mb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("Pss:")) / 1024
    except (OSError, StopIteration):
        return 0.0

def sample(peak, stop):
    # proportional set size of this process and its forked worker: shared pages counted once
    me = os.getpid()
    while not stop.wait(0.05):
        kids = []
        for tid in os.listdir(f"/proc/{me}/task"):
            try:
                kids += open(f"/proc/{me}/task/{tid}/children").read().split()
            except OSError:
                pass
        peak[0] = max(peak[0], pss_mb(me) + sum(pss_mb(k) for k in kids))

peak, stop = [0.0], threading.Event()
if sampled:
    threading.Thread(target=sample, args=(peak, stop), daemon=True).start()
t = time.perf_counter()
stages = {}
if how == "plan":
    import implantgen
    result = implantgen.plan_case(folder, out)
    stages = result.stage_seconds
else:
    import SimpleITK as sitk
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
    arr = sitk.GetArrayFromImage(reader.Execute())
seconds = time.perf_counter() - t
stop.set()
print(json.dumps({"seconds": seconds, "stages": stages, "pss_mb": peak[0],
                  "peak_mb": peak_mb()}))
"""


def main() -> None:
    args = parser(__doc__, runs=1).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "phantom"
        femur_case(folder, args)
        runs = {"read": [], "plan": []}
        for i in range(args.runs):
            for how in runs:  # alternate, so both see the same cache and machine load
                runs[how].append(run_child(CHILD, folder / "CT", how, Path(tmp) / f"out{i}", "time"))
        sampled = run_child(CHILD, folder / "CT", "plan", Path(tmp) / "out-pss", "pss")
        med = {how: statistics.median(r["seconds"] for r in rs) for how, rs in runs.items()}
        peak = {how: max(r["peak_mb"] for r in rs) for how, rs in runs.items()}
        pss = sampled["pss_mb"]
        print(f"plain series reading (SimpleITK): median {med['read']:.2f} s, peak {peak['read']:.0f} MB")
        spread = ", ".join(f"{r['seconds']:.2f}" for r in runs["plan"])
        print(f"implantgen plan: median {med['plan']:.2f} s ({spread}), peak {peak['plan']:.0f} MB (VmHWM); "
              f"with its forked workers {pss:.0f} MB (PSS sampled every 50 ms in a run of its own; "
              "target <= 2048 MB)")
        last = runs["plan"][-1]["stages"]
        print("  stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in last.items()))
        print(f"ratio plan / plain read: {med['plan'] / med['read']:.1f} (target <= 4)")


if __name__ == "__main__":
    main()
