"""CT pictures for the report: reformats with the segmentation's outlines, the osteotomy planes,
and the implant and plate where the section cuts them (numpy + Pillow, no plotting library)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from ..geometry import bbox
from .reformat import Grid, Section, case_sections, read_ct, read_labels_on, sample

# A window that shows fat, muscle, a lytic lesion and cortex apart (domain notes: fat -100,
# muscle +40..80, lytic ~20-80, cortex 700+).
WINDOW_LEVEL, WINDOW_WIDTH = 200.0, 1000.0
SCALE_BAR_MM = 50.0

# (label values, RGB) of the outlines; label numbers from the contract's segmentation.nrrd
OUTLINES = (("bone", (1, 2), (250, 220, 60)), ("lesion", (2,), (235, 40, 40)),
            ("other bone", (3,), (90, 170, 255)))
PLANE_RGB = (60, 220, 110)
MESH_RGB = {"implant": (255, 140, 0), "plate": (70, 130, 230)}
SCREW_RGB = (240, 240, 240)
_SCREW_NEAR_MM = 4.0  # a screw axis this close to a section's plane is drawn on it


@dataclass
class Picture:
    title: str
    caption: str
    png: bytes


def png_bytes(rgb: np.ndarray | Image.Image) -> bytes:
    img = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.ascontiguousarray(rgb, np.uint8))
    buf = io.BytesIO()
    # zlib level 3: a third of the default's (6) time for 5% more bytes on these pictures
    img.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _font(size: int = 14):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _gray(hu: np.ndarray) -> np.ndarray:
    g = np.clip((hu - (WINDOW_LEVEL - WINDOW_WIDTH / 2)) / WINDOW_WIDTH, 0, 1) * 255
    return np.repeat(g.astype(np.uint8)[..., None], 3, axis=2)


def _outline(mask: np.ndarray) -> np.ndarray:
    """A two-pixel line along the mask's edge (one pixel disappears on a page)."""
    return mask & ~ndimage.binary_erosion(mask, iterations=2)


def outline_indicators(labels: np.ndarray) -> list[tuple[tuple, np.ndarray, tuple]]:
    """(colour, 0/1 uint8 volume, its box) of each outline that has voxels: made once for all the
    sections, not once per section.  uint8, not float: map_coordinates interpolates in double
    whatever the input's type, so the samples are the same (float32 copies took 0.2 s on the
    512x512x400 phantom's crop)."""
    out = []
    for _, values, colour in OUTLINES:
        indicator = np.isin(labels, values).view(np.uint8)
        box = bbox(indicator)
        if box is not None:
            out.append((colour, indicator, box))
    return out


def _draw_outlines(rgb: np.ndarray, ct: Grid, indicators, section: Section, coords: np.ndarray) -> None:
    for colour, indicator, box in indicators:
        # Linear sampling of the 0/1 indicator, cut at 0.5: a smooth edge from thick slices.  It
        # reads the two voxels either side of a point along each axis, so only points within a
        # voxel of the indicator's box can be above 0; only those are sampled (each point is
        # sampled alone: the same numbers as sampling the whole section).
        near = np.ones(coords.shape[1:], dtype=bool)
        for axis, s in enumerate(box):
            near &= (coords[axis] > s.start - 2) & (coords[axis] < s.stop + 1)
        mask = np.zeros(coords.shape[1:], dtype=bool)
        if near.any():
            mask[near] = sample(ct, section, indicator, order=1, cval=0.0, coords=coords[:, near]) >= 0.5
        rgb[_outline(mask)] = colour


def _plane_line(section: Section, point, normal) -> tuple | None:
    """End pixels of the osteotomy plane's trace on the section, or None when parallel."""
    n = np.asarray(normal, float)
    c0 = (section.origin - np.asarray(point, float)) @ n
    a, b = section.pixel_mm * (section.right @ n), section.pixel_mm * (section.down @ n)
    rows, cols = section.shape
    if abs(b) >= abs(a) and abs(b) > 1e-6:  # mostly across the picture: solve row for each side
        return (0, -c0 / b), (cols - 1, -(c0 + a * (cols - 1)) / b)
    if abs(a) > 1e-6:
        return (-c0 / a, 0), (-(c0 + b * (rows - 1)) / a, rows - 1)
    return None


def _mesh_segments(mesh, section: Section) -> np.ndarray:
    """(N, 2, 3) line segments where the section's plane cuts ``mesh`` (a pyvista PolyData)."""
    cut = mesh.slice(normal=section.normal, origin=section.origin)
    if cut.n_points == 0:
        return np.zeros((0, 2, 3))
    lines = cut.lines.reshape(-1, 3) if cut.lines.size and (cut.lines[::3] == 2).all() else None
    if lines is None:  # polylines: split into consecutive pairs
        pairs, i, raw = [], 0, cut.lines
        while i < len(raw):
            n = raw[i]
            ids = raw[i + 1:i + 1 + n]
            pairs += list(zip(ids[:-1], ids[1:]))
            i += n + 1
        idx = np.asarray(pairs, int).reshape(-1, 2)
    else:
        idx = lines[:, 1:]
    return np.asarray(cut.points)[idx]


def _draw_vectors(draw: ImageDraw.ImageDraw, section: Section, plan: dict, meshes: dict) -> None:
    for cut in plan.get("osteotomies", []):
        ends = _plane_line(section, cut["point"], cut["normal"])
        if ends:
            draw.line(ends, fill=PLANE_RGB, width=2)
    for name, colour in MESH_RGB.items():
        if meshes.get(name) is None:
            continue
        segments = _mesh_segments(meshes[name], section)
        for (x0, y0), (x1, y1) in section.to_pixel(segments.reshape(-1, 3)).reshape(-1, 2, 2):
            draw.line([(x0, y0), (x1, y1)], fill=colour, width=2)
    for hole in (plan.get("implant") or {}).get("screw_holes", []):
        c, a = np.asarray(hole["center"], float), np.asarray(hole["axis"], float)
        half = hole.get("screw_length_mm", 40.0) / 2
        ends = np.array([c - half * a, c + half * a])
        if np.all(np.abs(section.distance(ends)) < _SCREW_NEAR_MM):
            draw.line([tuple(p) for p in section.to_pixel(ends)], fill=SCREW_RGB, width=1)


def _letter(v) -> str:
    """The LPS direction a vector mostly points to, as the letter on a film's edge."""
    i = int(np.argmax(np.abs(v)))
    return ("RL", "AP", "IS")[i][int(v[i] > 0)]


def _annotate(draw: ImageDraw.ImageDraw, section: Section) -> None:
    rows, cols = section.shape
    font = _font(14)
    marks = ((cols / 2, 4, -section.down), (cols / 2, rows - 18, section.down),
             (4, rows / 2, -section.right), (cols - 14, rows / 2, section.right))
    for x, y, v in marks:
        draw.text((x, y), _letter(v), fill=(255, 255, 255), font=font)
    bar = SCALE_BAR_MM / section.pixel_mm
    y = rows - 30  # above the bottom edge's letter
    draw.line([(10, y), (10 + bar, y)], fill=(255, 255, 255), width=3)
    draw.text((10, y - 18), f"{SCALE_BAR_MM:g} mm", fill=(255, 255, 255), font=_font(12))


def section_image(ct: Grid, indicators, section: Section, plan: dict, meshes: dict) -> np.ndarray:
    """The section as an RGB array with every overlay drawn on it (``indicators`` from
    ``outline_indicators``, or None without labels)."""
    coords = ct.to_index(section.points())  # once for the CT and every outline
    rgb = _gray(sample(ct, section, coords=coords))
    if indicators is not None:
        _draw_outlines(rgb, ct, indicators, section, coords)
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    _draw_vectors(draw, section, plan, meshes)
    _annotate(draw, section)
    return np.asarray(img)


_CAPTIONS = {
    "coronal": "Coronal reformat through the bone's axis (patient's right on the left).",
    "sagittal": "Sagittal reformat through the bone's axis (anterior on the left).",
    "cross-section": "Cross-section perpendicular to the bone's axis through the lesion's middle, "
                     "seen from below.",
}


def legend_text(have_labels: bool) -> str:
    parts = ["green lines: osteotomy planes", "orange: implant", "blue: plate", "white: screw axes near the plane"]
    if have_labels:
        parts = ["yellow: bone of interest", "red: lesion", "light blue: other bone"] + parts
    return "; ".join(parts)


def ct_pictures(folder: Path, plan: dict, meshes: dict, ct_image=None,
                label_image=None) -> tuple[list[Picture], list[str]]:
    """The CT pictures of a case folder, and what could not be shown (one sentence each).

    ``ct_image`` and ``label_image`` (SimpleITK images) stand for ct.nrrd and segmentation.nrrd
    when the caller still holds what it wrote: reading them back costs 0.2 s at 512x512x400."""
    missing = []
    ct = read_ct(folder, ct_image)
    if ct is None:
        return [], ["ct.nrrd: not available, so no CT pictures."]
    labels = read_labels_on(folder, ct, label_image)
    if labels is None:
        missing.append("segmentation.nrrd: not available, so no outlines on the CT pictures.")
    try:
        sections = case_sections(plan, ct)
    except (KeyError, TypeError, IndexError):  # a plan without a bone axis or lesion extent
        return [], ["CT pictures: not available (plan.json has no bone axis or lesion extent)."]
    indicators = None if labels is None else outline_indicators(labels)
    pictures = []
    for section in sections:
        rgb = section_image(ct, indicators, section, plan, meshes)
        pictures.append(Picture(section.name, _CAPTIONS[section.name], png_bytes(rgb)))
    return pictures, missing
