"""Lesions simulated into the real bones of pelvis_3mm, found with a seed: a case a line.

Each lesion is an ellipsoid (radius R in-plane, 1.3 R along the slices; lytic 40 HU with noise
10 HU, or with --kind blastic 650 HU with noise 60 HU (docs/domain.md: untreated blastic ~650);
a one-voxel partial-volume edge: tests/test_lesions_real.simulate_lesion) centred where the bone
is deepest on every STEP-th slice that is deep enough to hold it.  Our own segmentation of the
lesioned CT is searched with the seed at the lesion's centre; Dice is against the ellipsoid's
voxels in the bone.  "not found" is the plan's refusal (no lesion near the seed).  "bone" is
the Dice, outside the lesion, of the clean scan's bone with the label holding most of it in the
lesioned scan (named after "as" where its name changed): a lesion must not move a bone's
boundary (give the femoral head to the hip bone, split the sacrum, merge two vertebrae).

    python benchmarks/real_lesions.py [--kind lytic|blastic] [--bones femur_right,hip_right,...]
                                      [--radii 8,10] [--step 4]
    python benchmarks/real_lesions.py --scan abdomen_3mm.nii.gz --bones vertebra,vertebra_2,vertebra_3 --step 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"lytic": (40.0, 10.0), "blastic": (650.0, 60.0)}  # HU, noise HU
sys.path.insert(0, str(ROOT))  # for tests.test_lesions_real


def main() -> None:
    from implantgen import load_ct
    from implantgen.errors import PlanNotFeasible
    from implantgen.segment import segment_bones
    from implantgen.segment.target import find_target
    from tests.test_lesions_real import _dice, simulate_lesion

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=sorted(KINDS), default="lytic")
    ap.add_argument("--scan", default="pelvis_3mm.nii.gz")
    ap.add_argument("--bones", default="femur_right,femur_left,hip_right,hip_left,sacrum")
    ap.add_argument("--radii", default="8,10")
    ap.add_argument("--step", type=int, default=4)
    args = ap.parse_args()
    volume = load_ct(ROOT / "tests" / "data" / "real_ct" / args.scan)
    bones = segment_bones(volume)
    dice, kept = [], []
    for name in args.bones.split(","):
        mask = bones.labels == [label for label, n in bones.names.items() if n == name][0]
        depth = ndimage.distance_transform_edt(mask, sampling=volume.spacing[::-1])
        slices = np.flatnonzero(mask.any(axis=(1, 2)))
        for radius in (float(r) for r in args.radii.split(",")):
            for k in range(slices[0], slices[-1] + 1, args.step):
                if depth[k].max() < radius + 1.5:  # the left femur: the screw's channel
                    continue
                j, i = np.unravel_index(np.argmax(depth[k]), depth[k].shape)
                centre = volume.index_to_physical([[i, j, k]])[0]
                hu, noise = KINDS[args.kind]
                sick, truth = simulate_lesion(volume, centre, (radius, radius, 1.3 * radius), hu=hu, noise=noise, seed=k)
                truth &= mask
                line = f"{name:12s} R {radius:4.1f} mm  slice {k:3d}  {truth.sum():4d} voxels: "
                try:
                    sick_bones = segment_bones(sick)
                    kept.append(_kept(sick_bones, mask, truth, name))
                    line += f"bone {kept[-1][0]:.2f}{kept[-1][1]}, "
                    target = find_target(sick, sick_bones, seed=tuple(centre))
                except PlanNotFeasible:
                    dice.append(0.0)
                    print(line + "not found", flush=True)
                    continue
                dice.append(_dice(target.lesion.mask, truth))
                print(line + f"{target.name} {target.lesion.type}, {target.lesion.mask.sum():5d} found, "
                      f"Dice {dice[-1]:.2f}", flush=True)
    d = np.array(dice)
    b = np.array([k[0] for k in kept])
    print(f"{len(d)} lesions: mean Dice {d.mean():.3f}; >= 0.85 in {(d >= 0.85).sum()}, >= 0.7 in {(d >= 0.7).sum()}; "
          f"host bone's label kept (Dice >= 0.95) in {(b >= 0.95).sum()}, worst {b.min():.2f}")


def _kept(bones, mask: np.ndarray, truth: np.ndarray, name: str) -> tuple[float, str]:
    """(Dice of the clean bone ``mask`` with the label of ``bones`` holding most of it, both
    outside the lesion ``truth``; " as NAME" where that label's name is not ``name``, else "")."""
    from tests.test_lesions_real import _dice

    clean = mask & ~truth
    counts = np.bincount(bones.labels[clean], minlength=int(bones.labels.max()) + 1)
    counts[0] = 0
    label = int(np.argmax(counts))
    if counts[label] == 0:
        return 0.0, " (none)"
    other = bones.names.get(label, f"bone_{label}")
    return _dice((bones.labels == label) & ~truth, clean), ("" if other == name else f" as {other}")


if __name__ == "__main__":
    main()
