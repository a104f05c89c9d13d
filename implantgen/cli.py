"""The `implantgen` command: a thin layer over the Python API (see the contract for commands).

Bad input ends with one plain sentence on stderr and a non-zero exit (2 bad input, 3 plan not
feasible, 1 internal error); ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading

from . import __version__
from .errors import InputError

log = logging.getLogger("implantgen")


def _floats(text: str, n: int, what: str, example: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != n:
        raise InputError(f"{what} must be {n} comma-separated numbers, got '{text}': write it like {example}.")
    return values


def _read_config(path) -> dict | None:
    if not path:
        return None
    import tomllib

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError:
        raise InputError(f"The config file {path} cannot be read: give a TOML file.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"The config file {path} is not valid TOML ({exc}): fix it.") from None


def _progress(args) -> bool:
    """A progress bar on a terminal, unless --quiet or --debug (whose details it would tear)."""
    return sys.stderr.isatty() and not args.quiet and not args.debug


def _cmd_inspect(args) -> int:
    from .load import list_series

    summaries = list_series(args.series)
    if args.json:
        print(json.dumps([s.as_dict() for s in summaries], indent=2))
        return 0
    default = next((s.series_key for s in summaries if s.modality == "CT"), None)
    print(f"{args.series}: {len(summaries)} series (keys are hashes, not UIDs; pick one with --series-uid KEY)")
    for s in summaries:
        mark = "  <- default" if s.series_key == default and len(summaries) > 1 else ""
        size = " x ".join(str(n) for n in s.size)
        spacing = " x ".join(f"{v:.3f}" for v in s.spacing)
        print(f"- {s.series_key}  {s.modality}  {size} voxels  {spacing} mm  {s.orientation}{mark}")
        details = [
            f"thickness {s.slice_thickness:g} mm" if s.slice_thickness else None,
            f"kernel {s.kernel}" if s.kernel else None,
            " ".join(x for x in (s.manufacturer, s.model) if x) or None,
            s.transfer_syntax,
            f"{s.n_files} files" if s.source == "dicom" else s.source,
        ]
        print("    " + " | ".join(d for d in details if d))
        for w in s.warnings:
            print(f"    ! {w}")
    return 0


def _cmd_plan(args) -> int:
    from .pipeline import plan_case

    seed = _floats(args.lesion_seed, 3, "--lesion-seed", "-90.5,20,-250") if args.lesion_seed else None
    config = _read_config(args.config)
    result = plan_case(args.series, args.out, margin_mm=args.margin_mm, series_uid=args.series_uid,
                       lesion_mask=args.lesion_mask, lesion_seed=seed, pain=args.pain,
                       bones_file=args.bones, bone_names=args.bone_names, config=config,
                       strict=args.strict, progress=_progress(args))
    log.info("wrote %s", result.out_dir)
    return 0


def _cmd_segment(args) -> int:
    from .pipeline import segment_case

    seed = _floats(args.lesion_seed, 3, "--lesion-seed", "-90.5,20,-250") if args.lesion_seed else None
    result = segment_case(args.series, args.out, series_uid=args.series_uid, lesion_seed=seed,
                          bones_file=args.bones, bone_names=args.bone_names,
                          config=_read_config(args.config), progress=_progress(args))
    # natural order (rib_2 before rib_10); a long list says how many it leaves out
    found = sorted(result.bones.names.values(),
                   key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])
    names = ", ".join(found[:12]) + (f", ... {len(found) - 12} more" if len(found) > 12 else "")
    log.info("wrote %s: %d bone(s) (%s)%s", result.out_dir, len(result.bones.names), names,
             "; metal found" if result.bones.has_metal else "")
    return 0


def _cmd_view(args) -> int:
    from .viewer import save_screenshot, show_case

    if args.screenshot:
        log.info("wrote %s", save_screenshot(args.dir, args.screenshot))
        return 0
    if args.auto_close is not None and not args.auto_close > 0:
        raise InputError(f"--auto-close must be a positive number of seconds, got {args.auto_close:g}.")
    show_case(args.dir, auto_close=args.auto_close)
    return 0


def _cmd_phantom(args) -> int:
    from .phantom import FemurSpec, write_phantom

    direction = (1, 0, 0, 0, 1, 0, 0, 0, 1)
    if args.oblique_deg:
        import numpy as np

        # Image plane turned about the patient's left-right axis, then a little about the
        # vertical: a general oblique grid, not a pure axis swap.
        a, b = np.radians(args.oblique_deg), np.radians(args.oblique_deg / 3)
        rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
        direction = tuple(float(v) for v in (rz @ rx).ravel())
    try:
        spec = FemurSpec(
            size=args.size, pixel_mm=args.pixel_mm, slices=args.slices, slice_mm=args.slice_mm,
            direction=direction, tilt_deg=args.tilt_deg, tilt_azimuth_deg=args.tilt_azimuth_deg,
            bone_length_mm=args.bone_length_mm, lesion_type=args.lesion_type,
            lesion_length_mm=args.lesion_length_mm, lesion_center_mm=args.lesion_center_mm,
            lesion_angle_deg=args.lesion_angle_deg,
            noise_hu=args.noise_hu, margin_mm=args.margin_mm, seed=args.seed,
        )
        rescale = _floats(args.rescale, 2, "--rescale", "1,-1024") if args.rescale else (1.0, -1024.0)
        case = write_phantom(args.dir, spec, kind=args.kind, rescale=rescale,
                             compression=args.compression, masks=not args.no_masks)
    except ValueError as exc:
        raise InputError(f"{exc}") from None
    t = case.truth
    log.info("wrote %s: %s, lesion %s along the axis %s mm, osteotomies for a %g mm margin",
             args.dir, t["bone"]["name"], t["lesion"]["type"], t["lesion"]["extent_along_axis_mm"],
             t["margin_mm"])
    return 0


def _bones_options(s) -> None:
    s.add_argument("--bones", metavar="FILE", help="bone label map made elsewhere (NRRD/NIfTI), used instead of ours")
    s.add_argument("--bone-names", metavar="NAMES",
                   help="'totalsegmentator' or a JSON file {label: name} for --bones (default: every label a bone)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="implantgen",
        description="From a CT scan to a 3D-printable, patient-specific bone implant. NOT FOR CLINICAL USE.",
    )
    p.add_argument("--version", action="version", version=f"implantgen {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="print errors only")
    common.add_argument("--debug", action="store_true", help="show tracebacks and details")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("inspect", parents=[common], help="list the series in a folder or file (no patient data)")
    s.add_argument("series", metavar="SERIES", help="DICOM folder or .nii/.nii.gz/.nrrd/.mha file")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_cmd_inspect)

    s = sub.add_parser("plan", parents=[common], help="run the pipeline and write the output folder")
    s.add_argument("series", metavar="SERIES", help="DICOM folder or .nii/.nii.gz/.nrrd/.mha file")
    s.add_argument("--out", required=True, metavar="DIR", help="output folder (written all at once)")
    s.add_argument("--margin-mm", type=float, default=20.0, help="axial resection margin (default 20)")
    s.add_argument("--series-uid", metavar="UID", help="series UID or key from 'inspect' (default: the CT series with most slices)")
    s.add_argument("--lesion-mask", metavar="FILE", help="lesion label map made elsewhere (NRRD, NIfTI or DICOM-SEG), aligned by patient coordinates")
    s.add_argument("--lesion-seed", metavar="X,Y,Z", help="a point in the lesion, patient mm (LPS)")
    s.add_argument("--pain", choices=["mild", "moderate", "functional"],
                   help="the patient's pain, for Mirels' score (the CT cannot tell; default: not scored)")
    s.add_argument("--config", metavar="FILE", help="design parameters (TOML; see the README)")
    s.add_argument("--strict", action="store_true",
                   help="a failed printability check is an error (default: a warning in the plan)")
    _bones_options(s)
    s.set_defaults(func=_cmd_plan)

    s = sub.add_parser("segment", parents=[common], help="bones (each its own label) and lesions, no plan")
    s.add_argument("series", metavar="SERIES", help="DICOM folder or .nii/.nii.gz/.nrrd/.mha file")
    s.add_argument("--out", required=True, metavar="DIR", help="output folder (written all at once)")
    s.add_argument("--series-uid", metavar="UID", help="series UID or key from 'inspect'")
    s.add_argument("--lesion-seed", metavar="X,Y,Z", help="a point in the lesion, patient mm (LPS)")
    s.add_argument("--config", metavar="FILE", help="parameters (TOML)")
    _bones_options(s)
    s.set_defaults(func=_cmd_segment)

    s = sub.add_parser("view", parents=[common], help="3D window of a planned case (a PNG with --screenshot)")
    s.add_argument("dir", metavar="DIR", help="output folder of 'implantgen plan'")
    s.add_argument("--screenshot", metavar="FILE.png", help="render off-screen to this PNG, no window")
    # Hidden, for tests and demos: the window closes itself this long after its first render.
    s.add_argument("--auto-close", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    s.set_defaults(func=_cmd_view)

    s = sub.add_parser("phantom", parents=[common], help="write a synthetic CT series with its ground truth")
    s.add_argument("dir", metavar="DIR", help="new folder to write")
    s.add_argument("--kind", choices=["femur"], default="femur")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--size", type=int, default=256, help="rows = columns (default 256)")
    s.add_argument("--pixel-mm", type=float, default=0.8)
    s.add_argument("--slices", type=int, default=180)
    s.add_argument("--slice-mm", type=float, default=2.0)
    s.add_argument("--tilt-deg", type=float, default=0.0, help="bone axis against the scanner axis")
    s.add_argument("--tilt-azimuth-deg", type=float, default=0.0, help="direction of that tilt in the x-y plane, 0 = towards +x (patient's left)")
    s.add_argument("--bone-length-mm", type=float, default=300.0)
    s.add_argument("--oblique-deg", type=float, default=0.0, help="tilt of the image plane (oblique acquisition)")
    s.add_argument("--lesion-type", choices=["lytic", "blastic", "mixed"], default="lytic")
    s.add_argument("--lesion-length-mm", type=float, default=40.0)
    s.add_argument("--lesion-center-mm", type=float, default=0.0, help="along the axis from the bone centre, + superior")
    s.add_argument("--lesion-angle-deg", type=float, default=30.0, help="around the axis, where the lesion breaks the cortex")
    s.add_argument("--noise-hu", type=float, default=12.0)
    s.add_argument("--margin-mm", type=float, default=20.0, help="margin for the truth osteotomies")
    s.add_argument("--rescale", metavar="SLOPE,INTERCEPT", help="stored-value rescale (default 1,-1024)")
    s.add_argument("--compression", choices=["none", "rle", "j2k"], default="none")
    s.add_argument("--no-masks", action="store_true", help="do not write truth_labels.nrrd")
    s.set_defaults(func=_cmd_phantom)
    return p


class _Formatter(logging.Formatter):
    def format(self, record):
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        return f"implantgen: {level}{record.getMessage()}"


def _setup_logging(quiet: bool, debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.INFO)
    for noisy in ("pydicom", "PIL", "matplotlib", "trimesh"):
        logging.getLogger(noisy).setLevel(logging.WARNING if debug else logging.ERROR)


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's kill, `timeout`) unwinds like Ctrl-C, so that the half-written
    output folder is removed instead of left behind."""


def _terminate(signum, frame):
    from .outdir import interrupt

    interrupt(_Terminated())


# Options whose value is a list of numbers.  argparse takes a value such as "-90.5,20,-250" (a
# leading minus, and not one plain number) for an option, and says the value is missing: LPS
# coordinates are negative as often as not.
_NUMBER_LISTS = ("--lesion-seed", "--rescale")
_NEGATIVE = re.compile(r"^-[\d.]")


def _glued(argv: list[str]) -> list[str]:
    """``argv`` with each number-list option glued to a negative value after it (``--opt=value``)."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in _NUMBER_LISTS and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(_glued(list(sys.argv[1:] if argv is None else argv)))
    _setup_logging(args.quiet, args.debug)
    main_thread = threading.current_thread() is threading.main_thread()  # signals go only there
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return args.func(args)
    except InputError as exc:
        if args.debug:
            raise
        print(f"implantgen: error: {exc.sentence}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print("implantgen: interrupted; nothing was written.", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: say it plainly
        if args.debug:
            raise
        print(f"implantgen: internal error ({type(exc).__name__}: {exc}); re-run with --debug "
              "for the traceback and report it.", file=sys.stderr)
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
