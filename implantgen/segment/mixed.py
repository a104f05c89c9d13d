"""Sclerotic islands in a lytic lesion: what makes a lesion mixed.

A mixed metastasis is lytic tissue with sclerotic (blastic-density) islands scattered through
it.  The lytic search leaves the islands out, being too dense, and an island can cut the lytic
part into pieces that look like separate lesions.  So the pieces that islands hold apart are
one lesion, the dense voxels that the lesion encloses in-plane are part of it, and the lesion
is mixed when they are a large enough share of it.

Enclosed in-plane, not in 3D: an island is open at the lesion's ends along the bone.  Near the
cortex, voxels between marrow or lesion and cortex take every density in between; those whose
neighbourhood holds both are partial volume, not islands (see ``lesion._between``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import bbox
from .components import label

ISLAND_REACH_MM = 3.0  # in-plane closing radius: islands up to about 6 mm across are enclosed
BRIDGE_MM = 5.0  # reach from a lytic piece over which islands and their rims join it to another


def _ball(spacing_kji, reach_mm: float, in_plane: bool) -> np.ndarray:
    """A ball of radius ``reach_mm`` (at least one voxel each way), or its in-plane disc."""
    r = [max(int(reach_mm // float(s)), 1) for s in spacing_kji]
    if in_plane:
        r[0] = 0
    grid = np.mgrid[tuple(slice(-n, n + 1) for n in r)]
    mm2 = sum((g * float(s)) ** 2 for g, s in zip(grid, spacing_kji))
    # a one-voxel step is always inside, however thick the slices
    return (mm2 <= reach_mm ** 2 + 1e-9) | (np.abs(grid).sum(axis=0) <= 1)


def enclosed(mask: np.ndarray, spacing_kji, reach_mm: float = ISLAND_REACH_MM,
             in_plane: bool = True) -> np.ndarray:
    """The voxels that a closing of ``mask`` by an (in-plane) ball of ``reach_mm`` adds."""
    out = np.zeros_like(mask)
    ball = _ball(spacing_kji, reach_mm, in_plane)
    box = bbox(mask, max(ball.shape) // 2 + 1)
    if box is None:
        return out
    sub = mask[box]
    # The box leaves room for the dilation: the closing has no border effects inside it.
    out[box] = ndimage.binary_closing(sub, ball) & ~sub
    return out


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


def held_apart(masks: list[np.ndarray], between: np.ndarray, dense: np.ndarray,
               spacing_kji) -> list[tuple[list[int], np.ndarray]]:
    """(indices into ``masks``, its sclerotic islands) of each lesion: lytic pieces that
    ``between`` voxels (what lies between lesion and island) within BRIDGE_MM of them connect
    are one, and its islands are the ``dense`` ones of those.  Groups in the order of their
    first piece, pieces in order within them."""
    ball = _ball(spacing_kji, BRIDGE_MM, in_plane=False)
    pad = [n // 2 for n in ball.shape]
    out = []
    for near in _near([bbox(m) for m in masks], pad):
        union = np.logical_or.reduce([masks[i] for i in near])
        box = bbox(union, [p + 1 for p in pad])  # room for the dilation: no border effects
        reach = ndimage.binary_dilation(union[box], ball) & between[box]
        labels, _ = label(union[box] | reach)
        owner = [int(labels[masks[i][box]].max()) for i in near]
        for o in sorted(set(owner), key=owner.index):
            members = [i for i, w in zip(near, owner) if w == o]
            islands = np.zeros_like(union)
            islands[box] = reach & (labels == o) & dense[box]
            out.append((members, islands))
    return sorted(out, key=lambda g: g[0][0])
