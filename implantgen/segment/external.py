"""Bone segmentations made elsewhere: a TotalSegmentator label map or any NRRD/NIfTI label map.

Aligned to the CT by physical coordinates (never by array index).  With TotalSegmentator's
names, only bones are kept and named our way (femur_left, hip_right, vertebra_T11, rib_left_5...);
with no names every label is a bone called bone_N.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..load import load_label_map
from ..records import BoneSegmentation, Volume

_BONE_PREFIXES = ("vertebrae_", "rib_", "femur_", "hip_", "humerus_", "scapula_", "clavicula_",
                  "sacrum", "sternum", "skull", "tibia", "fibula", "radius", "ulna", "patella")


def totalsegmentator_names() -> dict[int, str]:
    text = resources.files("implantgen.data").joinpath("totalsegmentator_names.json").read_text()
    return {int(k): v for k, v in json.loads(text).items()}


def _our_name(name: str) -> str:
    return name.replace("vertebrae_", "vertebra_")


def bones_from_label_map(path, volume: Volume, names: dict[int, str] | str | None = None) -> BoneSegmentation:
    """Bones from a label map file; ``names`` is a {label: name} dict, a JSON file of one,
    "totalsegmentator", or None (every label a bone)."""
    if names == "totalsegmentator":
        names = totalsegmentator_names()
    elif isinstance(names, (str, Path)):
        try:
            names = {int(k): str(v) for k, v in json.loads(Path(names).read_text()).items()}
        except (OSError, ValueError):
            raise InputError(f"The label names file {names} cannot be read as JSON {{label: name}}: fix it.") from None
    labels = load_label_map(path, volume)
    present = [int(v) for v in np.unique(labels) if v > 0]
    if names:
        keep = {v: _our_name(names[v]) for v in present if v in names and names[v].startswith(_BONE_PREFIXES)}
        if not keep:
            raise InputError(f"The label map {path} holds no bone label by its names: check the names file.")
    else:
        keep = {v: f"bone_{v}" for v in present}
    out = np.zeros(labels.shape, dtype=np.uint16 if max(keep) > 255 else np.uint8)
    for value in keep:
        out[labels == value] = value
    return BoneSegmentation(labels=out, names=keep, metal=None, method=f"external:{Path(path).name}")
