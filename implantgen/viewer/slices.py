"""Three orthogonal CT slices, each moved along its own image axis by a slider.

Slices follow the image's axes (for an oblique CT they are oblique too, as the pixels were
acquired, so no resampling blurs them); each is named by the patient plane it is closest to.
"""

from __future__ import annotations

import numpy as np

from .ct import WINDOW_HU, CtImage

# Slider bars along the bottom of the window (normalised display coordinates).
_SLIDER_X = ((0.05, 0.30), (0.38, 0.63), (0.71, 0.96))
_SLIDER_Y = 0.07


class CtSlices:
    """The three slice grids; ``move`` rewrites one in place so its actor follows."""

    def __init__(self, ct: CtImage, indices):
        self.ct = ct
        self.indices = [int(i) for i in indices]
        self.grids = [self._grid(axis, idx) for axis, idx in enumerate(self.indices)]

    def _grid(self, axis: int, index: int):
        import pyvista as pv

        pts = self.ct.slice_points(axis, index)
        grid = pv.StructuredGrid(pts[..., 0, None], pts[..., 1, None], pts[..., 2, None])
        grid.point_data["HU"] = self.ct.slice_values(axis, index).ravel(order="F")  # grid order
        return grid

    def move(self, axis: int, index: int) -> None:
        index = int(np.clip(index, 0, self.ct.size[axis] - 1))
        if index == self.indices[axis]:
            return
        new = self._grid(axis, index)
        grid = self.grids[axis]
        grid.points = new.points
        grid.point_data["HU"][:] = new.point_data["HU"]
        grid.Modified()
        self.indices[axis] = index

    def name(self, axis: int) -> str:
        return f"CT {self.ct.axis_name(axis)}"


def default_indices(ct: CtImage, bone_points: np.ndarray, focus, view_dir) -> list[int]:
    """Where the slices start: the axial one through ``focus`` (the lesion), the two others in
    the bone's far cortex as seen from the camera, so they frame the implant instead of hiding
    half of it, and still cut some bone."""
    centre = bone_points.mean(axis=0)
    out = []
    for axis in range(3):
        u = ct.direction[:, axis]
        if ct.axis_name(axis) == "axial":
            out.append(ct.index_of(focus, axis))
            continue
        along = (bone_points - centre) @ u
        side = 1.0 if float(u @ view_dir) >= 0 else -1.0
        reach = (along.max() if side > 0 else -along.min()) - 3.0
        out.append(ct.index_of(centre + side * reach * u, axis))
    return out


def add_ct_slices(plotter, slices: CtSlices, sliders: bool = True) -> list[str]:
    """Slice actors (grey, unlit, like a radiology viewer) and, on a live window, one slider
    each.  Returns the actor names."""
    names = []
    for axis, grid in enumerate(slices.grids):
        name = slices.name(axis)
        plotter.add_mesh(grid, scalars="HU", cmap="gray", clim=WINDOW_HU, show_scalar_bar=False,
                         lighting=False, name=name)
        names.append(name)
        if sliders:
            _add_slider(plotter, slices, axis)
    return names


def _add_slider(plotter, slices: CtSlices, axis: int) -> None:
    def moved(value, axis=axis):
        slices.move(axis, round(value))

    (x0, x1) = _SLIDER_X[axis]
    plotter.add_slider_widget(moved, rng=[0, slices.ct.size[axis] - 1], value=slices.indices[axis],
                              title=f"{slices.name(axis)} slice", pointa=(x0, _SLIDER_Y),
                              pointb=(x1, _SLIDER_Y), style="modern", fmt="%.0f",
                              interaction_event="always", title_height=0.02)
