"""The hip joint: a femur left merged with its hip bone is cut off along its head's sphere.

On thick slices partial volume fills the hip's joint space, so the density tree cannot part the
femur from the acetabulum (the head's trabecular interior is no denser than the blurred joint).
Geometry still tells them apart: the femoral head is a near-sphere of bone whose subchondral
plate is a bright spherical shell, darker on both sides (trabecular bone inside; cartilage and
joint space, or soft tissue where the head is uncovered, outside).  The best such shell around
a point deep in the lower part of a hip bone is the head, and the joint space is a thin shell
just outside it.  Cutting the bone along that shell leaves the head, the hip bone (the largest
piece outside), and the femoral neck with the trochanters, which leave the head below and to
the side: head and neck are the femur.  A watershed on density then hands the cut shell back.
A lytic lesion in the neck can make the density split cut there instead, leaving the head with
the hip bone: a femur named beside its hip bone is cut again with it (_headless_femur).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from ..geometry import bbox, box_affine
from .components import label
from .separate import FLAT_ABOVE

HEAD_RADII_MM = np.arange(18.0, 31.0, 1.5)  # femoral heads are about 36 to 60 mm across
RING_MM = 4.5  # the shell is compared with the bone this far inside and outside of it
HEAD_DEPTH_MM = 12.0  # a head's centre lies at least this deep inside the bone
CANDIDATE_STEP_MM = 3.0  # centres are tried on a grid this fine
MIN_SHELL_HU = 30.0  # the shell stands out this much above the mean of both sides
JOINT_MM = 3.0  # thickness of the cut: the joint space with its partial volume
HEAD_FILLED = 0.75  # the piece inside the cut fills at least this share of the ball
HIP_MIN_ML = 40.0  # the hip bone left outside the cut is at least this big
NECK_MIN_ML = 1.0  # smaller pieces outside the cut are left to the watershed
N_DIRECTIONS = 128
PRIOR_MM = 9.0  # a head sought near a known place: its centre is at most this far from it
PRIOR_RADIUS_MM = 1.5  # ... and its radius this close to the one expected
KEEP_FEMUR_LOSS = 0.02  # a femur cut again along its head keeps all but this share of itself
HEAD_LEFT_MIN_ML = 1.0  # ... and gains at least this much of the hip bone (less: the boundary's noise)
HEAD_TRIES = 4  # spheres tried, best first, until one's cut leaves the head with its neck
SEPARATE_MM = 6.0  # ... their centres at least this far apart


def _directions(n: int) -> np.ndarray:
    """(n, 3) unit vectors spread evenly over the sphere (a Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / n)
    turn = np.pi * (1.0 + 5.0 ** 0.5) * i
    return np.stack([np.cos(polar), np.sin(polar) * np.sin(turn), np.sin(polar) * np.cos(turn)], axis=1)


def _z_mm(kji: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """LPS z (mm) of (k, j, i) indices; ``affine`` maps (i, j, k, 1) to LPS."""
    return kji[..., ::-1] @ affine[2, :3] + affine[2, 3]


def find_head(region: np.ndarray, g: np.ndarray, spacing, affine: np.ndarray, prior=None):
    """(centre (k, j, i) float, radius mm) of the femoral head in ``region``, or None.

    Centres are tried at points deep in the region's lower half; the score of a sphere is how
    much brighter ``g`` is on it than on the spheres RING_MM inside and outside of it.  ``prior``
    (centre (k, j, i), radius mm), when given, keeps to heads near that one.
    """
    heads = head_candidates(region, g, spacing, affine, prior, n=1)
    return heads[0] if heads else None


def head_candidates(region: np.ndarray, g: np.ndarray, spacing, affine: np.ndarray, prior=None,
                    n: int = HEAD_TRIES) -> list:
    """Up to ``n`` spheres (centre (k, j, i) float, radius mm) as find_head scores them, best
    first, their centres at least SEPARATE_MM apart."""
    spacing = np.asarray(spacing, dtype=float)
    kji_mm = spacing[::-1]
    depth = ndimage.distance_transform_edt(np.pad(region, 1), sampling=kji_mm)[1:-1, 1:-1, 1:-1]
    cand = np.argwhere(region & (depth >= HEAD_DEPTH_MM))
    cand = cand[_z_mm(cand, affine) < _z_mm(np.argwhere(region), affine).mean()]
    step = np.maximum(np.round(CANDIDATE_STEP_MM / kji_mm).astype(int), 1)
    cand = cand[np.all(cand % step == 0, axis=1)]
    radius_ok = np.ones(len(HEAD_RADII_MM), dtype=bool)
    if prior is not None:
        cand = cand[np.linalg.norm((cand - prior[0]) * kji_mm, axis=1) <= PRIOR_MM]
        radius_ok = np.abs(HEAD_RADII_MM - prior[1]) <= PRIOR_RADIUS_MM
    if len(cand) == 0:
        return []
    # g sampled along rays from every candidate at every radius needed (a 1.5 mm grid covers
    # the radii and the rings), then each sphere's score is a mean over the rays.
    radii = np.arange(HEAD_RADII_MM[0] - RING_MM, HEAD_RADII_MM[-1] + RING_MM + 0.75, 1.5)
    u = _directions(N_DIRECTIONS) / kji_mm  # index steps per mm along each ray
    at = cand[:, None, None, :] + radii[None, :, None, None] * u[None, None, :, :]
    samples = ndimage.map_coordinates(g, at.reshape(-1, 3).T, order=1, mode="nearest")
    ring = samples.reshape(len(cand), len(radii), N_DIRECTIONS).mean(axis=2)
    off = int(round(RING_MM / 1.5))
    r0 = np.arange(off, off + len(HEAD_RADII_MM))
    score = ring[:, r0] - 0.5 * (ring[:, r0 - off] + ring[:, r0 + off])
    score[:, ~radius_ok] = -np.inf
    best_r = np.argmax(score, axis=1)
    best = score[np.arange(len(cand)), best_r]
    heads, taken = [], []
    for c in np.argsort(-best, kind="stable"):
        if best[c] < MIN_SHELL_HU or len(heads) == n:
            break
        if any(np.linalg.norm((cand[c] - t) * kji_mm) < SEPARATE_MM for t in taken):
            continue
        taken.append(cand[c])
        heads.append((cand[c].astype(float), float(HEAD_RADII_MM[best_r[c]])))
    return heads


def cut_femur(region: np.ndarray, g: np.ndarray, cortex_hu: float, spacing, affine: np.ndarray,
              head, midline_x: float) -> np.ndarray | None:
    """bool mask of the femur within ``region`` (a hip bone merged with it), or None.

    ``head`` is (centre, radius) from find_head.  None when the cut does not leave a filled
    head, a hip bone of its own, and nothing else but the femoral neck's side.
    """
    centre, radius = head
    spacing = np.asarray(spacing, dtype=float)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    axes = np.ogrid[tuple(slice(0, n) for n in region.shape)]
    dist = np.sqrt(sum(np.float32(((axes[a] - centre[a]) * spacing[2 - a]) ** 2) for a in range(3)))
    pieces, n = label(region & ((dist < radius) | (dist >= radius + JOINT_MM)))
    inside = pieces[tuple(np.round(centre).astype(int))]
    sizes = np.bincount(pieces.ravel(), minlength=n + 1) * voxel_ml
    ball = 4.0 / 3.0 * np.pi * radius ** 3 / 1000.0
    if inside == 0 or sizes[inside] < HEAD_FILLED * ball:
        return None
    sizes[[0, inside]] = 0
    hip = int(np.argmax(sizes))
    if sizes[hip] < HIP_MIN_ML:
        return None
    # The neck and trochanters leave the head below and to the side; pieces off towards the
    # midline or above belong to the hip bone (or are too small to matter).
    femur = [inside]
    centre_mm = affine[:3, :3] @ centre[::-1] + affine[:3, 3]
    for b, box in enumerate(ndimage.find_objects(pieces), start=1):
        if b in (inside, hip) or sizes[b] < NECK_MIN_ML:
            continue
        kji = np.argwhere(pieces[box] == b) + [s.start for s in box]
        c = affine[:3, :3] @ kji[:, ::-1].mean(axis=0) + affine[:3, 3]
        if c[2] < centre_mm[2] and abs(c[0] - midline_x) > abs(centre_mm[0] - midline_x):
            femur.append(b)
    seeds = np.where(np.isin(pieces, femur), 1, np.where(pieces == hip, 2, 0)).astype(np.int32)
    # The cut shell and loose bits go to the side they are densest towards: the joint space
    # is the valley of density between the head and the acetabulum.
    split = watershed(-np.minimum(g, cortex_hu + FLAT_ABOVE), seeds, mask=region)
    return split == 1


def split_merged_femurs(labels: np.ndarray, names: dict[int, str], g: np.ndarray, cortex_hu: float,
                        spacing, affine: np.ndarray, midline_x: float | None):
    """``labels`` with each femur cut off its hip bone, or None if none was.

    A hip bone with no femur named on its side holds that femur, if the scan has one: it gets a
    new label.  A hip bone touching the femur named on its side may still hold the femoral head
    (_headless_femur): the two are cut again as one.
    """
    if midline_x is None:
        return None
    out = None
    inv = {n: k for k, n in names.items()}
    boxes = ndimage.find_objects(labels)
    for lab, name in sorted(names.items()):
        if name not in ("hip_left", "hip_right"):
            continue
        femur_lab = inv.get(f"femur_{name[4:]}")
        if femur_lab is None:
            box = boxes[lab - 1]
            region = labels[box] == lab
            femur = _cut(region, g[box], cortex_hu, spacing, box_affine(affine, box), midline_x)
            if femur is None:
                continue
            out = labels.copy() if out is None else out
            out[box][femur] = int(out.max()) + 1
            continue
        box = bbox(np.isin(labels, [lab, femur_lab]), 0)
        femur = _headless_femur(labels[box], lab, femur_lab, g[box], cortex_hu, spacing,
                                box_affine(affine, box), midline_x)
        if femur is None:
            continue
        out = labels.copy() if out is None else out
        sub = out[box]
        sub[(labels[box] == femur_lab) | (labels[box] == lab)] = lab
        sub[femur] = femur_lab
    return out


def _cut(region, g, cortex_hu, spacing, affine, midline_x):
    """The femur within ``region`` cut off along its head's sphere, or None.

    The best sphere is not always the head: a lytic lesion near the head's top darkens the
    inside of a sphere around it, whose shell then runs along the acetabulum's roof, and the
    cut leaves a ball with no neck (the neck stays joined to the hip bone round the sphere).
    The next best spheres are tried until a cut leaves the head with its neck; failing that,
    the best sphere's cut (or None) is the answer.
    """
    best = None
    for n, head in enumerate(head_candidates(region, g, spacing, affine)):
        femur = cut_femur(region, g, cortex_hu, spacing, affine, head, midline_x)
        if femur is not None and _has_neck(femur, head, spacing):
            return femur
        best = femur if n == 0 else best
    return best


def _has_neck(femur: np.ndarray, head, spacing) -> bool:
    """Whether ``femur`` holds at least NECK_MIN_ML beyond its head's sphere and the joint."""
    centre, radius = head
    far = np.argwhere(femur)
    dist = np.linalg.norm((far - centre) * np.asarray(spacing, dtype=float)[::-1], axis=1)
    return np.count_nonzero(dist >= radius + JOINT_MM) * float(np.prod(spacing)) / 1000.0 >= NECK_MIN_ML


def _headless_femur(labels, hip, femur, g, cortex_hu, spacing, affine, midline_x):
    """bool mask of the femur in ``labels`` (hip bone ``hip``, femur ``femur``) cut again along
    its head, when the density split left part of the head with the hip bone; else None.

    A lytic lesion in the femoral head or neck is a valley of density where the joint, blurred
    by partial volume, is none: the split runs through the lesion instead of the joint, and the
    head above it stays with the hip bone.  The head's sphere is found on both bones together
    (its cortex and subchondral plate are unmoved by a lesion inside).  The cut is taken only if
    it keeps all of the femur the split made and takes a part of the hip bone: where the split
    found the joint, the two agree and nothing changes; where a sphere fits elsewhere (the acetabulum's roof, beside metal: see
    head_cap.py), it takes femur away and is not trusted.
    """
    hip_bone, femur_bone = labels == hip, labels == femur
    if not (ndimage.binary_dilation(hip_bone) & femur_bone).any():
        return None  # apart: the split found the joint
    cut = _cut(hip_bone | femur_bone, g, cortex_hu, spacing, affine, midline_x)
    if cut is None:
        return None
    lost = np.count_nonzero(femur_bone & ~cut)
    gained_ml = np.count_nonzero(hip_bone & cut) * float(np.prod(spacing)) / 1000.0
    if lost > KEEP_FEMUR_LOSS * np.count_nonzero(femur_bone) or gained_ml < HEAD_LEFT_MIN_ML:
        return None
    return cut
