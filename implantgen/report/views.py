"""3D pictures of the case for the report: off-screen PyVista renders of the viewer's scene."""

from __future__ import annotations

import contextlib

import numpy as np

from .images import Picture, png_bytes
from .scene import CaseScene

BACKGROUND = "#c9ced6"  # mid grey: the ivory bone and the magenta screw axes both stand out on it
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


def _vtk_rgb(color: str) -> tuple[float, float, float]:
    """A CSS colour name or #rrggbb as VTK's 0..1 RGB."""
    if color.startswith("#"):
        return tuple(int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
    from vtkmodules.vtkCommonColor import vtkNamedColors

    return tuple(vtkNamedColors().GetColor3d(color))


def _actor(layer):
    """The layer drawn as PyVista's add_mesh draws it: plain colour, lines 3 px wide, bone and
    lesion smooth (point normals), the rest flat."""
    from vtkmodules.vtkFiltersCore import vtkPolyDataNormals
    from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

    mapper = vtkPolyDataMapper()
    lines = layer.name == "screw axes"
    if not lines and layer.name in ("bone", "lesion"):
        normals = vtkPolyDataNormals()
        normals.SetInputData(layer.data)
        normals.ComputeCellNormalsOff()
        # The surfaces were checked closed and outward: no reordering pass (ConsistencyOn), and
        # no splitting at 30 degree edges, which only faceted the voxel staircase (0.18 -> 0.02 s
        # on a 147k-triangle bone)
        normals.ConsistencyOff()
        normals.SplittingOff()
        mapper.SetInputConnection(normals.GetOutputPort())
        smooth = True
    else:
        mapper.SetInputData(layer.data)
        smooth = False
    mapper.ScalarVisibilityOff()
    actor = vtkActor()
    actor.SetMapper(mapper)
    prop = actor.GetProperty()
    prop.SetColor(*_vtk_rgb(layer.color))
    prop.SetOpacity(layer.opacity)
    prop.SetLineWidth(3 if lines else 1)
    if smooth:
        prop.SetInterpolationToPhong()
    else:
        prop.SetInterpolationToFlat()
    return actor


def _offscreen_window():
    """An EGL window where there is no X display and VTK has EGL: VTK's default window would
    first try X, fail and warn, then fall back to EGL; None leaves VTK to choose."""
    import ctypes.util
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("DISPLAY") or not ctypes.util.find_library("EGL"):
        return None
    try:
        from vtkmodules.vtkRenderingOpenGL2 import vtkEGLRenderWindow
    except ImportError:  # a VTK built without EGL
        return None
    return vtkEGLRenderWindow()


class _Window:
    """One off-screen VTK window for all the views: the layers' actors are made once and each
    view only shows some of them and moves the camera (plain VTK, not PyVista's Plotter, whose
    import pulls in matplotlib: about 1 s of the report's time)."""

    def __init__(self, scene: CaseScene, window=WINDOW):
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL window classes)
        from vtkmodules.vtkRenderingCore import vtkLightKit, vtkRenderer, vtkRenderWindow

        self.renderer = vtkRenderer()
        self.renderer.SetBackground(*_vtk_rgb(BACKGROUND))
        self.renderer.RemoveAllLights()
        vtkLightKit().AddLightsToRenderer(self.renderer)  # PyVista's default lighting
        self.window = _offscreen_window() or vtkRenderWindow()
        self.window.SetOffScreenRendering(1)
        self.window.SetMultiSamples(0)  # no anti-aliasing: a report picture, not a figure
        self.window.SetSize(*window)
        self.window.AddRenderer(self.renderer)
        self.actors = []
        for layer in scene.layers:
            actor = _actor(layer)
            self.renderer.AddActor(actor)
            self.actors.append((layer, actor))

    def render(self, names, view: np.ndarray, bounds, zoom: float) -> np.ndarray:
        """One picture of the named layers (all visible ones when ``names`` is None)."""
        from vtkmodules.util.numpy_support import vtk_to_numpy
        from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

        for layer, actor in self.actors:
            shown = layer.visible if names is None else layer.name in names
            actor.SetVisibility(shown)
        camera = self.renderer.GetActiveCamera()
        camera.SetFocalPoint(0.0, 0.0, 0.0)
        camera.SetPosition(*(view / np.linalg.norm(view)))
        camera.SetViewUp(0.0, 0.0, 1.0)
        self.renderer.ResetCamera(*bounds)  # fits a sphere round the box: zoom in to fill the picture
        self.renderer.ResetCameraClippingRange()  # every shown actor, the planes too
        camera.Zoom(zoom)
        self.window.Render()
        grab = vtkWindowToImageFilter()
        grab.SetInput(self.window)
        grab.ShouldRerenderOff()  # as PyVista's screenshot: the window was just rendered (0.07 s each)
        grab.SetInputBufferTypeToRGB()
        grab.ReadFrontBufferOff()
        grab.Update()
        out = grab.GetOutput()
        w, h, _ = out.GetDimensions()
        rgb = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, 3)
        return np.ascontiguousarray(rgb[::-1])  # VTK's rows run bottom-up

    def close(self) -> None:
        self.window.Finalize()


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
            window = _Window(scene)
            try:
                for title, caption, names, view, bounds, zoom in views:
                    pictures.append(Picture(title, caption, png_bytes(window.render(names, view, bounds, zoom))))
            finally:
                window.close()
    except Exception as exc:  # a machine without any OpenGL: the report still has its numbers
        return pictures, [f"3D views: not available (rendering failed: {type(exc).__name__}: {exc})."]
    return pictures, []
