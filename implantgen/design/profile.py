"""The bone's outline across its axis, sampled as radii around a centre line.

A long bone's shaft is star-shaped around its centre line, so its periosteal surface is a
radius r(s, theta) per level s along the axis and angle theta around it.  Radii are read from
the solid's mask by trilinear interpolation at 0.5, the level the bone's own surface mesh uses,
so the prosthesis and bone.stl meet.  The canal is read the same way from the HU: the first
crossing of the cortex threshold going outwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..geometry import perpendicular_frame, unit
from ..records import Volume

_STEP_MM = 0.25  # radial sampling step; crossings are interpolated between samples


@dataclass(frozen=True, eq=False)
class Frame:
    """A straight centre line with a right-handed frame: point, direction d, e1, e2."""

    point: np.ndarray
    d: np.ndarray
    e1: np.ndarray
    e2: np.ndarray

    @classmethod
    def along(cls, point, direction) -> "Frame":
        d = unit(direction)
        e1, e2 = perpendicular_frame(d)
        return cls(np.asarray(point, float), d, e1, e2)

    def rays(self, angles: np.ndarray) -> np.ndarray:
        """(n, 3) unit vectors across the axis at ``angles`` (radians from e1 towards e2)."""
        return np.outer(np.cos(angles), self.e1) + np.outer(np.sin(angles), self.e2)

    def angle_of(self, v) -> float:
        v = np.asarray(v, float)
        return float(np.arctan2(v @ self.e2, v @ self.e1))


def angles(n: int) -> np.ndarray:
    return np.linspace(0.0, 2 * np.pi, n, endpoint=False)


def _ray_indices(volume: Volume, centres: np.ndarray, rays: np.ndarray, r: np.ndarray,
                 which=None) -> np.ndarray:
    """(levels, angles, radii, 3) continuous (k, j, i) indices of centres[l] + r * rays[a].

    ``r`` is the same distances for every ray (1-D) or its own per level and angle (3-D).
    Built by broadcasting in index space: the affine map is applied to the few centres and
    rays only, not to every sample.  ``which``, (level, angle) index arrays with a 1-D ``r``:
    those rays only, as (1, rays, radii, 3), the same numbers.
    """
    c = volume.physical_to_index(centres)[:, ::-1]
    step = volume.physical_to_index(rays + volume.origin)[:, ::-1]  # directions, in index units
    if which is not None:
        return (c[which[0]][:, None, :] + r[None, :, None] * step[which[1]][:, None, :])[None]
    r = r[None, None, :] if r.ndim == 1 else r
    return c[:, None, None, :] + r[..., None] * step[None, :, None, :]


def _sample_rays(field: np.ndarray, kji: np.ndarray, cval: float, order: int = 1) -> np.ndarray:
    """``field`` at the (levels, angles, radii, 3) indices ``kji``, read from the box that holds
    them (rays are straight, so their first and last samples bound them)."""
    ends = kji[:, :, [0, -1], :].reshape(-1, 3)
    flat = kji.reshape(-1, 3)
    lo = np.maximum(np.floor(ends.min(axis=0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(ends.max(axis=0)).astype(int) + 2, np.array(field.shape))
    box = field[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32)
    out = ndimage.map_coordinates(box, (flat - lo).T, order=order, mode="constant", cval=cval)
    return out.reshape(kji.shape[:-1])


def outer_radii(volume: Volume, solid: np.ndarray, frame: Frame, levels: np.ndarray, theta: np.ndarray,
                max_radius_mm: float) -> np.ndarray:
    """(levels, angles) distance from the centre line to the solid's outermost surface.

    NaN where a ray meets no bone (the level lies outside the bone).
    """
    r = np.arange(0.0, max_radius_mm + _STEP_MM, _STEP_MM)
    centres = frame.point + np.outer(levels, frame.d)
    v = _outer_samples(volume, solid, centres, frame.rays(theta), r)
    inside = v >= 0.5
    any_in = inside.any(axis=2)
    last = r.size - 1 - np.argmax(inside[:, :, ::-1], axis=2)  # outermost sample inside
    nxt = np.minimum(last + 1, r.size - 1)
    v0 = np.take_along_axis(v, last[..., None], 2)[..., 0]
    v1 = np.take_along_axis(v, nxt[..., None], 2)[..., 0]
    frac = np.where(v0 > v1, (v0 - 0.5) / np.maximum(v0 - v1, 1e-6), 0.0)
    out = r[last] + np.clip(frac, 0, 1) * _STEP_MM
    return np.where(any_in, out, np.nan)


def _outer_samples(volume: Volume, solid: np.ndarray, centres: np.ndarray, rays: np.ndarray,
                   r: np.ndarray, parts: int = 3) -> np.ndarray:
    """(levels, angles, radii) ``solid`` at distances ``r`` along the rays, read inwards in
    ``parts``: a part only on rays with no sample inside (>= 0.5) farther out, as only the
    outermost inside sample and the one after it are looked at (a bone's surface lies in the
    outer part of most rays).  Samples not read are NaN; those read are the values of one full
    pass (an interpolated sample depends on its neighbouring voxels only)."""
    v = np.full((len(centres), len(rays), r.size), np.nan, np.float32)
    edges = np.linspace(0, r.size, parts + 1).astype(int)
    for a, b in zip(edges[-2::-1], edges[:0:-1]):  # outermost part first
        open_ray = ~np.any(v >= 0.5, axis=2)
        if b <= a or not open_ray.any():
            continue
        kji = _ray_indices(volume, centres, rays, r[a:b])
        if open_ray.all():
            v[:, :, a:b] = _sample_rays(solid, kji, 0.0)
        else:
            v[:, :, a:b][open_ray] = _sample_rays(solid, kji[open_ray][None], 0.0)[0]
    return v


def canal_radii(volume: Volume, solid: np.ndarray, centres: np.ndarray, frame: Frame, theta: np.ndarray,
                cortex_hu: float, max_radius_mm: float) -> np.ndarray:
    """(levels, angles) distance from each centre to the first cortex going outwards.

    Leaving the solid counts as meeting cortex, so a canal is never wider than its bone.
    """
    step = 2 * _STEP_MM  # the crossing is interpolated: a coarser step loses nothing here
    r = np.arange(0.0, max_radius_mm + step, step)
    hu, inside = _canal_samples(volume, solid, centres, frame.rays(theta), r, cortex_hu)
    wall = (hu >= cortex_hu) | ~inside
    wall[:, :, -1] = True
    first = np.argmax(wall, axis=2)
    prev = np.maximum(first - 1, 0)
    h0 = np.take_along_axis(hu, prev[..., None], 2)[..., 0]
    h1 = np.take_along_axis(hu, first[..., None], 2)[..., 0]
    frac = np.where(h1 > h0, (cortex_hu - h0) / np.maximum(h1 - h0, 1e-6), 1.0)
    return np.where(first > 0, r[prev] + np.clip(frac, 0, 1) * step, 0.0)


def _canal_samples(volume: Volume, solid: np.ndarray, centres: np.ndarray, rays: np.ndarray, r: np.ndarray,
                   cortex_hu: float):
    """HU and inside-the-solid at distances ``r`` along the rays, read outwards in two parts: the
    outer part only on rays that met no cortex in the inner one (the canal is narrower than the
    bone, so most of the outer samples would never be looked at).  Samples not read are left
    NaN / False; the interpolated values of those read are the same as in one full pass."""
    hu_field, shape = volume.array, (len(centres), len(rays), r.size)
    half = r.size // 2
    hu = np.full(shape, np.nan, np.float32)
    inside = np.zeros(shape, bool)
    kji = _ray_indices(volume, centres, rays, r[:half])
    hu[:, :, :half] = _sample_rays(hu_field, kji, -1000.0)
    inside[:, :, :half] = _sample_rays(solid, kji, 0.0, order=0) > 0
    open_ray = ~np.any((hu[:, :, :half] >= cortex_hu) | ~inside[:, :, :half], axis=2)
    if open_ray.any():
        rest = _ray_indices(volume, centres, rays, r[half:], np.nonzero(open_ray))  # (1, rays, radii, 3)
        hu[:, :, half:][open_ray] = _sample_rays(hu_field, rest, -1000.0)[0]
        inside[:, :, half:][open_ray] = _sample_rays(solid, rest, 0.0, order=0)[0] > 0
    return hu, inside


def outline_centroid(radii: np.ndarray, frame: Frame, theta: np.ndarray) -> np.ndarray:
    """(levels, 3) offsets of the centroid of each level's star-shaped outline from its centre."""
    x, y = radii * np.cos(theta), radii * np.sin(theta)
    x2, y2 = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    cross = x * y2 - x2 * y
    area = cross.sum(axis=1) / 2
    cx = ((x + x2) * cross).sum(axis=1) / (6 * np.where(area == 0, 1, area))
    cy = ((y + y2) * cross).sum(axis=1) / (6 * np.where(area == 0, 1, area))
    return np.outer(cx, frame.e1) + np.outer(cy, frame.e2)


def fill_levels(radii: np.ndarray, levels: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Radii of the ``bad`` levels replaced by linear interpolation between good levels, angle by
    angle (the lesion's levels take the shape of the healthy bone on both sides)."""
    out = radii.copy()
    good = ~bad & np.all(np.isfinite(radii), axis=1)
    if not good.any():
        return out
    for a in range(radii.shape[1]):
        out[~good, a] = np.interp(levels[~good], levels[good], radii[good, a])
    return out


def smooth(radii: np.ndarray, sigma_levels: float, sigma_angles: float = 1.0) -> np.ndarray:
    """Gaussian smoothing along the axis (nearest at the ends) and around it (wrapping)."""
    out = ndimage.gaussian_filter1d(radii, sigma_angles, axis=1, mode="wrap") if sigma_angles else radii
    return ndimage.gaussian_filter1d(out, sigma_levels, axis=0, mode="nearest") if sigma_levels else out


@dataclass(frozen=True, eq=False)
class Profile:
    """Radii ``radii[level, angle]`` of an outline around ``frame``'s centre line."""

    frame: Frame
    levels: np.ndarray
    theta: np.ndarray
    radii: np.ndarray

    def radius_at(self, s, phi) -> np.ndarray:
        """Bilinear interpolation at positions ``s`` and angles ``phi`` (broadcast), wrapping
        around the axis."""
        s, phi = np.broadcast_arrays(np.asarray(s, float), np.asarray(phi, float))
        step = self.theta[1] - self.theta[0]
        m = len(self.theta)
        a = np.mod(phi - self.theta[0], 2 * np.pi) / step
        a0 = np.floor(a).astype(int) % m
        fa = a - np.floor(a)
        k = np.clip((s - self.levels[0]) / (self.levels[1] - self.levels[0]), 0, len(self.levels) - 1)
        k0 = np.minimum(np.floor(k).astype(int), len(self.levels) - 2)
        fk = k - k0
        r = self.radii
        top = r[k0, a0] * (1 - fa) + r[k0, (a0 + 1) % m] * fa
        bottom = r[k0 + 1, a0] * (1 - fa) + r[k0 + 1, (a0 + 1) % m] * fa
        return top * (1 - fk) + bottom * fk

    def point(self, s, phi, radius) -> np.ndarray:
        """LPS points at positions ``s``, angles ``phi`` and distances ``radius`` (broadcast)."""
        s, phi, radius = np.broadcast_arrays(np.asarray(s, float), np.asarray(phi, float),
                                             np.asarray(radius, float))
        f = self.frame
        ray = np.cos(phi)[..., None] * f.e1 + np.sin(phi)[..., None] * f.e2
        return f.point + s[..., None] * f.d + radius[..., None] * ray


def periosteal_radii(volume: Volume, frame: Frame, levels: np.ndarray, theta: np.ndarray,
                     near: np.ndarray, window_mm: float = 4.0, min_contrast_hu: float = 300.0) -> np.ndarray:
    """Radii of the cortex's outer edge at half its height, found within ``window_mm`` of the
    mask's radii ``near`` (levels, angles).

    A thresholded mask sits where partial volume first tips it, some tenths of a millimetre off
    the true surface; half the way from the cortex's peak to the soft tissue outside is the
    edge a CT shows (full width at half maximum).  Rays without clear cortex keep ``near``.
    """
    offsets = np.arange(-window_mm, window_mm + _STEP_MM / 2, _STEP_MM)
    r = np.where(np.isfinite(near), near, 0.0)[:, :, None] + offsets[None, None, :]
    centres = frame.point + np.outer(levels, frame.d)
    hu = _sample_rays(volume.array, _ray_indices(volume, centres, frame.rays(theta), r), -1000.0)
    inner = offsets <= 0.5
    peak_at = np.argmax(np.where(inner, hu, -np.inf), axis=2)
    peak = np.take_along_axis(hu, peak_at[..., None], 2)[..., 0]
    outside = np.median(hu[:, :, offsets >= window_mm - 2.0], axis=2)
    level = (peak + outside) / 2
    idx = np.arange(offsets.size)
    above = (hu >= level[..., None]) & (idx >= peak_at[..., None])
    # Going out from the peak: the last sample still above half height, before the first below.
    below = ~above & (idx > peak_at[..., None])
    first_below = np.where(below.any(axis=2), np.argmax(below, axis=2), offsets.size - 1)
    i0 = np.maximum(first_below - 1, 0)
    h0 = np.take_along_axis(hu, i0[..., None], 2)[..., 0]
    h1 = np.take_along_axis(hu, first_below[..., None], 2)[..., 0]
    frac = np.clip((h0 - level) / np.maximum(h0 - h1, 1e-6), 0, 1)
    edge = r[:, :, 0] + (i0 + frac) * _STEP_MM
    ok = np.isfinite(near) & (peak - outside >= min_contrast_hu)
    return np.where(ok, edge, near)
