"""The files of a planned case: label map and surfaces, each checked before it is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..geometry import bbox
from ..mesh import mask_between_planes, mask_surface, mesh_report, write_stl
from ..records import BONE_LABEL, LESION_LABEL, OTHER_BONE_LABEL, Volume

# segmentation.nrrd labels (contract)
_VOLUME_TOLERANCE = 0.03  # a surface must enclose its mask's volume within 3%


def label_map_image(labels: np.ndarray, volume: Volume) -> sitk.Image:
    """A label map on the CT grid, as an image that 3D Slicer puts onto the CT as it is."""
    if labels.dtype != np.uint8:  # a uint8 map is used as it is, not copied (100 MB at 512x512x400)
        labels = labels.astype(np.uint8 if labels.max() < 256 else np.uint16)
    return volume.with_array(labels).to_sitk()


def write_label_map(labels: np.ndarray, volume: Volume, path: Path) -> sitk.Image:
    """Write ``label_map_image``; returns the image written (the report can take it instead of
    reading the file back)."""
    img = label_map_image(labels, volume)
    sitk.WriteImage(img, str(path), useCompression=True)
    return img


def ct_crop_image(volume: Volume, mask: np.ndarray, pad_mm: float = 25.0) -> sitk.Image:
    """The CT's HU around ``mask`` (its box grown by ``pad_mm``), placed in patient space, for the
    viewer and the report: pixels and geometry only, no DICOM fields, so no patient data."""
    from ..geometry import bbox, sub_volume

    pad = tuple(int(np.ceil(pad_mm / s)) for s in volume.spacing[::-1])
    crop = sub_volume(volume, bbox(mask, pad))
    hu = np.clip(np.rint(crop.array), -32768, 32767).astype(np.int16)  # whole HU are enough to view
    return crop.with_array(np.ascontiguousarray(hu)).to_sitk()


def write_ct_image(img: sitk.Image, path: Path) -> None:
    # gzip level 1: about half the default's time (0.31 -> 0.17 s at 512x512x400) for a third
    # more bytes; CT noise does not compress much better at higher levels anyway
    sitk.WriteImage(img, str(path), useCompression=True, compressionLevel=1)


def segmentation_labels(bone_labels: np.ndarray, target_solid: np.ndarray, lesion: np.ndarray) -> np.ndarray:
    # One new array, changed in place, and copyto(where=) only in the masks' boxes: boolean-index
    # assignment is a few times slower on 100M voxels, and each pass over them costs ~0.05 s.
    out = np.greater(bone_labels, 0).view(np.uint8)
    out *= np.uint8(OTHER_BONE_LABEL)
    for mask, label in ((target_solid, BONE_LABEL), (lesion, LESION_LABEL)):
        roi = bbox(mask)
        if roi is not None:
            np.copyto(out[roi], label, where=mask[roi])
    return out


def _surface(volume: Volume, mask: np.ndarray):
    """(mask_surface, its mesh_report, the mask it bounds).  A mask with a cavity meeting its
    outer surface along a voxel edge gets four faces on that edge from marching cubes, and the
    surface is not closed: its cavities (a few voxels) are then filled and the surface made
    again."""
    mesh = mask_surface(volume, mask)
    report = mesh_report(mesh)
    if not report["watertight"]:
        roi = bbox(mask, 1)
        filled = np.zeros(mask.shape, dtype=bool)
        filled[roi] = ndimage.binary_fill_holes(mask[roi])
        mask, mesh = filled, mask_surface(volume, filled)
        report = mesh_report(mesh)
    return mesh, report, mask


def _checked(report: dict, name: str, mask_ml: float | None) -> dict:
    if not (report["watertight"] and report["outward"]):
        raise RuntimeError(f"{name} is not a closed, outward surface: {report}")
    if mask_ml:
        report["mask_volume_ml"] = round(mask_ml, 4)
        report["volume_vs_mask"] = round(report["volume_ml"] / mask_ml - 1.0, 5)
        if abs(report["volume_vs_mask"]) > _VOLUME_TOLERANCE:
            raise RuntimeError(f"{name} encloses {report['volume_ml']} ml for a {mask_ml:.3f} ml mask")
    return report


def write_surfaces(folder: Path, volume: Volume, bone: np.ndarray, lesion: np.ndarray, cuts) -> dict:
    """bone.stl, lesion.stl and resected_segment.stl; returns their checks."""
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    # count_nonzero, not sum: 0.02 s instead of 0.15 s on a 100M-voxel mask; np.int64 keeps the
    # numbers numpy scalars, as sum gave (round() of them is numpy's)
    bone_ml, lesion_ml = (np.int64(np.count_nonzero(m)) * voxel_ml for m in (bone, lesion))
    bone_mesh, bone_report, bone = _surface(volume, bone)
    lesion_mesh, lesion_report, _ = _surface(volume, lesion)
    low, high = cuts
    segment = mask_between_planes(volume, bone, (low.point, low.normal), (high.point, high.normal), bone_mesh)
    checks = {
        "bone.stl": _checked(bone_report, "bone.stl", bone_ml),
        "lesion.stl": _checked(lesion_report, "lesion.stl", lesion_ml),
        "resected_segment.stl": _checked(mesh_report(segment), "resected_segment.stl", None),
    }
    write_stl(bone_mesh, folder / "bone.stl")
    write_stl(lesion_mesh, folder / "lesion.stl")
    write_stl(segment, folder / "resected_segment.stl")
    return checks


def write_case_files(folder: Path, volume: Volume, bone: np.ndarray, lesion: np.ndarray, cuts,
                     images: dict) -> dict:
    """segmentation.nrrd and ct.nrrd from the images made by ``label_map_image`` and
    ``ct_crop_image`` (keys label_image, ct_image), and the three surfaces; returns the
    surfaces' checks."""
    sitk.WriteImage(images["label_image"], str(folder / "segmentation.nrrd"), useCompression=True)
    write_ct_image(images["ct_image"], folder / "ct.nrrd")
    return write_surfaces(folder, volume, bone, lesion, cuts)
