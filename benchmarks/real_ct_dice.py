"""Bone Dice on the real scans against their reference labels (TotalSegmentator's output).

For each scan in tests/data/real_ct with reference labels: the Dice of the union of our bones
against the union of the reference's bone labels on the scan's own grid; on the grid the
reference was drawn on, where that is coarser (abdomen_dicom's reference is a 3 mm grid
upsampled: tests/test_segment_bones.py proves it); and what that grid alone costs, our own
segmentation scored against its own 3 mm blocks (a reference that agreed with it perfectly,
drawn on that grid, would score no higher).

    python benchmarks/real_ct_dice.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real_ct"
SCANS = {"abdomen_dicom": "abdomen_dicom", "abdomen_3mm": "abdomen_3mm.nii.gz"}
BONES = ("vertebrae", "rib", "humerus", "femur", "hip", "sacrum", "sternum", "scapula", "clavicula")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def on_grid(mask: np.ndarray, grid) -> np.ndarray:
    """``mask`` brought onto ``grid`` (voxel counts) and back by nearest neighbour, as
    TotalSegmentator resamples its input and output."""
    small = ndimage.zoom(mask.astype(np.uint8), [g / n for g, n in zip(grid, mask.shape)], order=0)
    return ndimage.zoom(small, [n / g for n, g in zip(mask.shape, small.shape)], order=0) > 0


def main() -> None:
    from implantgen import load_ct
    from implantgen.load import load_label_map
    from implantgen.segment import segment_bones

    names = json.loads((REAL / "reference_label_names.json").read_text())
    bone_labels = [int(k) for k, n in names.items() if n.startswith(BONES)]
    for name, source in SCANS.items():
        volume = load_ct(REAL / source)
        t = time.perf_counter()
        ours = segment_bones(volume).labels > 0
        seconds = time.perf_counter() - t
        ref = np.isin(load_label_map(REAL / f"{name}_reference_labels.nii.gz", volume), bone_labels)
        line = f"{name}: {volume.shape} voxels of {np.round(volume.spacing, 2).tolist()} mm, Dice {dice(ours, ref):.4f}"
        grid = tuple(int(round(n * s / 3.0)) for n, s in zip(volume.shape, volume.spacing[::-1]))
        if grid != volume.shape and np.array_equal(on_grid(ref, grid), ref):  # drawn on 3 mm
            line += (f"; the reference is a 3 mm grid upsampled: ours on that grid {dice(on_grid(ours, grid), ref):.4f},"
                     f" ours against its own 3 mm blocks (what the grid alone costs) {dice(ours, on_grid(ours, grid)):.4f}")
        print(f"{line}; segmentation {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
