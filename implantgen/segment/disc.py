"""Where a vertebral body ends at an intervertebral disc: the partial-volume slice.

A slice cut through an endplate holds a mix of the disc (soft tissue, 70-110 HU) and the bone
beyond it: denser than soft tissue, and walled in by the ring of the body's cortex (or of a
calcified annulus, osteophytes), it passes for trabecular interior.  Its centre lies in the bone
only when its HU is more than half-way from the disc next to it (along k) to the bone on its
other side, as trim_edge places a surface in-plane.  The same holds wherever the interior ends
along k against soft tissue; a disc is simply the widest such face, so only wide patches of
soft tissue are looked at (not the gaps between trabeculae).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .body import wide_patches

FACE_MM = 1.0  # radius (at least a pixel) of the square around a voxel of a face ...
FACE_SHARE = 0.5  # ... that is mostly face where it is square to k; a step of an oblique one is not
DISC_CORE_MM2 = 150.0  # a disc's section is 600-1500 mm2; gaps between trabeculae are far smaller


def disc_edge(interior: np.ndarray, core: np.ndarray, wide: np.ndarray, spacing) -> np.ndarray:
    """Voxels of ``interior`` next along k to a wide patch of ``core`` (soft tissue: a disc)
    whose ``wide`` HU is below the mean of their two neighbours along k: nearer the disc than
    the bone beyond."""
    out = np.zeros_like(interior)
    if interior.shape[0] < 3:
        return out
    # Both filters below work in-plane, each slice on its own: only the slices next to the
    # interior's (the patches) and those holding a face (the square) are worked on.
    held = interior.any(axis=(1, 2))
    near = np.zeros_like(held)
    near[:-1] |= held[1:]
    near[1:] |= held[:-1]
    core = _on_slices(lambda c: wide_patches(c, spacing, DISC_CORE_MM2), core & near[:, None, None])
    here, up, down = slice(1, -1), slice(2, None), slice(None, -2)
    face = np.zeros_like(interior)
    face[here] = interior[here] & (core[up] | core[down])
    # Only a face square to k, as an endplate is: the steps of a surface oblique to the slices
    # (a tilted sacrum, a rib) are narrow rims, mostly not face in a small square around them.
    r = [max(1, int(round(FACE_MM / float(s)))) for s in (spacing[1], spacing[0])]
    face = _on_slices(lambda f: f & (ndimage.uniform_filter(f.astype(np.float32), (1, 2 * r[0] + 1, 2 * r[1] + 1))
                                     >= FACE_SHARE), face)
    out[here] = face[here] & (wide[here] < 0.5 * (wide[up] + wide[down]))
    return out


def _on_slices(func, mask: np.ndarray) -> np.ndarray:
    """func(mask) for a ``func`` that works on each slice on its own and leaves an empty slice
    empty: run on the slices holding anything only."""
    out = np.zeros_like(mask)
    ks = np.flatnonzero(mask.any(axis=(1, 2)))
    if ks.size:
        out[ks] = func(mask[ks])
    return out
