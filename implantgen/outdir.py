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


def check_output_dir(out) -> Path:
    """Refuse early (before any work) an output path we must not overwrite."""
    out = Path(out)
    if out.exists() and not _is_replaceable(out):
        kind = "a file" if out.is_file() else "a folder not written by implantgen"
        raise InputError(
            f"The output path {out} is {kind}: choose a new folder (implantgen only replaces "
            "its own earlier results)."
        )
    return out


@contextmanager
def atomic_output_dir(out):
    """Yield a temporary folder; on success it becomes ``out``, on any error it is removed."""
    out = check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
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
