"""Shortcuts of the plan and design stages give the numbers the long way gives, to the bit."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from implantgen.design.implant import _union_box
from implantgen.design.body import max_radius
from implantgen.design.profile import Frame, _outer_samples, _ray_indices, _sample_rays, angles
from implantgen.geometry import bbox, voxel_points
from implantgen.plan.extent import _index_extent
from implantgen.records import Volume
from implantgen.segment.transitions import positions as _positions


def _volume(shape, oblique: bool, rng) -> Volume:
    direction = np.linalg.qr(rng.normal(size=(3, 3)))[0] if oblique else np.diag([1.0, -1.0, 1.0])
    return Volume(array=np.zeros(shape, np.int16), spacing=rng.uniform(0.4, 2.5, 3),
                  origin=rng.uniform(-300, 300, 3), direction=direction)


def _blob(shape, rng) -> np.ndarray:
    m = ndimage.binary_dilation(rng.random(shape) < 0.002, iterations=int(rng.integers(1, 5)))
    m[tuple(s // 2 for s in shape)] = True
    return m


def test_positions_as_index_to_physical():
    rng = np.random.default_rng(0)
    for n in range(12):
        v = _volume((20, 30, 25), n % 3 == 0, rng)
        mask = _blob(v.shape, rng)
        kji = np.argwhere(mask)
        d = rng.normal(size=3)
        want = v.index_to_physical(kji[:, ::-1].astype(float)) @ d
        assert np.array_equal(_positions(v, kji, d), want)
        point = rng.normal(size=3)
        s = (voxel_points(v, mask) - point) @ d
        assert _index_extent(v, kji, point, d) == (float(s.min()), float(s.max()))


def test_union_box():
    rng = np.random.default_rng(1)
    for _ in range(30):
        a, b = rng.random((2, 12, 9, 14)) < rng.uniform(0, 0.01, 2)[:, None, None, None]
        a[tuple(rng.integers(0, 9, 3))] = True
        assert _union_box(bbox(a, 2), bbox(b, 2)) == bbox(a | b, 2)


def test_max_radius_as_all_voxels():
    rng = np.random.default_rng(2)
    for n in range(12):
        v = _volume((60, 30, 30), n % 4 == 0, rng)
        solid = _blob(v.shape, rng)
        pts = voxel_points(v, solid)
        frame = Frame.along(pts.mean(axis=0) + rng.normal(size=3), rng.normal(size=3) * 0.2 + v.direction[:, 2])
        s = (pts - frame.point) @ frame.d
        lo = float(rng.uniform(s.min(), s.max()))
        hi = lo + float(rng.uniform(0, s.max() - s.min()))
        sel = (s >= lo) & (s <= hi)
        if not sel.any():
            continue
        rel = pts - frame.point
        want = float(np.linalg.norm(rel[sel] - np.outer(s[sel], frame.d), axis=1).max() + 2 * max(v.spacing))
        assert max_radius(v, solid, frame, lo, hi) == want


def test_outer_samples_as_one_pass():
    rng = np.random.default_rng(3)
    for n in range(8):
        v = _volume((40, 40, 40), n % 2 == 0, rng)
        solid = ndimage.gaussian_filter(rng.random(v.shape), 2) > 0.5
        frame = Frame.along(voxel_points(v, solid).mean(axis=0), rng.normal(size=3))
        centres = frame.point + np.outer(np.linspace(-10, 10, 7), frame.d)
        rays, r = frame.rays(angles(16)), np.arange(0.0, 20.0, 0.25)
        full = _sample_rays(solid, _ray_indices(volume=v, centres=centres, rays=rays, r=r), 0.0)
        got = _outer_samples(v, solid, centres, rays, r)
        read = ~np.isnan(got)
        assert np.array_equal(got[read], full[read])
        # what outer_radii reads: the outermost sample inside and the one after it
        inside = full >= 0.5
        last = r.size - 1 - np.argmax(inside[:, :, ::-1], axis=2)
        for i in (last, np.minimum(last + 1, r.size - 1)):
            assert np.array_equal(np.take_along_axis(got, i[..., None], 2),
                                  np.take_along_axis(full, i[..., None], 2))
        inside_got = got >= 0.5
        assert np.array_equal(inside_got.any(axis=2), inside.any(axis=2))
        assert np.array_equal(r.size - 1 - np.argmax(inside_got[:, :, ::-1], axis=2), last)
