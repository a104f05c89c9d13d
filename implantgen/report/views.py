"""3D pictures of the case for the report: off-screen PyVista renders of the viewer's scene."""

from __future__ import annotations

import contextlib

import numpy as np

from .images import Picture, png_bytes
from .scene import CaseScene

BACKGROUND = "#c9ced6"  # mid grey: the ivory bone and the black screw axes both stand out on it
WINDOW = (380, 660)  # portrait: a long bone is tall and narrow; three fit the page side by side
CLOSE_UP = ("implant", "plate", "screw axes")
_ANTERIOR = np.array([0.0, -1.0, 0.0])  # LPS: anterior is -y
_RIGHT = np.array([-1.0, 0.0, 0.0])


@contextlib.contextmanager
def _quiet_vtk():
    """Without a display VTK first tries X, warns, then renders with EGL or OSMesa anyway: the
    warning would only alarm a user, so it is kept out of stderr while the report renders."""
    try:
        from vtkmodules.vtkCommonCore import vtkLogger
    except ImportError:  # pragma: no cover - older VTK
        yield
        return
    old = vtkLogger.GetCurrentVerbosityCutoff()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_ERROR)
    try:
        yield
    finally:
        vtkLogger.SetStderrVerbosity(old)


def _side_vector(scene: CaseScene) -> np.ndarray:
    """Where the plate sits (the plan says), else the patient's right."""
    v = (scene.plan.get("plate") or {}).get("side_vector")
    return np.asarray(v, float) if v is not None else _RIGHT


def _render(scene: CaseScene, names, view: np.ndarray, bounds, zoom: float, window=WINDOW) -> np.ndarray:
    """One picture of the named layers (all visible ones when ``names`` is None)."""
    import pyvista as pv

    p = pv.Plotter(off_screen=True, window_size=window)
    try:
        p.set_background(BACKGROUND)
        for layer in scene.layers:
            if (names is None and not layer.visible) or (names is not None and layer.name not in names):
                continue
            lines = layer.name == "screw axes"
            p.add_mesh(layer.data, color=layer.color, opacity=layer.opacity, line_width=3 if lines else 1,
                       smooth_shading=not lines and layer.name in ("bone", "lesion"))
        up = np.array([0.0, 0, 1.0])
        p.view_vector(view / np.linalg.norm(view), viewup=up)
        p.reset_camera(bounds=bounds)  # fits a sphere round the box: zoom in to fill the picture
        p.camera.zoom(zoom)
        return p.screenshot(return_img=True)
    finally:
        p.close()


def _bounds(scene: CaseScene, names) -> tuple | None:
    boxes = [np.asarray(lay.data.bounds) for lay in scene.layers if lay.name in names]
    if not boxes:
        return None
    b = np.stack(boxes)
    return tuple(float(v) for pair in zip(b[:, 0::2].min(0), b[:, 1::2].max(0)) for v in pair)


def render_views(scene: CaseScene) -> tuple[list[Picture], list[str]]:
    """Front, side and close-up pictures of the case, and what could not be shown."""
    if not scene.layers:
        return [], ["3D views: not available (no surfaces in the folder)."]
    side = _side_vector(scene)
    # the bone and its parts, not the osteotomy planes (drawn wider than the bone), set the frame
    whole = _bounds(scene, ("bone", "lesion", "implant", "plate"))
    views = [("front", "From the front (anterior view), superior up.", None, _ANTERIOR, whole, 1.3),
             ("side", f"From the plate's side ({(scene.plan.get('plate') or {}).get('side', 'right')}), "
                      "superior up.", None, side, whole, 1.3)]
    close = [n for n in ("implant", "plate") if scene.layer(n)]
    if close:
        views.append(("close-up", "Close-up of the implant with the plate and the screw axes, "
                      "from between the front and the plate's side.",
                      CLOSE_UP, side + _ANTERIOR, _bounds(scene, close), 1.4))
    pictures = []
    try:
        with _quiet_vtk():
            for title, caption, names, view, bounds, zoom in views:
                pictures.append(Picture(title, caption, png_bytes(_render(scene, names, view, bounds, zoom))))
    except Exception as exc:  # a machine without any OpenGL: the report still has its numbers
        return pictures, [f"3D views: not available (rendering failed: {type(exc).__name__}: {exc})."]
    return pictures, []
