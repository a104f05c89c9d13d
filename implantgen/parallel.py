"""Work on the other core: a function run in a forked copy of this process.

Why a fork and not a thread or a process pool: most of the pipeline's later work (marching
cubes, ITK's writers, trimesh's bookkeeping) holds the GIL, so a thread would not run beside
the design; a fork inherits the records (a CT of hundreds of MB, whole-volume masks) without
pickling them and needs no imports.  Only the function's small return value crosses back.
A large mask coming back (a bool or unsigned-integer array, e.g. a whole-CT label map) crosses
as the box around its nonzero voxels: a bone fills a small part of a CT, and pickling 100 MB
through the pipe cost a quarter of a second.

A child can also be forked before its input exists (``Inbox``): the segmentation's child is
forked before the CT is read, imports its libraries meanwhile, and then gets the CT, which the
parent read into memory both share (``SharedMemory``), without a copy.

Where fork is not safe or not there (macOS, Windows), or when asked not to (``IMPLANTGEN_FORK=0``),
the function runs in this process when its result is asked for: same results, one core.

The caller must not have started threads of its own, and the child must not use a native
library whose thread pool the parent has started (a fork copies its state half-way): the
pipeline forks the segmentation and plan before loading (whose reading threads start after),
the case-file writer before the design, the first stage to use manifold3d's pool; and the
report's pictures after the design, in two children that only render with VTK (imported, not
yet used, in the parent) and never call manifold3d.
"""

from __future__ import annotations

import io
import mmap
import multiprocessing
import os
import pickle
import resource
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
        self._value = self._proc = self._later = None
        if not can_fork():  # done here when its result is asked for, as a child's result is waited for
            self._later = (func, args, kwargs)
            return
        for stream in (sys.stdout, sys.stderr):  # else the child would print the buffer again
            stream.flush()
        ctx = multiprocessing.get_context("fork")
        self._conn, child_end = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child, args=(child_end, func, args, kwargs), daemon=True)
        self._proc.start()
        child_end.close()

    def result(self):
        if self._later is not None:
            self._value, self._later = _run_here(*self._later), None
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
        self._later = None
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


# Linux's MAP_NORESERVE (the mmap module does not name it before Python 3.13): the reservation
# below is address space only, and memory is taken page by page as it is written.
_MAP_NORESERVE = 0x4000


class SharedMemory:
    """Memory that this process and the children it forks afterwards both see: arrays placed in
    it after the fork (the CT, read while a forked child imports the segmentation's libraries)
    reach the child without a copy.  ``nbytes`` of address space is reserved; only the pages
    written take memory.  ``shared_memory()`` gives None where such memory is not possible."""

    def __init__(self, nbytes: int):
        self._map = mmap.mmap(-1, nbytes, flags=mmap.MAP_SHARED | _MAP_NORESERVE)
        self._bytes = np.frombuffer(self._map, dtype=np.uint8)
        self._used = 0

    def empty(self, shape, dtype) -> np.ndarray:
        """np.empty(shape, dtype), in the shared memory while it has room (else a private array)."""
        dtype = np.dtype(dtype)
        start = -(-self._used // 64) * 64
        stop = start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if stop > self._bytes.size:
            return np.empty(shape, dtype)
        self._used = stop
        return self._bytes[start:stop].view(dtype).reshape(shape)

    def holding(self, array: np.ndarray) -> np.ndarray:
        """``array``, or a copy of it in the shared memory if it is not there yet."""
        if self.offset(array) is not None:
            return array
        out = self.empty(array.shape, array.dtype)
        out[...] = array
        return out

    def offset(self, array: np.ndarray) -> int | None:
        """Where a C-contiguous ``array`` lies in the shared memory, else None."""
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous or array.size == 0:
            return None
        at = array.__array_interface__["data"][0] - self._bytes.__array_interface__["data"][0]
        return at if 0 <= at and at + array.nbytes <= self._bytes.size else None

    def view(self, offset: int, shape, dtype) -> np.ndarray:
        """The array at ``offset``, read-only: a child writing to it would write to its parent's."""
        dtype = np.dtype(dtype)
        out = self._bytes[offset:offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize]
        out = out.view(dtype).reshape(shape)
        out.flags.writeable = False
        return out


def shared_memory(nbytes: int) -> SharedMemory | None:
    """A SharedMemory of ``nbytes`` (at most this machine's memory, and a quarter of the address
    space a limit allows: a cluster's `ulimit -v` counts the reservation), or None (no fork, or
    no such mapping, e.g. under strict overcommit): then arrays cross to a child through its pipe."""
    if not can_fork():
        return None
    try:
        nbytes = min(int(nbytes), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit != resource.RLIM_INFINITY:
            nbytes = min(nbytes, limit // 4)
        return SharedMemory(nbytes) if nbytes > 0 else None
    except (OSError, ValueError, OverflowError):
        return None


class Inbox:
    """One value handed to a forked child after it was forked: the child's function starts on
    what needs no input (its imports) and ``get()``s the rest once the parent ``put``s it.
    Arrays in ``shared`` cross as their place in it; other large masks as their box (as a
    result does).  Without fork, put keeps the value and get returns it."""

    def __init__(self, shared: SharedMemory | None = None):
        self.shared = shared
        self._value = self._conn = None
        if can_fork():
            self._conn, self._send = multiprocessing.get_context("fork").Pipe(duplex=False)

    def put(self, value) -> None:
        if self._conn is None:
            self._value = value
            return
        self._conn.close()  # this end is the child's
        buffer = io.BytesIO()
        _SharedPickler(buffer, self.shared).dump(value)
        try:
            self._send.send_bytes(buffer.getvalue())
        except BrokenPipeError:  # the child has ended: its Background's result() says why
            pass
        self._send.close()

    def get(self):
        if self._conn is None:
            return self._value
        self._send.close()  # the parent's end: closed here too, so a parent's death is an EOF
        unpickler = pickle.Unpickler(io.BytesIO(self._conn.recv_bytes()))
        unpickler.persistent_load = lambda pid: self.shared.view(*pid)
        return unpickler.load()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._send.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _SharedPickler(_BoxingPickler):
    def __init__(self, file, shared: SharedMemory | None):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared

    def persistent_id(self, obj):
        if self.shared is None or not isinstance(obj, np.ndarray):
            return None
        at = self.shared.offset(obj)
        return None if at is None else (at, obj.shape, obj.dtype.str)
