"""A mixed lesion broken all round: its extension told from the muscle by a level read clear of
the islands' fainter partial volume.

On 3 mm slices an island's partial volume reaches a slice or more past it faintly (a sixth of a
780 HU island's voxel lifts it by over 100 HU), so the level read a step clear of 250 HU came to
44-47 HU for lytic tissue of 40, and the extension, a sleeve round the bone, took the muscle (50
HU) beside it.  Case 12 of the mixed sweep's seed 11 on 1.5 x 3 mm voxels (whole circumference,
27 mm): read at 47 HU, Dice 0.841; clear of 150 HU (segment/mixed_lesion.sleeve_level) 44 HU,
0.879.  Case 16 of seed 12 (23 mm, noise 23 HU): 0.826 -> 0.856.
"""

import numpy as np
import pytest

from implantgen.phantom import FemurSpec, femur_phantom
from implantgen.segment import segment_bones
from implantgen.segment.target import find_target

GRID = dict(size=97, pixel_mm=1.5, slices=95, slice_mm=3.0, bone_length_mm=270.0, lesion_type="mixed",
            cortex_destroyed=1.0)
SLEEVE = dict(GRID, lesion_length_mm=26.9466, lesion_center_mm=-9.2409, tilt_deg=5.1628,
              tilt_azimuth_deg=352.1884, lesion_angle_deg=338.7622, noise_hu=13.7917, seed=935)
NOISY = dict(GRID, lesion_length_mm=23.2571, lesion_center_mm=-15.5447, tilt_deg=0.1416,
             tilt_azimuth_deg=25.635, lesion_angle_deg=270.41, noise_hu=23.3565, seed=100)


@pytest.mark.parametrize("spec_kw, least", [(SLEEVE, 0.86), (NOISY, 0.845)])  # before: 0.841, 0.826
def test_a_sleeve_extension_is_told_by_the_level_clear_of_the_islands(spec_kw, least):
    case = femur_phantom(FemurSpec(**spec_kw))
    target = find_target(case.volume, segment_bones(case.volume))
    mask, truth = target.lesion.mask, case.labels == 2
    dice = 2 * np.count_nonzero(mask & truth) / (np.count_nonzero(mask) + np.count_nonzero(truth))
    assert target.lesion.type == "mixed"
    assert dice >= least, dice  # now 0.879, 0.856
