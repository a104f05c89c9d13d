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

from .test_plan_phantoms import MIXED_3MM

COARSE = dict(size=112, pixel_mm=1.3, slices=114, slice_mm=2.5, bone_length_mm=270.0, lesion_type="mixed")
HOLED = dict(COARSE, lesion_length_mm=29.27, lesion_center_mm=21.91, tilt_deg=8.62, tilt_azimuth_deg=156.63,
             lesion_angle_deg=313.93, noise_hu=22.58, seed=198)
APART = dict(COARSE, lesion_length_mm=38.98, lesion_center_mm=-6.79, tilt_deg=11.85, tilt_azimuth_deg=58.63,
             lesion_angle_deg=4.08, noise_hu=18.07, seed=717)


def _found(spec_kw):
    """(lesion, Dice against the phantom's truth, share of the truth outside the bone found,
    slices of that truth with none of it found)."""
    case = femur_phantom(FemurSpec(**spec_kw))
    lesion = find_target(case.volume, segment_bones(case.volume)).lesion
    mask, truth = lesion.mask, case.labels == 2
    outside = truth & ~(femur_phantom(FemurSpec(**dict(spec_kw, soft_tissue_extension=False))).labels >= 1)
    dice = 2 * np.count_nonzero(mask & truth) / (np.count_nonzero(mask) + np.count_nonzero(truth))
    found = mask & outside
    missed = np.count_nonzero(outside.any(axis=(1, 2)) & ~found.any(axis=(1, 2)))
    return lesion, dice, np.count_nonzero(found) / np.count_nonzero(outside), missed


def test_holed_extension_is_closed_with_the_bone():
    lesion, dice, found, _ = _found(HOLED)
    assert lesion.type == "mixed"
    assert found >= 0.64, found  # 0.59 grown by density alone, 0.67 as a lobe, 0.69 with _wide_lobe
    assert dice >= 0.85, dice  # 0.840 before, 0.852 as a lobe, 0.867 with _wide_lobe


def test_extension_slices_apart_from_the_break_join_the_lobe():
    lesion, dice, found, _ = _found(APART)
    assert lesion.type == "mixed"
    assert found >= 0.62, found  # 0.54 before, 0.67 as a lobe, 0.69 with _wide_lobe
    assert dice >= 0.845, dice  # 0.835 before, 0.851 as a lobe, 0.874 with _wide_lobe


# Small lesions' extensions (mixed sweep seed 11 case 23, seed 12 case 19): lobes a few mm
# across, whose edge in the smoothed image reads more like the muscle than the midpoint does.
SMALL = dict(COARSE, lesion_length_mm=22.58, lesion_center_mm=-5.48, tilt_deg=9.96, tilt_azimuth_deg=102.9,
             lesion_angle_deg=218.08, noise_hu=18.24, seed=249)
SMALLER = dict(COARSE, lesion_length_mm=18.08, lesion_center_mm=-24.49, tilt_deg=2.48, tilt_azimuth_deg=331.69,
               lesion_angle_deg=250.39, noise_hu=14.89, seed=196)


def test_a_small_lobe_is_drawn_at_its_own_edge():
    for spec, before in ((SMALL, (0.35, 0.833)), (SMALLER, (0.47, 0.848))):
        lesion, dice, found, _ = _found(spec)
        assert lesion.type == "mixed"
        assert found >= 0.5, (found, before)  # 0.35 and 0.47 drawn at the midpoint, 0.52 and 0.58 at its edge
        # Dice 0.833 and 0.848 before, 0.852 and 0.858 at its edge, 0.859 and 0.864 with _wide_lobe
        assert dice >= 0.85, (dice, before)


# On 1.5 x 3 mm voxels the texture outlasts the 2 mm smoothing: whole patches of the lobe, and its
# end slices, read like the muscle, and it came out as a crescent along the bone, holed and slices
# short at its ends.  It is also grown on a 3 mm smoothing (_wide_lobe) and a slice past its ends
# (_next_slices).  Mixed sweep --grid 1.5x3, seed 11 cases 5 and 11; their planes did not move.
LONG = dict(MIXED_3MM, lesion_length_mm=64.28, lesion_center_mm=-3.50, tilt_deg=2.95, tilt_azimuth_deg=242.41,
            lesion_angle_deg=72.80, noise_hu=23.32, seed=83)
SHORT = dict(MIXED_3MM, lesion_length_mm=20.11, lesion_center_mm=-24.10, tilt_deg=5.86, tilt_azimuth_deg=261.76,
             lesion_angle_deg=177.54, noise_hu=22.50, seed=190)


def test_a_textured_lobe_is_found_to_its_end_slices():
    lesion, dice, found, missed = _found(LONG)
    assert lesion.type == "mixed"
    assert found >= 0.5, found  # 0.42 before, 0.56 now, 0.62 with _lobe_hull
    assert missed <= 3, missed  # 5 of its 13 slices before (2 in its middle), 3 now
    assert dice >= 0.845, dice  # 0.828 before, 0.850 now, 0.860 with _lobe_hull


def test_a_short_lesions_lobe_is_found_on_its_own_slices():
    lesion, dice, found, missed = _found(SHORT)
    assert lesion.type == "mixed"
    assert found >= 0.6, found  # 0.35 before, 0.69 now, 0.72 with _lobe_hull
    assert dice >= 0.825, dice  # 0.795 before, 0.833 now, 0.836 with _lobe_hull


# A lobe pushed out of its break is a convex lump on its opening: where density alone left a side
# of the opening or its texture's patches out, it is filled to the convex hull of its core (the
# lobe where the slices above and below hold it too) and the opening (_lobe_hull).  Mixed sweep
# --grid 1.5x3, seed 11 case 17 (a 35 mm lesion tilted 17 degrees); its planes did not move.
LUMP = dict(MIXED_3MM, lesion_length_mm=34.65, lesion_center_mm=-21.96, tilt_deg=17.41, tilt_azimuth_deg=229.09,
            lesion_angle_deg=57.51, noise_hu=16.47, seed=244)


def test_a_lobe_is_filled_to_a_lump_on_its_opening():
    lesion, dice, found, missed = _found(LUMP)
    assert lesion.type == "mixed"
    assert found >= 0.78, found  # 0.76 before, 0.81 now
    assert dice >= 0.855, dice  # 0.846 before, 0.858 now
