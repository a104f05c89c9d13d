"""manifest.json: provenance of a run (tool, parameters, input pixel hash, output hashes).

Hashes of the input cover the HU voxels and geometry only, never patient fields or UIDs.
"""

from __future__ import annotations

import hashlib
import platform
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .. import __version__
from ..records import Volume


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pixel_hash(volume: Volume) -> str:
    """SHA-256 of the HU voxels (little-endian, C order) and the grid geometry."""
    h = hashlib.sha256()
    # The array's own buffer, not a copy (astype and tobytes copied 200 MB each at 512x512x400):
    # on a little-endian machine the bytes are the same.
    little = np.ascontiguousarray(volume.array).astype(volume.array.dtype.newbyteorder("<"), copy=False)
    h.update(memoryview(little).cast("B"))
    for v in (volume.spacing, volume.origin, volume.direction):
        h.update(np.round(np.asarray(v, dtype="<f8"), 6).tobytes())
    h.update(str(volume.array.shape).encode())
    return h.hexdigest()


def _versions() -> dict:
    import importlib.metadata as md

    out = {"implantgen": __version__, "python": platform.python_version()}
    for dist in ("numpy", "scipy", "SimpleITK", "pydicom", "scikit-image", "trimesh", "manifold3d"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


def build_manifest(folder: Path, *, parameters: dict, input_summary: dict, input_hash: str,
                   stages: dict) -> dict:
    """The manifest for every file already in ``folder`` (call it last, or add later files with
    ``add_outputs``)."""
    paths = [p for p in sorted(Path(folder).iterdir()) if p.is_file() and p.name != "manifest.json"]
    # Two files at a time: reading and hashlib let go of the GIL (ct.nrrd alone is 14 MB at
    # 512x512x400, and SHA-256 runs at 200-400 MB/s here)
    with ThreadPoolExecutor(2) as pool:
        outputs = dict(zip((p.name for p in paths), pool.map(_entry, paths)))
    return {
        "schema": "implantgen.manifest/1",
        "tool": "implantgen",
        "versions": _versions(),
        "notice": "NOT FOR CLINICAL USE",
        "parameters": parameters,
        "input": {**input_summary, "pixel_sha256": input_hash},
        "stages": stages,
        "outputs": outputs,
    }


def _entry(path: Path) -> dict:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def add_outputs(manifest: dict, folder: Path, names) -> dict:
    """``manifest`` with the files ``names`` of ``folder`` added to its outputs, in name order as
    build_manifest lists them (the files already there are not hashed again)."""
    outputs = {**manifest["outputs"], **{n: _entry(Path(folder) / n) for n in names}}
    return {**manifest, "outputs": dict(sorted(outputs.items()))}
