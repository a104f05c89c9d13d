"""Write an output folder all at once: a failed run leaves nothing that looks like a result.

Files go into a hidden sibling folder (``.NAME.partial-XXXX``) that is renamed into place only
when every file is written.  An existing folder is replaced only if it is empty or an earlier
implantgen result (it has our manifest); anything else the user has there is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError

MANIFEST = "manifest.json"


class _Held:
    """A termination asked for while a folder is being made and not yet owned by a clean-up."""

    depth = 0
    pending: BaseException | None = None


@contextmanager
def _unbroken():
    """A step that must not be cut in half: making a folder and taking charge of removing it (a
    SIGTERM between the two left a hidden probe or partial folder behind).  A termination asked
    for meanwhile (``interrupt``) is raised when the step ends."""
    _Held.depth += 1
    try:
        yield
    finally:
        _Held.depth -= 1
    if _Held.depth == 0 and _Held.pending is not None:
        exc, _Held.pending = _Held.pending, None
        raise exc


def interrupt(exc: BaseException) -> None:
    """Raise ``exc`` (from a signal handler) now, or as soon as an unbroken step ends."""
    if _Held.depth:
        _Held.pending = exc
        return
    raise exc


def _is_replaceable(out: Path) -> bool:
    if not out.is_dir():
        return False
    entries = list(out.iterdir())
    if not entries:
        return True
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("tool") == "implantgen"


def _check_writable(out: Path) -> None:
    """The folder the result will be made in must be one we can write (tried, not guessed:
    permissions say little for root or a read-only mount)."""
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"The output path {out} lies under {parent}, which is a file: choose a folder path.")
    try:
        with _unbroken():
            os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=parent))
    except OSError as exc:
        raise InputError(f"The output folder {out} cannot be written in {parent} ({exc.strerror}): "
                         "choose a folder you can write to.") from None


def _check_inputs_outside(out: Path, inputs) -> None:
    """Replacing the folder must not delete an input (re-planning an earlier result's ct.nrrd
    into that same folder would), nor may the folder go into an input folder: a DICOM series
    folder is the user's, and is read with its subfolders, so a result written there would be
    read back as part of the series next time."""
    where = out.resolve()
    for given in inputs:
        if given is None:
            continue
        given_path = Path(given).resolve()
        if where in (given_path, *given_path.parents):
            raise InputError(f"The output folder {out} holds the input {given}, which writing the "
                             "folder would delete: choose another output folder.")
        if given_path.is_dir() and given_path in where.parents:
            raise InputError(f"The output folder {out} lies inside the input folder {given}, which must be "
                             "left as it was: choose an output folder outside it.")


def check_output_dir(out, inputs=()) -> Path:
    """Refuse early (before any work) an output path we must not overwrite or cannot write, or
    whose replacement would delete one of the ``inputs`` (paths given by the user)."""
    out = Path(out)
    if out.resolve() in (Path.cwd(), *Path.cwd().parents):
        raise InputError(f"The output folder {out} is the current folder or holds it, which cannot be "
                         "replaced: give a new folder's name, e.g. --out plan_out.")
    _check_inputs_outside(out, inputs)
    if out.exists() and not _is_replaceable(out):
        kind = "a file" if out.is_file() else "a folder that is not an earlier implantgen plan or segmentation"
        raise InputError(
            f"The output path {out} is {kind}: choose a new folder (implantgen only replaces "
            "its own earlier results)."
        )
    _check_writable(out)
    return out


@contextmanager
def atomic_output_dir(out):
    """Yield a temporary folder; on success it becomes ``out``, on any error it is removed."""
    out = check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        with _unbroken():
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        yield tmp
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; a result folder should not be
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "previous")
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
