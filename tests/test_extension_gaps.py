"""A mixed lesion's soft-tissue extension on a slice where it does not touch the break.

On 1.3 x 2.5 mm voxels an island's blur or the cortex can stand between a slice's break and
its part of the extension: grown from each slice's own break, that slice lost all of it.  Between
slices where it was found it now joins from them (segment/extension.py).  This short lesion
(seed 11, case 23 of the mixed sweep) lost two of its six extension slices: Dice 0.794 with both
planes within 1 mm; with the gaps filled 0.818, planes unchanged.  Not yet issue 3's 0.85: the
rest of its extension reads like the muscle (the lesion's texture), see the report of that work.
"""

import numpy as np

from implantgen.phantom import FemurSpec, femur_phantom
from implantgen.plan import make_plan
from implantgen.segment import segment_bones
from implantgen.segment.target import find_target

COARSE = dict(size=112, pixel_mm=1.3, slices=114, slice_mm=2.5, bone_length_mm=270.0)
CASE = dict(COARSE, lesion_type="mixed", lesion_length_mm=22.58, lesion_center_mm=-5.48, tilt_deg=8.96,
            tilt_azimuth_deg=102.9, lesion_angle_deg=218.08, noise_hu=18.24, seed=249)


def test_extension_slices_apart_from_the_break_are_kept():
    spec = FemurSpec(**CASE)
    case = femur_phantom(spec)
    target = find_target(case.volume, segment_bones(case.volume))
    plan = make_plan(case.volume, target, spec.margin_mm)
    mask, truth = target.lesion.mask, case.labels == 2
    dice = 2 * np.count_nonzero(mask & truth) / (np.count_nonzero(mask) + np.count_nonzero(truth))
    assert target.lesion.type == "mixed"
    assert dice >= 0.81, dice  # 0.794 when each slice grew from its own break only
    for cut, t in zip(plan.osteotomies, case.truth["osteotomies"]):
        assert abs((cut.point - np.array(t["point"])) @ np.array(t["normal"])) <= 1.0


# Mixed lesions whose core, the part the lesion grew from, holds few voxels clear of islands
# on 1.3 x 2.5 mm voxels: the level read there was off by 4-9 HU, and the extension is told from
# the muscle by it (segment/mixed_lesion.extension_level).  Seed 11 of the mixed sweep, case 15:
# the core read 49 HU for lytic tissue of 40, too like the muscle: no extension, Dice 0.754.
# Case 55: the core read 38 HU, the midpoint too far from the muscle: Dice 0.831 (0.855 now).
SHORT_CORE = dict(COARSE, lesion_type="mixed", lesion_length_mm=23.24, lesion_center_mm=6.31, tilt_deg=2.59,
                  tilt_azimuth_deg=159.53, lesion_angle_deg=283.06, noise_hu=23.21, seed=927)
LOW_CORE = dict(COARSE, lesion_type="mixed", lesion_length_mm=28.68, lesion_center_mm=11.11, tilt_deg=12.3,
                tilt_azimuth_deg=145.9, lesion_angle_deg=106.04, noise_hu=22.08, seed=48)


def _found(spec_kw):
    case = femur_phantom(FemurSpec(**spec_kw))
    target = find_target(case.volume, segment_bones(case.volume))
    mask, truth = target.lesion.mask, case.labels == 2
    outside = truth & ~(femur_phantom(FemurSpec(**dict(spec_kw, soft_tissue_extension=False))).labels >= 1)
    dice = 2 * np.count_nonzero(mask & truth) / (np.count_nonzero(mask) + np.count_nonzero(truth))
    return target.lesion, dice, np.count_nonzero(mask & outside) / np.count_nonzero(outside)


def test_extension_told_by_the_whole_lesions_level_when_its_core_reads_like_muscle():
    lesion, dice, found = _found(SHORT_CORE)
    assert lesion.type == "mixed"
    assert not any("too alike" in w for w in lesion.warnings)
    assert found >= 0.5, found  # 0 with the core's level, 0.81 now
    assert dice >= 0.82, dice  # 0.754 with the core's level, 0.835 now


def test_extension_told_by_the_whole_lesions_level_when_its_core_reads_low():
    lesion, dice, _ = _found(LOW_CORE)
    assert lesion.type == "mixed"
    assert dice >= 0.85, dice  # 0.832 with the core's level
