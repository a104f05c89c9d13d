"""implantgen view: a PNG off-screen that shows the implant, a real window under Xvfb, the
plotter from Python with its layers and toggles, and plain refusals of bad folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from implantgen.pipeline import plan_case
from implantgen.viewer import TITLE, case_plotter, case_view, show_case, toggle_group
from implantgen.viewer.ct import CtImage

from . import xserver

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom"
LAYERS = {"bone", "lesion", "resected segment", "implant", "plate", "osteotomy 1", "osteotomy 2",
          "screw axes", "CT sagittal", "CT coronal", "CT axial"}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    # A folder name that could be a patient's: nothing on screen may repeat it.
    out = tmp_path_factory.mktemp("viewer") / "Doe_John_PID4242"
    plan_case(SAMPLE, out)
    return out


def _rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def _not_blank(img: np.ndarray) -> bool:
    return img.std() > 20 and len(np.unique(img.reshape(-1, 3) // 16, axis=0)) > 50


def _to_pixel(plotter, point) -> tuple[float, float]:
    """Where a patient point lands in the picture (column, row from the top)."""
    import vtk

    coord = vtk.vtkCoordinate()
    coord.SetCoordinateSystemToWorld()
    coord.SetValue(*point)
    x, y = coord.GetComputedDoubleDisplayValue(plotter.renderer)
    return x, plotter.window_size[1] - y


def test_screenshot_shows_the_implant(case, tmp_path, run_cli):
    png = tmp_path / "case.png"
    code, _, err = run_cli("view", case, "--screenshot", png, "--quiet")
    assert code == 0, err
    shot = _rgb(png)
    assert _not_blank(shot)
    plotter = case_plotter(case, off_screen=True)
    try:
        assert shot.shape[:2] == (plotter.window_size[1], plotter.window_size[0])
        same = plotter.screenshot().astype(int)
        toggle_group(plotter, case_view(plotter).groups["i"])
        without = plotter.screenshot().astype(int)
        centre = _to_pixel(plotter, plotter.actors["implant"].center)
    finally:
        plotter.close()
    assert np.abs(same - shot).mean() < 1.0  # the CLI renders the scene the Python API builds
    changed = np.abs(shot - without).max(axis=2) > 40
    assert changed.sum() > 3000, "hiding the implant changed almost nothing on the picture"
    rows, cols = np.nonzero(changed)
    assert abs(cols.mean() - centre[0]) < 60 and abs(rows.mean() - centre[1]) < 120
    r, g, b = (shot[changed][:, c] for c in range(3))
    orange = (r > g + 30) & (g > b + 30)  # darkorange, shaded
    assert orange.mean() > 0.5, "the implant's pixels are not its colour"


def test_screenshot_that_cannot_be_written_is_refused_plainly(case, run_cli):
    # /proc takes no new files, even from root
    code, _, err = run_cli("view", case, "--screenshot", "/proc/implantgen-test.png")
    assert code == 2 and "cannot be written" in err and len(err.strip().splitlines()) == 1, err


def test_window_opens_is_captured_and_closes_under_xvfb(case):
    with xserver.xvfb() as display:
        env = {**os.environ, "DISPLAY": display}
        env.pop("VTK_DEFAULT_OPENGL_WINDOW", None)
        t0 = time.monotonic()
        # --auto-close only as a safety net: the test closes the window itself, as a user would.
        proc = subprocess.Popen([sys.executable, "-m", "implantgen", "view", str(case), "--auto-close", "120"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            window = xserver.wait_for(lambda: xserver.find_window(display, TITLE), 90,
                                      alive=lambda: proc.poll() is None)
            assert window, f"no window titled {TITLE!r} (exit {proc.poll()}): {proc.stderr.read() if proc.poll() is not None else ''}"
            opened = time.monotonic() - t0

            def picture():
                img = xserver.grab(display, window)
                return img if img is not None and _not_blank(img.astype(int)) else None

            img = xserver.wait_for(picture, 30)
            assert img is not None, "the window stayed blank"
            assert img.shape[:2] == (900, 1280)
            t1 = time.monotonic()
            xserver.close_window(display, window)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print(f"window after {opened:.1f} s, closed {time.monotonic() - t1:.1f} s after the request")
    assert proc.returncode == 0, err
    assert time.monotonic() - t1 < 30  # closed by the request, not by --auto-close


def test_auto_close_returns_on_its_own(case, monkeypatch):
    with xserver.xvfb() as display:
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.delenv("VTK_DEFAULT_OPENGL_WINDOW", raising=False)
        t0 = time.monotonic()
        show_case(case, auto_close=0.5)
        assert time.monotonic() - t0 < 60


def test_case_plotter_holds_the_layers_and_toggles_them(case):
    plotter = case_plotter(case, off_screen=True)
    try:
        assert LAYERS <= set(plotter.actors)
        assert plotter.title == TITLE and "NOT FOR CLINICAL USE" in TITLE
        texts = _texts(plotter)
        assert "NOT FOR CLINICAL USE" in texts and "margin 20 mm" in texts and "stems" in texts
        assert case.name not in texts and "Doe" not in texts and case.name not in plotter.title
        view = case_view(plotter)
        groups = view.groups
        assert set(groups) == {"b", "l", "r", "i", "p", "o", "s", "c"}
        assert groups["o"].actors == ["osteotomy 1", "osteotomy 2"]
        assert not plotter.actors["resected segment"].visibility  # inside the implant: off at first

        _press(plotter, "o")
        assert not plotter.actors["osteotomy 1"].visibility and not plotter.actors["osteotomy 2"].visibility
        assert groups["o"].checkbox.GetRepresentation().GetState() == 0
        _press(plotter, "o")
        assert plotter.actors["osteotomy 2"].visibility
        _press(plotter, "c")
        assert not any(plotter.actors[n].visibility for n in groups["c"].actors)

        before = plotter.camera_position
        _press(plotter, "r")  # shows the resected segment; VTK's own 'r' (reset camera) is held back
        assert plotter.actors["resected segment"].visibility and plotter.camera_position == before
        _press(plotter, "w")  # not ours: VTK's wireframe still works
        assert plotter.actors["implant"].prop.style == "Wireframe"

        axial = next(a for a in range(3) if view.slices.name(a) == "CT axial")
        z0 = plotter.actors["CT axial"].bounds[4]
        view.slices.move(axial, view.slices.indices[axial] + 10)
        plotter.render()
        assert plotter.actors["CT axial"].bounds[4] == pytest.approx(z0 + 10 * view.slices.ct.spacing[2], abs=0.01)
    finally:
        plotter.close()


def _press(plotter, key: str) -> None:
    """A key as X delivers it: a key press, then the character."""
    iren = plotter.iren.interactor
    iren.Enable()  # an off-screen interactor is off until the window would start
    iren.SetKeyCode(key)
    iren.SetKeySym(key)
    iren.InvokeEvent("KeyPressEvent")
    iren.CharEvent()


def _texts(plotter) -> str:
    out = []
    for actor in plotter.renderer.GetViewProps():
        if actor.IsA("vtkTextActor"):
            out.append(actor.GetInput() or "")
        elif actor.IsA("vtkCornerAnnotation"):
            out += [actor.GetText(i) or "" for i in range(8)]
        elif actor.IsA("vtkLegendBoxActor"):
            out += [actor.GetEntryString(i) or "" for i in range(actor.GetNumberOfEntries())]
    return "\n".join(out)


def test_oblique_ct_slices_sit_where_the_direction_matrix_says():
    a = np.radians(20)
    direction = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    img = sitk.GetImageFromArray(np.zeros((6, 7, 8), np.int16))
    img.SetSpacing((0.8, 0.9, 2.5))
    img.SetOrigin((-30.0, 12.0, -400.0))
    img.SetDirection(direction.ravel().tolist())
    ct = CtImage(sitk.GetArrayFromImage(img), np.array(img.GetSpacing()), np.array(img.GetOrigin()), direction)
    for axis, index in ((0, 5), (1, 2), (2, 4)):
        pts = ct.slice_points(axis, index)
        others = [d for d in range(3) if d != axis]
        for a_, b_ in ((0, 0), (3, 1), (pts.shape[0] - 1, pts.shape[1] - 1)):
            ijk = [0, 0, 0]
            ijk[axis], ijk[others[0]], ijk[others[1]] = index, a_, b_
            assert pts[a_, b_] == pytest.approx(img.TransformIndexToPhysicalPoint(ijk), abs=1e-9)
    assert ct.index_of(img.TransformIndexToPhysicalPoint((3, 4, 5)), 2) == 5
    assert [ct.axis_name(a) for a in range(3)] == ["sagittal", "coronal", "axial"]
    a = np.radians(50)  # more than 45 degrees: the k axis is nearer y than z, names still distinct
    ct.direction = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    assert sorted(ct.axis_name(a) for a in range(3)) == ["axial", "coronal", "sagittal"]


def test_bad_folders_are_refused_in_one_sentence(case, tmp_path, run_cli, monkeypatch):
    code, out, err = run_cli("view", tmp_path)
    assert code == 2 and "plan.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(case / "plan.json", partial / "plan.json")
    shutil.copy(case / "bone.stl", partial / "bone.stl")
    code, _, err = run_cli("view", partial, "--screenshot", tmp_path / "x.png")
    assert code == 2 and "ct.nrrd" in err and "implant.stl" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()
    code, _, err = run_cli("view", case, "--screenshot", tmp_path / "x.jpg")
    assert code == 2 and ".png" in err
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, _, err = run_cli("view", case)
    assert code == 2 and "--screenshot" in err
