"""Loading speed and memory: implantgen.load_ct against plain SimpleITK series reading.

Writes a 512x512x400 femur phantom as a DICOM series into a temporary folder, then reads it
alternately with implantgen and with SimpleITK's ImageSeriesReader (GDCM), each run in a fresh
process so that peak memory (max RSS) is its own.  Prints medians and the time ratio, which the
foundation issue wants at or below 1.3.

    python benchmarks/bench_load.py [--runs 3] [--size 512] [--slices 400] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
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
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "shape": list(arr.shape)}))
"""


def measure(folder: Path, how: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), how], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--slices", type=int, default=400)
    ap.add_argument("--keep", type=Path, help="write the phantom here and keep it")
    args = ap.parse_args()

    from implantgen.phantom import FemurSpec, write_phantom

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "phantom"
        if not folder.exists():
            t = time.perf_counter()
            spec = FemurSpec(size=args.size, pixel_mm=0.8 * 512 / args.size, slices=args.slices,
                             slice_mm=1.0, bone_length_mm=min(360.0, args.slices * 0.9))
            write_phantom(folder, spec, masks=False)
            print(f"wrote {args.size}x{args.size}x{args.slices} phantom in {time.perf_counter() - t:.1f} s")
        results = {"implantgen": [], "SimpleITK": []}
        for _ in range(args.runs):
            for how in results:  # alternate, so both see the same cache and machine load
                results[how].append(measure(folder / "CT", how))
        med = {how: statistics.median(r["seconds"] for r in rs) for how, rs in results.items()}
        peak = {how: max(r["peak_mb"] for r in rs) for how, rs in results.items()}
        for how in results:
            runs = ", ".join(f"{r['seconds']:.2f}" for r in results[how])
            print(f"{how:>10}: median {med[how]:.2f} s (runs {runs}), peak memory {peak[how]:.0f} MB")
        ratio = med["implantgen"] / med["SimpleITK"]
        print(f"ratio implantgen / SimpleITK: {ratio:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()
