"""A mask on the CT grid to a closed, outward-facing triangle mesh in LPS millimetres.

Traps met here before (docs/engineering.md): marching cubes returns (k, j, i) index order,
which turned into (i, j, k) mirrors the surface inside out; a mask touching the ROI's edge gives
an open surface.  So the ROI is padded, indices go through the CT's full geometry, and the
orientation is fixed by the sign of the enclosed volume, not assumed.
"""

from __future__ import annotations

import numpy as np
import trimesh
from skimage.measure import marching_cubes

from ..geometry import bbox, offset_box
from ..records import Volume
from .checks import signed_volume


def mask_surface(volume: Volume, mask: np.ndarray, box: tuple | None = None) -> trimesh.Trimesh:
    """The boundary of ``mask`` (bool, CT grid; or the part of it in ``box``, a (k, j, i) tuple
    of slices, with ``mask`` that part) as one closed mesh with positive volume.

    The iso-surface at 0.5 of the 0/1 mask lies halfway between inside and outside voxel
    centres, so the mesh encloses about the mask's own volume.
    """
    roi = bbox(mask, 0)
    if roi is None:
        raise ValueError("empty mask has no surface")
    field = np.pad(mask[roi].astype(np.float32), 1)  # zero all round: the surface closes
    verts, faces, _, _ = marching_cubes(field, level=0.5, allow_degenerate=False)
    if box is not None:
        roi = offset_box(box, roi)
    start = np.array([r.start for r in roi], dtype=float) - 1.0  # the padding shifted indices
    kji = verts + start
    points = volume.index_to_physical(kji[:, ::-1])
    mesh = trimesh.Trimesh(points, faces, process=not _already_processed(verts, faces, points))
    if signed_volume(mesh) < 0:
        mesh.invert()
    return mesh


def _already_processed(verts: np.ndarray, faces: np.ndarray, points: np.ndarray) -> bool:
    """Would trimesh's processing (drop non-finite vertices, merge vertices equal to 1e-8 mm,
    drop unreferenced ones) leave this marching-cubes mesh as it is?  Its merging sorts rounded
    rows (0.15 s on a bone surface).  Vertices distinct on the grid are at least half a voxel
    apart in mm, so distinct index positions (halves: exact in float) are enough to know."""
    if not (len(faces) and np.isfinite(points).all()):
        return False
    referenced = np.zeros(len(verts), dtype=bool)
    referenced[faces] = True
    if not referenced.all():
        return False
    half = np.rint(verts * 2.0).astype(np.int64)  # the iso-level 0.5 of a 0/1 field: edge midpoints
    if not np.array_equal(half, verts * 2.0):
        return False
    dims = half.max(axis=0) + 1
    key = np.sort((half[:, 0] * dims[1] + half[:, 1]) * dims[2] + half[:, 2])
    return bool(np.all(key[1:] != key[:-1]))
