"""segment.slices.per_slice: slice-by-slice steps run on two threads give the same bytes as on one."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from implantgen.segment.body import close_2d, fill_holes_2d, step_2d, wide_patches
from implantgen.segment.enclosure import enclosure
from implantgen.segment.slices import MIN_VOXELS, per_slice
from implantgen.segment.solid import _reconstruct_in_plane, local_sd, smooth

SPACING = np.array([0.7, 0.8, 1.25])


def _volume():
    """A CT-like (k, j, i) block over a million voxels: rings of cortex around marrow, noise."""
    rng = np.random.default_rng(3)
    k, j, i = np.mgrid[0:48, 0:150, 0:160]
    r = np.hypot(j - 75 + 8 * np.sin(k / 7), i - 80)
    hu = np.where(r < 20, -60, np.where(r < 28, 900, 40)) + rng.normal(0, 30, r.shape)
    hu[20:24, 60:90, 70:90] = 45  # a lesion breaking the ring on a few slices
    return hu.astype(np.int16), (r >= 20) & (r < 28) & (rng.random(r.shape) > 0.05)


CASES = {
    "smooth": lambda hu, ring: smooth(hu, SPACING, 0.5),
    "wide smooth": lambda hu, ring: smooth(hu, SPACING, 1.5),
    "local_sd": lambda hu, ring: local_sd(hu.astype(np.float32), SPACING, 5.0),
    "enclosure": lambda hu, ring: enclosure(ring, SPACING, 25.0),
    "fill_holes_2d": lambda hu, ring: fill_holes_2d(ring),
    "wide_patches": lambda hu, ring: wide_patches(hu > 300, SPACING, 40.0),
    "close_2d": lambda hu, ring: close_2d(ring, 3),
    "step_2d": lambda hu, ring: step_2d(ring, square=True, grow=False),
    "reconstruct": lambda hu, ring: _reconstruct_in_plane(ring & (hu > 1000), ring),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_threads_give_the_same_bytes_as_one(name, monkeypatch):
    hu, ring = _volume()
    assert hu.size >= MIN_VOXELS  # else the call would not be split and the test could not fail
    two = CASES[name](hu, ring)
    monkeypatch.setenv("IMPLANTGEN_THREADS", "1")
    one = CASES[name](hu, ring)
    assert two.dtype == one.dtype and two.shape == one.shape == hu.shape
    assert two.tobytes() == one.tobytes()
    assert two.any()  # and not trivially equal


def test_the_halves_run_on_two_threads_and_come_back_in_order():
    seen = {}

    @per_slice()
    def probe(a):
        seen[threading.get_ident()] = (int(a[0, 0, 0]), a.shape[0])
        return a * 2

    a = np.broadcast_to(np.arange(9, dtype=np.int32)[:, None, None], (9, 400, 400)).copy()
    out = probe(a)
    assert np.array_equal(out, a * 2)
    assert sorted(seen.values()) == [(0, 4), (4, 5)]  # two threads, a half each


def test_an_error_in_either_half_is_raised_to_the_caller():
    @per_slice()
    def fails_late(a):
        if a[0, 0, 0] >= 4:
            raise ValueError("the second half failed")
        return a

    a = np.broadcast_to(np.arange(9, dtype=np.int32)[:, None, None], (9, 400, 400)).copy()
    with pytest.raises(ValueError, match="second half"):
        fails_late(a)


def test_small_and_nested_calls_stay_on_the_calling_thread():
    threads = set()

    @per_slice()
    def inner(a):
        threads.add(threading.get_ident())
        return a

    @per_slice()
    def outer(a):
        return inner(a)  # called from a half: not split again

    big = np.zeros((8, 400, 400), dtype=np.uint8)
    outer(big)
    assert len(threads) == 2  # one per half of the outer call, none more
    threads.clear()
    inner(np.zeros((8, 10, 10), dtype=np.uint8))  # 800 voxels: not worth a thread
    assert threads == {threading.get_ident()}


@pytest.mark.parametrize("threads", ["1", "2"])
def test_the_median_at_chosen_voxels_is_scipys_median_there(threads, monkeypatch):
    from scipy import ndimage

    from implantgen.segment.filters import _CHUNK, median_where

    monkeypatch.setenv("IMPLANTGEN_THREADS", threads)
    rng = np.random.default_rng(5)
    hu = rng.normal(40, 200, (30, 120, 110)).astype(np.float32)
    where = rng.random(hu.shape) < 0.9
    assert np.count_nonzero(where) > 4 * _CHUNK  # several chunks: split between the threads
    out = np.full(hu.shape, np.nan, dtype=np.float32)
    median_where(hu, (1, 3, 5), where, out)
    want = ndimage.median_filter(hu, size=(1, 3, 5))
    assert np.array_equal(out[where], want[where]) and np.isnan(out[~where]).all()
