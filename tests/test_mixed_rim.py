"""A mixed lesion's outer layer in-plane, taken by the opening, given back.

On 1.5 x 3 mm voxels a mixed lesion's lytic tissue is cut thin in-plane by its islands and by
the guard against marrow-cortex mixtures beside them, and the one-voxel opening in _refine took
its outer layer: lesion (covered over half) as often as not, two true voxels for each false one
away from the cortex.  Cases 17 and 29 of the mixed sweep's seed 11 on 1.5 x 3 mm voxels
(partial breaks, 35 and 40 mm): Dice 0.817, 0.816 before; the window's voxels in-plane next to
what the opening kept (not beside cortex, not on the core's end slices) are lesion again: 0.840,
0.835.
"""

import numpy as np
import pytest

from implantgen.phantom import FemurSpec, femur_phantom
from implantgen.segment import segment_bones
from implantgen.segment.target import find_target

GRID = dict(size=97, pixel_mm=1.5, slices=95, slice_mm=3.0, bone_length_mm=270.0, lesion_type="mixed")
TILTED = dict(GRID, lesion_length_mm=34.6471, lesion_center_mm=-21.9557, tilt_deg=17.4077,
              tilt_azimuth_deg=229.0901, lesion_angle_deg=57.5094, noise_hu=16.4706, seed=244)
STRAIGHT = dict(GRID, lesion_length_mm=39.633, lesion_center_mm=3.2897, tilt_deg=1.2513,
                tilt_azimuth_deg=199.8247, lesion_angle_deg=293.2573, noise_hu=19.9943, seed=782)


@pytest.mark.parametrize("spec_kw", [TILTED, STRAIGHT])  # before: 0.817, 0.816
def test_a_mixed_lesions_outer_layer_in_plane_is_kept(spec_kw):
    case = femur_phantom(FemurSpec(**spec_kw))
    target = find_target(case.volume, segment_bones(case.volume))
    mask, truth = target.lesion.mask, case.labels == 2
    dice = 2 * np.count_nonzero(mask & truth) / (np.count_nonzero(mask) + np.count_nonzero(truth))
    assert target.lesion.type == "mixed"
    assert dice >= 0.83, dice  # now 0.840, 0.835
