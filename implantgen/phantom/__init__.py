"""Synthetic CT cases with known ground truth, written as real DICOM series.

``write_phantom(folder, spec)`` writes::

    folder/CT/CT00001.dcm ...     the series (CT Image Storage, one file per slice)
    folder/truth.json             bone axis, lesion extent, osteotomies for the margin
    folder/truth_labels.nrrd      label map on the CT grid: 1 bone, 2 lesion
"""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from ..export.plan_json import write_json
from ..outdir import atomic_output_dir
from .dicom_write import write_ct_series, write_slices
from .femur import FemurSpec, PhantomCase, femur_phantom

__all__ = ["FemurSpec", "PhantomCase", "femur_phantom", "write_phantom", "write_ct_series", "write_slices"]

KINDS = {"femur": (FemurSpec, femur_phantom)}


def write_labels(labels, volume, path: Path) -> None:
    sitk.WriteImage(volume.with_array(labels).to_sitk(), str(path), useCompression=True)


def write_phantom(folder, spec=None, *, kind: str = "femur", rescale=(1.0, -1024.0),
                  compression: str = "none", masks: bool = True) -> PhantomCase:
    """Make a phantom case and write it into the new folder ``folder`` (all or nothing)."""
    spec_type, make = KINDS[kind]
    case = make(spec or spec_type())
    with atomic_output_dir(folder) as tmp:
        write_ct_series(case.volume, Path(tmp) / "CT", seed=case.truth["spec"]["seed"],
                        rescale=rescale, compression=compression,
                        description=f"implantgen phantom {kind}")
        write_json(Path(tmp) / "truth.json", case.truth)
        if masks:
            write_labels(case.labels, case.volume, Path(tmp) / "truth_labels.nrrd")
    return case
