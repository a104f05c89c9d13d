"""What a mixed lesion's sclerotic islands change in the lesion search (segment/lesion.py):
lytic pieces that islands hold apart are one lesion, islands at its edge and in its folds are
its own, its level is read clear of them, and its type from their share.  The geometry of
islands and folds is in segment/mixed.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..geometry import bbox
from .candidates import MIN_PIECE, Candidate, centre, dilated
from .components import holding, label
from .filters import dilate_cross
from .mixed import BRIDGE_MM, ISLAND_REACH_MM, enclosed, held_apart, within_mm

# A mixed lesion's level is read a voxel clear of anything denser than soft tissue can be
# (islands' and cortex's partial volume), from at least this many voxels
CLEARLY_BONE_HU, MIN_CLEAR = 250.0, 50
# How far a mixed lesion's whole mask can read below its core where voxels at its edge lie
# partly in fatty marrow: 1-2 HU on 0.8 x 2 mm voxels (read there always, its extension lost
# Dice, up to 0.010).
EDGE_BIAS_HU = 2.0
# A lesion broken all round (a sleeve of tissue round the bone) has its extension read at its
# level clear of anything over this: across 3 mm slices an island's fainter partial volume (a
# sixth of a 780 HU island's voxel) lifted the level read a step clear of 250 HU to 44-47 HU for
# lytic tissue of 40, and the extension took the muscle (50 HU) round the bone.
SLEEVE_CLEAR_HU = 150.0
# Only on slices thicker than this: on 2 mm slices the step clear of CLEARLY_BONE_HU already
# reads it at 40-42 HU, and read lower there its extension lost (Dice -0.001..-0.005 on 27 of
# 29 cases); on 2.5 and 3 mm slices, +0.003 and +0.008 on average.
SLEEVE_SLICE_MM = 2.25


def joined(pieces: list[Candidate], between, dense: np.ndarray, spacing_kji,
            min_voxels: int) -> list[Candidate]:
    """Lesions of lytic ``pieces`` with the sclerotic islands they enclose (segment/mixed.py):
    pieces that islands hold apart are one, and its islands count towards its size."""
    out = []
    sizes = [c.voxels for c in pieces]
    for group, islands in held_apart([c.mask for c in pieces], sizes, between, dense, spacing_kji, min_voxels):
        voxels = sum(sizes[i] for i in group) + islands
        if voxels < min_voxels:
            continue
        if len(group) == 1:
            out.append(replace(pieces[group[0]], voxels=voxels))
        else:
            mask = np.logical_or.reduce([pieces[i].mask for i in group])
            out.append(Candidate(mask, "lytic", voxels, centre(mask)))
    return out


def clear_of_islands(chosen: Candidate, dense: np.ndarray) -> np.ndarray:
    """The lesion's own voxels to read its level from: those beside dense bone (sclerotic
    islands, a thinned cortex at its break) are left out, as their partial volume lifts its
    median: a mixed lesion's came to the muscle's, and its soft-tissue extension leaked 4 mm
    into the muscle past the lesion's end."""
    if chosen.type == "blastic":
        return chosen.mask
    clear = chosen.mask & ~dilated(dense & dilated(chosen.mask, 1), 1)
    return clear if clear.any() else chosen.mask


def edge_islands(mask: np.ndarray, dense: np.ndarray, spacing_kji) -> np.ndarray:
    """Sclerotic islands at a mixed lesion's edge, which its closing does not enclose: the
    dense voxels within ISLAND_REACH_MM of it that join it."""
    near = dense & ~mask
    box = bbox(mask, np.ceil(ISLAND_REACH_MM / np.asarray(spacing_kji)).astype(int) + 1)
    if box is None or not near[box].any():
        return np.zeros_like(mask)
    sub = near[box] & within_mm(mask[box], spacing_kji, ISLAND_REACH_MM)
    out = np.zeros_like(mask)
    out[box] = sub & holding(label(sub | mask[box])[0], mask[box])
    return out


def island_share(mask: np.ndarray, dense: np.ndarray, hu: np.ndarray, lesion_hu: float) -> float:
    """The share of a lesion ``mask`` that is sclerotic islands: its dense voxels', or by
    volume, each voxel's share of the islands' level over the lesion's.  On 1.3 mm pixels and
    2.5 mm slices most of an island's voxels are partial volumes below the dense window: islands
    of 30% of a mixed lesion counted 17-20% of its voxels, and 31-35% by volume (lytic lesions:
    1-2%, and 7-10% by volume, the cortex's blur at their edges)."""
    n, islands = np.count_nonzero(mask), mask & dense
    if np.count_nonzero(islands) <= 20:
        return np.count_nonzero(islands) / max(n, 1)
    level = float(np.median(hu[islands]))
    volume = float(np.clip((hu[mask] - lesion_hu) / (level - lesion_hu), 0.0, 1.0).mean())
    return max(np.count_nonzero(islands) / n, volume)


def holds_islands(chosen: Candidate, dense: np.ndarray, spacing_kji, share: float) -> bool:
    """Whether a lytic candidate's folds (its closing across BRIDGE_MM) hold dense bone: a
    mixed lesion's islands.  None on the lytic femur phantoms, 22-186 voxels on mixed ones.
    Or whether the islands that joined its pieces (held_apart, counted in its voxels) are a
    mixed lesion's ``share`` of it: on 3 mm slices a short lesion's core, opened across them,
    falls into pieces a slice or two thick whose union's closing leaves the islands between them
    outside (0-4 voxels of the 100-120 that joined them, 46-72% of 18-35 mm mixed lesions on
    1.5 x 3 mm voxels).  A lytic lesion's pieces are joined too, by its thinned cortex at the
    break (99-368 voxels), but that is 2-6% of it."""
    if chosen.type == "blastic":
        return False
    joins = chosen.voxels - np.count_nonzero(chosen.mask)
    if joins >= max(MIN_PIECE, share * chosen.voxels):
        return True
    folds = enclosed(chosen.mask, spacing_kji, BRIDGE_MM, in_plane=False, where=dense)
    return np.count_nonzero(folds & dense) >= MIN_PIECE


def island_clear_level(mask: np.ndarray, hu: np.ndarray) -> float:
    """A mixed lesion's own level: the median of its voxels an in-plane step clear of any voxel
    denser than soft tissue can be (the islands' and the cortex's partial volume), where there
    are enough, else where its values crowd.  In-plane: slices are often thicker than pixels,
    and a step across them left too few voxels on small lesions."""
    sub, box = _clear(mask, hu, CLEARLY_BONE_HU)
    if np.count_nonzero(sub) >= MIN_CLEAR:
        return float(np.median(hu[box][sub]))
    return crowded_level(hu[mask])


def _clear(mask: np.ndarray, hu: np.ndarray, above: float):
    """(``mask``'s voxels an in-plane step clear of any over ``above`` HU, on its box; the box)."""
    box = bbox(mask, 2)
    return mask[box] & ~dilate_cross(hu[box] > above, (1, 2)), box


def sleeve_level(level: float, mask: np.ndarray, hu: np.ndarray, slice_mm: float) -> float:
    """The level a mixed lesion broken all round tells its extension from the muscle by: on
    slices over SLEEVE_SLICE_MM, read clear of SLEEVE_CLEAR_HU where enough voxels are, else
    ``level`` (extension_level's).  Not on a partial break: read so there, its extension lost
    (Dice -0.025..-0.04 on three of 32 cases on 1.5 x 3 mm voxels), its lobe out of a small
    opening grown too far into the muscle."""
    if slice_mm <= SLEEVE_SLICE_MM:
        return level
    sub, box = _clear(mask, hu, SLEEVE_CLEAR_HU)
    return float(np.median(hu[box][sub])) if np.count_nonzero(sub) >= MIN_CLEAR else level


def extension_level(core_hu: float, mask: np.ndarray, hu: np.ndarray) -> float:
    """The level a mixed lesion's soft-tissue extension is told from the muscle by: its core's
    (``core_hu``), unless its whole ``mask`` reads more than the edge's bias away.  A core holds
    few voxels clear of islands on coarse grids (64 on a 23 mm lesion at 1.3 x 2.5 mm: 49 HU for
    lytic tissue of 40, too like the muscle to outline any extension); the whole mask holds
    more, but its edge pulls it down a little."""
    whole = island_clear_level(mask, hu)
    return whole if abs(whole - core_hu) > EDGE_BIAS_HU else core_hu


def crowded_level(values: np.ndarray) -> float:
    """The median of the shortest interval holding half of ``values`` (the shorth): a level
    that values spread to one side by partial volume do not move (a third instead: Dice 0.84
    -> 0.82 median over 12 random mixed lesions on 1.3 x 2.5 mm voxels)."""
    v = np.sort(values.astype(float))
    h = len(v) // 2 + 1
    i = int(np.argmin(v[h - 1:] - v[:len(v) - h + 1]))
    return float(np.median(v[i:i + h]))


def merge_mixed(lytic, blastic, hu, share: float, spacing_kji) -> list[Candidate]:
    """Join lytic and blastic parts that touch into one lesion, typed by their shares.  A
    blastic part joins only where the lytic part holds at least half of it in its folds (its
    closing, segment/mixed.py): dense bone merely beside a lytic lesion (an osteophyte at a
    vertebra's rim, running up and down past it) is not part of it."""
    merged, used = [], set()
    for lc in lytic:
        near = dilated(lc.mask, 2) if blastic else None
        touching = [i for i, bc in enumerate(blastic) if (near & bc.mask).any()]
        if touching:
            folds = enclosed(lc.mask, spacing_kji, BRIDGE_MM, in_plane=False,
                             where=np.logical_or.reduce([blastic[i].mask for i in touching]))
            touching = [i for i in touching if 2 * np.count_nonzero(folds & blastic[i].mask) >= blastic[i].voxels]
        mask = lc.mask.copy()
        for i in touching:
            mask |= blastic[i].mask
            used.add(i)
        blastic_voxels = sum(blastic[i].voxels for i in touching)
        total = lc.voxels + blastic_voxels
        kind = "mixed" if min(lc.voxels, blastic_voxels) >= share * total else (
            "lytic" if lc.voxels >= blastic_voxels else "blastic")
        merged.append(Candidate(mask, kind, total, centre(mask) if touching else lc.centre_kji))
    merged += [bc for i, bc in enumerate(blastic) if i not in used]
    return sorted(merged, key=lambda c: (-c.voxels, tuple(c.centre_kji)))
