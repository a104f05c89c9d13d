"""A voxel the lesion encloses on every side is the lesion's.

Left out (a speck of cortex remnant or marrow inside a mixed lesion and its extension), each
such voxel is a void shell inside lesion.stl: the golden case of a 58 mm mixed lesion on 1.5 x 3
mm voxels (sweep_plans' draw 6 of rng 7) had four, and its lesion.stl five bodies.
"""

import numpy as np
import pytest
import trimesh

from implantgen.mesh.surface import mask_surface
from implantgen.phantom import FemurSpec, femur_phantom
from implantgen.segment import segment_bones
from implantgen.segment.lesion import fill_holes
from implantgen.segment.target import find_target

SPEC = dict(size=110, pixel_mm=1.5, slice_mm=3.0, slices=100, bone_length_mm=334.0471, lesion_type="mixed",
            lesion_length_mm=58.044, lesion_center_mm=-29.4707, tilt_deg=16.9015, tilt_azimuth_deg=340.1814,
            lesion_angle_deg=325.41, noise_hu=17.6852, seed=280)


def test_a_mixed_lesion_encloses_no_specks_and_meshes_as_one_body():
    case = femur_phantom(FemurSpec(**SPEC))
    target = find_target(case.volume, segment_bones(case.volume))
    mask = target.lesion.mask
    assert target.lesion.type == "mixed"
    assert np.array_equal(fill_holes(mask), mask)  # before: 4 enclosed voxels
    assert target.lesion.volume_ml == pytest.approx(np.count_nonzero(mask) * np.prod(case.volume.spacing) / 1000)
    mesh = mask_surface(case.volume, mask)
    assert len(mesh.split(only_watertight=False)) == 1 and mesh.is_watertight and mesh.volume > 0
    assert isinstance(mesh, trimesh.Trimesh)
