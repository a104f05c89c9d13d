"""The hip joint's cut on a synthetic hip: a femoral head fused to its acetabulum."""

from __future__ import annotations

import numpy as np

from implantgen.segment.joint import cut_femur, find_head, split_merged_femurs

SPACING = (3.0, 3.0, 3.0)
AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])  # (i, j, k) -> LPS: x grows with i, z with k


def synthetic_hip():
    """(region, g, truth femur, centre (k, j, i), radius mm): a head of radius 24 mm fused to a
    cup over its upper half, an ilium above it, a neck and trochanter out to +x and down."""
    shape = (40, 40, 50)
    k, j, i = np.indices(shape).astype(float) * 3.0
    c = np.array([45.0, 60.0, 60.0])  # mm, (k, j, i)
    r = np.sqrt((k - c[0]) ** 2 + (j - c[1]) ** 2 + (i - c[2]) ** 2)
    head = r < 24.0
    cup = (r < 36.0) & (k > c[0]) & ~head  # the acetabulum over the head, partial volume in the joint
    ilium = (k > c[0] + 20.0) & (np.abs(j - c[1]) < 12.0) & (i > c[2] - 30.0) & (i < c[2] + 10.0)
    t = ((i - c[2]) + -(k - c[0])) / np.sqrt(2.0)  # along the neck: out to +x and down
    off = np.sqrt(np.maximum((k - c[0]) ** 2 + (j - c[1]) ** 2 + (i - c[2]) ** 2 - t ** 2, 0.0))
    neck = (t > 0.0) & (t < 70.0) & (off < 14.0)
    femur = head | (neck & ~cup & ~ilium)
    region = femur | cup | ilium
    g = np.where(region, 250.0, 0.0)
    g[(np.abs(r - 22.5) < 2.0) & region] = 600.0  # the head's subchondral plate
    g[(np.abs(r - 26.0) < 1.5) & cup] = 180.0  # the blurred joint space, no gap
    return region, g.astype(np.float32), femur, c / 3.0, 24.0


def test_head_found_and_femur_cut_off():
    region, g, femur, centre, radius = synthetic_hip()
    head = find_head(region, g, SPACING, AFFINE)
    assert head is not None
    assert np.linalg.norm((head[0] - centre) * 3.0) <= 4.5 and abs(head[1] - radius) <= 3.0
    cut = cut_femur(region, g, 122.0, SPACING, AFFINE, head, midline_x=0.0)
    assert cut is not None
    dice = 2.0 * np.count_nonzero(cut & femur) / (np.count_nonzero(cut) + np.count_nonzero(femur))
    assert dice >= 0.9, dice


def test_head_left_with_the_hip_bone_goes_back_to_its_femur():
    """The density split ran through the femoral neck (as through a lytic lesion there), not the
    joint: the femur's neck is named, its head is still part of the hip bone.  Cut again along
    the head's sphere, the femur gets its head back and keeps all of its neck."""
    region, g, femur, centre, radius = synthetic_hip()
    k = np.indices(region.shape)[0]
    neck = femur & (k < centre[0] - 6)  # 18 mm below the head's centre
    labels = np.where(neck, 2, np.where(region, 1, 0)).astype(np.int32)
    out = split_merged_femurs(labels, {1: "hip_right", 2: "femur_right"}, g, 122.0, SPACING, AFFINE, 0.0)
    assert out is not None
    cut = out == 2
    assert np.all(cut[neck])
    dice = 2.0 * np.count_nonzero(cut & femur) / (np.count_nonzero(cut) + np.count_nonzero(femur))
    assert dice >= 0.9, dice
