"""A mixed lesion's soft-tissue extension through a partial cortical break is one lobe.

On 1.3 x 2.5 mm voxels the lesion's texture (10 HU, 3-7 mm waves) makes patches of its
extension read like the muscle beside it even smoothed, and the cortex's blur lifts its rim past
the periosteum: grown by density alone from the break, the extension came out holed, apart from
the break on some slices, and missed them (segment/extension.py, the lobe).  Cases of the mixed
sweep (seed 12 case 31, seed 11 case 47), both planes within 1 mm before and after.
"""

import numpy as np

from implantgen.phantom import FemurSpec, femur_phantom
from implantgen.segment import segment_bones
from implantgen.segment.target import find_target

COARSE = dict(size=112, pixel_mm=1.3, slices=114, slice_mm=2.5, bone_length_mm=270.0, lesion_type="mixed")
HOLED = dict(COARSE, lesion_length_mm=29.27, lesion_center_mm=21.91, tilt_deg=8.62, tilt_azimuth_deg=156.63,
             lesion_angle_deg=313.93, noise_hu=22.58, seed=198)
APART = dict(COARSE, lesion_length_mm=38.98, lesion_center_mm=-6.79, tilt_deg=11.85, tilt_azimuth_deg=58.63,
             lesion_angle_deg=4.08, noise_hu=18.07, seed=717)


def _found(spec_kw):
    """(lesion, Dice against the phantom's truth, share of the truth outside the bone found)."""
    case = femur_phantom(FemurSpec(**spec_kw))
    lesion = find_target(case.volume, segment_bones(case.volume)).lesion
    mask, truth = lesion.mask, case.labels == 2
    outside = truth & ~(femur_phantom(FemurSpec(**dict(spec_kw, soft_tissue_extension=False))).labels >= 1)
    dice = 2 * np.count_nonzero(mask & truth) / (np.count_nonzero(mask) + np.count_nonzero(truth))
    return lesion, dice, np.count_nonzero(mask & outside) / np.count_nonzero(outside)


def test_holed_extension_is_closed_with_the_bone():
    lesion, dice, found = _found(HOLED)
    assert lesion.type == "mixed"
    assert found >= 0.64, found  # 0.59 grown by density alone, 0.67 now
    assert dice >= 0.85, dice  # 0.840 before, 0.852 now


def test_extension_slices_apart_from_the_break_join_the_lobe():
    lesion, dice, found = _found(APART)
    assert lesion.type == "mixed"
    assert found >= 0.62, found  # 0.54 before, 0.67 now
    assert dice >= 0.845, dice  # 0.835 before, 0.851 now


# Small lesions' extensions (mixed sweep seed 11 case 23, seed 12 case 19): lobes a few mm
# across, whose edge in the smoothed image reads more like the muscle than the midpoint does.
SMALL = dict(COARSE, lesion_length_mm=22.58, lesion_center_mm=-5.48, tilt_deg=9.96, tilt_azimuth_deg=102.9,
             lesion_angle_deg=218.08, noise_hu=18.24, seed=249)
SMALLER = dict(COARSE, lesion_length_mm=18.08, lesion_center_mm=-24.49, tilt_deg=2.48, tilt_azimuth_deg=331.69,
               lesion_angle_deg=250.39, noise_hu=14.89, seed=196)


def test_a_small_lobe_is_drawn_at_its_own_edge():
    for spec, before in ((SMALL, (0.35, 0.833)), (SMALLER, (0.47, 0.848))):
        lesion, dice, found = _found(spec)
        assert lesion.type == "mixed"
        assert found >= 0.5, (found, before)  # 0.35 and 0.47 drawn at the midpoint, 0.52 and 0.58 now
        assert dice >= 0.85, (dice, before)  # 0.833 and 0.848 before, 0.852 and 0.858 now
