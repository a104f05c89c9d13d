"""Loading speed and memory: implantgen.load_ct against plain SimpleITK series reading.

Writes a 512x512x400 femur phantom as a DICOM series into a temporary folder, then reads it
alternately with implantgen and with SimpleITK's ImageSeriesReader (GDCM), each run in a fresh
process so that peak memory (VmHWM) is its own.  Prints medians and the time ratio, which the
foundation issue wants at or below 1.3.  ``--compression j2k`` writes the series as JPEG 2000
lossless, as PACS exports often are (writing it takes a minute): implantgen decodes such slices
on both cores (implantgen/load/decode.py), SimpleITK (GDCM) on one.

    python benchmarks/bench_load.py [--runs 3] [--size 512] [--slices 400] [--keep DIR]
                                    [--compression none|rle|j2k]
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from _common import parser, run_child, thigh_phantom

CHILD = r"""
import json, sys, time
def peak_mb():
    # VmHWM, this process's own peak: ru_maxrss also counts the benchmark's pages, which the
    # child held between fork and exec (the phantom just written: up to +200 MB)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024

folder, how = sys.argv[1], sys.argv[2]
import numpy as np, SimpleITK as sitk
import implantgen.load
t = time.perf_counter()
if how == "implantgen":
    arr = implantgen.load.load_ct(folder).array
else:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
    arr = sitk.GetArrayFromImage(reader.Execute())
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(),
                  "shape": list(arr.shape)}))
"""


def main() -> None:
    ap = parser(__doc__, runs=3)
    ap.add_argument("--compression", choices=("none", "rle", "j2k"), default="none")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "phantom"
        thigh_phantom(folder, args.size, args.slices, args.compression)
        results = {"implantgen": [], "SimpleITK": []}
        for _ in range(args.runs):
            for how in results:  # alternate, so both see the same cache and machine load
                results[how].append(run_child(CHILD, folder / "CT", how))
        med = {how: statistics.median(r["seconds"] for r in rs) for how, rs in results.items()}
        peak = {how: max(r["peak_mb"] for r in rs) for how, rs in results.items()}
        for how in results:
            runs = ", ".join(f"{r['seconds']:.2f}" for r in results[how])
            print(f"{how:>10}: median {med[how]:.2f} s (runs {runs}), peak memory {peak[how]:.0f} MB")
        ratio = med["implantgen"] / med["SimpleITK"]
        print(f"ratio implantgen / SimpleITK: {ratio:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
