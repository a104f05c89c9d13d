"""Anatomical names from the bones' measured features (implantgen.segment.names).

The features are those our segmentation measured on pelvis_3mm (shared/data/real_ct, see
tests/data/NOTICE), ribs left out: the names must not hang on a bone's share of fatty marrow,
which the sacrum had at 0.029 against the long-bone mark of 0.03, and which an old patient's
vertebrae can have far above it.
"""

from dataclasses import replace

import numpy as np
import pytest

from implantgen.segment.features import BoneFeatures
from implantgen.segment.names import LONG_MARROW, name_bones


def _f(label, ml, centroid, low, high, depth, marrow, length, width, axis):
    return BoneFeatures(label, ml, np.array(centroid), np.array(low), np.array(high), depth, marrow,
                        length, width, np.array(axis), 0.3)


PELVIS = [
    _f(1, 57.7, [5.0, -100.1, 414.1], [-80.0, -137.3, 376.3], [88.0, -56.3, 427.3], 12.0, 0.0, 166.0, 78.2, [-1.0, -0.2, 0.0]),
    _f(10, 60.6, [5.7, -112.7, 384.7], [-32.0, -146.3, 352.3], [40.0, -62.3, 403.3], 12.7, 0.0, 84.8, 72.2, [0.1, -1.0, 0.2]),
    _f(11, 58.6, [5.0, -125.4, 351.4], [-38.0, -158.3, 334.3], [40.0, -65.3, 370.3], 15.0, 0.0, 93.1, 78.5, [0.1, -1.0, 0.0]),
    _f(12, 68.4, [3.7, -130.1, 316.7], [-50.0, -164.3, 298.3], [49.0, -68.3, 334.3], 15.0, 0.0, 98.5, 99.0, [-0.1, 1.0, 0.1]),
    _f(13, 53.3, [5.5, -140.3, 279.2], [-32.0, -164.3, 259.3], [40.0, -101.3, 301.3], 13.7, 0.0, 72.4, 68.6, [0.8, 0.6, 0.2]),
    _f(14, 192.8, [-3.2, -104.6, 229.2], [-59.0, -158.3, 142.3], [55.0, -44.3, 301.3], 15.3, 0.0293, 145.9, 107.4, [0.2, -0.7, 0.7]),
    _f(15, 329.0, [75.2, -126.2, 181.1], [-8.0, -200.3, 94.3], [142.0, -53.3, 274.3], 16.2, 0.0, 211.4, 181.9, [0.2, 0.3, 0.9]),
    _f(16, 296.7, [-74.1, -130.2, 180.3], [-137.0, -206.3, 94.3], [10.0, -56.3, 271.3], 13.7, 0.0, 211.9, 162.4, [-0.3, 0.3, 0.9]),
    _f(17, 98.0, [-94.5, -140.4, 123.3], [-152.0, -170.3, 94.3], [-59.0, -104.3, 154.3], 17.5, 0.0, 104.0, 58.3, [0.9, -0.3, 0.4]),
    _f(18, 103.1, [99.8, -135.1, 120.4], [61.0, -182.3, 94.3], [148.0, -77.3, 154.3], 9.0, 0.0039, 111.6, 72.6, [-0.7, -0.6, 0.3]),
]
BODY_X = (-185.0, 178.0)
NAMES = {1: "vertebra", 10: "vertebra_2", 11: "vertebra_3", 12: "vertebra_4", 13: "vertebra_5", 14: "sacrum",
         15: "hip_left", 16: "hip_right", 17: "femur_right", 18: "femur_left"}


def test_pelvis_bones_are_named_as_measured():
    assert name_bones(PELVIS, BODY_X) == NAMES


@pytest.mark.parametrize("marrow", [LONG_MARROW, 0.1, 0.3])
def test_fatty_marrow_does_not_make_the_spine_a_limb(marrow):
    spine = {label for label, name in NAMES.items() if name.startswith(("vertebra", "sacrum"))}
    fatty = [replace(f, marrow_fraction=marrow) if f.label in spine else f for f in PELVIS]
    assert name_bones(fatty, BODY_X) == NAMES
