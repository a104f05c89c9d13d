"""What the benchmarks share: options, the thigh phantom they run on, and fresh-process runs
(each measured process starts clean, so its peak memory, VmHWM, is its own)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def parser(doc: str, runs: int) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--runs", type=int, default=runs)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--slices", type=int, default=400)
    ap.add_argument("--keep", type=Path, help="write the phantom here and keep it")
    return ap


def thigh_phantom(folder: Path, size: int, slices: int, compression: str = "none", **spec) -> None:
    """A femur phantom of ``size`` x ``size`` x ``slices`` at 0.8 mm (for 512) and 1 mm slices,
    written as a DICOM series (``compression``: "none", "rle" or "j2k") into folder/CT unless it
    is there already."""
    from implantgen.phantom import FemurSpec, write_phantom

    if folder.exists():
        return
    t = time.perf_counter()
    spec = FemurSpec(size=size, pixel_mm=0.8 * 512 / size, slices=slices, slice_mm=1.0,
                     **{"bone_length_mm": min(360.0, slices * 0.9), **spec})
    write_phantom(folder, spec, masks=False, compression=compression)
    print(f"wrote {size}x{size}x{slices} phantom in {time.perf_counter() - t:.1f} s")


def _compile_package() -> None:
    """Write implantgen's bytecode once, as any run does where Python may cache it: with
    PYTHONDONTWRITEBYTECODE set (some sandboxes and containers) every fresh process would
    compile the package's sources again, about 0.3 s that a user's second run never pays."""
    import compileall

    import implantgen

    compileall.compile_dir(str(Path(implantgen.__file__).parent), quiet=1)


def run_child(code: str, *argv) -> dict:
    """Run ``code`` in a fresh interpreter (implantgen's bytecode cached, see _compile_package);
    it prints one JSON line last, which is returned."""
    _compile_package()
    res = subprocess.run([sys.executable, "-c", code, *map(str, argv)], check=True,
                         capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def femur_case(folder: Path, args) -> None:
    """The planning benchmarks' case: room for a 40 mm lesion, 20 mm margins, stems and plate
    screws on both sides."""
    thigh_phantom(folder, args.size, args.slices, bone_length_mm=min(380.0, args.slices * 0.95),
                  lesion_length_mm=40.0, lesion_center_mm=20.0, tilt_deg=6.0)
