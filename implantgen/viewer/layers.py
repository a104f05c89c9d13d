"""The case's layers on the plotter, and their toggles: one per distinct key, by keyboard and by
checkbox, kept in step with each other.

Layers sharing a key (the two osteotomy planes) form one group and switch together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..report.scene import CaseScene

CT_KEY = "c"  # the CT slices are the viewer's own layer, not the scene's
_BOX = 22  # checkbox size, pixels
_BOX_STEP = 30
_BOX_BOTTOM = 120  # above the sliders


@dataclass
class Group:
    key: str
    label: str
    color: object
    actors: list[str] = field(default_factory=list)
    checkbox: object = None  # vtkButtonWidget, on a live window


def _label(names: list[str]) -> str:
    """'bone' for one layer; 'osteotomy 1-2' style for numbered ones sharing a key."""
    if len(names) == 1:
        return names[0]
    stem = os.path.commonprefix(names).rstrip()
    return f"{stem} x{len(names)}" if stem else ", ".join(names)


def add_layers(plotter, scene: CaseScene) -> dict[str, Group]:
    """Every scene layer as a named actor; returns the key groups in drawing order."""
    groups: dict[str, Group] = {}
    for layer in scene.layers:
        actor = plotter.add_mesh(layer.data, color=layer.color, opacity=layer.opacity, name=layer.name,
                                 line_width=3, smooth_shading=True)
        actor.visibility = layer.visible
        groups.setdefault(layer.key, Group(layer.key, "", layer.color)).actors.append(layer.name)
    for g in groups.values():
        g.label = _label(g.actors)
    return groups


def visible(plotter, group: Group) -> bool:
    return any(plotter.actors[name].visibility for name in group.actors)


def set_visible(plotter, group: Group, on: bool) -> None:
    for name in group.actors:
        plotter.actors[name].visibility = on
    if group.checkbox is not None:  # a key press must move the checkbox too
        group.checkbox.GetRepresentation().SetState(int(on))


def toggle_group(plotter, group: Group) -> None:
    """Any part shown: hide the group; else show it all."""
    set_visible(plotter, group, not visible(plotter, group))
    plotter.render()


def add_legend(plotter, groups: dict[str, Group]) -> None:
    # Entries are written in their layer's colour: a mid grey box keeps both the ivory bone and
    # the magenta screw axes readable.
    entries = [[g.label, g.color] for g in groups.values() if g.key != CT_KEY]
    plotter.add_legend(entries, bcolor=(0.36, 0.37, 0.4), face="rectangle", loc="upper right",
                       size=(0.2, 0.04 * len(entries)), background_opacity=1.0, name="legend")


def add_checkboxes(plotter, groups: dict[str, Group]) -> None:
    """A column of checkboxes at the lower left, each labelled with its key."""
    column = list(reversed(list(groups.values())))
    plotter.add_text("show / hide: key or box", position=(10, _BOX_BOTTOM + len(column) * _BOX_STEP + 4),
                     font_size=9, name="checkbox heading")
    for n, g in enumerate(column):
        y = _BOX_BOTTOM + n * _BOX_STEP

        def clicked(on, g=g):
            set_visible(plotter, g, bool(on))

        g.checkbox = plotter.add_checkbox_button_widget(
            clicked, value=visible(plotter, g), position=(10, y), size=_BOX, border_size=2,
            color_on=g.color, color_off=(0.25, 0.25, 0.25), background_color=(0.6, 0.6, 0.6))
        plotter.add_text(f"[{g.key}] {g.label}", position=(10 + _BOX + 8, y + 3), font_size=10,
                         name=f"checkbox label {g.key}")


def bind_keys(plotter, groups: dict[str, Group]) -> None:
    """Each group's key toggles it.  VTK's own one-letter commands on those keys (s: all
    surfaces, r: reset camera, p: pick...) are held back so a key does one thing only."""
    for key, g in groups.items():
        plotter.clear_events_for_key(key)  # pyvista binds 'b' by default
        plotter.add_key_event(key, lambda g=g: toggle_group(plotter, g))
    style = plotter.iren.style if plotter.iren is not None else None
    if style is None or not hasattr(style, "AddObserver"):
        return

    def on_char(obj, _event):
        if plotter.iren.interactor.GetKeySym() not in groups:
            obj.OnChar()

    style.AddObserver("CharEvent", on_char)
