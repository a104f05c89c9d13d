"""A private X server (Xvfb) for on-screen tests, and Xlib through ctypes to find a window by its
title, grab its pixels and ask it to close, as a window manager would.

Only Xvfb itself (Debian: xvfb) and libX11 are needed: no xwd, xdotool or xwininfo.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import shutil
import subprocess
import time

import numpy as np

_ulong, _int, _ptr = ctypes.c_ulong, ctypes.c_int, ctypes.c_void_p


class _XImage(ctypes.Structure):
    _fields_ = [("width", _int), ("height", _int), ("xoffset", _int), ("format", _int),
                ("data", ctypes.POINTER(ctypes.c_uint8)), ("byte_order", _int), ("bitmap_unit", _int),
                ("bitmap_bit_order", _int), ("bitmap_pad", _int), ("depth", _int),
                ("bytes_per_line", _int), ("bits_per_pixel", _int), ("red_mask", _ulong),
                ("green_mask", _ulong), ("blue_mask", _ulong)]


class _ClientMessage(ctypes.Structure):
    _fields_ = [("type", _int), ("serial", _ulong), ("send_event", _int), ("display", _ptr),
                ("window", _ulong), ("message_type", _ulong), ("format", _int), ("l", ctypes.c_long * 5)]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _ClientMessage), ("pad", ctypes.c_long * 24)]


_ERRORS = []
# An X error (a window gone between two calls) must not end the test process, as Xlib's default
# handler would: note it and let the caller retry.
_ERROR_HANDLER = ctypes.CFUNCTYPE(_int, _ptr, _ptr)(lambda _d, _e: _ERRORS.append(1) or 0)


def _xlib():
    x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = _ptr, [ctypes.c_char_p]
    x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = _ulong, [_ptr]
    x.XQueryTree.argtypes = [_ptr, _ulong, ctypes.POINTER(_ulong), ctypes.POINTER(_ulong),
                             ctypes.POINTER(ctypes.POINTER(_ulong)), ctypes.POINTER(ctypes.c_uint)]
    x.XFetchName.argtypes = [_ptr, _ulong, ctypes.POINTER(ctypes.c_char_p)]
    x.XGetGeometry.argtypes = [_ptr, _ulong, ctypes.POINTER(_ulong)] + [ctypes.POINTER(_int)] * 2 \
        + [ctypes.POINTER(ctypes.c_uint)] * 4
    x.XGetImage.restype = ctypes.POINTER(_XImage)
    x.XGetImage.argtypes = [_ptr, _ulong, _int, _int, ctypes.c_uint, ctypes.c_uint, _ulong, _int]
    x.XInternAtom.restype, x.XInternAtom.argtypes = _ulong, [_ptr, ctypes.c_char_p, _int]
    x.XSendEvent.argtypes = [_ptr, _ulong, _int, ctypes.c_long, ctypes.POINTER(_XEvent)]
    x.XFree.argtypes = [_ptr]
    x.XSync.argtypes = [_ptr, _int]
    x.XCloseDisplay.argtypes = [_ptr]
    x.XSetErrorHandler(_ERROR_HANDLER)
    return x


@contextlib.contextmanager
def _display(name: str):
    x = _xlib()
    dpy = x.XOpenDisplay(name.encode())
    assert dpy, f"cannot open X display {name}"
    try:
        yield x, dpy
    finally:
        x.XCloseDisplay(dpy)


@contextlib.contextmanager
def xvfb(size=(1400, 1000)):
    """A fresh Xvfb; yields its DISPLAY name.  Fails (never skips) when Xvfb is not installed."""
    exe = shutil.which("Xvfb")
    assert exe, "Xvfb is not installed (Debian: apt-get install xvfb); the window test needs it"
    rfd, wfd = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(wfd), "-screen", "0", f"{size[0]}x{size[1]}x24",
                             "-nolisten", "tcp"], pass_fds=(wfd,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(wfd)
    try:
        # Xvfb writes its display number there once it accepts clients.
        ready, _, _ = select.select([rfd], [], [], 30)
        number = os.read(rfd, 32).decode().strip() if ready else ""
        assert number.isdigit(), "Xvfb did not start within 30 s"
        yield f":{number}"
    finally:
        os.close(rfd)
        proc.terminate()
        proc.wait(10)


def _children(x, dpy, window: int) -> list[int]:
    root, parent = _ulong(), _ulong()
    kids, n = ctypes.POINTER(_ulong)(), ctypes.c_uint()
    if not x.XQueryTree(dpy, window, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(kids), ctypes.byref(n)):
        return []
    out = [kids[i] for i in range(n.value)]
    if kids:
        x.XFree(kids)
    return out


def _name(x, dpy, window: int) -> str:
    name = ctypes.c_char_p()
    if not x.XFetchName(dpy, window, ctypes.byref(name)) or not name.value:
        return ""
    text = name.value.decode(errors="replace")
    x.XFree(name)
    return text


def find_window(display: str, title: str) -> int | None:
    """The top-level window with that title (Xvfb has no window manager: a child of the root)."""
    with _display(display) as (x, dpy):
        root = x.XDefaultRootWindow(dpy)
        return next((w for w in _children(x, dpy, root) if _name(x, dpy, w) == title), None)


def grab(display: str, window: int) -> np.ndarray | None:
    """The window's pixels as RGB (h, w, 3), read from the X server; None if it is gone."""
    with _display(display) as (x, dpy):
        root, px, py = _ulong(), _int(), _int()
        w, h, border, depth = (ctypes.c_uint() for _ in range(4))
        if not x.XGetGeometry(dpy, window, ctypes.byref(root), ctypes.byref(px), ctypes.byref(py),
                              ctypes.byref(w), ctypes.byref(h), ctypes.byref(border), ctypes.byref(depth)):
            return None
        img = x.XGetImage(dpy, window, 0, 0, w.value, h.value, 0xFFFFFFFF, 2)  # AllPlanes, ZPixmap
        if not img:
            return None
        im = img.contents
        assert im.bits_per_pixel == 32, f"{im.bits_per_pixel} bits per pixel"
        raw = np.ctypeslib.as_array(im.data, shape=(im.height * im.bytes_per_line,)).copy()
        masks = (im.red_mask, im.green_mask, im.blue_mask)
        big = im.byte_order == 1
        x.XFree(im.data)
        x.XFree(img)
    words = raw.view(">u4" if big else "<u4").reshape(h.value, -1)[:, : w.value].astype(np.uint64)
    channels = [(words & m) >> (int(m).bit_length() - 8) for m in masks]
    return np.stack(channels, axis=-1).astype(np.uint8)


def close_window(display: str, window: int) -> None:
    """WM_DELETE_WINDOW, what a window manager sends when the user clicks the close button."""
    with _display(display) as (x, dpy):
        ev = _XEvent()
        ev.xclient.type = 33  # ClientMessage
        ev.xclient.window = window
        ev.xclient.message_type = x.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        ev.xclient.format = 32
        ev.xclient.l[0] = x.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        x.XSendEvent(dpy, window, 0, 0, ctypes.byref(ev))
        x.XSync(dpy, 0)


def wait_for(what, timeout: float, step: float = 0.2, alive=None):
    """Poll ``what()`` until it returns something truthy; stop early when ``alive()`` is false."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = what()
        if value is not None and value is not False:
            return value
        if alive is not None and not alive():
            return None
        time.sleep(step)
    return None
