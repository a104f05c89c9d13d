"""Slice-by-slice work on both cores.

Many segmentation steps treat each slice (axis 0) on its own: the in-plane Gaussian, the texture
window, the rays of enclosure.py, hole filling and closing in the plane.  Such a function gives
the same values on the two halves of the slices as on the whole, so ``per_slice`` runs it on
the halves in two threads.  Threads, not a fork: scipy.ndimage's filters, numpy's whole-array
operations and cc3d release the GIL while they work (two segmentations in two threads take 1.2
times as long as one, not twice), and a thread's result needs no crossing back.

The threads live for one call and are joined before it returns: a fork (implantgen.parallel)
never finds one half-way.  A call made from inside such a call runs on its own thread as it
is.  ``IMPLANTGEN_THREADS=1`` runs everything on the calling thread: the same bytes.
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np

MIN_VOXELS = 1 << 20  # below a million voxels a second thread costs more than it saves

_state = threading.local()


def _enabled() -> bool:
    return os.environ.get("IMPLANTGEN_THREADS", "2") != "1" and not getattr(_state, "inside", False)


def in_two(first, second) -> tuple:
    """(first(), second()): ``second`` on another thread (``first`` here) when threads are on,
    else one after the other; an error in either is raised here, after both have ended."""
    if not _enabled():
        return first(), second()
    out, errors = [None, None], [None, None]

    def run(i, func):
        _state.inside = True
        try:
            out[i] = func()
        except BaseException as exc:  # re-raised on the calling thread
            errors[i] = exc
        finally:
            _state.inside = False

    other = threading.Thread(target=run, args=(1, second), daemon=True)
    other.start()
    run(0, first)
    other.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return out[0], out[1]


def per_slice(arrays: int = 1):
    """Decorate ``func(a, [b, ...], *rest)``, which works on each slice of its first ``arrays``
    arguments (same number of slices) on its own and returns one array of those slices: it is
    run on the first and second half of the slices in two threads and the halves joined."""
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            first = args[0]
            if first.ndim != 3 or first.shape[0] < 2 or first.size < MIN_VOXELS or not _enabled():
                return func(*args, **kwargs)
            halves = (slice(0, first.shape[0] // 2), slice(first.shape[0] // 2, None))

            def half(h):
                return lambda: func(*(a[h] for a in args[:arrays]), *args[arrays:], **kwargs)

            return np.concatenate(in_two(half(halves[0]), half(halves[1])), axis=0)
        return wrapper
    return decorate
