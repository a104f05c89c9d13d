"""The femur phantom's ground truth is true: checked against its own voxels, independently.

Small grids (96 x 96 pixels of 1.6 mm, 70 slices of 3 mm) keep this file to a few seconds.
"""

import json
import math

import numpy as np
import pytest
from scipy import ndimage

from implantgen.phantom.femur import THIGH_SEMI_AXES, FemurSpec, femur_phantom

SMALL = dict(size=96, pixel_mm=1.6, slices=70, slice_mm=3.0)
_CACHE = {}


def small(**changes) -> FemurSpec:
    return FemurSpec(**{**SMALL, **changes})


def phantom(spec: FemurSpec):
    if spec not in _CACHE:
        _CACHE[spec] = femur_phantom(spec)
    return _CACHE[spec]


def rotation(axis, degrees) -> np.ndarray:
    """Rodrigues: the matrix that turns by `degrees` about `axis`."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    a = math.radians(degrees)
    return np.eye(3) + math.sin(a) * K + (1 - math.cos(a)) * K @ K


OBLIQUE = tuple(rotation([1.0, 1.0, 0.3], 20.0).ravel())  # columns = LPS directions of i, j, k


def centres(volume) -> np.ndarray:
    """(k, j, i, 3) LPS positions of all voxel centres."""
    k, j, i = np.indices(volume.shape)
    ijk = np.stack([i, j, k], axis=-1).reshape(-1, 3)
    return volume.index_to_physical(ijk).reshape(volume.shape + (3,))


def axis_of(case):
    axis = case.truth["bone"]["axis"]
    return np.array(axis["point"]), np.array(axis["direction"])


def axial_and_radius(case):
    """Position along the truth axis and distance from it, for every voxel centre."""
    point, d = axis_of(case)
    rel = centres(case.volume) - point
    s = rel @ d
    return s, np.linalg.norm(rel - s[..., None] * d, axis=-1)


def sample(case, points, order=1) -> np.ndarray:
    """HU (order 1) or labels (order 0) at LPS points (N, 3)."""
    ijk = case.volume.physical_to_index(np.atleast_2d(points))
    data = case.volume.array.astype(float) if order else case.labels
    return ndimage.map_coordinates(data, ijk[:, ::-1].T, order=order, mode="nearest")


def perpendiculars(d: np.ndarray, n: int = 8) -> np.ndarray:
    e1 = np.cross(d, [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(d, e1)
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.cos(a)[:, None] * e1 + np.sin(a)[:, None] * e2


@pytest.mark.parametrize("changes", [
    dict(),
    dict(tilt_deg=15.0, tilt_azimuth_deg=60.0, lesion_angle_deg=200.0),
    dict(direction=OBLIQUE, tilt_deg=5.0, tilt_azimuth_deg=250.0, lesion_center_mm=-12.0),
    dict(lesion_type="blastic", tilt_deg=15.0, tilt_azimuth_deg=120.0, lesion_length_mm=30.0),
], ids=["axial", "tilt15", "oblique", "blastic-tilt15"])
def test_lesion_extent_matches_labels(changes):
    case = phantom(small(**changes))
    lo, hi = case.truth["lesion"]["extent_along_axis_mm"]
    spec = case.truth["spec"]
    assert hi - lo == pytest.approx(spec["lesion_length_mm"])
    assert (lo + hi) / 2 == pytest.approx(spec["lesion_center_mm"])
    s, _ = axial_and_radius(case)
    s_lesion = s[case.labels == 2]
    diagonal = float(np.linalg.norm(case.volume.spacing))
    assert s_lesion.size > 50
    assert lo - 1e-3 <= s_lesion.min() <= lo + diagonal
    assert hi - diagonal <= s_lesion.max() <= hi + 1e-3
    voxel_ml = float(np.prod(case.volume.spacing)) / 1000
    assert case.truth["lesion"]["volume_ml"] == pytest.approx(s_lesion.size * voxel_ml, abs=1e-3)
    # The stated centre is inside the lesion.
    assert sample(case, case.truth["lesion"]["center"], order=0)[0] == 2


@pytest.mark.parametrize("changes", [dict(), dict(tilt_deg=15.0, tilt_azimuth_deg=300.0),
                                     dict(direction=OBLIQUE, tilt_deg=8.0)])
def test_axis_runs_through_the_canal(changes):
    case = phantom(small(**changes))
    point, d = axis_of(case)
    r = case.truth["bone"]["shaft_outer_radius_mm"]
    rc = case.truth["bone"]["canal_radius_mm"]
    for s in (-65.0, -45.0, 45.0, 65.0):  # diaphysis, well clear of the lesion (-20..20)
        centre = point + s * d
        assert -120 < sample(case, centre)[0] < -40, f"marrow on the axis at s={s}"
        assert sample(case, centre, order=0)[0] == 1
        ring = centre + perpendiculars(d) * (rc + r) / 2
        assert np.all(sample(case, ring) > 700), f"cortex at s={s}"
        assert np.all(sample(case, ring, order=0) == 1)
        outside = centre + perpendiculars(d) * (r + 5.0)
        assert np.all(np.abs(sample(case, outside) - 50) < 50), f"muscle around the bone at s={s}"
        assert np.all(sample(case, outside, order=0) == 0)
    # The shaft is a solid of revolution about the axis: a slab of it is centred on the axis.
    s, _ = axial_and_radius(case)
    for s0 in (-50.0, 50.0):
        slab = centres(case.volume)[(case.labels == 1) & (np.abs(s - s0) < 8.0)]
        off = slab.mean(axis=0) - point
        assert np.linalg.norm(off - (off @ d) * d) < 0.3


@pytest.mark.parametrize("changes", [
    dict(), dict(tilt_deg=12.0, tilt_azimuth_deg=45.0),
    dict(direction=OBLIQUE, tilt_deg=10.0, tilt_azimuth_deg=135.0),
])
def test_bone_volume_matches_the_solid(changes):
    # 190 mm fits in the 210 mm scan even tilted; no extension, so labels >= 1 is the bone.
    case = phantom(small(bone_length_mm=190.0, lesion_length_mm=30.0,
                         soft_tissue_extension=False, **changes))
    truth_ml = case.truth["bone"]["solid_volume_ml"]
    r, length = case.truth["bone"]["shaft_outer_radius_mm"], 190.0
    assert math.pi * r**2 * length < truth_ml * 1000 < math.pi * (2.2 * r) ** 2 * length
    voxel_ml = float(np.prod(case.volume.spacing)) / 1000
    labelled_ml = np.count_nonzero(case.labels >= 1) * voxel_ml
    assert labelled_ml == pytest.approx(truth_ml, rel=0.03)
    # Both ends are in the scan: labelled bone spans the stated extent.
    s, _ = axial_and_radius(case)
    lo, hi = case.truth["bone"]["extent_along_axis_mm"]
    assert lo - 1e-3 <= s[case.labels >= 1].min() <= lo + 3.5
    assert hi - 3.5 <= s[case.labels >= 1].max() <= hi + 1e-3


def test_soft_tissue_extension_lies_outside_the_bone():
    spec = dict(bone_length_mm=190.0, lesion_length_mm=30.0)
    without = phantom(small(soft_tissue_extension=False, **spec))
    with_ext = phantom(small(**spec))
    extra_ml = (np.count_nonzero(with_ext.labels >= 1) - np.count_nonzero(without.labels >= 1)) \
        * float(np.prod(with_ext.volume.spacing)) / 1000
    assert 0.3 < extra_ml < 3.0
    assert with_ext.truth["lesion"]["cortical_involvement"] >= \
        without.truth["lesion"]["cortical_involvement"]


def test_tissue_hounsfield_units():
    case = phantom(small())
    hu = case.volume.array
    x, y, _ = np.moveaxis(centres(case.volume) - centres(case.volume).mean(axis=(0, 1, 2)), -1, 0)
    a, b = THIGH_SEMI_AXES

    def inside(depth):  # inside the thigh outline shrunk by depth mm
        return (x / (a - depth)) ** 2 + (y / (b - depth)) ** 2 < 1

    s, rho = axial_and_radius(case)
    air = ~inside(-5.0)
    assert abs(hu[air].mean() + 1000) < 3 and 9 < hu[air].std() < 14
    fat = inside(5.0) & ~inside(13.0)
    assert -110 < np.median(hu[fat]) < -90
    muscle = inside(22.0) & (rho > 30.0)
    assert 40 < np.median(hu[muscle]) < 60 and hu[muscle].std() < 20
    r, rc = case.truth["bone"]["shaft_outer_radius_mm"], case.truth["bone"]["canal_radius_mm"]
    shaft = (np.abs(s) > 35) & (np.abs(s) < 70)
    cortex = shaft & (rho > rc + 1.5) & (rho < r - 1.5)
    assert 1200 < np.median(hu[cortex]) < 1600
    assert -110 < np.median(hu[shaft & (rho < rc - 2.5)]) < -50  # fatty marrow


def test_metaphysis_is_trabecular():
    case = phantom(small(bone_length_mm=190.0, lesion_length_mm=30.0))
    s, rho = axial_and_radius(case)
    metaphysis = (np.abs(s) > 68) & (np.abs(s) < 80) & (rho < 5.0)
    assert 150 < np.median(case.volume.array[metaphysis]) < 310


def test_lesion_through_the_cortex_holds_no_cortex():
    # Where the lytic lesion breaks through the cortex it has replaced it: its voxels at the
    # bone's outer surface are lesion and muscle, both soft tissue.  Mixing the lesion over the
    # voxel's already mixed cortex value would leave a bright seam (median ~280 HU) there.
    case = phantom(small(noise_hu=0.0, soft_tissue_extension=False))
    lesion = case.labels == 2
    surface = lesion & ndimage.binary_dilation(case.labels == 0)
    assert surface.sum() > 50
    assert np.median(case.volume.array[surface]) < 100


@pytest.mark.parametrize("kind, low, high", [("lytic", 0, 100), ("blastic", 500, 1000)])
def test_lesion_hounsfield_units(kind, low, high):
    case = phantom(small(lesion_type=kind, tilt_deg=15.0 if kind == "blastic" else 0.0))
    assert low < np.median(case.volume.array[case.labels == 2]) < high


def test_mixed_lesion_is_lytic_with_sclerotic_islands():
    # The lytic body and its extension, with about a third of the body at blastic density and
    # none of the extension; the noise and the rest of the CT are those of the lytic phantom.
    spec = dict(size=160, pixel_mm=0.8, slices=60, slice_mm=2.0, bone_length_mm=200.0)
    mixed, lytic = phantom(small(lesion_type="mixed", **spec)), phantom(small(**spec))
    assert np.array_equal(mixed.labels, lytic.labels) and mixed.truth["lesion"]["type"] == "mixed"
    lesion = mixed.labels == 2
    away = ~ndimage.binary_dilation(lesion, iterations=6)  # past partial volume and the blur
    assert np.array_equal(mixed.volume.array[away], lytic.volume.array[away])
    _, rho = axial_and_radius(mixed)
    r = mixed.truth["bone"]["shaft_outer_radius_mm"]
    body, extension = lesion & (rho < r - 1.0), lesion & (rho > r + 2.0)
    dense = mixed.volume.array > 450
    assert 0.2 < np.count_nonzero(body & dense) / np.count_nonzero(body) < 0.45
    assert extension.sum() > 100 and np.count_nonzero(extension & dense) == 0


def test_cortical_involvement_matches_labels():
    case = phantom(small())
    point, d = axis_of(case)
    r, rc = case.truth["bone"]["shaft_outer_radius_mm"], case.truth["bone"]["canal_radius_mm"]
    lo, hi = case.truth["lesion"]["extent_along_axis_mm"]
    ring = perpendiculars(d, 720) * (r + rc) / 2
    worst = max(np.mean(sample(case, point + s * d + ring, order=0) == 2)
                for s in np.arange(lo, hi, 1.0))
    truth = case.truth["lesion"]["cortical_involvement"]
    assert 0.1 < truth < 0.9
    assert worst == pytest.approx(truth, abs=0.08)
    assert phantom(small(lesion_type="blastic")).truth["lesion"]["cortical_involvement"] == 0.0


def test_truth_plan_geometry_and_json():
    case = phantom(small(tilt_deg=15.0, tilt_azimuth_deg=60.0, margin_mm=25.0))
    t = json.loads(json.dumps(case.truth))
    point, d = axis_of(case)
    assert t["schema"] == "implantgen.phantom-truth/1" and t["bone"]["name"] == "femur_right"
    assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-4) and d[2] > 0
    assert d[2] == pytest.approx(math.cos(math.radians(15.0)), abs=1e-4)
    lo, hi = t["lesion"]["extent_along_axis_mm"]
    distal, proximal = t["osteotomies"]
    tol = 5e-3  # the truth is rounded to 4 decimals: 1e-4 in a direction is 5e-3 mm at 50 mm
    assert (np.array(distal["point"]) - point) @ d == pytest.approx(lo - 25.0, abs=tol)
    assert (np.array(proximal["point"]) - point) @ d == pytest.approx(hi + 25.0, abs=tol)
    for cut in (distal, proximal):
        assert np.allclose(cut["normal"], d, atol=1e-4)
        assert np.linalg.norm(np.cross(np.array(cut["point"]) - point, d)) < tol  # on the axis
    assert t["resection_length_mm"] == pytest.approx(hi - lo + 50.0)
    # The grid is centred on the thigh: the bone centre lies near the middle of the volume.
    middle = case.volume.index_to_physical([(np.array(case.volume.shape[::-1]) - 1) / 2])[0]
    assert np.linalg.norm(middle - point) < 15.0


def test_same_seed_same_volume_other_seed_other_noise():
    spec = small(size=64, slices=24, bone_length_mm=120.0, lesion_length_mm=20.0)
    first, again = femur_phantom(spec), femur_phantom(spec)
    assert np.array_equal(first.volume.array, again.volume.array)
    assert np.array_equal(first.labels, again.labels) and first.truth == again.truth
    other = femur_phantom(FemurSpec(**{**spec.__dict__, "seed": 1}))
    assert np.array_equal(first.labels, other.labels)  # the anatomy does not depend on the seed
    diff = first.volume.array.astype(float) - other.volume.array.astype(float)
    air = first.volume.array < -900
    both_air = air & (other.volume.array < -900)
    assert 0.8 * math.sqrt(2) * 12 < diff[both_air].std() < 1.2 * math.sqrt(2) * 12


@pytest.mark.parametrize("changes", [
    dict(lesion_center_mm=120.0),  # in the metaphysis
    dict(lesion_center_mm=80.0, lesion_length_mm=20.0),  # reaches past the shaft's end (85)
    dict(lesion_center_mm=-200.0),  # beyond the bone
    dict(lesion_length_mm=250.0),  # longer than the shaft
])
def test_lesion_outside_the_shaft_is_refused(changes):
    with pytest.raises(ValueError, match="shaft"):
        femur_phantom(small(**changes))


def test_nonsense_specs_are_refused():
    for changes in (dict(lesion_type="sclerotic"), dict(direction=(1, 0, 0, 0, 2, 0, 0, 0, 1))):
        with pytest.raises(ValueError):
            femur_phantom(small(**changes))
