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

from implantgen import load_ct
from implantgen.errors import PlanNotFeasible
from implantgen.geometry import voxel_points
from implantgen.records import Volume
from implantgen.segment import segment_bones
from implantgen.segment.external import bones_from_label_map
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
    with pytest.raises(PlanNotFeasible, match="No lesion found|no lesion was searched"):
        find_target(volume, bones)


@pytest.mark.parametrize("name, vertebra, min_dice", [
    # Measured 0.87 and 0.85 (0.89 and 0.70 with the normal marrow read over the whole bone, not
    # near the seed); abdomen_dicom is osteoporotic, contrast 120 HU.
    ("abdomen_3mm", "vertebra_L1", 0.8),
    ("abdomen_dicom", "vertebra_T12", 0.65),
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
    ("abdomen_3mm", "vertebra_L1", ("lytic",), 0.84),  # measured 0.86 (0.89 with the reference bones)
    # Measured 0.80 (0.85 with the reference bones).  It was typed "mixed" (Dice 0.68) while the
    # osteophyte at the body's anterior rim, dense and beside the lesion, joined it.
    ("abdomen_dicom", "vertebra_T12", ("lytic",), 0.75),
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
