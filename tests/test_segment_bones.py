"""Bone segmentation on real CT (against TotalSegmentator's labels) and on femur phantoms.

The real scans' reference is a third-party model's output, so the Dice floors below are what
this method measures today, with a little slack: a drop shows a regression.  On abdomen_dicom
the reference was made on a 3 mm grid and upsampled (test_abdomen_dicom_reference_is_a_3mm_grid
proves it), which caps the Dice any 1 mm segmentation can reach against it: a segmentation
scored against its own 3 mm blocks reaches about 0.88.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from implantgen import load_ct
from implantgen.load import load_label_map
from implantgen.phantom import FemurSpec, femur_phantom
from implantgen.records import Volume
from implantgen.segment import segment_bones

from .conftest import REAL

NAMES = {int(k): v for k, v in json.loads((REAL / "reference_label_names.json").read_text()).items()}
BONE_PREFIXES = ("vertebrae", "rib", "humerus", "femur", "hip", "sacrum", "sternum", "scapula", "clavicula")
BONE_LABELS = [k for k, n in NAMES.items() if n.startswith(BONE_PREFIXES)]
VERTEBRA_LABELS = [k for k, n in NAMES.items() if n.startswith("vertebrae")]
RIB_LABELS = [k for k, n in NAMES.items() if n.startswith("rib")]
_CACHE = {}


def dice(a, b) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def real(name):
    """(volume, reference labels or None, segmentation), computed once per session."""
    if name not in _CACHE:
        files = {"abdomen_dicom": ("abdomen_dicom", "abdomen_dicom_reference_labels.nii.gz"),
                 "abdomen_3mm": ("abdomen_3mm.nii.gz", "abdomen_3mm_reference_labels.nii.gz"),
                 "pelvis_3mm": ("pelvis_3mm.nii.gz", None)}[name]
        volume = load_ct(REAL / files[0])
        ref = load_label_map(REAL / files[1], volume) if files[1] else None
        _CACHE[name] = (volume, ref, segment_bones(volume))
    return _CACHE[name]


def centroid_x(volume: Volume, mask: np.ndarray) -> float:
    kji = np.argwhere(mask)
    return float(volume.index_to_physical(kji[:, ::-1].astype(float))[:, 0].mean())


def physical(volume: Volume, where: np.ndarray) -> np.ndarray:
    """(n, 3) LPS points (mm) of a bool mask's voxels, or of (n, 3) (k, j, i) indices."""
    kji = np.argwhere(where) if where.dtype == bool else where
    return volume.index_to_physical(kji[:, ::-1].astype(float))


def labels_named(seg, prefix: str) -> list[int]:
    return [k for k, n in seg.names.items() if n.startswith(prefix)]


# abdomen_3mm measured 0.9002 (0.8924 before rib ends were cut from their costal cartilage).
@pytest.mark.parametrize("name, floor", [("abdomen_dicom", 0.79), ("abdomen_3mm", 0.899)])
def test_union_of_bones_matches_reference(name, floor):
    volume, ref, seg = real(name)
    assert seg.labels.shape == volume.shape
    assert set(np.unique(seg.labels)) - {0} == set(seg.names)
    assert dice(seg.labels > 0, np.isin(ref, BONE_LABELS)) >= floor


def on_grid(mask: np.ndarray, grid) -> np.ndarray:
    """``mask`` brought onto ``grid`` (voxel counts) and back by scipy's zoom with order 0, as
    TotalSegmentator's 3 mm model resamples its input and its output."""
    small = ndimage.zoom(mask.astype(np.uint8), [g / n for g, n in zip(grid, mask.shape)], order=0)
    return ndimage.zoom(small, [n / g for n, g in zip(mask.shape, small.shape)], order=0) > 0


def test_abdomen_dicom_reference_is_a_3mm_grid():
    volume, ref, seg = real("abdomen_dicom")
    grid = tuple(int(round(n * s / 3.0)) for n, s in zip(volume.shape, volume.spacing[::-1]))
    assert grid == (13, 167, 167)
    bones = np.isin(ref, BONE_LABELS)
    # Every voxel of the reference is what its 3 mm grid, upsampled, gives: it was drawn there.
    assert np.array_equal(on_grid(bones, grid), bones)
    ours = seg.labels > 0
    assert dice(ours, on_grid(ours, grid)) < 0.9  # a 1 mm segmentation against its own 3 mm blocks
    # Ours drawn on that grid, as the reference was: measured 0.8449 (0.8079 at 1 mm; 0.8414
    # and 0.8045 with the calcified splenic vessel taken for a rib).
    assert dice(on_grid(ours, grid), bones) >= 0.84


def test_aorta_with_contrast_and_plaques_is_not_bone():
    # Its lumen (150-250 HU with contrast) and calcified wall lie against the vertebral bodies:
    # 3300 of its voxels were taken for vertebra, then 972, now 115 (partial volume at the
    # contact; see the next test for the wall).
    volume, ref, seg = real("abdomen_dicom")
    aorta = ref == {n: k for k, n in NAMES.items()}["aorta"]
    assert np.count_nonzero(aorta & (seg.labels > 0)) < 1500


def test_aortic_wall_plaques_are_not_bone():
    # The calcified crescents on the aorta's wall, left-anterior of T12's body: the lumen's smooth
    # core stops 3-8 mm inside the wall (the 5 mm texture window takes in the wall, streaks roughen
    # the blood), so a wall band around the core alone missed them (1427 of our bone voxels within
    # 3 mm of the reference aorta, outside its bones; 972 inside it).  Grown through blood to the
    # wall: 338 (115 inside), the rest in plaques over 3 mm thick where they meet the vertebra.
    volume, ref, seg = real("abdomen_dicom")
    aorta = ref == {n: k for k, n in NAMES.items()}["aorta"]
    band = ndimage.distance_transform_edt(~aorta, sampling=volume.spacing[::-1]) <= 3.0
    ours = seg.labels > 0
    assert np.count_nonzero(ours & band & ~np.isin(ref, BONE_LABELS)) < 500
    assert np.count_nonzero(ours & aorta) < 250
    assert dice(ours, np.isin(ref, BONE_LABELS)) >= 0.80  # measured 0.8045 (0.7992 with the plaques)


def test_calcified_splenic_vessel_inside_the_trunk_is_not_a_rib():
    # A tortuous splenic vessel, contrast in its lumen and calcified spots in its wall, 97 mm deep
    # in a trunk 125 mm deep (ribs come within 12-24 mm of the outline): it was named rib_13
    # (656 voxels, 91 of them in the reference's portal and splenic vein label).  Dice 0.8045 ->
    # 0.8079.  Of our bone more than 30 mm from any reference bone, 1054 voxels -> 329: what is
    # left is the tip of the sternum, which the reference does not label.
    volume, ref, seg = real("abdomen_dicom")
    vein = ref == {n: k for k, n in NAMES.items()}["portal_vein_and_splenic_vein"]
    ours = seg.labels > 0
    assert np.count_nonzero(ours & vein) == 0
    far = ndimage.distance_transform_edt(~np.isin(ref, BONE_LABELS), sampling=volume.spacing[::-1]) > 30.0
    assert set(np.unique(seg.labels[ours & far])) <= set(labels_named(seg, "sternum"))
    assert np.count_nonzero(ours & far) < 400
    assert dice(ours, np.isin(ref, BONE_LABELS)) >= 0.806


def test_in_cavity_keeps_the_wall_drops_the_middle():
    from implantgen.segment.cavity import in_cavity
    # A 240 x 180 mm trunk on 3 mm pixels, 5 slices: a rib along its wall, a calcification in it.
    kk, jj, ii = np.mgrid[:5, :60, :80]
    trunk = (((jj - 30) / 30.0) ** 2 + ((ii - 40) / 40.0) ** 2 <= 1.0).astype(np.uint8)
    labels = np.zeros(trunk.shape, dtype=np.int32)
    labels[:, 27:30, 3:6] = 1  # 6-9 mm inside the outline
    labels[:, 29:32, 42:46] = 2  # at the centre
    work = tuple(slice(0, n) for n in trunk.shape)
    spacing = (3.0, 3.0, 3.0)
    assert in_cavity(labels, [1, 2], work, trunk, (1, 1, 1), work, spacing) == [2]
    assert in_cavity(labels, [], work, trunk, (1, 1, 1), work, spacing) == []


def test_vertebrae_come_apart_in_abdomen_3mm():
    volume, ref, seg = real("abdomen_3mm")
    ours = labels_named(seg, "vertebra")
    present = [v for v in VERTEBRA_LABELS if np.any(ref == v)]
    assert abs(len(ours) - len(present)) <= 1, (len(ours), present)
    # Each reference vertebra of any size lies mostly in one of ours, and no two share one.
    owners = []
    for v in present:
        m = ref == v
        if m.sum() < 1000:
            continue
        counts = np.bincount(seg.labels[m].astype(np.int64), minlength=int(seg.labels.max()) + 1)
        counts[0] = 0
        owner = int(np.argmax(counts))
        assert counts[owner] >= 0.8 * m.sum() and owner in ours
        owners.append(owner)
    assert len(owners) >= 3 and len(set(owners)) == len(owners)


def test_vertebrae_come_apart_across_a_ringed_disc_in_abdomen_dicom():
    # T11 and T12: a thin disc ringed by dense rims (osteophytes, a calcified annulus), with only
    # 6 mm of T11's body in the scan; they were one label.  Measured: T12 0.90 in its label, T11
    # 0.52 in another (the reference gives T11 the ring and a band of bone along the right side
    # of T12's body, and 655 voxels inside T12's body; 0.09 of it is outside our bone).
    # Measured again at c6b819c: T12 0.926, T11 0.5004 (4969 of 9930; the floor has no slack).
    # Of the 4442 T11 voxels in our lower vertebra, 3545 lie in front of the canal below the
    # disc (k <= 14: T12's body, 3 mm grid upsampled), 716 in the ring at the disc (k 15-17,
    # split at its middle slice) and only 181 behind the canal: T11's right inferior articular
    # process at k 13-17, given to T12 across a facet joint that is no darker than the
    # processes' own trabecular bone here (200-340 HU against 150-300, cortex 400-680).  So the
    # arches, where the facet joints are, are judged on their own below.
    volume, ref, seg = real("abdomen_dicom")
    ref_of = {n: k for k, n in NAMES.items()}
    owners = {}
    for name, share in (("vertebrae_T12", 0.85), ("vertebrae_T11", 0.5)):
        m = ref == ref_of[name]
        counts = np.bincount(seg.labels[m].astype(np.int64), minlength=int(seg.labels.max()) + 1)
        counts[0] = 0
        owners[name] = int(np.argmax(counts))
        assert counts[owners[name]] >= share * np.count_nonzero(m), (name, counts[owners[name]] / m.sum())
        assert seg.names[owners[name]].startswith("vertebra")
    assert owners["vertebrae_T11"] != owners["vertebrae_T12"]
    # The upper one holds little of T12.
    t12 = ref == ref_of["vertebrae_T12"]
    assert np.count_nonzero(t12 & (seg.labels == owners["vertebrae_T11"])) < 0.05 * np.count_nonzero(t12)
    # Each arch (the bone behind the spinal cord: laminae, articular and spinous processes) lies
    # in its own vertebra's label, little of it in the other's.  Measured: T11's 0.846 and 0.055
    # (T11's right inferior articular process), T12's 0.770 and 0.049 (a spinous process tip
    # 20-30 mm below the disc that the reference gives T12); the rest is outside our bone.
    cord_y = physical(volume, ref == ref_of["spinal_cord"])[:, 1].mean()
    for name, other, share in (("vertebrae_T11", "vertebrae_T12", 0.8), ("vertebrae_T12", "vertebrae_T11", 0.72)):
        kji = np.argwhere(ref == ref_of[name])
        arch = kji[physical(volume, kji)[:, 1] > cord_y]  # LPS: y grows towards the back
        ours = seg.labels[tuple(arch.T)]
        assert np.count_nonzero(ours == owners[name]) >= share * len(arch), name
        assert np.count_nonzero(ours == owners[other]) < 0.08 * len(arch), name


def test_ribs_are_not_merged_with_each_other():
    volume, ref, seg = real("abdomen_dicom")
    ribs = labels_named(seg, "rib")
    assert len(ribs) >= 10
    for lab in ribs:
        m = seg.labels == lab
        held = [r for r in RIB_LABELS
                if np.count_nonzero(m & (ref == r)) > 0.5 * max(1, np.count_nonzero(ref == r))]
        assert len(held) <= 1, (seg.names[lab], [NAMES[r] for r in held])


def test_rib_ends_kept_apart_from_costal_cartilage():
    """On abdomen_3mm the front ends of both 7th ribs are one solid piece with their costal
    cartilage, too little of it dense to pass as bone: before cartilage.py the whole piece was
    dropped (none of rib_left_7's 103 voxels nor of rib_right_7's 64 were ours; part of the
    right one lies outside our solid).  The rib ends are kept now, the cartilage is not."""
    volume, ref, seg = real("abdomen_3mm")
    ref_of = {n: k for k, n in NAMES.items()}
    ours = seg.labels > 0
    for side, share in (("left", 0.8), ("right", 0.5)):  # measured 0.88 and 0.61
        rib = ref == ref_of[f"rib_{side}_7"]
        assert np.count_nonzero(rib & ours) > share * np.count_nonzero(rib)
    cartilage = ref == ref_of["costal_cartilages"]
    assert np.count_nonzero(cartilage & ours) < 0.02 * np.count_nonzero(cartilage)  # measured 30 of 2100 (18 before)


def test_arms_named_with_their_side():
    volume, ref, seg = real("abdomen_dicom")
    names = set(seg.names.values())
    assert {"humerus_left", "humerus_right"} <= names
    inv = {n: k for k, n in seg.names.items()}
    ref_of = {n: k for k, n in NAMES.items()}
    # LPS: x grows towards the patient's left.
    left, right = (seg.labels == inv["humerus_left"]), (seg.labels == inv["humerus_right"])
    assert centroid_x(volume, left) > centroid_x(volume, right)
    for side, ours in (("left", left), ("right", right)):
        assert np.count_nonzero(ours & (ref == ref_of[f"humerus_{side}"])) > 0.8 * np.count_nonzero(ours)


def test_metal_found_in_the_left_femoral_neck_and_never_bone():
    volume, _, seg = real("pelvis_3mm")
    assert seg.has_metal and any("Metal" in w for w in seg.warnings)
    assert not np.any(seg.metal & (seg.labels > 0))
    spine = labels_named(seg, "vertebra") + labels_named(seg, "sacrum")
    midline = centroid_x(volume, np.isin(seg.labels, spine))
    assert centroid_x(volume, seg.metal) > midline + 50.0  # the patient's left
    # The bone around the implant is still bone: the left femur, right next to the metal.
    femur = seg.labels == {n: k for k, n in seg.names.items()}["femur_left"]
    near = np.zeros_like(femur)
    box = tuple(slice(max(s.start - 2, 0), s.stop + 2) for s in _box(seg.metal))
    near[box] = True
    assert np.count_nonzero(femur & near) > 100


def _box(mask):
    idx = np.argwhere(mask)
    return tuple(slice(int(a), int(b) + 1) for a, b in zip(idx.min(axis=0), idx.max(axis=0)))


def test_pelvis_bones_named_on_their_sides():
    volume, _, seg = real("pelvis_3mm")
    inv = {n: k for k, n in seg.names.items()}
    assert {"sacrum", "hip_left", "hip_right", "femur_left"} <= set(inv)
    assert len(labels_named(seg, "vertebra")) >= 4  # the lumbar spine, one label each
    x = {n: centroid_x(volume, seg.labels == k) for n, k in inv.items()
         if n.startswith(("hip", "femur", "sacrum"))}
    assert x["hip_left"] > x["sacrum"] > x["hip_right"]
    assert x["femur_left"] > x["sacrum"] > x["femur_right"]
    # The femurs are bones of their own: not merged with their hip bones at the joint.
    for side in ("left", "right"):
        assert np.count_nonzero(seg.labels == inv[f"femur_{side}"]) * np.prod(volume.spacing) / 1000 > 40.0


def _lps(volume: Volume, mask: np.ndarray) -> np.ndarray:
    return volume.index_to_physical(np.argwhere(mask)[:, ::-1].astype(float))


def test_right_femur_comes_apart_at_the_hip_joint():
    # At 3 mm the right hip joint shows no gap of density: the femur is cut off its hip bone
    # along the femoral head's sphere.  The left femur (apart from its hip bone thanks to the
    # implant in its neck) is the yardstick.
    volume, _, seg = real("pelvis_3mm")
    inv = {n: k for k, n in seg.names.items()}
    assert "femur_right" in inv and "hip_right" in inv
    ml = float(np.prod(volume.spacing)) / 1000
    p = {n: _lps(volume, seg.labels == inv[n]) for n in ("femur_left", "femur_right", "hip_left", "hip_right")}
    # The same slices hold about as much femur on both sides (measured 97 and 102 ml).
    top = min(p["femur_left"][:, 2].max(), p["femur_right"][:, 2].max())
    left, right = (np.count_nonzero(p[n][:, 2] <= top) * ml for n in ("femur_left", "femur_right"))
    assert 0.7 * left <= right <= 1.5 * left, (left, right)
    # Below the femoral heads' centres (25 mm under their tops) the hip bones hold about the same
    # (the ischium and pubis; measured 64 on the right, 126 with the femur merged, and 56 on the left)...
    below = {s: np.count_nonzero(p[f"hip_{s}"][:, 2] < p[f"femur_{s}"][:, 2].max() - 25.0) * ml
             for s in ("left", "right")}
    assert below["right"] <= 1.3 * below["left"], below
    # ... and none of the right hip bone reaches out there to the side of the femur's neck and
    # trochanters (33 ml did when merged).
    x_femur = p["femur_right"][:, 0].mean()
    low = p["hip_right"][:, 2] < p["femur_right"][:, 2].max() - 25.0
    assert np.count_nonzero(low & (p["hip_right"][:, 0] < x_femur)) * ml < 2.0


def test_left_femoral_head_whole_beside_the_screw():
    # The screw up the left femoral neck spoils the density split there: it ran through the
    # head and left its upper cap with the hip bone (hip_left 324 ml against hip_right 289).
    volume, _, seg = real("pelvis_3mm")
    inv = {n: k for k, n in seg.names.items()}
    ml = float(np.prod(volume.spacing)) / 1000
    # The left head's sphere, read off coronal slices: the screw's tip is inside it, the
    # acetabulum's roof just above it (voxel (i, j, k) = (31, 44, 11), 24 mm).
    centre = volume.index_to_physical([[31.0, 44.0, 11.0]])[0]
    lps = _lps(volume, seg.labels > 0)
    inside = np.linalg.norm(lps - centre, axis=1) < 24.0
    head = seg.labels[seg.labels > 0][inside]
    assert np.mean(head == inv["femur_left"]) >= 0.9  # measured 1.0 (0.69 with the cap cut off)
    # The mirror bones hold about as much below the femoral heads' top (the acetabulum, ischium
    # and pubis; measured 89 and 91 ml, 110 and 91 with the cap on the left hip bone)...
    p = {n: _lps(volume, seg.labels == inv[n]) for n in ("femur_left", "femur_right", "hip_left", "hip_right")}
    top = min(p["femur_left"][:, 2].max(), p["femur_right"][:, 2].max())
    low = {n: np.count_nonzero(p[n][:, 2] <= top) * ml for n in p}
    assert 0.9 <= low["hip_left"] / low["hip_right"] <= 1.1, low
    # ... and so do the femurs (measured 103 and 98 ml; 81 and 98).
    assert 0.9 <= low["femur_left"] / low["femur_right"] <= 1.1, low


MEDIUM = dict(size=96, pixel_mm=1.6, slices=70, slice_mm=3.0)  # the project's small phantom grid


def phantom_truth(spec: FemurSpec) -> np.ndarray:
    """The true solid bone: labels >= 1 without the lesion's soft-tissue extension."""
    return femur_phantom(replace(spec, soft_tissue_extension=False)).labels >= 1


@pytest.mark.parametrize("changes", [
    dict(),
    dict(tilt_deg=20.0, tilt_azimuth_deg=40.0),
    dict(lesion_type="blastic"),
    dict(lesion_type="blastic", tilt_deg=20.0, tilt_azimuth_deg=120.0),
    dict(bone_length_mm=200.0, lesion_length_mm=30.0, lesion_angle_deg=200.0),
], ids=["lytic", "lytic-tilt20", "blastic", "blastic-tilt20", "short-bone"])
def test_phantom_femur_is_one_solid_bone(changes):
    spec = FemurSpec(**{**MEDIUM, **changes})
    case = femur_phantom(spec)
    seg = segment_bones(case.volume)
    assert list(seg.names.values()) == ["femur_right"] and not seg.has_metal
    truth = phantom_truth(spec)
    femur = seg.labels > 0
    assert dice(femur, truth) >= 0.965  # measured 0.972 (short bone) to 0.992
    # What the lesion destroyed is inside the solid too (lytic: cortex broken on one side).
    destroyed = (case.labels == 2) & truth
    assert np.count_nonzero(femur & destroyed) >= 0.9 * np.count_nonzero(destroyed)


def test_phantom_on_a_coarse_grid():
    # 2 x 2 x 4 mm voxels: partial volume limits any threshold (the best global one gives 0.93).
    spec = FemurSpec(size=96, pixel_mm=2.0, slices=60, slice_mm=4.0, bone_length_mm=200.0,
                     lesion_length_mm=30.0, tilt_deg=20.0)
    seg = segment_bones(femur_phantom(spec).volume)
    assert list(seg.names.values()) == ["femur_right"]
    assert dice(seg.labels > 0, phantom_truth(spec)) >= 0.92


def test_same_input_same_output():
    volume, _, seg = real("abdomen_3mm")
    again = segment_bones(Volume(volume.array.copy(), volume.spacing, volume.origin, volume.direction))
    assert again.names == seg.names
    np.testing.assert_array_equal(again.labels, seg.labels)


def test_roi_restricts_the_work():
    volume, _, whole = real("abdomen_3mm")
    roi = (slice(5, 25), slice(None), slice(5, 117))
    seg = segment_bones(volume, roi=roi)
    outside = np.ones(volume.shape, dtype=bool)
    outside[roi] = False
    assert not np.any(seg.labels[outside]) and "vertebra" in seg.names.values()
    assert dice(seg.labels[roi] > 0, whole.labels[roi] > 0) > 0.9


def test_no_body_no_bone():
    air = Volume(np.full((6, 32, 32), -1000, dtype=np.int16), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), np.eye(3))
    seg = segment_bones(air)
    assert seg.names == {} and not np.any(seg.labels) and seg.metal is None and seg.warnings


def _disc(n, r, centre):
    jj, ii = np.mgrid[:n, :n]
    return np.hypot(jj - centre[0], ii - centre[1]) <= r


def test_broken_ring_rebuilt_to_its_round_outline():
    from skimage.morphology import convex_hull_image

    from implantgen.segment.long_bone import rebuild_break

    # A shaft's cross-section, 1 mm pixels: a cortex ring 4 mm thick, broken over 100 degrees.
    bone = _disc(48, 16, (24, 24))
    cortex = bone & ~_disc(48, 12, (24, 24))
    jj, ii = np.mgrid[:48, :48]
    gap = np.abs(np.degrees(np.arctan2(jj - 24, ii - 24))) < 50
    section = convex_hull_image(bone & ~(gap & cortex))
    out = rebuild_break(section, cortex & ~gap, np.array([1.0, 1.0]))
    assert np.count_nonzero(bone & ~section) > 40  # the hull's chord leaves the arc out
    # Rebuilt: the whole arc, and nothing a pixel beyond it (the hull has its own corners).
    assert np.count_nonzero(bone & ~out) <= 3
    assert not np.any(out & ~(section | _disc(48, 17, (24, 24))))
    # A flat, half-moon section has straight hull sides too, but no round outline to restore.
    moon = bone & (jj < 24)
    assert np.array_equal(rebuild_break(moon, moon & ~_disc(48, 12, (24, 24)), np.array([1.0, 1.0])), moon)
    # The empty hull of a section whose pixels lie on one line (it crashed a 0.95 mm phantom).
    empty = np.zeros((48, 48), bool)
    assert not rebuild_break(empty, empty, np.array([0.95, 0.95])).any()


def test_a_ring_mostly_destroyed_is_rebuilt_from_the_sections_around_it():
    from implantgen.segment.long_bone import long_bone_solid

    # A shaft of 20 sections (2 mm apart, 1 mm pixels), its cortex ring broken over 300 degrees
    # in the middle six: a 60-degree arc is too short to trust on its own, so the sections on
    # both sides give the circle.  A section whose cortex is off that circle is left alone.
    bone = _disc(48, 16, (24, 24))
    cortex = bone & ~_disc(48, 12, (24, 24))
    jj, ii = np.mgrid[:48, :48]
    left = np.abs(np.degrees(np.arctan2(jj - 24, ii - 24))) < 30
    mask = np.repeat(bone[None], 20, axis=0)
    edge = np.repeat(cortex[None], 20, axis=0)
    mask[7:13], edge[7:13] = cortex & left, cortex & left
    out = long_bone_solid(mask, 0, edge, (2.0, 1.0, 1.0))
    # Within 11 of its 805 pixels (a few at the very edge of the circle).
    assert all(np.count_nonzero(bone ^ out[k]) <= 12 for k in range(7, 13))
    small = _disc(48, 10, (24, 24)) & (jj < 24)
    mask[10], edge[10] = small, small
    assert np.array_equal(long_bone_solid(mask, 0, edge, (2.0, 1.0, 1.0))[10], small)


def test_section_hulls_are_convex_hull_image_of_pixel_centres():
    import warnings

    from skimage.morphology import convex_hull_image

    from implantgen.segment.hull import section_hulls

    rng = np.random.default_rng(3)
    stack = rng.random((300, 14, 17)) < rng.uniform(0.02, 0.6, (300, 1, 1))
    stack[::7] = False  # a few pixels only: lines, single pixels and empty sections
    stack[::7, rng.integers(0, 14, 40) % 14, rng.integers(0, 17, 40) % 17] = rng.random(40) < 0.1
    stack[5::7] = False
    stack[5::7, 3, 2:9] = True  # one row
    stack[6::7] = np.eye(14, 17, dtype=bool)  # one diagonal line
    hulls, flat = section_hulls(stack)
    for section, hull, is_flat in zip(stack, hulls, flat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = convex_hull_image(section, offset_coordinates=False) if section.any() else section
        assert np.array_equal(hull, ref) and is_flat == (not ref.any())


def test_fill_holes_2d_and_reconstruct_are_scipy_s():
    """The slice-by-slice hole filling (labelled within each slice's box of the mask) is
    binary_fill_holes of each slice; the trabecular hysteresis is binary_propagation."""
    from scipy import ndimage

    from implantgen.segment.body import fill_holes_2d
    from implantgen.segment.components import PLANE4 as _PLANE4
    from implantgen.segment.solid import reconstruct

    rng = np.random.default_rng(5)
    stack = rng.random((200, 13, 11)) < rng.uniform(0.0, 0.8, (200, 1, 1))
    stack[3::9, :2] = False  # boxes away from the array's edge too
    stack[4::9, :, -3:] = False
    filled = fill_holes_2d(stack)
    assert np.array_equal(filled, np.stack([ndimage.binary_fill_holes(s) for s in stack]))
    assert not fill_holes_2d(np.zeros((2, 0, 3), bool)).size
    seeds = stack & (rng.random(stack.shape) < 0.03)
    assert np.array_equal(reconstruct(seeds, stack, _PLANE4),
                          ndimage.binary_propagation(seeds, structure=_PLANE4, mask=stack))


@pytest.mark.parametrize("seed", [0, 1])
def test_max_depth_is_the_whole_distance_map_s(seed):
    from scipy import ndimage

    from implantgen.segment.features import max_depth

    rng = np.random.default_rng(seed)
    kk, jj, ii = np.mgrid[:61, :75, :69]  # odd sizes: blocks cut by the edge; over 200k voxels
    mask = ((kk - 25) / 24.0) ** 2 + ((jj - 40) / 30.0) ** 2 + ((ii - 30) / 20.0) ** 2 < 1
    mask |= ((kk - 45) / 14.0) ** 2 + ((jj - 20) / 15.0) ** 2 + ((ii - 50) / 17.0) ** 2 < 1
    mask &= rng.random(mask.shape) > 0.002  # specks of outside within the blobs
    spacing = np.array([1.0, 0.8, 0.7])
    ref = ndimage.distance_transform_edt(np.pad(mask, 1), sampling=spacing).max()
    assert max_depth(mask, spacing) == ref


def test_partial_slice_at_a_disc_goes_with_the_disc():
    # Two vertebral bodies (160 HU, a thin cortex ring) and a disc (90 HU, its annulus too)
    # between, on 3 mm slices: the slice cut through the endplate is the disc where it holds less
    # than half bone (111 HU: 30 %), bone where more (139 HU: 70 %).  Next to a lytic lesion (40 HU) in a body,
    # the full-density bone stays: only partial-volume voxels go.
    from implantgen.segment.solid import Levels, trabecular_interior
    levels = Levels(soft=49.0, trabecular=64.0, cortex=170.0)
    jj, ii = np.mgrid[0:80, 0:80] - 39.5
    r = np.hypot(jj / 16.0, ii / 20.0)
    ring, inside = (r <= 1) & (r > 0.9), r <= 0.9
    column = np.array([160.0] * 10 + [111.0, 90.0, 139.0] + [160.0] * 10, dtype=np.float32)
    g = np.where(inside[None], column[:, None, None], np.float32(40.0))
    g[:, ring] = 90.0 + (column[:, None] - 90.0) / 70.0 * 410.0  # the ring's share of bone
    lesion = np.hypot(jj, ii) <= 8.5
    g[3:7, lesion] = 40.0
    interior = trabecular_interior(g, g > levels.cortex, np.ones(g.shape, bool), (1.0, 1.0, 3.0), levels)
    share = interior[:, inside].mean(axis=1)
    assert share[10] < 0.05 and share[11] == 0.0 and share[12] > 0.9
    assert share[:10].min() > 0.75 and share[13:].min() > 0.9
    assert share[2] > 0.9 and share[7] > 0.9  # above and below the lesion


@pytest.mark.parametrize("speck", [1, 2, 3])
def test_a_speck_of_marrow_is_no_long_bone(speck):
    """A region of a voxel or a few, all marrow, has no shape to judge: it is not a tube (once,
    a one-voxel region of a fine-grid mixed-lesion phantom crashed the SVD's second axis)."""
    from implantgen.segment.separate import is_tube

    region = np.zeros((8, 8, 8), dtype=bool)
    region[4, 4, 4:4 + speck] = True
    assert not is_tube(region, region.copy(), (0.8, 0.8, 2.0))
    # A real shaft of marrow, 60 mm along k, 4 mm across, is one.
    shaft = np.zeros((40, 8, 8), dtype=bool)
    shaft[5:35, 2:6, 2:6] = True
    assert is_tube(shaft, shaft.copy(), (1.0, 1.0, 2.0))
