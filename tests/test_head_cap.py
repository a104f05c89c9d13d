"""A femoral head cap left with the hip bone beside a screw, given back to its femur."""

from __future__ import annotations

import numpy as np

from implantgen.segment.head_cap import in_sphere, rejoin_head_caps

from .test_joint import SPACING, synthetic_hip

AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])  # x grows with i: the patient's left is at large i
NAMES = {1: "hip_right", 2: "femur_right", 3: "hip_left", 4: "femur_left"}


def pelvis_with_a_screw():
    """(labels, g, metal, centre of the left head (k, j, i), radius mm): two mirror-image hips
    side by side, a screw up the left femoral neck into its head, and the left head's upper half
    left with the hip bone as the density split leaves it."""
    region, g, femur, centre, radius = synthetic_hip()  # the left hip, its neck out to +x
    n = region.shape[2]
    labels = np.zeros(region.shape[:2] + (2 * n,), dtype=np.int32)
    gg = np.zeros(labels.shape, dtype=np.float32)
    labels[..., :n] = np.where(femur, 2, np.where(region, 1, 0))[..., ::-1]
    gg[..., :n] = g[..., ::-1]
    k, j, i = np.indices(region.shape)
    cap = femur & (k > centre[0])
    labels[..., n:] = np.where(femur & ~cap, 4, np.where(region, 3, 0))
    gg[..., n:] = g
    # The screw: along the neck (out to +x and down) from just above the head's centre.
    t = ((i - centre[2]) - (k - centre[0])) / np.sqrt(2.0)
    off2 = (k - centre[0]) ** 2 + (j - centre[1]) ** 2 + (i - centre[2]) ** 2 - t ** 2
    screw = np.zeros(labels.shape, dtype=bool)
    screw[..., n:] = (t > -3.0) & (t < 20.0) & (off2 <= 1.0)
    labels[screw] = 0
    gg[screw] = 3000.0
    return labels, gg, screw, centre + [0.0, 0.0, n], radius


def test_head_cap_rejoined_to_the_femur_beside_the_screw():
    labels, g, metal, centre, radius = pelvis_with_a_screw()
    midline_x = (labels.shape[2] - 1) / 2.0 * 3.0
    out = rejoin_head_caps(labels, NAMES, g, metal, SPACING, AFFINE, midline_x)
    assert out is not None
    head = in_sphere(labels.shape, centre, radius - 1.5, SPACING) & (labels > 0)
    assert np.mean(labels[head] == 4) < 0.7  # the cap is with the hip bone
    assert np.mean(out[head] == 4) >= 0.95
    assert not np.any(out[metal])
    # The right side, no metal there, is left alone; so is everything without metal.
    assert np.array_equal(out[..., : labels.shape[2] // 2], labels[..., : labels.shape[2] // 2])
    assert rejoin_head_caps(labels, NAMES, g, None, SPACING, AFFINE, midline_x) is None


def test_in_sphere_counts_voxel_centres():
    ball = in_sphere((9, 9, 9), (4.0, 4.0, 4.0), 3.5, (1.0, 1.0, 1.0))
    assert ball[4, 4, 4] and ball[4, 4, 7] and not ball[4, 4, 8] and not ball[1, 1, 1]
    assert abs(np.count_nonzero(ball) - 4.0 / 3.0 * np.pi * 3.5 ** 3) < 25
