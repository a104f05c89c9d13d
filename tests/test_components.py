"""implantgen.segment.components.label against scipy.ndimage.label: the same labels, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from implantgen.segment.components import label

_PLANE4 = np.zeros((3, 3, 3), dtype=bool)
_PLANE4[1] = ndimage.generate_binary_structure(2, 1)
_PLANE8 = np.zeros((3, 3, 3), dtype=bool)
_PLANE8[1] = True
_ODD = np.zeros((3, 3, 3), dtype=bool)
_ODD[1, 1, :] = _ODD[:, 1, 1] = True  # a line structure: no cc3d connectivity, ndimage's own
STRUCTURES = {"default": None, "faces": ndimage.generate_binary_structure(3, 1),
              "edges": ndimage.generate_binary_structure(3, 2), "box": np.ones((3, 3, 3), dtype=bool),
              "plane4": _PLANE4, "plane8": _PLANE8, "odd": _ODD}


def _blobs(rng, shape, level):
    """Random blobs (smoothed noise above a level): many components, touching by faces,
    edges and corners."""
    return ndimage.gaussian_filter(rng.random(shape), 1.2) > level


@pytest.mark.parametrize("name", list(STRUCTURES))
@pytest.mark.parametrize("seed", range(3))
def test_labels_are_ndimage_s(name, seed):
    rng = np.random.default_rng(seed)
    mask = _blobs(rng, (23, 31, 29), 0.56 + 0.01 * seed)
    want, n_want = ndimage.label(mask, STRUCTURES[name])
    got, n_got = label(mask, STRUCTURES[name])
    assert n_got == n_want > 20
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_views_non_bool_2d_and_empty():
    rng = np.random.default_rng(7)
    big = _blobs(rng, (30, 40, 50), 0.5)
    view = big[3:27, ::2, 5:45]  # not contiguous
    assert np.array_equal(label(view)[0], ndimage.label(view)[0])
    counts = big.astype(np.uint8) * rng.integers(1, 5, big.shape)  # every non-zero value is foreground
    assert np.array_equal(label(counts, np.ones((3, 3, 3)))[0], ndimage.label(counts, np.ones((3, 3, 3)))[0])
    flat = big[10]
    for s in (None, np.ones((3, 3), dtype=bool)):
        assert np.array_equal(label(flat, s)[0], ndimage.label(flat, s)[0])
    empty = np.zeros((4, 5, 6), dtype=bool)
    got, n = label(empty, _PLANE4)
    assert n == 0 and not got.any() and got.dtype == np.int32


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5])
def test_find_objects_is_ndimage(count):
    from implantgen.segment.components import find_objects

    rng = np.random.default_rng(count)
    labels = np.zeros((13, 17, 19), dtype=np.int32)
    for lab in range(1, count + 1):
        if lab == 2:
            continue  # a label with no voxel: None, as ndimage's
        k, j, i = rng.integers(0, 10, 3)
        labels[k:k + rng.integers(1, 4), j:j + rng.integers(1, 8), i:i + 9] = lab
    if count:
        labels[labels.shape[0] - 1, 0, labels.shape[2] - 1] = count  # the array's corners
    want = ndimage.find_objects(labels)
    assert find_objects(labels) == want
    assert find_objects(labels, count) == want


@pytest.mark.parametrize("seed", range(6))
def test_section_of_each_in_plane_label_is_find_objects_start(seed):
    """long_bone._section_of reads each in-plane piece's section from the labels' numbering
    (section by section): the same as ndimage.find_objects' box starts, empty sections too."""
    from implantgen.segment.long_bone import _section_of

    rng = np.random.default_rng(seed)
    stack = ndimage.binary_opening(rng.random((30, 40, 40)) < 0.45)
    stack[rng.integers(0, 30, 4)] = False  # sections with no piece
    labels, count = label(stack, _PLANE4)
    want = np.array([box[0].start for box in ndimage.find_objects(labels)], dtype=np.intp)
    assert count > 30 and np.array_equal(_section_of(labels, count), want)
