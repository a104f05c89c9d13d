"""A femoral head split between the femur and the hip bone next to metal, made whole again.

A screw through the femoral neck and head spoils the density tree around it (separate.py): the
split may run through the head, leaving its upper cap with the hip bone.  The head's sphere
(joint.py) cannot be found there on its own: the screw hole and its dark halo run through the
head's centre, and the acetabulum's roof, a bright spherical shell too, scores better.  The
other hip's head is its mirror image, though: the head is sought near the mirror image of the
other side's head, with the same radius, on the bone with the metal filled in.  All bone inside
that sphere belongs to the femur.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import bbox, box_affine
from .joint import find_head

HALO_CLOSE = 2  # voxels: the dark halo around metal is closed over when measuring depth


def _side_bone(labels: np.ndarray, inv: dict[str, int], side: str) -> np.ndarray:
    return np.isin(labels, [inv[n] for n in (f"hip_{side}", f"femur_{side}") if n in inv])


def head_lps(labels: np.ndarray, inv: dict[str, int], side: str, g: np.ndarray, spacing,
             affine: np.ndarray):
    """(centre LPS mm, radius mm) of the femoral head within ``side``'s hip bone and femur."""
    box = bbox(_side_bone(labels, inv, side), 0)
    if box is None:
        return None
    shifted = box_affine(affine, box)
    head = find_head(_side_bone(labels[box], inv, side), g[box], spacing, shifted)
    if head is None:
        return None
    return shifted[:3, :3] @ head[0][::-1] + shifted[:3, 3], head[1]


def metal_filled(bone: np.ndarray, g: np.ndarray, metal: np.ndarray):
    """(bone, g) with the metal as bone: its halo closed over, its HU that of the bone around."""
    pad = HALO_CLOSE
    solid = ndimage.binary_closing(np.pad(bone | metal, pad), iterations=pad)[pad:-pad, pad:-pad, pad:-pad]
    filled = g.astype(np.float32, copy=True)
    filled[metal] = np.median(g[bone]) if bone.any() else 0.0
    return solid | bone, filled


def mirrored_head(bone: np.ndarray, g: np.ndarray, metal: np.ndarray, spacing, affine: np.ndarray,
                  other, midline_x: float):
    """(centre (k, j, i), radius mm) of the head in ``bone`` (metal beside it), sought near the
    mirror image about ``midline_x`` of the other head ``other`` (centre LPS, radius); or None."""
    centre = np.array(other[0], dtype=float)
    centre[0] = 2.0 * midline_x - centre[0]
    ijk = np.linalg.solve(affine[:3, :3], centre - affine[:3, 3])
    solid, filled = metal_filled(bone, g, metal)
    return find_head(solid, filled, spacing, affine, prior=(ijk[::-1], other[1]))


def in_sphere(shape, centre, radius: float, spacing) -> np.ndarray:
    """bool mask of the voxels whose centres are within ``radius`` mm of ``centre`` (k, j, i)."""
    axes = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((axes[a] - centre[a]) * float(spacing[2 - a])) ** 2 for a in range(3)) < radius ** 2


def rejoin_head_caps(labels: np.ndarray, names: dict[int, str], g: np.ndarray, metal, spacing,
                     affine: np.ndarray, midline_x: float | None) -> np.ndarray | None:
    """``labels`` with all bone inside a femoral head's sphere given to its femur, or None.

    Only a side whose hip bone and femur are both named, with metal among them, is looked at,
    and only when the other side's head is found to mirror.
    """
    if metal is None or midline_x is None:
        return None
    inv = {n: k for k, n in names.items()}
    out = None
    for side, other in (("left", "right"), ("right", "left")):
        if f"hip_{side}" not in inv or f"femur_{side}" not in inv:
            continue
        box = bbox(_side_bone(labels, inv, side), 2)
        if not metal[box].any():
            continue
        ref = head_lps(labels, inv, other, g, spacing, affine)
        if ref is None:
            continue
        bone = _side_bone(labels[box], inv, side)
        head = mirrored_head(bone, g[box], metal[box], spacing, box_affine(affine, box), ref, midline_x)
        if head is None:
            continue
        out = labels.copy() if out is None else out
        out[box][bone & in_sphere(bone.shape, head[0], head[1], spacing)] = inv[f"femur_{side}"]
    return out
