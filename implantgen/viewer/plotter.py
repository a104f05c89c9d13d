"""A planned case in one PyVista plotter: CT slices, the scene's layers, toggles, legend, numbers.

``case_plotter`` builds it (for a notebook, a script or a screenshot); ``show_case`` opens the
window; ``save_screenshot`` renders it off-screen to a PNG.  Only the case folder's own files
are read, and nothing on screen names the patient: the title is fixed, the numbers are the plan's.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..report.scene import case_scene, read_plan
from .ct import read_ct
from .layers import CT_KEY, Group, add_checkboxes, add_layers, add_legend, bind_keys
from .slices import CtSlices, add_ct_slices, default_indices

TITLE = "implantgen view - NOT FOR CLINICAL USE"
NOTICE = "NOT FOR CLINICAL USE"
WINDOW_SIZE = (1280, 900)
CASE_FILES = ("ct.nrrd", "bone.stl", "lesion.stl", "resected_segment.stl", "implant.stl", "plate.stl")


@dataclass
class CaseView:
    """What the viewer put on a plotter (``plotter._implantgen_view``), for tests and scripts."""

    groups: dict[str, Group]
    slices: CtSlices


def check_case_folder(folder) -> dict:
    """The plan of a complete case folder, or one sentence on what is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: give the output folder of 'implantgen plan'.")
    plan = read_plan(folder)
    if not str(plan.get("schema", "")).startswith("implantgen.plan/"):
        raise InputError(f"{folder / 'plan.json'} is not an implantgen plan: give the output folder "
                         "of 'implantgen plan'.")
    missing = [name for name in CASE_FILES if not (folder / name).is_file()]
    if missing:
        raise InputError(f"{folder} lacks {', '.join(missing)}: re-run 'implantgen plan' to write a "
                         "complete case folder.")
    return plan


def _headless_if_no_display(off_screen: bool) -> None:
    # Without an X display VTK would try X first and print a warning before falling back to EGL;
    # where EGL is missing, leave VTK's own fallbacks (OSMesa) alone.
    import ctypes.util

    if off_screen and sys.platform.startswith("linux") and not os.environ.get("DISPLAY") \
            and ctypes.util.find_library("EGL"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def _camera_towards(plan: dict) -> np.ndarray:
    """From the plate's side and a little from the front, so implant, plate and screws all show."""
    anterior = np.array([0.0, -1.0, 0.0])  # LPS: -y is the patient's front
    side = np.asarray((plan.get("plate") or {}).get("side_vector", anterior), float)
    side = side / (np.linalg.norm(side) or 1.0)
    front = anterior - (anterior @ side) * side
    towards = side + 0.9 * front
    return towards / np.linalg.norm(towards)


def _up(plan: dict) -> np.ndarray:
    axis = np.asarray(plan["bone"]["axis"]["direction"], float)
    return axis if axis[2] >= 0 else -axis  # superior up


def _frame(plotter, scene, towards: np.ndarray, up: np.ndarray) -> None:
    """Camera on the implant and plate (the bone around them runs off the edges)."""
    parts = [lay.data for lay in scene.layers if lay.name in ("implant", "plate")]
    b = np.array([p.bounds for p in parts]) if parts else np.array([scene.layers[0].data.bounds])
    lo, hi = b[:, 0::2].min(axis=0), b[:, 1::2].max(axis=0)
    pad = 0.15 * (hi - lo).max()
    bounds = [v for pair in zip(lo - pad, hi + pad) for v in pair]
    focal = (lo + hi) / 2
    plotter.camera_position = [tuple(focal + 500.0 * towards), tuple(focal), tuple(up)]
    plotter.reset_camera(bounds=bounds)


def _add_text(plotter, scene) -> None:
    lines = [line for line in scene.numbers() if line != NOTICE]
    plotter.add_text("\n".join(lines), position="upper_left", font_size=11, name="numbers")
    plotter.add_text(NOTICE, position="upper_edge", font_size=14, color="red", name="notice")


def case_plotter(folder, off_screen: bool = False, window_size=WINDOW_SIZE):
    """A plotter holding the whole case, not shown: call ``.show()`` or ``.screenshot()``."""
    import pyvista as pv

    plan = check_case_folder(folder)
    scene = case_scene(folder)
    ct = read_ct(folder)
    _headless_if_no_display(off_screen)
    plotter = pv.Plotter(off_screen=off_screen, title=TITLE, window_size=list(window_size))
    plotter.set_background("#2b3038", top="#5a6270")
    groups = add_layers(plotter, scene)

    towards, up = _camera_towards(plan), _up(plan)
    bone = scene.layer("bone") or scene.layers[0]
    lesion = scene.layer("lesion")
    focus = np.mean(lesion.data.points, axis=0) if lesion else bone.data.center
    slices = CtSlices(ct, default_indices(ct, np.asarray(bone.data.points), focus, -towards))
    live = plotter.iren is not None
    names = add_ct_slices(plotter, slices, sliders=live)
    groups.setdefault(CT_KEY, Group(CT_KEY, "CT slices", "gray")).actors.extend(names)

    add_legend(plotter, groups)
    if live:
        add_checkboxes(plotter, groups)
        bind_keys(plotter, groups)
    _add_text(plotter, scene)
    _frame(plotter, scene, towards, up)
    plotter._implantgen_view = CaseView(groups, slices)
    return plotter


def case_view(plotter) -> CaseView:
    return plotter._implantgen_view


def show_case(folder, auto_close: float | None = None) -> None:
    """Open the viewer window; with ``auto_close`` it closes itself that many seconds after
    its first render (for tests and demos)."""
    check_case_folder(folder)  # a wrong folder is said first, also where no window could open
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise InputError("There is no display to open a window on (DISPLAY is not set): use "
                         "'implantgen view DIR --screenshot FILE.png' for a picture instead.")
    plotter = case_plotter(folder)
    if auto_close is not None:
        plotter.iren.add_timer_event(max_steps=1, duration=max(1, int(auto_close * 1000)),
                                     callback=lambda _step: plotter.iren.terminate_app())
    plotter.show()


def save_screenshot(folder, path) -> Path:
    """Render the case off-screen, as the window shows it, to a PNG file."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"The screenshot {path} must be a .png file: give a name ending in .png.")
    if not path.parent.is_dir():
        raise InputError(f"The folder {path.parent} does not exist: create it or pick another place "
                         "for the screenshot.")
    plotter = case_plotter(folder, off_screen=True)
    try:
        plotter.screenshot(str(path))
    except OSError as exc:
        raise InputError(f"The screenshot {path} cannot be written ({exc.strerror}): pick a place you "
                         "can write to.") from None
    finally:
        plotter.close()
    return path
