"""Sclerotic islands in a lytic lesion: what makes a lesion mixed.

A mixed metastasis is lytic tissue with sclerotic (blastic-density) islands scattered through
it.  The lytic search leaves the islands out, being too dense, and an island can cut the lytic
part into pieces that look like separate lesions.  So the pieces that islands hold apart are
one lesion, the dense voxels that the lesion encloses are part of it, and the lesion is mixed
when they are a large enough share of it.

Near the cortex, voxels between marrow or lesion and cortex take every density in between;
those whose neighbourhood holds both are partial volume, not islands (``lesion._between``).
Distances are in mm (Euclidean distance maps with the voxel spacing), on boxes around the
pieces only.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import bbox
from .components import label

ISLAND_REACH_MM = 3.0  # in-plane closing radius: islands up to about 6 mm across are enclosed
BRIDGE_MM = 5.0  # reach from a lytic piece over which islands and their rims join it to another
_FLAT = 1e6  # a slice spacing that keeps a distance map in-plane


def within_mm(mask: np.ndarray, sampling, reach_mm: float) -> np.ndarray:
    """Voxels within ``reach_mm`` of ``mask``: its dilation by a ball of that radius."""
    return ndimage.distance_transform_edt(~mask, sampling=sampling) <= reach_mm + 1e-6


def enclosed(mask: np.ndarray, spacing_kji, reach_mm: float = ISLAND_REACH_MM,
             in_plane: bool = True) -> np.ndarray:
    """The voxels that a closing of ``mask`` by a ball of ``reach_mm`` (in-plane: a disc) adds."""
    out = np.zeros_like(mask)
    sampling = np.array(spacing_kji, dtype=float)
    if in_plane:
        sampling[0] = _FLAT
    pad = np.ceil(2 * reach_mm / sampling).astype(int) + 2  # room for the ball, then a free voxel
    box = bbox(mask, pad)
    if box is None:
        return out
    sub = mask[box]
    grown = within_mm(sub, sampling, reach_mm)
    out[box] = ~within_mm(~grown, sampling, reach_mm) & ~sub
    return out


def held_apart(masks: list[np.ndarray], sizes: list[int], between, dense: np.ndarray, spacing_kji,
               min_voxels: int) -> list[tuple[list[int], int]]:
    """(indices into ``masks``, voxels of their sclerotic islands) of each lesion.  Lytic pieces
    are one where ``between(box)`` voxels (what lies between lesion and island, on that box)
    within BRIDGE_MM of them connect them; the dense ones of those are its islands.  They are
    counted only where they matter: pieces close together, or a piece too small alone.  Groups
    in the order of their first piece, pieces in order within them."""
    sampling = np.asarray(spacing_kji, dtype=float)
    pad = np.ceil(BRIDGE_MM / sampling).astype(int)
    out = []
    for near in _near([bbox(m) for m in masks], pad):
        if len(near) == 1 and sizes[near[0]] >= min_voxels:
            out.append((near, 0))
            continue
        union = np.logical_or.reduce([masks[i] for i in near])
        box = bbox(union, pad + 1)  # room for the reach, and a free voxel at the edges
        reach = within_mm(union[box], sampling, BRIDGE_MM) & between(box)
        labels, _ = label(union[box] | reach)
        owner = [int(labels[masks[i][box]].max()) for i in near]
        for o in sorted(set(owner), key=owner.index):
            members = [i for i, w in zip(near, owner) if w == o]
            out.append((members, int(np.count_nonzero(reach & (labels == o) & dense[box]))))
    return sorted(out, key=lambda g: g[0][0])


def _near(boxes, pad) -> list[list[int]]:
    """Groups of the boxes that overlap once grown by ``pad`` voxels (k, j, i): only pieces this
    close can be bridged."""
    group = list(range(len(boxes)))

    def root(i):
        while group[i] != i:
            i = group[i]
        return i

    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            if all(x.start - p < y.stop + p and y.start - p < x.stop + p
                   for x, y, p in zip(boxes[a], boxes[b], pad)):
                group[root(b)] = root(a)
    out: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        out.setdefault(root(i), []).append(i)
    return list(out.values())
