"""The density split (separate.py) on synthetic bones whose truth is known: two bones meeting at
a joint come apart; a dense core deep inside one bone (a blastic lesion, a bone island) does
not make a second bone."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from implantgen.segment.separate import separate_bones

SPACING = np.array([1.0, 1.0, 1.0])  # x, y, z mm
CORTEX_HU = 400.0


def _bone(shape=(50, 50, 70)) -> np.ndarray:
    """HU of a box-shaped bone: trabecular 200 HU inside a 3 mm cortex of 1200 HU, thickened
    to 10 mm at one end (a thick cortex: the density tree wants a piece 6 mm deep)."""
    hu = np.full(shape, 1200.0, dtype=np.float32)
    hu[3:-3, 3:-3, 10:-3] = 200.0
    return hu


def _padded(hu: np.ndarray):
    """(the solid, the smoothed HU) of ``hu`` set in 2 mm of soft tissue (0 HU)."""
    hu = np.pad(hu, 2)
    return hu > 0, ndimage.gaussian_filter(hu, 1.0)


def test_a_dense_core_inside_a_bone_is_no_second_bone():
    hu = _bone()
    k, j, i = np.indices(hu.shape)
    core = (k - 25) ** 2 + (j - 25) ** 2 + (i - 40) ** 2 <= 12 ** 2  # 7.2 ml at 900 HU, 13 mm deep
    hu[core] = 900.0
    labels = separate_bones(*_padded(hu), CORTEX_HU, SPACING)
    assert labels.max() == 1 and np.count_nonzero(labels) == hu.size


def test_two_bones_at_a_joint_still_come_apart():
    left, right = _bone(), _bone()[:, :, ::-1]  # thick ends at the scan's far ends
    joint = np.full((50, 50, 3), 100.0, dtype=np.float32)  # a 3 mm joint space, in the solid
    hu = np.concatenate([left, joint, right], axis=2)
    labels = separate_bones(*_padded(hu), CORTEX_HU, SPACING)[2:-2, 2:-2, 2:-2]
    assert labels.max() == 2
    # Each bone is one label; the joint is split between them.
    assert len(np.unique(labels[:, :, :70])) == 1 and len(np.unique(labels[:, :, -70:])) == 1
    assert labels[0, 0, 0] != labels[0, 0, -1]
