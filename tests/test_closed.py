"""Shortcuts of the target stage give what the long way gives, voxel for voxel."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from implantgen.segment.closed import closed_already
from implantgen.segment.filters import dilate_cross, erode_cross, grow_box
from implantgen.segment.long_bone import long_bone_solid

# Flat sections (a line of pixels) have no hull: skimage says so and long_bone_solid keeps them.
pytestmark = pytest.mark.filterwarnings("ignore:Failed to get convex hull image")


def _masks(rng, count=300):
    """Random masks: noise, blobs, lines and specks, and sections that are their own hulls."""
    for n in range(count):
        shape = tuple(int(s) for s in rng.integers(1, 16, 3))
        kind = n % 4
        if kind == 0:
            yield rng.random(shape) < rng.uniform(0.05, 0.95)
        elif kind == 1:
            yield ndimage.binary_dilation(rng.random(shape) < 0.05, iterations=int(rng.integers(1, 4)))
        elif kind == 2:
            m = np.zeros(shape, dtype=bool)
            p, d = rng.integers(0, shape), rng.integers(-1, 2, 3)
            for t in range(int(rng.integers(1, 12))):
                q = p + t * d
                if np.all((q >= 0) & (q < shape)):
                    m[tuple(q)] = True
            yield m
        else:  # closed by long_bone_solid itself, then maybe one voxel flipped
            m = rng.random(shape) < 0.3
            m = long_bone_solid(m, int(rng.integers(0, 3))) | m
            if rng.random() < 0.5:
                idx = tuple(int(rng.integers(0, s)) for s in shape)
                m[idx] = ~m[idx]
            yield m


def test_closed_already_agrees_with_filling():
    rng = np.random.default_rng(3)
    answers = set()
    for m in _masks(rng):
        for axis in range(3):
            expected = np.array_equal(long_bone_solid(m, axis) | m, m)
            assert closed_already(m, axis) == expected
            answers.add(expected)
    assert answers == {True, False}


@pytest.mark.parametrize("seed", [0, 1])
def test_shifted_morphology_is_ndimage(seed):
    rng = np.random.default_rng(seed)
    plane = np.zeros((3, 3, 3), dtype=bool)
    plane[1] = ndimage.generate_binary_structure(2, 1)
    square = np.zeros((3, 3, 3), dtype=bool)
    square[1] = True
    for _ in range(200):
        m = rng.random(tuple(int(s) for s in rng.integers(1, 9, 3))) < rng.uniform(0.05, 0.95)
        assert np.array_equal(erode_cross(m), ndimage.binary_erosion(m))
        assert np.array_equal(dilate_cross(m), ndimage.binary_dilation(m))
        assert np.array_equal(grow_box(m, (1, 3, 3)), ndimage.binary_dilation(m, square))
        assert np.array_equal(dilate_cross(m, (1, 2)), ndimage.binary_dilation(m, plane))
        assert np.array_equal(dilate_cross(erode_cross(m, (1, 2)), (1, 2)),
                              ndimage.binary_opening(m, structure=plane))
