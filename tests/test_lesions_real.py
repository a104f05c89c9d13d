"""Segmentations made elsewhere, and lesions simulated into real scans.

The real scans hold no tumour: a lytic lesion (soft-tissue density, noise, partial-volume edge)
is written into a vertebral body, with the TotalSegmentator reference labels as the bones, and
the detection is measured against it.  Without a lesion, nothing must be found.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from implantgen import load_ct
from implantgen.errors import PlanNotFeasible
from implantgen.geometry import voxel_points
from implantgen.records import Volume
from implantgen.segment import segment_bones
from implantgen.segment import lytic
from implantgen.segment.external import bones_from_label_map
from implantgen.segment.hull import section_hulls
from implantgen.segment.target import find_target

from .conftest import REAL

CASES = {
    "abdomen_3mm": ("abdomen_3mm.nii.gz", "abdomen_3mm_reference_labels.nii.gz"),
    "abdomen_dicom": ("abdomen_dicom", "abdomen_dicom_reference_labels.nii.gz"),
}
_CACHE = {}


def real_case(name):
    if name not in _CACHE:
        ct, labels = CASES[name]
        volume = load_ct(REAL / ct)
        _CACHE[name] = (volume, bones_from_label_map(REAL / labels, volume, "totalsegmentator"))
    return _CACHE[name]


def simulate_lesion(volume: Volume, centre, radii_mm, hu=40.0, noise=10.0, seed=0):
    """A lytic ellipsoid written into the CT with a one-voxel partial-volume edge."""
    k, j, i = np.indices(volume.shape)
    pts = volume.index_to_physical(np.stack([i, j, k], -1).reshape(-1, 3)).reshape(volume.shape + (3,))
    r = np.sqrt((((pts - centre) / np.asarray(radii_mm)) ** 2).sum(-1))
    cover = np.clip(0.5 - (r - 1) * min(radii_mm) / float(np.mean(volume.spacing)), 0, 1)
    noisy = hu + np.random.default_rng(seed).normal(0, noise, volume.shape)
    hu_new = volume.array + cover * (noisy - volume.array)
    return Volume(np.rint(hu_new).astype(np.int16), volume.spacing, volume.origin, volume.direction,
                  volume.summary), r < 1


def _dice(a, b):
    return 2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_totalsegmentator_labels_are_read_as_named_bones():
    volume, bones = real_case("abdomen_3mm")
    names = set(bones.names.values())
    assert {"vertebra_T12", "vertebra_L1"} <= names
    assert not any(n.startswith(("liver", "spleen", "aorta", "kidney")) for n in names)
    raw = sitk.GetArrayFromImage(sitk.ReadImage(str(REAL / "abdomen_3mm_reference_labels.nii.gz")))
    assert bones.labels.shape == volume.shape
    # Same count of vertebra voxels as the file holds: resampled onto the same grid, only moved.
    t12 = [k for k, n in bones.names.items() if n == "vertebra_T12"][0]
    assert np.count_nonzero(bones.labels == t12) == np.count_nonzero(raw == t12)


@pytest.mark.parametrize("name", list(CASES))
def test_no_lesion_is_found_in_real_scans_without_one(name):
    volume, bones = real_case(name)
    with pytest.raises(PlanNotFeasible, match="No lesion found|no lesion was searched") as info:
        find_target(volume, bones)
    # The sentence names the limb bones it searched, or why not (abdomen_dicom: two humeri's heads)
    limbs = [n for n in bones.names.values() if n.startswith(("humerus", "femur"))]
    assert all(n in info.value.sentence for n in limbs)
    assert ("humerus_left and humerus_right have too little shaft" in info.value.sentence) == (name == "abdomen_dicom")


@pytest.mark.parametrize("name, vertebra, min_dice", [
    # Measured 0.90 and 0.91 grown from the seed (segment/seeded.py; 0.86 and 0.87 with the
    # window, 0.89 and 0.70 with the normal marrow read over the whole bone, not near the seed);
    # abdomen_dicom is osteoporotic, contrast 120 HU.
    ("abdomen_3mm", "vertebra_L1", 0.85),
    ("abdomen_dicom", "vertebra_T12", 0.85),
])
def test_simulated_lytic_lesion_in_a_vertebral_body(name, vertebra, min_dice):
    volume, bones = real_case(name)
    label = [k for k, n in bones.names.items() if n == vertebra][0]
    pts = voxel_points(volume, bones.labels == label)
    body = pts[pts[:, 1] < np.percentile(pts[:, 1], 40)]  # the anterior part: the body
    centre = body.mean(axis=0)
    sick, truth = simulate_lesion(volume, centre, (9.0, 9.0, 7.0))
    truth &= bones.labels == label
    target = find_target(sick, bones, seed=centre)
    assert target.name == vertebra and target.lesion.type == "lytic"
    assert _dice(target.lesion.mask, truth) >= min_dice


def _lesion_in(name, vertebra):
    """(volume, the reference vertebra's mask, the lesioned volume, the lesion's voxels in that
    vertebra, its centre): the lesion of the test above."""
    volume, bones = real_case(name)
    label = [k for k, n in bones.names.items() if n == vertebra][0]
    reference = bones.labels == label
    pts = voxel_points(volume, reference)
    centre = pts[pts[:, 1] < np.percentile(pts[:, 1], 40)].mean(axis=0)
    sick, truth = simulate_lesion(volume, centre, (9.0, 9.0, 7.0))
    return volume, reference, sick, truth & reference, centre


@pytest.mark.parametrize("name, vertebra, kinds, min_dice", [
    ("abdomen_3mm", "vertebra_L1", ("lytic",), 0.86),  # measured 0.90 (0.89 with the window)
    # Measured 0.82 (0.79 with the window; 0.91 with the reference bones).  It was typed "mixed"
    # (Dice 0.68) while the osteophyte at the body's anterior rim, dense and beside the lesion, joined it.
    ("abdomen_dicom", "vertebra_T12", ("lytic",), 0.78),
])
def test_lytic_lesion_found_in_our_own_vertebra(name, vertebra, kinds, min_dice):
    """With our segmentation, not the reference's: the lesion lies in the vertebra's solid (the
    body's cortex walls it in, bone caps it above and below), the vertebrae are as without it,
    and the seed finds it there."""
    volume, reference, sick, truth, centre = _lesion_in(name, vertebra)
    ours = segment_bones(sick)
    assert sorted(ours.names.values()) == sorted(segment_bones(volume).names.values())
    held = ours.labels[truth]
    assert np.count_nonzero(held) >= 0.9 * truth.sum()  # measured: all of it on both scans
    target = find_target(sick, ours, seed=centre)
    assert target.name.startswith("vertebra") and target.lesion.type in kinds
    assert np.count_nonzero(target.solid & truth) >= 0.9 * truth.sum()
    assert np.count_nonzero(target.solid & reference) >= 0.8 * reference.sum()  # that vertebra's
    assert _dice(target.lesion.mask, truth) >= min_dice


def test_segment_command_with_totalsegmentator_labels(tmp_path, run_cli):
    out = tmp_path / "seg"
    code, _, err = run_cli("segment", REAL / "abdomen_3mm.nii.gz", "--out", out, "--bones",
                           REAL / "abdomen_3mm_reference_labels.nii.gz", "--bone-names", "totalsegmentator")
    assert code == 0, err
    info = json.loads((out / "bones.json").read_text())
    assert info["metal"] is False and info["lesion"] is None
    names = {v["name"] for v in info["labels"].values()}
    assert "vertebra_L1" in names and all(v["volume_ml"] > 0 for v in info["labels"].values())
    img = sitk.ReadImage(str(out / "bones.nrrd"))
    assert img.GetSize() == (122, 101, 30)
    assert "no lesion was searched" in err or "No lesion found" in err
    # 16 bones: named in natural order, and the names past the twelfth counted, not dropped silently
    assert "16 bone(s) (rib_left_7, rib_left_8, rib_left_9, rib_left_10," in err and ", ... 4 more)" in err


def _posterior_wall_lesion(name, vertebra, into_mm=6.0, radii=(9.0, 9.0, 7.0)):
    """(volume, the reference vertebra's mask, the lesioned volume, the truth, the lesion's
    ellipsoid, its centre): a lesion of the body's posterior wall that broke through it and
    reaches ``into_mm`` into the spinal canal (metastatic epidural extension).

    The truth is the lesion's voxels in the vertebra and in the canal, the soft-tissue hole that
    the arch walls in: in the vertebra's convex section in its slice, not in the vertebra (all
    of the ellipsoid lies in one or the other on both scans)."""
    volume, bones = real_case(name)
    label = [k for k, n in bones.names.items() if n == vertebra][0]
    reference = bones.labels == label
    pts = voxel_points(volume, reference)
    centre = pts[pts[:, 1] < np.percentile(pts[:, 1], 40)].mean(axis=0)  # the body's
    wall = centre.copy()  # walk back (+y, LPS) out of the body: the canal's front
    while reference[tuple(np.round(volume.physical_to_index([wall])[0][::-1]).astype(int))]:
        wall[1] += 0.5
    centre = wall - np.array([0.0, radii[1] - into_mm, 0.0])
    sick, ellipsoid = simulate_lesion(volume, centre, radii)
    hulls, _ = section_hulls(reference)
    return volume, reference, sick, ellipsoid & (reference | hulls), ellipsoid, centre


@pytest.mark.parametrize("name, vertebra, min_dice", [
    # Measured 0.72 and 0.89 (0.66 and 0.87 with the window; 0.00 and 0.00 before: the lesion
    # joined the canal and was dropped with it as open along k, 5 of 61 and 15 of 907 of its voxels in the body in the solid; on
    # abdomen_3mm the seed then fell into the next vertebra).  abdomen_3mm's lesion is 88 voxels
    # of 3 mm, a third of them in the canal; no soft-tissue extension is claimed there (the canal
    # and the lesion are too alike), the canal part found is the chord over the break.
    ("abdomen_3mm", "vertebra_L1", 0.68),
    ("abdomen_dicom", "vertebra_T12", 0.85),
])
def test_lytic_lesion_into_the_spinal_canal(name, vertebra, min_dice):
    """A lesion of a vertebral body that broke through its posterior wall into the canal: its
    part in the body is the vertebra's (lytic.off_canal), the canal is not, and the seed finds
    it there."""
    volume, reference, sick, truth, ellipsoid, centre = _posterior_wall_lesion(name, vertebra)
    base, ours = segment_bones(volume), segment_bones(sick)
    assert sorted(ours.names.values()) == sorted(base.names.values())
    in_body = truth & reference
    assert np.count_nonzero(ours.labels[in_body]) >= 0.9 * in_body.sum()  # measured 58/61, 907/907
    # New bone is the lesion and where it broke the wall (the chord over the break), not the
    # canal: measured 2 and 171 voxels beyond the lesion (0.02 and 0.14 of it), within 7 mm.
    beyond = (ours.labels > 0) & (base.labels == 0) & ~ellipsoid
    assert np.count_nonzero(beyond) <= 0.2 * truth.sum()
    far = ndimage.distance_transform_edt(~ellipsoid, sampling=volume.spacing[::-1])[beyond]
    assert far.size == 0 or far.max() <= 8.0
    target = find_target(sick, ours, seed=centre)
    assert target.name.startswith("vertebra") and target.lesion.type == "lytic"
    assert np.count_nonzero(target.solid & reference) >= 0.8 * reference.sum()  # that vertebra's
    assert _dice(target.lesion.mask, truth) >= min_dice


@pytest.mark.parametrize("name", list(CASES))
def test_no_breach_into_the_canal_without_a_lesion(name, monkeypatch):
    """Without a lesion, the rule for a lesion that broke into the canal takes nothing in."""
    volume, _ = real_case(name)
    labels = segment_bones(volume).labels
    monkeypatch.setattr(lytic, "BREACH_ML", np.inf)
    assert np.array_equal(segment_bones(volume).labels, labels)


def test_a_seed_at_the_scan_s_end_says_the_lesion_may_run_off_it():
    """A lesion 16 mm across centred on abdomen_3mm's first slice in the lowest vertebral body
    has no bone below it in the scan: not walled in, it is not found, and the refusal says why.
    Four slices up the same lesion is found, with no such words."""
    volume = load_ct(REAL / "abdomen_3mm.nii.gz")
    bones = segment_bones(volume)
    mask = bones.labels == [label for label, n in bones.names.items() if n == "vertebra_3"][0]
    seeds = []
    for k in (0, 4):
        depth = ndimage.distance_transform_edt(mask, sampling=volume.spacing[::-1])[k]
        j, i = np.unravel_index(np.argmax(depth), depth.shape)
        seeds.append(volume.index_to_physical([[i, j, k]])[0])
    sick, _ = simulate_lesion(volume, seeds[0], (8.0, 8.0, 10.4))
    with pytest.raises(PlanNotFeasible, match=r"the seed is 0 mm from the scan's first slice: a lesion running off"):
        find_target(sick, segment_bones(sick), seed=tuple(seeds[0]))
    sick, truth = simulate_lesion(volume, seeds[1], (8.0, 8.0, 10.4), seed=4)
    target = find_target(sick, segment_bones(sick), seed=tuple(seeds[1]))
    assert _dice(target.lesion.mask, truth & mask) >= 0.85


def test_a_seed_on_a_lesion_missing_from_the_bone_takes_no_denser_piece_beside_it():
    """abdomen_dicom's T12 (our vertebra_2), a lesion 12 mm across 8 mm above the scan's first
    slice: it runs off the scan, so no bone walls it in and only 239 of its 607 voxels are in
    the solid, none at the seed.  Low-density marrow 7 mm away (99 HU; the seed reads 41) was
    taken for it (Dice 0.00).  Now nothing is found, and the refusal says the scan may cut it."""
    volume = load_ct(REAL / "abdomen_dicom")
    bones = segment_bones(volume)
    mask = bones.labels == [label for label, n in bones.names.items() if n == "vertebra_2"][0]
    depth = ndimage.distance_transform_edt(mask, sampling=volume.spacing[::-1])[4]
    j, i = np.unravel_index(np.argmax(depth), depth.shape)
    seed = volume.index_to_physical([[i, j, 4]])[0]
    sick, _ = simulate_lesion(volume, seed, (6.0, 6.0, 7.8), seed=4)
    with pytest.raises(PlanNotFeasible, match=r"No lesion found near the seed in vertebra_2.*8 mm from the scan's first slice"):
        find_target(sick, segment_bones(sick), seed=tuple(seed))
