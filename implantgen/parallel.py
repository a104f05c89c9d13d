"""Work on the other core: a function run in a forked copy of this process.

Why a fork and not a thread or a process pool: most of the pipeline's later work (marching
cubes, ITK's writers, trimesh's bookkeeping) holds the GIL, so a thread would not run beside
the design; a fork inherits the records (a CT of hundreds of MB, whole-volume masks) without
pickling them and needs no imports.  Only the function's small return value crosses back.
A large mask coming back (a bool or unsigned-integer array, e.g. a whole-CT label map) crosses
as the box around its nonzero voxels: a bone fills a small part of a CT, and pickling 100 MB
through the pipe cost a quarter of a second.

Where fork is not safe or not there (macOS, Windows), or when asked not to (``IMPLANTGEN_FORK=0``),
the function runs at once in this process: same results, one core.

The caller must not have started threads of its own, and the child must not use a native
library whose thread pool the parent has started (a fork copies its state half-way): the
pipeline forks the segmentation and plan after loading (its decoding threads have ended), the
case-file writer before the design, the first stage to use manifold3d's pool; and the report's
pictures after the design, in two children that only render with VTK (imported, not yet used,
in the parent) and never call manifold3d.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import sys
import traceback

import numpy as np

from .geometry import bbox

_BOXED_BYTES = 1 << 22  # masks from 4 MB on cross as their box


def can_fork() -> bool:
    return sys.platform.startswith("linux") and os.environ.get("IMPLANTGEN_FORK", "1") != "0"


class WorkerDied(RuntimeError):
    """The forked child ended without a result (killed, out of memory, a crash in native code)."""


class _Failure:
    """An exception raised in the child, with its traceback's text (for --debug)."""

    def __init__(self, exc: BaseException):
        self.text = "".join(traceback.format_exception(exc))
        self.local = False
        try:
            multiprocessing.reduction.ForkingPickler.dumps(exc)
            self.exc = exc
        except Exception:  # an exception that does not pickle comes back as its message
            self.exc = RuntimeError(f"{type(exc).__name__}: {exc}")


def _child(conn, func, args, kwargs) -> None:
    try:
        out = func(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        out = _Failure(exc)
    try:
        data = _dumps(out)
    except Exception as exc:  # noqa: BLE001 - a result that does not pickle is an error too
        data = _dumps(_Failure(exc))
    conn.send_bytes(data)
    conn.close()


class Background:
    """``func(*args, **kwargs)`` running in a forked child; ``result()`` waits for it and returns
    its value or raises its exception.  Use it as a context manager: leaving the block early
    (an error in the parent) ends the child."""

    def __init__(self, func, *args, **kwargs):
        self._value = self._proc = None
        if not can_fork():
            self._value = _run_here(func, args, kwargs)
            return
        for stream in (sys.stdout, sys.stderr):  # else the child would print the buffer again
            stream.flush()
        ctx = multiprocessing.get_context("fork")
        self._conn, child_end = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child, args=(child_end, func, args, kwargs), daemon=True)
        self._proc.start()
        child_end.close()

    def result(self):
        if self._proc is not None:
            try:
                self._value = pickle.loads(self._conn.recv_bytes())
            except EOFError:  # the child died without a word (killed, out of memory)
                self._proc.join()
                self._value = _Failure(WorkerDied(
                    f"The background worker ended with exit code {self._proc.exitcode} before it "
                    "finished: run again, or set IMPLANTGEN_FORK=0 to do all work in one process."))
            self._proc.join()
            self._conn.close()
            self._proc = None
        if isinstance(self._value, _Failure):
            if self._value.local:
                raise self._value.exc
            raise self._value.exc from _RemoteTraceback(self._value.text)
        return self._value

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
            self._conn.close()
            self._proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _RemoteTraceback(Exception):
    def __str__(self):
        return "in the background worker:\n" + self.args[0]


def _run_here(func, args, kwargs):
    try:
        return func(*args, **kwargs)
    except Exception as exc:  # raised from result(), where the forked run would raise it
        failure = _Failure.__new__(_Failure)
        failure.exc, failure.text, failure.local = exc, "", True
        return failure


class _BoxingPickler(pickle.Pickler):
    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray) and obj.ndim == 3 and obj.dtype.kind in "bu" and obj.nbytes >= _BOXED_BYTES:
            box = bbox(obj)
            return _unbox, (obj.shape, obj.dtype.str, box, None if box is None else obj[box].tobytes())
        return NotImplemented


def _unbox(shape, dtype, box, inside: bytes | None) -> np.ndarray:
    out = np.zeros(shape, dtype=dtype)
    if box is not None:
        out[box] = np.frombuffer(inside, dtype=dtype).reshape([b.stop - b.start for b in box])
    return out


def _dumps(obj) -> bytes:
    buffer = io.BytesIO()
    _BoxingPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()
