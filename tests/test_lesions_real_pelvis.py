"""Lesions simulated into pelvis_3mm's proximal femur and ilium (3 mm voxels, an elderly
trabecular bone of 100-250 HU), found with a seed; and what the plan says of a femur the scan
cuts off below the trochanters.  ``benchmarks/real_lesions.py`` sweeps the same over the
femur, both hip bones and the sacrum.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from implantgen import load_ct
from implantgen.errors import PlanNotFeasible
from implantgen.plan import make_plan
from implantgen.segment import segment_bones
from implantgen.segment.target import find_target

from .conftest import REAL
from .test_lesions_real import _dice, simulate_lesion

_CACHE = {}


def pelvis():
    if not _CACHE:
        volume = load_ct(REAL / "pelvis_3mm.nii.gz")
        _CACHE["case"] = (volume, segment_bones(volume))
    return _CACHE["case"]


def deepest(bone: str, k: int):
    """(the bone's mask, the LPS point of its slice ``k`` deepest in it, in mm)."""
    volume, bones = pelvis()
    mask = bones.labels == [label for label, n in bones.names.items() if n == bone][0]
    depth = ndimage.distance_transform_edt(mask, sampling=volume.spacing[::-1])[k]
    j, i = np.unravel_index(np.argmax(depth), depth.shape)
    return mask, volume.index_to_physical([[i, j, k]])[0]


def lesion_in(bone: str, k: int, radius_mm: float = 8.0, **kind):
    """(the CT with a lytic ellipsoid at ``deepest(bone, k)``, its voxels in the bone, the seed);
    ``kind``: simulate_lesion's hu and noise, for another kind of lesion."""
    volume, _ = pelvis()
    mask, centre = deepest(bone, k)
    sick, truth = simulate_lesion(volume, centre, (radius_mm, radius_mm, 1.3 * radius_mm), seed=k, **kind)
    return sick, truth & mask, centre


def label_of(bones, name: str) -> np.ndarray:
    return bones.labels == [label for label, n in bones.names.items() if n == name][0]


def test_a_seed_in_sound_bone_takes_no_finding_far_from_it():
    """A seed in a femoral head with no lesion: nothing is found near it.  The nearest candidate
    anywhere in the bone was taken before (1.6 ml of normal bone, centred 50-66 mm away)."""
    volume, bones = pelvis()
    _, seed = deepest("femur_right", 14)
    with pytest.raises(PlanNotFeasible, match="No lesion found near the seed in femur_right"):
        find_target(volume, bones, seed=tuple(seed))


@pytest.mark.parametrize("bone, k, min_dice", [
    # The femoral head, above the shaft: searched around the seed (measured 0.92; 0.00 when only
    # the shaft was searched and a fatty region 62 mm away was taken instead).
    ("femur_right", 17, 0.85),
    # The femoral neck: grown from the seed (measured 0.98; 0.17 with the window at the host's
    # level less 40 HU, leaking into the neck's bone).
    ("femur_right", 12, 0.85),
    # The ilium (measured 0.81 grown from the seed; 0.13 with the window, 1230 voxels of the
    # ilium's marrow for a lesion of 99).
    ("hip_right", 32, 0.75),
    # The femoral head beside its low-density bone: grown from the seed at the midpoint of its
    # level and its ring's (measured 0.92, 99 voxels; 0.19 with the window, 823 voxels).
    ("femur_right", 16, 0.85),
    # An ilium with fatty marrow around the lesion (measured 0.53, 224 voxels; 0.20 with the
    # window, 734 voxels; the marrow as dense as the lesion above it is still taken).
    ("hip_left", 28, 0.45),
])
def test_a_lesion_in_real_pelvic_bone_is_found_with_a_seed(bone, k, min_dice):
    sick, truth, seed = lesion_in(bone, k)
    target = find_target(sick, segment_bones(sick), seed=tuple(seed))
    assert target.name == bone and target.lesion.type == "lytic"
    assert _dice(target.lesion.mask, truth) >= min_dice


def test_a_lesion_filling_a_thin_ilium_is_found_from_its_seed():
    """Where the ilium is thin, the bone read around the seed is mostly the lesion: the window
    (its level less 40 HU) closed below the lesion's 40 HU and nothing was found near the seed.
    Grown from the seed, it is found (measured Dice 0.56, 542 voxels for 213: the fatty marrow
    beside it reads as low)."""
    sick, truth, seed = lesion_in("hip_left", 44, radius_mm=10.0)
    target = find_target(sick, segment_bones(sick), seed=tuple(seed))
    assert target.name == "hip_left" and target.lesion.type == "lytic"
    assert _dice(target.lesion.mask, truth) >= 0.45


def test_a_femur_cut_off_below_the_trochanters_is_not_planned_as_a_shaft():
    """Head, neck and trochanters (63 mm of the femur) are as long across as they are tall: their
    longest extent (head to trochanter, horizontal) is no shaft axis, and the plan says the scan
    holds too little of the bone, not that a margin leaves too little beyond a 'lower' cut."""
    sick, truth, seed = lesion_in("femur_right", 17)
    target = find_target(sick, segment_bones(sick), seed=tuple(seed))
    assert not target.long_bone
    with pytest.raises(PlanNotFeasible, match=r"femur_right, but only 63 mm of that bone's length is in the scan"):
        make_plan(sick, target, 20.0)


@pytest.mark.parametrize("k, min_dice", [
    # A lesion of radius 10 mm in the femoral neck (slices 8 and 12): the density split ran
    # through it instead of the blurred joint and left the head above it with the hip bone
    # (femur label's Dice with the clean scan's outside the lesion 0.67 and 0.70, 1750 voxels of
    # the head in hip_right; lesion Dice 0.63 and 0.44).  The femur and hip bone cut again along
    # the head's sphere: agreement 0.999 and 1.000, lesion Dice 0.80 and 0.81.
    (8, 0.75),
    (12, 0.75),
])
def test_a_lesion_in_the_femoral_neck_leaves_the_head_with_its_femur(k, min_dice):
    _, clean = pelvis()
    sick, truth, seed = lesion_in("femur_right", k, 10.0)
    bones = segment_bones(sick)
    assert _dice(label_of(bones, "femur_right") & ~truth, label_of(clean, "femur_right") & ~truth) >= 0.99
    target = find_target(sick, bones, seed=tuple(seed))
    assert target.name == "femur_right" and _dice(target.lesion.mask, truth) >= min_dice


def test_a_seed_on_dense_bone_takes_no_lytic_piece_beside_it():
    """A blastic lesion in the thin bone beside the acetabulum lies too near the surface to be
    told from cortex, so no dense lesion is found; the lytic piece 6 mm from the seed was taken
    instead (Dice 0.00, typed lytic).  The seed reads dense: nothing is found near it."""
    volume, _ = pelvis()
    mask, centre = deepest("hip_right", 8)
    sick, _ = simulate_lesion(volume, centre, (8.0, 8.0, 10.4), hu=650.0, noise=60.0, seed=8)
    with pytest.raises(PlanNotFeasible, match="No lesion found near the seed in hip_right"):
        find_target(sick, segment_bones(sick), seed=tuple(centre))


def test_a_lesion_at_the_top_of_the_femoral_head_leaves_the_head_with_its_neck():
    """A lytic lesion of radius 10 mm at the femoral head's top (slice 16) darkens the inside of
    a sphere around it, whose shell runs along the acetabulum's roof: that sphere scored best,
    and its cut left a ball of 1075 voxels for the femur, its neck with the hip bone (the femur
    label's Dice with the clean scan's, outside the lesion, 0.30).  A cut must leave the head
    with its neck: the next sphere's does (measured 0.87)."""
    _, clean = pelvis()
    sick, truth, seed = lesion_in("femur_right", 16, 10.0)
    bones = segment_bones(sick)
    assert _dice(label_of(bones, "femur_right") & ~truth, label_of(clean, "femur_right") & ~truth) >= 0.85
    target = find_target(sick, bones, seed=tuple(seed))
    assert target.name == "femur_right" and _dice(target.lesion.mask, truth) >= 0.8


@pytest.mark.parametrize("bone, k", [
    # Deep in the sacrum (slices 40 and 48): the density split took the lesion for a bone of its
    # own; the sacrum kept 0.14 of its label, the rest named vertebra_6 (slice 40), or its top
    # was named vertebra_6 (slice 48).  Measured 1.00 and 1.00.
    ("sacrum", 40),
    ("sacrum", 48),
    # Filling the femoral neck to its cortex (slice 8): the lesion's region took the femur's
    # lower part, the head went with half the acetabulum to a "bone_19" (0.79).  Measured 1.00.
    ("femur_right", 8),
])
def test_a_blastic_lesion_inside_a_bone_is_no_bone_of_its_own(bone, k):
    _, clean = pelvis()
    sick, truth, seed = lesion_in(bone, k, 10.0, hu=650.0, noise=60.0)
    bones = segment_bones(sick)
    assert _dice(label_of(bones, bone) & ~truth, label_of(clean, bone) & ~truth) >= 0.98
    target = find_target(sick, bones, seed=tuple(seed))
    assert target.name == bone and target.lesion.type == "blastic" and _dice(target.lesion.mask, truth) >= 0.85
