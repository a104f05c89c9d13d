"""The real JPEG 2000 CT series: exact geometry, plausible HU, reference labels aligned physically."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from implantgen import load_ct
from implantgen.load import load_label_map

from .conftest import REAL

SERIES = REAL / "abdomen_dicom"
LABELS = REAL / "abdomen_dicom_reference_labels.nii.gz"
NAMES = json.loads((REAL / "reference_label_names.json").read_text())
BONE_LABELS = [int(k) for k, n in NAMES.items()
               if n.startswith(("vertebrae", "rib", "humerus", "femur", "hip", "sacrum", "sternum",
                                "scapula", "clavicula"))]


@pytest.fixture(scope="module")
def real():
    return load_ct(SERIES)


def test_real_series_is_jpeg2000_with_blank_uids():
    # What makes this series a hard case: compressed pixels and UIDs blanked by anonymisation.
    import pydicom

    ds = pydicom.dcmread(next(SERIES.iterdir()), stop_before_pixels=True)
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.JPEG2000Lossless
    assert ds.SeriesInstanceUID == ""


def test_real_series_geometry_is_exact(real):
    assert real.shape == (20, 512, 512)  # (slices, rows, columns)
    np.testing.assert_allclose(real.spacing, [0.9765625, 0.9765625, 2.0], atol=1e-9)
    np.testing.assert_allclose(real.origin, [-249.51171875, -437.51171875, -804.5], atol=1e-6)
    np.testing.assert_allclose(real.direction, np.eye(3), atol=1e-9)
    s = real.summary
    assert (s.modality, s.size, s.orientation) == ("CT", (512, 512, 20), "axial")
    assert s.slice_thickness == 3.0 and s.manufacturer == "SIEMENS" and "Br38f" in s.kernel
    assert "JPEG 2000" in s.transfer_syntax
    assert len(s.series_key) == 12 and "1.3.12" not in json.dumps(s.as_dict())


def test_real_series_hu_plausible(real):
    a = real.array
    assert a.dtype == np.int16
    anterior_air = a[:, :10, 200:300]  # in front of the patient
    assert abs(np.median(anterior_air) + 1000) < 30
    assert a.min() >= -1024 and a.max() > 1200
    labels = load_label_map(LABELS, real)
    bone = np.isin(labels, BONE_LABELS)
    assert np.percentile(a[bone], 99) > 300
    humerus = np.isin(labels, [69, 70])
    assert np.median(a[humerus]) > 300


def test_real_series_matches_an_independent_reader(real):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(SERIES)))
    img = reader.Execute()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img), real.array)
    np.testing.assert_allclose(img.GetOrigin(), real.origin, atol=1e-6)
    np.testing.assert_allclose(img.GetSpacing(), real.spacing, atol=1e-6)


def test_reference_labels_land_on_the_anatomy_by_physical_coordinates(real):
    raw = sitk.ReadImage(str(LABELS))
    # The label file stores the y axis flipped against the DICOM series: index overlay is wrong.
    assert raw.GetDirection()[4] == -1.0 and raw.GetSize() == (512, 512, 20)
    labels = load_label_map(LABELS, real)
    assert labels.shape == real.shape
    bone = np.isin(labels, BONE_LABELS)
    naive = np.isin(sitk.GetArrayFromImage(raw), BONE_LABELS)
    assert bone.sum() == naive.sum()  # same voxels, only placed differently
    aligned_dense = (real.array[bone] > 150).mean()
    naive_dense = (real.array[naive] > 150).mean()
    assert aligned_dense > 0.55 and np.median(real.array[bone]) > 150
    assert naive_dense < 0.1
    # Vertebrae T11/T12 and the spinal cord sit where they should: cord is soft tissue,
    # posterior (larger y in LPS) to the vertebral bodies.
    cord, vert = labels == 79, np.isin(labels, [32, 33])
    assert 0 < np.median(real.array[cord]) < 80
    ys = lambda m: real.index_to_physical(np.argwhere(m)[:, ::-1])[:, 1].mean()  # noqa: E731
    assert ys(cord) > ys(vert)


def test_volume_files_load_in_lps(tmp_path, real):
    # The same CT saved as NIfTI, NRRD and MetaImage reads back with the same voxels and geometry.
    img = real.to_sitk()
    for name in ("ct.nii.gz", "ct.nii", "ct.nrrd", "ct.mha"):
        sitk.WriteImage(img, str(tmp_path / name))
        vol = load_ct(tmp_path / name)
        np.testing.assert_array_equal(vol.array, real.array)
        np.testing.assert_allclose(vol.origin, real.origin, atol=1e-4)
        np.testing.assert_allclose(vol.direction, real.direction, atol=1e-6)
        assert vol.warnings == ()


def test_real_nifti_with_reference_labels():
    vol = load_ct(REAL / "abdomen_3mm.nii.gz")
    labels = load_label_map(REAL / "abdomen_3mm_reference_labels.nii.gz", vol)
    vert = np.isin(labels, [int(k) for k, n in NAMES.items() if n.startswith("vertebrae")])
    assert vert.sum() > 1000 and np.median(vol.array[vert]) > 150
    assert vol.warnings == ()
