"""A shaft whose whole cross-section a lesion destroyed: its two pieces are joined and the emptied
sections rebuilt on the shaft's circle; bones that merely lie end to end at a joint are not."""

from __future__ import annotations

import numpy as np
import pytest

from implantgen.segment.features import bone_features
from implantgen.segment.long_bone import long_bone_solid
from implantgen.segment.shaft_gap import gap_pieces

STEP = 2.0  # mm, isotropic voxels
AFFINE = np.diag([STEP, STEP, STEP, 1.0])  # (i, j, k) -> LPS: z grows with k


def _shafts(gap=(50, 70), flare=False, offset_mm=0.0, gap_hu=40.0):
    """(labels, g, marrow) of two tubes (radius 13 mm, cortex 5 mm) along k, 2 mm voxels, the
    sections ``gap`` between them holding ``gap_hu``.  ``flare``: both ends facing the gap widen
    to 22 mm over their last 24 mm (a joint's); ``offset_mm``: the upper tube moved sideways."""
    shape = (120, 48, 48)
    k, j, i = np.indices(shape).astype(float) * STEP
    z = k[:, 0, 0]
    radius = np.full(shape[0], 13.0)
    if flare:
        to_gap = np.minimum(np.abs(z - gap[0] * STEP), np.abs(z - (gap[1] - 1) * STEP))
        radius = np.where(to_gap < 24.0, 13.0 + 9.0 * (1 - to_gap / 24.0), 13.0)
    upper = k >= gap[1] * STEP
    rho = np.hypot(j - 48.0, i - 48.0 - np.where(upper, offset_mm, 0.0))
    bone = rho <= radius[:, None, None]
    marrow = rho <= radius[:, None, None] - 5.0
    between = np.zeros(shape, dtype=bool)
    between[gap[0]:gap[1]] = True
    labels = np.where(bone & ~between, np.where(upper, 2, 1), 0).astype(np.int32)
    g = np.full(shape, 50.0, dtype=np.float32)  # muscle
    g[bone] = 1400.0
    g[marrow] = -80.0
    g[bone & between] = gap_hu
    return labels, g, marrow & ~between


def _joined(labels, g, marrow):
    feats = bone_features(labels, AFFINE, (STEP,) * 3, marrow, g, 1000.0)
    return gap_pieces(labels, feats, g, (STEP,) * 3)


def test_two_pieces_of_one_shaft_across_a_lesion_are_joined():
    assert _joined(*_shafts()) == {2: 1}
    assert _joined(*_shafts(gap=(58, 62))) == {2: 1}  # 8 mm
    assert _joined(*_shafts(gap=(30, 85))) == {2: 1}  # 110 mm


@pytest.mark.parametrize("case", [
    dict(flare=True, gap=(58, 61)),  # a joint: flared ends, a 6 mm space of soft-tissue density
    dict(flare=True),
    dict(offset_mm=10.0),  # not on one axis
    dict(gap_hu=-100.0),  # fat between them: no lesion
    dict(gap=(20, 100)),  # too far apart (160 mm)
], ids=["joint", "flared", "offset", "fat", "far"])
def test_bones_end_to_end_are_not_joined(case):
    assert _joined(*_shafts(**case)) == {}


def test_emptied_sections_rebuilt_on_the_shaft_circle():
    # One bone whose middle sections hold only specks of cortex: filled with the circle of the
    # round sections on both sides, where what lies there has a lesion's density.
    labels, g, _ = _shafts()
    mask = labels > 0
    mask[60, 24, 29] = True  # a speck of cortex left in the gap (10 mm off the axis)
    cortex = mask & (g > 1000)
    out = long_bone_solid(mask, 0, cortex, (STEP,) * 3, g)
    disc = labels[40] > 0
    # All but the 12 of its 137 pixels whose centres lie 12.8 mm out, past the circle's radius
    # (the median outermost pixel centre per 5 degrees of the round sections: 12.6 mm).
    assert all(np.count_nonzero(out[k] & ~disc) == 0 for k in range(50, 70))
    assert all(np.count_nonzero(disc & ~out[k]) <= 12 for k in range(50, 70))
    # No density given, fat there, or a section between wider than the shaft (a joint): as before.
    assert not long_bone_solid(mask, 0, cortex, (STEP,) * 3)[50:70].sum() > 1
    fat = np.where((labels == 0) & (g == 40.0), -100.0, g).astype(np.float32)
    assert long_bone_solid(mask, 0, cortex, (STEP,) * 3, fat)[50:70].sum() <= 1
    wide = mask.copy()
    wide[55] |= np.hypot(*(np.indices((48, 48)) - 24.0)) <= 10.0  # 20 mm: wider than the shaft
    assert long_bone_solid(wide, 0, wide & (g > 1000), (STEP,) * 3, g)[60].sum() <= 1
