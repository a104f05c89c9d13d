"""The shifted-array morphology of the lesion search gives scipy.ndimage's voxels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from implantgen.segment.filters import dilate_cross, erode_cross, grow_box

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
