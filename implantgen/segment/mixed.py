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
FLAT = 1e6  # a slice spacing that keeps a distance map in-plane
# Lesion shares past this are denser tissue in the voxel: as plan/extent.py reads a lesion's ends
_UNREADABLE = 1.25
# In-plane reach (mm) of the readable tips that judge an unreadable one: islands are 5-10 mm
# across, and one inward of a patch of tips leaves none readable within a pixel or two.
_TIP_REACH_MM = 5.0
_TAPERING = 0.1  # marrow's share (of marrow and lesion) in the slice inward of a tapering end
_LONE = 1 / 3  # most share of readable tips reading lesion around a patch of them past a blunt end


def within_mm(mask: np.ndarray, sampling, reach_mm: float) -> np.ndarray:
    """Voxels within ``reach_mm`` of ``mask``: its dilation by a ball of that radius."""
    return ndimage.distance_transform_edt(~mask, sampling=sampling) <= reach_mm + 1e-6


def enclosed(mask: np.ndarray, spacing_kji, reach_mm: float = ISLAND_REACH_MM,
             in_plane: bool = True, where: np.ndarray | None = None) -> np.ndarray:
    """The voxels that a closing of ``mask`` by a ball of ``reach_mm`` (in-plane: a disc) adds;
    given ``where`` (same grid), only those of them in ``where``."""
    out = np.zeros_like(mask)
    sampling = np.array(spacing_kji, dtype=float)
    if in_plane:
        sampling[0] = FLAT
    pad = np.ceil(2 * reach_mm / sampling).astype(int) + 2  # room for the ball, then a free voxel
    box = bbox(mask, pad)
    if box is None:
        return out
    sub = mask[box]
    grown = within_mm(sub, sampling, reach_mm)
    if where is None:
        out[box] = ~within_mm(~grown, sampling, reach_mm) & ~sub
        return out
    # The closing adds what the dilation holds and no ball around it leaves: read at the few
    # voxels asked for (islands near a lesion), not as a second distance map of the whole box.
    ask = np.argwhere(grown & ~sub & where[box])
    ball = _ball(sampling, reach_mm)
    if len(ask) * len(ball) > 4 * grown.size or grown.all():
        out[box] = ~within_mm(~grown, sampling, reach_mm) & ~sub & where[box]
        return out
    # Past the box's edge counts as inside the dilation: the distance map sees only the box.
    r = np.abs(ball).max(axis=0)
    padded = np.pad(grown, [(n, n) for n in r], constant_values=True)
    steps = np.array([padded.shape[1] * padded.shape[2], padded.shape[2], 1])
    at, reach = (ask + r) @ steps, ball @ steps
    closed = np.zeros(len(ask), dtype=bool)
    flat = padded.ravel()
    chunk = max(1, (1 << 22) // len(ball))
    for a in range(0, len(ask), chunk):
        closed[a:a + chunk] = flat[at[a:a + chunk, None] + reach[None, :]].all(axis=1)
    hit = np.zeros_like(sub)
    hit[tuple(ask[closed].T)] = True
    out[box] = hit
    return out


def _ball(sampling: np.ndarray, reach_mm: float) -> np.ndarray:
    """(M, 3) index offsets within ``reach_mm``, their distances computed as
    ndimage.distance_transform_edt computes them, and compared as within_mm does."""
    r = np.floor((reach_mm + 1e-6) / sampling).astype(int) + 1
    off = np.stack(np.meshgrid(*(np.arange(-n, n + 1) for n in r), indexing="ij"), -1).reshape(-1, 3)
    d = off.astype(np.float64) * sampling
    d *= d
    dist = np.sqrt((d[:, 0] + d[:, 1]) + d[:, 2])
    return off[dist <= reach_mm + 1e-6]


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


def island_tips(mask: np.ndarray, hu: np.ndarray, normal_hu: float, lesion_hu: float,
                island_hu: float, spacing_kji, patches: bool = False) -> np.ndarray:
    """Voxels at a mixed lesion's ends along the slices (axis 0) that are marrow with a sliver
    of an island: tips (marrow past them) that an island makes unreadable, where the readable
    tips beside them in their slice are mostly marrow.

    A lesion ending bluntly across the canal leaves, in the slice past its end, voxels whose
    centres lie in marrow and whose slab holds a fifth to a third of the lesion.  Lytic tissue
    there reads as marrow, but an island reads as lesion (75-250 HU, or lytic-level values
    beside an island of 780 HU inward): the mask reached a slice past the end, and the planes
    1-2 mm long.  Such a voxel's value cannot tell (it may as well be lytic tissue half-filling
    it beside an island: read against the island inward of it, tips of partial-break lesions
    went, Dice -0.006, ends 0.15 mm short), but the end is smooth across the canal, and the
    lytic tips around it read their own share.

    ``patches``: also readable tips that read lesion where those around them read marrow two to
    one (see below).  Their value says lesion, and the mask keeps them (dropping them, the plan
    read their share as the voxel past the end: planes up to 1.1 mm farther out); the plan
    drops them and reads their share as none (plan/extent.py).
    """
    out = np.zeros_like(mask)
    reach = tip_reach(spacing_kji)
    box = bbox(mask, [1] + [r + 1 for r in reach])  # what the in-plane windows see of the tips
    if box is None or lesion_hu <= normal_hu:
        return out
    m, v = mask[box], (hu[box].astype(np.float32) - np.float32(normal_hu)) / np.float32(lesion_hu - normal_hu)
    isl = (island_hu - normal_hu) / (lesion_hu - normal_hu)
    # In-plane, the scanner's blur carries an island's value a pixel out: beside one, a voxel's
    # own share is unreadable too.
    lifted = (v > _UNREADABLE) | (ndimage.maximum_filter(v, size=(1, 3, 3)) > isl / 2)
    near = (1,) + tuple(2 * r + 1 for r in reach)
    drop = np.zeros_like(m)
    for inward, here, outward in ((slice(2, None), slice(1, -1), slice(None, -2)),
                                  (slice(None, -2), slice(1, -1), slice(2, None))):
        after = m[inward] & ~lifted[inward]  # lesion inward, not an island: the share reads
        tips = m[here] & m[inward] & ~m[outward] & (v[outward] < 0.5)
        tips &= 2 * v[here] < np.maximum(v[inward], isl)  # not half an island itself
        readable = after & ~lifted[here]
        votes, inside = _share(readable, near), _share(readable & (v[here] >= 0.5), near)
        # A blunt end: lesion all across the slice inward, not the marrow beside a tapering tip
        # (whose readable neighbours are the marrow it tapers into).
        marrow = _share(~m[inward] & (v[inward] < 0.5), near)
        blunt = marrow < _TAPERING * (marrow + _share(m[inward], near))
        judged = tips & blunt & (votes * np.prod(near) >= 2)
        drop[here] |= judged & ~readable & (2 * inside < votes)
        if patches:
            # Past a blunt end the readable tips reading lesion form a half-plane (the end's
            # tilt), about half of those around the ones at its edge; one reading lesion where
            # they read marrow two to one (or more) is in a patch of them, an island's sliver.
            drop[here] |= judged & readable & (inside <= _LONE * votes + 1e-6)
    out[box] = drop
    return out


def tip_reach(spacing_kji) -> list[int]:
    """The in-plane reach (j, i voxels) of the readable tips that judge one (_TIP_REACH_MM)."""
    return [int(np.ceil(_TIP_REACH_MM / float(p))) for p in spacing_kji[1:]]


def _share(mask: np.ndarray, size) -> np.ndarray:
    """The share of ``mask`` in a box of ``size`` around each voxel (outside the array: none)."""
    return ndimage.uniform_filter(mask.astype(np.float32), size, mode="constant")
