"""Lesion detection and the resection plan against phantoms whose truth is known.

Across bone tilts up to 20 degrees, lesion lengths from 15 to 80 mm, positions along the shaft,
noise levels and lesion types: lesion Dice >= 0.85 and its extent along the axis within 1 mm;
osteotomy planes within 1 mm and normals within 2 degrees of the truth.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from implantgen.errors import PlanNotFeasible
from implantgen.geometry import angle_deg, bbox
from implantgen.phantom import FemurSpec, femur_phantom
from implantgen.plan import make_plan
from implantgen.records import LesionCriteria
from implantgen.segment import segment_bones
from implantgen.segment.target import find_target

# 286 mm of scan for a 270 mm bone: room for an 80 mm lesion, 20 mm margins and 60 mm stems.
GRID = dict(size=112, pixel_mm=1.3, slices=114, slice_mm=2.5, bone_length_mm=270.0)

CASES = {
    "straight-40": dict(),
    "tilt10-30": dict(tilt_deg=10.0, tilt_azimuth_deg=200.0, lesion_length_mm=30.0, lesion_center_mm=-8.3),
    "tilt20-50": dict(tilt_deg=20.0, tilt_azimuth_deg=60.0, lesion_length_mm=50.0, lesion_center_mm=4.1),
    "short-15": dict(lesion_length_mm=15.0, lesion_center_mm=11.7, tilt_deg=5.0),
    "long-80": dict(lesion_length_mm=80.0, lesion_center_mm=-3.0, tilt_deg=8.0, tilt_azimuth_deg=90.0),
    "noisy-25": dict(noise_hu=25.0, lesion_center_mm=-12.6, seed=5),
    "blastic": dict(lesion_type="blastic", tilt_deg=12.0, lesion_center_mm=6.2, lesion_angle_deg=140.0),
    "fine-slices": dict(size=150, pixel_mm=0.95, slices=200, slice_mm=1.25, bone_length_mm=236.0,
                        tilt_deg=15.0, lesion_length_mm=35.0, lesion_center_mm=2.2),
}
# A short lytic lesion is the hard case: a fifth of it is its soft-tissue extension, 10 HU from
# the muscle around it.  Other noise, more noise and a tilt must not take it below the target.
SHORT = CASES["short-15"]
CASES.update({
    "short-15-seed1": dict(SHORT, seed=1),
    "short-15-noise20": dict(SHORT, seed=2, noise_hu=20.0),
    "short-15-tilt15": dict(SHORT, tilt_deg=15.0, tilt_azimuth_deg=130.0, lesion_center_mm=-30.0),
    # These overshot by 1.1-1.4 mm while the tip was the farthest single voxel: its crest lies
    # against the endosteum, where the cortex's blur reads as lesion, and noise picks the worst.
    "short-15-seed4-noise20": dict(SHORT, seed=4, noise_hu=20.0),
    "short-15-seed6-tilt15": dict(SHORT, seed=6, tilt_deg=15.0, tilt_azimuth_deg=130.0,
                                  lesion_center_mm=-30.0),
    "short-15-noise25": dict(lesion_length_mm=15.0, lesion_center_mm=-20.0, seed=7, noise_hu=25.0),
    "short-15-tilt20": dict(lesion_length_mm=15.0, lesion_center_mm=25.0, seed=8, noise_hu=15.0,
                            tilt_deg=20.0, tilt_azimuth_deg=300.0),
    "tilt12-20-noise20": dict(lesion_length_mm=20.0, lesion_center_mm=-5.0, seed=12, noise_hu=20.0,
                              tilt_deg=12.0, tilt_azimuth_deg=250.0, lesion_angle_deg=200.0),
    "tilt18-25-noise25": dict(lesion_length_mm=25.0, lesion_center_mm=30.0, seed=13, noise_hu=25.0,
                              tilt_deg=18.0, tilt_azimuth_deg=100.0),
    # The extension ran a slice past the lesion's low end (a noise blob in the muscle joined it at
    # the end slice): the low plane was 1.9 mm out until it kept to the slices of the break.
    "short-15-seed401-noise20": dict(lesion_length_mm=15.0, lesion_center_mm=-45.6, seed=401,
                                     noise_hu=19.9, tilt_deg=6.8, tilt_azimuth_deg=157.0,
                                     lesion_angle_deg=354.0),
    # The same leak at the high end put the plane 2.25 mm out.  Dice 0.83 while the refining
    # opening reached across slices with the marrow clear of the lesion's window (it cut the end
    # slices) and the extension grew across slices (a noise blob joined it on the end slice): 0.86.
    "short-15-seed11-noise25": dict(SHORT, seed=11, noise_hu=25.0),
    # A small blastic lesion lies against the endosteum: the guard against marrow-cortex
    # mixtures took a sixth of it (Dice 0.847) until it was lifted next to the core: 0.89.
    # A long lesion's tip is pointed and lies against the endosteum: its apex columns have
    # cortex beside them and are not read, and the high plane was 1.15 mm short until the taper
    # of the readable columns placed the apex (0.68).
    "long-62-noise19": dict(lesion_length_mm=62.4, lesion_center_mm=-4.4, tilt_deg=12.7,
                            tilt_azimuth_deg=226.0, lesion_angle_deg=41.0, noise_hu=18.7, seed=207),
    "blastic-19-noise23": dict(lesion_type="blastic", lesion_length_mm=18.7, lesion_center_mm=7.7,
                               tilt_deg=8.7, tilt_azimuth_deg=108.0, lesion_angle_deg=75.0,
                               noise_hu=23.1, seed=103),
})
# Mixed lesions: the lytic body with sclerotic islands (about 30% of it, 5-10 mm across), on a
# 0.8 mm x 2 mm grid.  Measured Dice 0.86-0.90, extents and planes within 1 mm.  Known limits,
# not asserted: a 15 mm one at 20 degrees of tilt (Dice 0.76, an end 1.5 mm out), and the
# coarser 1.3 mm x 2.5 mm grid above, where islands of a few voxels blur into the lytic tissue.
# There (Dice 0.37-0.86 before) islands in the cortical break, pieces of their own, left the
# break open in the bone's solid; the lesion's level, lifted by their blur, hid its extension
# or let it leak; and counted by voxels they were too few to make it mixed.  Now the three
# coarse cases below meet the target; of the others, at 40 mm (seed 0) and 70 mm at 15 degrees
# Dice is 0.87 and 0.86 (0.82 and 0.37) but a plane is 1.24 and 1.15 mm short (their tip is
# island, read by its voxel centres), at 20 mm (seed 2) and 15 mm at 20 degrees Dice is 0.81
# and 0.83 (0.75 and 0.71; their soft-tissue extensions are half found).  Over 12 random ones
# (15-80 mm, tilts 0-20, noise 8-25 HU): Dice >= 0.85 in 4 (1 before), median 0.84 (0.75),
# planes within 1 mm in 11 (6), all typed mixed (11).
MIXED_GRID = dict(size=192, pixel_mm=0.8, slices=120, slice_mm=2.0, bone_length_mm=300.0, lesion_type="mixed")
# The mixed sweep's --grid 1.5x3 (3 mm slices), for its cases drawn here with their own values.
MIXED_3MM = dict(size=97, pixel_mm=1.5, slices=95, slice_mm=3.0, bone_length_mm=270.0, lesion_type="mixed")
CASES.update({
    "mixed-40": dict(MIXED_GRID),
    "mixed-20": dict(MIXED_GRID, lesion_length_mm=20.0, seed=2),
    "mixed-70-tilt15": dict(MIXED_GRID, lesion_length_mm=70.0, tilt_deg=15.0, seed=3),
    "mixed-40-noise25": dict(MIXED_GRID, noise_hu=25.0, seed=4),
    "mixed-30-tilt10": dict(MIXED_GRID, lesion_length_mm=30.0, tilt_deg=10.0, tilt_azimuth_deg=200.0,
                            lesion_center_mm=-8.0, seed=8),
    # On GRID (1.3 x 2.5 mm): Dice 0.860 -> 0.872, 0.856 -> 0.852 and 0.770 -> 0.883; an end
    # was 1.5, 4.8 and 1.65 mm out (planes 1.24, 1.24 and 1.66 mm), now within 0.8 mm (planes
    # within 0.9 mm).
    "mixed-coarse-40-seed1": dict(lesion_type="mixed", seed=1),
    "mixed-coarse-40-noise25": dict(lesion_type="mixed", noise_hu=25.0, seed=4),
    "mixed-coarse-30-tilt10": dict(lesion_type="mixed", lesion_length_mm=30.0, tilt_deg=10.0,
                                   tilt_azimuth_deg=200.0, lesion_center_mm=-8.0, seed=8),
    # The lesion's level was read where its values crowd, still lifted by the islands' blur
    # (51 and 53 HU for lytic tissue of 40, muscle 50): the extension was sought on the wrong
    # side of the muscle (noise blobs taken, the real one missed), Dice 0.775 and 0.776.  Read
    # from its voxels an in-plane step clear of anything denser than soft tissue: 0.855, 0.853.
    "mixed-coarse-22-tilt12": dict(lesion_type="mixed", lesion_length_mm=22.1, lesion_center_mm=22.4,
                                   tilt_deg=12.4, tilt_azimuth_deg=132.8, lesion_angle_deg=184.1,
                                   noise_hu=19.3, seed=70),
    "mixed-coarse-52-tilt18": dict(lesion_type="mixed", lesion_length_mm=51.9, lesion_center_mm=22.3,
                                   tilt_deg=18.5, tilt_azimuth_deg=316.9, lesion_angle_deg=23.2,
                                   noise_hu=23.9, seed=187),
    # A long lesion whose tip is islands: most of its end's columns unread (their neighbours read
    # as cortex), and the few readable ones were dropped as no majority of their neighbourhoods:
    # the high plane fell to the voxel centres, 1.76 mm short; with two columns enough, 0.92.
    "mixed-coarse-69-tilt11": dict(lesion_type="mixed", lesion_length_mm=69.0, lesion_center_mm=-14.8,
                                   tilt_deg=11.1, tilt_azimuth_deg=174.1, lesion_angle_deg=127.2,
                                   noise_hu=18.1, seed=549),
    # Lytic tip voxels between marrow and an island were taken for marrow-cortex mixtures and
    # left out: Dice 0.849; with a mixed lesion's islands not counted as cortex there, 0.857.
    "mixed-coarse-19-tilt10": dict(lesion_type="mixed", lesion_length_mm=19.49, lesion_center_mm=19.91,
                                   tilt_deg=10.0, tilt_azimuth_deg=161.6, lesion_angle_deg=247.2,
                                   noise_hu=18.5, seed=949),
    # On 0.8 x 2 mm voxels, an island crossing the lesion's end: a tip voxel a sixth island reads
    # as all lytic tissue, and the ends came a slice too far (planes -1.19 and +1.31 mm); its
    # columns, between marrow and an island's partial volume, are no longer read: -0.69, +0.42.
    "mixed-26-seed742": dict(MIXED_GRID, lesion_length_mm=26.6, lesion_center_mm=-15.6, tilt_deg=1.5,
                             tilt_azimuth_deg=247.5, lesion_angle_deg=111.7, noise_hu=19.8, seed=742),
    "mixed-28-seed784": dict(MIXED_GRID, lesion_length_mm=28.5, lesion_center_mm=12.6, tilt_deg=3.8,
                             tilt_azimuth_deg=12.7, lesion_angle_deg=336.1, noise_hu=9.5, seed=784),
    # A partial break on GRID: the marrow between the lesion and the cortex on the far side, a
    # voxel or two thin, read through the in-plane median as lifted past the lesion-marrow
    # midpoint by the cortex and its partial volume, and was taken as lesion along the
    # endosteum: Dice 0.846 and 0.843.  Beside anything denser than soft tissue, a voxel whose
    # own value reads marrow is left out (lesion._refine): 0.852, 0.854.
    "mixed-coarse-20-seed190": dict(lesion_type="mixed", lesion_length_mm=20.1, lesion_center_mm=-24.1, tilt_deg=5.3,
                                    tilt_azimuth_deg=261.8, lesion_angle_deg=177.5, noise_hu=22.5, seed=190),
    "mixed-coarse-36-seed317": dict(lesion_type="mixed", lesion_length_mm=36.3, lesion_center_mm=-22.5, tilt_deg=10.0,
                                    tilt_azimuth_deg=224.7, lesion_angle_deg=269.8, noise_hu=24.3, seed=317),
    # A partial break on GRID whose high tip is an island: its tip voxels, denser than lytic
    # tissue can read, were not read and the plane fell to lower columns, 1.20 mm short; read
    # against the island's level (extent._dense_tips): 0.54.
    "mixed-coarse-65-seed636": dict(lesion_type="mixed", lesion_length_mm=64.6, lesion_center_mm=12.78, tilt_deg=5.38,
                                    tilt_azimuth_deg=232.15, lesion_angle_deg=122.43, noise_hu=20.75, seed=636),
    # The whole circumference on 0.8 x 2 mm voxels: two adjacent columns whose tip voxel is an
    # island's sliver read as lytic tissue a slice too far, and set the crest: the high plane
    # +1.34 mm; the 3rd farthest column where five or more of a neighbourhood are read and the
    # 2nd stands 0.4 of a slice above it: +0.80; the median of the columns within 1.6 mm where
    # six or more are read (extent._crest): +0.80.
    "mixed-whole-27-seed935": dict(MIXED_GRID, cortex_destroyed=1.0, lesion_length_mm=26.95, lesion_center_mm=-9.24,
                                   tilt_deg=4.65, tilt_azimuth_deg=352.19, lesion_angle_deg=338.76, noise_hu=13.79,
                                   seed=935),
    # A long blastic lesion on 1.5 x 3 mm voxels (a random end-to-end sweep): its core, read by
    # in-plane medians, took the cortex's blurred inner face (Dice 0.841), and its tips' in-plane
    # medians read the tapering ends low (planes 1.10 and 0.91 mm short).  Beside clear cortex a
    # voxel reading nearer the cortex than the lesion is cortex, and a blastic lesion's ends are
    # read from each voxel's own value: Dice 0.872, planes 0.45 and 0.16 mm short.
    "blastic-70-coarse-seed798": dict(size=110, pixel_mm=1.5, slices=94, slice_mm=3.0, bone_length_mm=281.05,
                                      lesion_type="blastic", lesion_length_mm=69.84, lesion_center_mm=-6.76,
                                      tilt_deg=12.63, tilt_azimuth_deg=187.12, lesion_angle_deg=83.06,
                                      noise_hu=11.38, seed=798),
    # A long lytic lesion on 1.5 x 3 mm voxels, image planes oblique (a random end-to-end sweep):
    # the paraboloid fitted to its low tip's readable columns was steep and put the apex hidden
    # in an unread column 2.2 mm past the truth; no farther than that column's last lesion
    # voxel's far face: 0.21 mm short.
    "lytic-78-coarse-oblique-seed806": dict(
        size=110, pixel_mm=1.5, slices=100, slice_mm=3.0, bone_length_mm=340.44, lesion_length_mm=78.04,
        lesion_center_mm=5.11, tilt_deg=12.89, tilt_azimuth_deg=207.67, lesion_angle_deg=171.13, noise_hu=10.08,
        seed=806, direction=(0.9983081582712682, -0.05726147830860497, -0.010096743581059574, 0.05814482891047583,
                             0.9831416141608833, 0.17335439243383519, 0.0, 0.17364817766693033, -0.984807753012208)),
    # The whole circumference on 0.8 x 2 mm voxels, an island crossing an end: its slivers, in the
    # tip voxels or just past them, misread a patch of columns wider than a 3 x 3 of pixels most
    # of a slice too far, and the 2nd (or 3rd) farthest of a 3 x 3 read the patch: planes -1.56
    # and -1.08/+1.14 mm; the farthest median of the columns within 1.6 mm: -0.51, -0.63/+0.59.
    "mixed-whole-38-seed335": dict(MIXED_GRID, cortex_destroyed=1.0, lesion_length_mm=37.76, lesion_center_mm=1.41,
                                   tilt_deg=9.99, tilt_azimuth_deg=48.29, lesion_angle_deg=184.33, noise_hu=22.66,
                                   seed=335),
    "mixed-whole-18-seed309": dict(MIXED_GRID, cortex_destroyed=1.0, lesion_length_mm=18.01, lesion_center_mm=-23.3,
                                   tilt_deg=16.92, tilt_azimuth_deg=211.64, lesion_angle_deg=111.14, noise_hu=13.4,
                                   seed=309),
    # A lytic lesion ending where the metaphysis begins: past its tip a voxel of marrow (-30 HU)
    # and then rising trabecular bone (+10), whose partial volume read as lesion (high plane
    # 1.20 mm out); that dip is read as background: 0.20.
    "lytic-48-metaphysis-seed891": dict(slices=104, bone_length_mm=258.89, lesion_length_mm=48.49,
                                        lesion_center_mm=38.05, tilt_deg=3.01, tilt_azimuth_deg=300.31,
                                        lesion_angle_deg=241.89, noise_hu=9.23, seed=891),
    # A partial break on GRID whose ends run into the cortex at the break: their columns there
    # end against cortex, unreadable against the marrow, and the crest fell to columns ending in
    # islands, read short: the high plane 1.34 mm short.  Read against the cortex
    # (extent._cortex_tips): 0.64.
    "mixed-coarse-57-seed435": dict(lesion_type="mixed", lesion_length_mm=57.32, lesion_center_mm=-3.35, tilt_deg=8.12,
                                    tilt_azimuth_deg=318.96, lesion_angle_deg=112.94, noise_hu=17.29, seed=435),
    # The whole circumference on GRID, islands crossing an end: their slivers misread patches of
    # 3-6 columns a slice too far, more than the median of the columns within 1.6 mm outvotes:
    # high plane +1.69 mm (seed 159), low -1.61 (seed 234).  The end surface fitted robustly
    # over the columns read within 15 mm, its summit the end (extent._surface_crest): +0.29,
    # +0.16.
    "mixed-whole-coarse-40-seed159": dict(lesion_type="mixed", cortex_destroyed=1.0, lesion_length_mm=39.88,
                                          lesion_center_mm=17.38, tilt_deg=14.55, tilt_azimuth_deg=215.23,
                                          lesion_angle_deg=129.57, noise_hu=14.18, seed=159),
    "mixed-whole-coarse-49-seed234": dict(lesion_type="mixed", cortex_destroyed=1.0, lesion_length_mm=49.15,
                                          lesion_center_mm=5.89, tilt_deg=18.37, tilt_azimuth_deg=225.23,
                                          lesion_angle_deg=203.98, noise_hu=8.29, seed=234),
    # A 15 mm blastic lesion on 1.5 x 3 mm voxels (blastic sweep --rng 6, case 6; the draw's own
    # values: rounded, it passes by chance): voxels beside the cortex, lifted by its blur past
    # the lesion-marrow midpoint, were taken with it: Dice 0.843 (37 false voxels).  The midpoint
    # raised by the blur's lift, its width read off the image (segment.blur): 0.856 (28).
    "blastic-15-coarse-seed775": dict(size=110, pixel_mm=1.5, slices=100, slice_mm=3.0,
                                      bone_length_mm=301.15901229610427, lesion_type="blastic",
                                      lesion_length_mm=15.345355310795874, lesion_center_mm=15.409569682357642,
                                      tilt_deg=15.995393479322269, tilt_azimuth_deg=350.5049784840768,
                                      lesion_angle_deg=54.23908658706885, noise_hu=12.2832345737753, seed=775),
    # A long lytic lesion on 1.5 x 3 mm voxels whose low tip lies against the endosteum: the
    # readable columns' taper stood 2.9 standard errors clear, under the mark of 3, and the end
    # fell to the crest, 1.26 mm short; at 2.5 (the apex now capped at its column): 0.28 out.
    "lytic-71-coarse-seed109": dict(size=110, pixel_mm=1.5, slices=100, slice_mm=3.0, bone_length_mm=338.64,
                                    lesion_length_mm=70.80, lesion_center_mm=18.00, tilt_deg=8.39,
                                    tilt_azimuth_deg=31.36, lesion_angle_deg=66.88, noise_hu=17.37, seed=109),
})
_RUNS = {}


def planned(name):
    if name not in _RUNS:
        spec = FemurSpec(**{**GRID, **CASES[name]})
        case = femur_phantom(spec)
        bones = segment_bones(case.volume)
        target = find_target(case.volume, bones)
        plan = make_plan(case.volume, target, spec.margin_mm)
        _RUNS[name] = (case, target, plan)
    return _RUNS[name]


def _dice(a, b):
    return 2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


@pytest.mark.parametrize("name", list(CASES))
def test_lesion_box_is_its_masks(name):
    # Lesion.box spares later steps a pass over the whole CT: it must be the mask's own box.
    _, target, _ = planned(name)
    assert target.lesion.box == bbox(target.lesion.mask)


@pytest.mark.parametrize("name", list(CASES))
def test_lesion_found_with_its_extent(name):
    case, target, plan = planned(name)
    truth = case.truth
    assert target.name == "femur_right"
    assert target.lesion.type == truth["lesion"]["type"]
    assert _dice(target.lesion.mask, case.labels == 2) >= 0.85  # issue 3's target, every case
    _assert_extent(case, target)


def _assert_extent(case, target):
    # Extent along the truth axis, from the truth point, read as the plan reads it (a mixed
    # lesion's ends that are sclerotic islands against their own level): both ends within 1 mm.
    truth = case.truth
    axis = truth["bone"]["axis"]
    from implantgen.plan.extent import extent_along, lesion_columns

    lesion = target.lesion
    columns = lesion_columns(case.volume, lesion.mask, lesion.lesion_hu, lesion.normal_hu, target.solid,
                             islands=lesion.type == "mixed", dense_hu=lesion.dense_hu)
    lo, hi = extent_along(columns, np.array(axis["point"]), np.array(axis["direction"]))
    t_lo, t_hi = truth["lesion"]["extent_along_axis_mm"]
    assert abs(lo - t_lo) <= 1.0 and abs(hi - t_hi) <= 1.0, (lo, hi, t_lo, t_hi)


@pytest.mark.parametrize("name", list(CASES))
def test_osteotomy_planes_match_truth(name):
    _assert_planes(*planned(name))


def test_the_plan_reads_a_mixed_lesions_islands_in_the_lesion_searchs_window():
    # The config's [lesion] blastic_hu reaches the plan through Lesion.dense_hu: the islands at a
    # mixed lesion's ends are read in the window the search found them in (the plan used the
    # default window whatever the config said).  With a window no voxel reaches, no tip is an
    # island, and the ends move.
    case, target, plan = planned("mixed-whole-27-seed935")
    assert target.lesion.dense_hu == LesionCriteria().blastic_hu
    none_dense = replace(target, lesion=replace(target.lesion, dense_hu=(3000.0, 4000.0)))
    moved = make_plan(case.volume, none_dense, 20.0)
    assert max(abs((a.point - b.point) @ a.normal) for a, b in zip(plan.osteotomies, moved.osteotomies)) > 0.2
    # A mask given by the user is typed in the config's window too.
    bones = segment_bones(case.volume)
    for window, kind in (((450.0, 1300.0), "mixed"), ((1500.0, 3000.0), "lytic")):
        given = find_target(case.volume, bones, lesion_mask=case.labels == 2,
                            criteria=LesionCriteria(blastic_hu=window)).lesion
        assert (given.type, given.dense_hu) == (kind, window)


def _assert_planes(case, target, plan):
    assert angle_deg(plan.axis.direction, case.truth["bone"]["axis"]["direction"]) < 1.0
    for cut, truth in zip(plan.osteotomies, case.truth["osteotomies"]):
        n = np.array(truth["normal"])
        assert abs((cut.point - np.array(truth["point"])) @ n) <= 1.0
        assert angle_deg(cut.normal, n) <= 2.0
        # The plane passes through the canal: its point lies on the true axis.
        rel = cut.point - np.array(case.truth["bone"]["axis"]["point"])
        assert np.linalg.norm(rel - (rel @ n) * n) < 1.0
    assert abs(plan.resection_length_mm - case.truth["resection_length_mm"]) <= 2.0


def test_bone_solid_covers_the_destroyed_cortex():
    case, target, _ = planned("straight-40")
    extension = (case.labels == 2) & ~target.solid
    true_bone = (case.labels >= 1) & ~extension
    assert _dice(target.solid, true_bone) >= 0.93


def test_risk_items_from_the_ct():
    case, target, plan = planned("straight-40")
    mirels = plan.risk["mirels"]
    assert mirels["site"] == 2 and mirels["lesion_type"] == 3 and mirels["pain"] is None
    truth_inv = case.truth["lesion"]["cortical_involvement"]
    assert abs(plan.cortical_involvement - truth_inv) < 0.1
    assert mirels["size"] == (1 if truth_inv < 1 / 3 else 2 if truth_inv <= 2 / 3 else 3)
    assert mirels["total_without_pain"] == mirels["site"] + mirels["lesion_type"] + mirels["size"]
    _, blastic_target, blastic_plan = planned("blastic")
    assert blastic_plan.risk["mirels"]["lesion_type"] == 1
    assert planned("mixed-40")[2].risk["mirels"]["lesion_type"] == 2


def test_margin_past_the_bone_end_is_refused():
    case, target, _ = planned("straight-40")
    with pytest.raises(PlanNotFeasible, match="beyond the bone's end|into the joint|less than"):
        make_plan(case.volume, target, 120.0)


def test_too_little_bone_left_is_refused_with_numbers():
    spec = FemurSpec(**{**GRID, "lesion_center_mm": 55.0, "lesion_length_mm": 20.0})
    case, target = _found(spec)
    with pytest.raises(PlanNotFeasible) as info:
        make_plan(case.volume, target, 20.0)
    assert "mm of bone is left beyond the proximal osteotomy" in info.value.sentence
    relaxed = make_plan(case.volume, target, 20.0, strict=False)
    assert not relaxed.feasibility.feasible and relaxed.feasibility.refusals


def test_no_lesion_is_said_plainly():
    from implantgen.phantom.femur import HU

    spec = FemurSpec(**{**GRID, "lesion_length_mm": 0.5})  # a lesion below any size threshold
    case = femur_phantom(spec)
    with pytest.raises(PlanNotFeasible, match="No lesion found") as info:
        find_target(case.volume, segment_bones(case.volume))
    assert "HU" in info.value.sentence and HU["marrow"] < 0


@pytest.mark.parametrize("lesion_hu", [40.0, 60.0])
def test_a_seed_in_a_long_lytic_lesion_finds_it(monkeypatch, lesion_hu):
    # A 60 mm lesion fills most of the shaft's inside near its centre, where the seed is: the
    # bone's marrow was read there, the lesion passed for trabecular bone and was not found
    # (at 40 HU and above), or the marrow level was the lesion's and it took the whole canal.
    # Lytic lesions are 20-80 HU (docs/domain.md).  Measured Dice 0.94 and 0.92.
    from implantgen.phantom import femur

    monkeypatch.setitem(femur.HU, "lytic", lesion_hu)
    case = femur_phantom(FemurSpec(**{**GRID, "lesion_length_mm": 60.0}))
    target = find_target(case.volume, segment_bones(case.volume), seed=case.truth["lesion"]["center"])
    assert target.lesion.type == "lytic"
    assert _dice(target.lesion.mask, case.labels == 2) >= 0.85
    _assert_extent(case, target)


def test_a_mixed_lesion_gets_its_implant():
    # Rays from the centre line through a mixed lesion can meet no bone (its islands and the
    # broken cortex leave notches in the solid): those levels are rebuilt, not an error.
    from implantgen.design import design_implant

    case, target, plan = planned("mixed-40")
    design = design_implant(case.volume, target, plan)
    assert design.implant.is_watertight and design.implant.volume > 0
    assert abs(design.length_mm - plan.resection_length_mm) < 1.0


def _found(spec: FemurSpec):
    """(case, target) of a phantom outside CASES."""
    case = femur_phantom(spec)
    return case, find_target(case.volume, segment_bones(case.volume))


def _planned_spec(spec: FemurSpec):
    """(case, target, plan) of a phantom outside CASES."""
    case, target = _found(spec)
    return case, target, make_plan(case.volume, target, spec.margin_mm)


def _mixed_3mm(**draw):
    """(case, target) of a mixed sweep case on --grid 1.5x3 (``draw``: its own values), found
    mixed."""
    case, target = _found(FemurSpec(**MIXED_3MM, **draw))
    assert target.lesion.type == "mixed"
    return case, target


def test_a_long_mixed_lesion_is_not_cut_short():
    # Its islands read as cortex, so the columns at its low end could not be read and the
    # plane fell 4.8 mm short of the truth (inside the margin); now within 0.1 mm.  Its Dice
    # (0.73 on these 1 mm pixels) is one of the known limits above.
    spec = FemurSpec(size=160, pixel_mm=1.0, slices=130, slice_mm=2.0, bone_length_mm=260.0,
                     lesion_type="mixed", lesion_length_mm=67.9, lesion_center_mm=9.0, tilt_deg=10.8,
                     tilt_azimuth_deg=99.7, lesion_angle_deg=57.8, noise_hu=24.5, seed=485)
    case, target, plan = _planned_spec(spec)
    assert target.lesion.type == "mixed"
    _assert_planes(case, target, plan)


def test_a_stem_stops_short_of_where_the_scan_cuts_the_bone():
    # The high cut lies 62 mm from where the scan cuts this tilted femur: the canal read in the
    # scan's last slices (no bone beyond) was taken as 0 mm wide and the plan refused, though it
    # is 15-50 mm wide all the way.  The stem now stops 2 mm and one slice short of the scan's end.
    from implantgen.design import design_implant

    spec = FemurSpec(size=160, pixel_mm=1.0, slices=130, slice_mm=2.0, bone_length_mm=260.0,
                     lesion_length_mm=67.0, lesion_center_mm=16.2, tilt_deg=11.4, tilt_azimuth_deg=52.4,
                     lesion_angle_deg=69.3, noise_hu=23.8, seed=245)
    case, target, plan = _planned_spec(spec)
    assert target.axis.cut_by_scan[1]
    high = design_implant(case.volume, target, plan).stems[1]
    assert 55.0 <= high.length_mm <= plan.feasibility.bone_left_mm["high"] - 3.0  # measured 58 mm
    assert high.diameter_mm >= 10.0


def test_a_mixed_lesion_has_a_closed_surface():
    # Islands left out beside the cortex left cavities in the mask whose surfaces touched the
    # outer one along an edge: lesion.stl was not closed and the plan failed with an internal
    # error (a 16 mm lesion on 0.7 x 1.25 mm voxels, from a random end-to-end sweep).
    from implantgen.mesh import mask_surface, mesh_report

    spec = FemurSpec(size=220, pixel_mm=0.7, slices=228, slice_mm=1.25, bone_length_mm=284.4,
                     lesion_type="mixed", lesion_length_mm=16.2, lesion_center_mm=-39.0, tilt_deg=1.9,
                     tilt_azimuth_deg=122.1, lesion_angle_deg=317.7, noise_hu=17.6, seed=591)
    case = femur_phantom(spec)
    lesion = find_target(case.volume, segment_bones(case.volume)).lesion
    report = mesh_report(mask_surface(case.volume, lesion.mask))
    assert lesion.type == "mixed" and report["watertight"] and report["outward"]
    assert _dice(lesion.mask, case.labels == 2) >= 0.85  # measured 0.89


def test_a_plate_near_where_the_scan_cuts_the_bone_is_refused_with_numbers():
    # 55 mm of bone beyond the high cut, then the scan's end (3 mm slices): the plate's outline
    # was read in the last, partial slice, where no bone was, and the design failed with an
    # internal error.  The plate keeps a slice clear, and the plan is refused with its numbers.
    from implantgen.design import design_implant

    spec = FemurSpec(size=110, pixel_mm=1.5, slices=90, slice_mm=3.0, bone_length_mm=268.6,
                     lesion_length_mm=44.8, lesion_center_mm=39.5, tilt_deg=8.7, tilt_azimuth_deg=23.6,
                     lesion_angle_deg=130.4, noise_hu=16.0, seed=390)
    case, target, plan = _planned_spec(spec)
    with pytest.raises(PlanNotFeasible, match="can carry the plate"):
        design_implant(case.volume, target, plan)


def test_stem_and_plate_keep_clear_of_an_oblique_scan_cut():
    # The scan cuts this femur (14.5 degrees of tilt) through a cross-section that runs 12.7 mm
    # along the axis: short of that the canal's rays met no bone, it read 0.0 mm wide, and the
    # plan was refused for a "0.0 mm canal" (a random end-to-end sweep).  Now the plate is
    # refused with its numbers (3 screws a side), and with 2 screws a side the stem stops short
    # of the cut face.
    from implantgen.design import design_implant, design_params

    spec = FemurSpec(size=110, pixel_mm=1.5, slices=100, slice_mm=3.0, bone_length_mm=339.9,
                     lesion_type="blastic", lesion_length_mm=76.2, lesion_center_mm=39.3, tilt_deg=14.5,
                     tilt_azimuth_deg=291.2, lesion_angle_deg=55.0, noise_hu=20.1, seed=380)
    case, target, plan = _planned_spec(spec)
    face = target.axis.scan_face_mm[1]
    assert target.axis.cut_by_scan == (True, True) and 10.0 < face < 15.0  # measured 12.7 mm
    with pytest.raises(PlanNotFeasible, match="can carry the plate"):
        design_implant(case.volume, target, plan)
    high = design_implant(case.volume, target, plan, design_params({"screws": {"per_bone_end": 2}})).stems[1]
    # Where it stops, the scan's face and the canal's last level that fits lie within 0.3 mm
    # (measured: 46.8 mm by the scan; 46.0 by the canal once blastic ends read own values and
    # the cut moved 0.5 mm out): either way it stops short of the face.
    assert high.limited_by in ("scan", "canal") and high.diameter_mm >= 10.0
    assert 40.0 <= high.length_mm <= plan.feasibility.bone_left_mm["high"] - face - 2.0


# Lesions destroying most of the cortex's circumference (Mirels size 3, an impending fracture):
# the phantom's wedge (FemurSpec.cortex_destroyed), which breaks through over that share of
# the circumference.  From 0.6 of it, no lesion was found at all (the shaft's solid stopped at
# the chord over the break, and the lesion lay outside it); at 0.4 on this grid Dice was
# 0.83-0.88.  Measured now over shares 0.4-0.9, 20-60 mm long, tilts 0-15 degrees: Dice
# 0.92-0.95 here (0.95-0.98 lytic and 0.89-0.96 mixed on 0.8 x 2 mm voxels), the bone's solid
# one closed bone (Dice 0.976-0.978), extents and planes within 0.6 mm, the circumferential
# involvement 0.004-0.074 off the truth (up to 0.013 on 0.8 mm pixels) and Mirels' size item
# right.  Known limit, not asserted: a mixed lesion's low end 0.9-1.24 mm long on 0.8 x 2 mm
# voxels (the mixed phantoms above at 20-70 mm are within 1 mm).  The whole circumference
# destroyed: DESTROYED_WHOLE below.
DESTROYED = {
    "destroyed-40-20": dict(cortex_destroyed=0.4, lesion_length_mm=20.0),
    "destroyed-60-60-tilt15": dict(cortex_destroyed=0.6, lesion_length_mm=60.0, tilt_deg=15.0,
                                   tilt_azimuth_deg=160.0, lesion_angle_deg=260.0, lesion_center_mm=5.0, seed=2),
    "destroyed-60-40-tilt8": dict(cortex_destroyed=0.6, lesion_length_mm=40.0, tilt_deg=8.0,
                                  tilt_azimuth_deg=110.0, lesion_angle_deg=150.0, lesion_center_mm=-10.0, seed=1),
    "destroyed-75-60-tilt15": dict(cortex_destroyed=0.75, lesion_length_mm=60.0, tilt_deg=15.0,
                                   tilt_azimuth_deg=160.0, lesion_angle_deg=260.0, lesion_center_mm=5.0, seed=2),
    "destroyed-90-20": dict(cortex_destroyed=0.9, lesion_length_mm=20.0),
    "destroyed-90-40-tilt8": dict(cortex_destroyed=0.9, lesion_length_mm=40.0, tilt_deg=8.0,
                                  tilt_azimuth_deg=110.0, lesion_angle_deg=150.0, lesion_center_mm=-10.0, seed=1),
    "destroyed-90-60-tilt15-fine": dict(MIXED_GRID, lesion_type="lytic", cortex_destroyed=0.9,
                                        lesion_length_mm=60.0, tilt_deg=15.0, tilt_azimuth_deg=160.0,
                                        lesion_angle_deg=260.0, lesion_center_mm=5.0, seed=2),
    "destroyed-75-40-tilt8-mixed": dict(MIXED_GRID, cortex_destroyed=0.75, lesion_length_mm=40.0,
                                        tilt_deg=8.0, tilt_azimuth_deg=110.0, lesion_angle_deg=150.0,
                                        lesion_center_mm=-10.0, seed=1),
    # A sliver of cortex left (0.99 of the circumference measured): on sections of specks, the
    # low half of the lesion was missed (Dice 0.533, an end 29.8 mm out) until the emptied
    # sections were filled (DESTROYED_WHOLE below); now 0.954.
    "destroyed-98-60-tilt15": dict(cortex_destroyed=0.98, lesion_length_mm=60.0, tilt_deg=15.0,
                                   tilt_azimuth_deg=160.0, lesion_angle_deg=260.0, lesion_center_mm=5.0, seed=2),
}


@pytest.mark.parametrize("name", list(DESTROYED))
def test_a_lesion_destroying_most_of_the_cortex(name):
    case, target, plan = _planned_spec(FemurSpec(**{**GRID, **DESTROYED[name]}))
    truth = case.truth["lesion"]
    assert target.lesion.type == truth["type"]
    assert _dice(target.lesion.mask, case.labels == 2) >= 0.85
    extension = (case.labels == 2) & ~target.solid
    assert _dice(target.solid, (case.labels >= 1) & ~extension) >= 0.95
    _assert_extent(case, target)
    _assert_planes(case, target, plan)
    # Two pixels of arc at each of the break's two flanks, over the mid-cortex circumference:
    # 0.081 on 1.3 mm pixels (measured up to 0.074, where a tenth of the cortex is left), 0.050
    # on 0.8 mm (measured up to 0.013).
    involvement = truth["cortical_involvement"]
    bone = case.truth["bone"]
    mid_cortex = (bone["shaft_outer_radius_mm"] + bone["canal_radius_mm"]) / 2
    tolerance = 2 * 2 * case.volume.spacing[0] / (2 * np.pi * mid_cortex)
    assert abs(plan.cortical_involvement - involvement) <= tolerance
    assert plan.risk["mirels"]["size"] == (1 if involvement < 1 / 3 else 2 if involvement <= 2 / 3 else 3)


# The whole circumference destroyed (cortex_destroyed=1, a pathological fracture in all but
# name): no lesion was found (none on 1.3 mm pixels, 30 mm of a 60 mm one on 0.8 mm pixels, and
# where the femur fell apart into two bones the plan was refused at the half's end), as no section
# there had cortex left to rebuild it from.  Now the two pieces are joined (collinear shaft ends
# of one radius with lesion density between them) and the emptied sections filled with the circle
# of the round sections on both sides.  Measured: Dice 0.940-0.964, the solid 0.974-0.978,
# extents and planes within 0.6 mm, normals within 0.4 degrees, involvement 1.0, Mirels size 3.
# Mixed ones are typed mixed (their islands 0.32-0.38 of the lesion by mixed_lesion.island_share, the mark
# 0.2; Mirels' lesion-type item 2, not lytic's 3): Dice 0.926-0.954 below, extents and planes
# within 0.72 mm.  Their ends overshot: the lesion's end is blunt across the whole canal, and in
# the slice past it voxels holding a sliver of an island (their centres in marrow) read as
# lesion, a slice too far.  The mask now leaves out such tips where the readable lytic tips
# beside them are marrow (segment/mixed.py island_tips).  The last two cases below had an end
# 1.46 and 2.02 mm long (planes 1.45 and 2.03 mm), now within 0.3 mm.  Sweep of 32 random ones
# (15-70 mm, tilts 0-18, noise 8-25 HU, both grids): planes within 1 mm in 17 -> 23, worst
# 2.03 -> 1.34 mm, Dice 0.875-0.954 -> 0.876-0.955; 32 with a partial break: 27 -> 27, worst
# 1.17 -> 1.17, no Dice lower by more than 0.003.  On 39 others: 26 -> 27, worst 2.00 -> 1.99.
# Known limit, not asserted: where the island sliver lies in the voxel past the mask's end (or
# the tip voxel's own centre is in an island above lytic tissue) the end still reads up to a
# slice long, e.g. 20 mm straight on GRID: the low end 1.21 mm long.
DESTROYED_WHOLE = {
    "whole-20": dict(cortex_destroyed=1.0, lesion_length_mm=20.0),
    "whole-40-tilt8": dict(cortex_destroyed=1.0, lesion_length_mm=40.0, tilt_deg=8.0, tilt_azimuth_deg=110.0,
                           lesion_angle_deg=150.0, lesion_center_mm=-10.0, seed=1),
    "whole-60-tilt15": dict(cortex_destroyed=1.0, lesion_length_mm=60.0, tilt_deg=15.0, tilt_azimuth_deg=160.0,
                            lesion_angle_deg=260.0, lesion_center_mm=5.0, seed=2),
    "whole-20-fine": dict(MIXED_GRID, lesion_type="lytic", cortex_destroyed=1.0, lesion_length_mm=20.0, seed=4),
    "whole-30-tilt5-fine": dict(MIXED_GRID, lesion_type="lytic", cortex_destroyed=1.0, lesion_length_mm=30.0,
                                tilt_deg=5.0, tilt_azimuth_deg=40.0, lesion_angle_deg=80.0, seed=3),
    "whole-60-tilt15-fine": dict(MIXED_GRID, lesion_type="lytic", cortex_destroyed=1.0, lesion_length_mm=60.0,
                                 tilt_deg=15.0, tilt_azimuth_deg=160.0, lesion_angle_deg=260.0,
                                 lesion_center_mm=5.0, seed=2),
    "whole-40-tilt8-mixed": dict(lesion_type="mixed", cortex_destroyed=1.0, lesion_length_mm=40.0, tilt_deg=8.0,
                                 tilt_azimuth_deg=110.0, lesion_angle_deg=150.0, lesion_center_mm=-10.0, seed=1),
    "whole-40-tilt10-mixed": dict(lesion_type="mixed", cortex_destroyed=1.0, lesion_length_mm=40.0, tilt_deg=10.0,
                                  tilt_azimuth_deg=200.0, seed=8),
    "whole-20-fine-mixed": dict(MIXED_GRID, cortex_destroyed=1.0, lesion_length_mm=20.0, seed=4),
    "whole-40-tilt10-fine-mixed": dict(MIXED_GRID, cortex_destroyed=1.0, lesion_length_mm=40.0, tilt_deg=10.0,
                                       tilt_azimuth_deg=40.0, lesion_angle_deg=80.0, seed=3),
    "whole-18-tilt6-fine-mixed": dict(MIXED_GRID, cortex_destroyed=1.0, lesion_length_mm=18.2588,
                                      lesion_center_mm=-5.6184, tilt_deg=5.8147, tilt_azimuth_deg=54.0719,
                                      lesion_angle_deg=293.8817, noise_hu=14.4506, seed=575),
    "whole-32-tilt14-mixed": dict(lesion_type="mixed", cortex_destroyed=1.0, lesion_length_mm=32.2547,
                                  lesion_center_mm=18.1405, tilt_deg=14.3483, tilt_azimuth_deg=46.4897,
                                  lesion_angle_deg=276.0693, noise_hu=23.0046, seed=797),
    # Tips reading lesion among tips reading marrow past the end, an island's sliver: planes
    # -1.50 and +1.10 mm out until the plan read their share as none (plan/extent.py).
    "whole-30-tilt4-fine-mixed": dict(MIXED_GRID, cortex_destroyed=1.0, lesion_length_mm=30.1114,
                                      lesion_center_mm=-23.4394, tilt_deg=4.4508, tilt_azimuth_deg=7.6296,
                                      lesion_angle_deg=291.8487, noise_hu=10.0786, seed=892),
    "whole-22-tilt13-mixed": dict(lesion_type="mixed", cortex_destroyed=1.0, lesion_length_mm=22.3301,
                                  lesion_center_mm=19.5236, tilt_deg=12.5198, tilt_azimuth_deg=207.4951,
                                  lesion_angle_deg=245.4729, noise_hu=14.5475, seed=421),
}


@pytest.mark.parametrize("name", list(DESTROYED_WHOLE))
def test_a_lesion_destroying_the_whole_cross_section(name):
    spec = FemurSpec(**{**GRID, **DESTROYED_WHOLE[name]})
    case = femur_phantom(spec)
    bones = segment_bones(case.volume)
    assert list(bones.names.values()) == ["femur_right"]  # one bone, not two halves
    target = find_target(case.volume, bones)
    plan = make_plan(case.volume, target, spec.margin_mm)
    truth = case.truth["lesion"]
    assert target.lesion.type == DESTROYED_WHOLE[name].get("lesion_type", "lytic") == truth["type"]
    assert _dice(target.lesion.mask, case.labels == 2) >= 0.85
    extension = (case.labels == 2) & ~target.solid
    assert _dice(target.solid, (case.labels >= 1) & ~extension) >= 0.95
    # The solid runs through the destroyed segment: every slice across it holds the shaft.
    true_bone = (case.labels >= 1) & ~extension
    for k in np.unique(np.nonzero(case.labels == 2)[0]):
        assert np.count_nonzero(target.solid[k] & true_bone[k]) >= 0.9 * np.count_nonzero(true_bone[k])
    _assert_extent(case, target)
    _assert_planes(case, target, plan)
    assert truth["cortical_involvement"] == 1.0 and plan.cortical_involvement >= 0.99
    assert plan.risk["mirels"]["size"] == 3
    assert plan.risk["mirels"]["lesion_type"] == {"lytic": 3, "mixed": 2}[truth["type"]]


def test_a_lesion_filling_most_of_the_marrow_is_found():
    # 60 mm long, destroying 90% of the cortex, it fills 3/4 of the shaft's marrow: the fat was
    # 0.247 of the bone's inside, under the 0.25 that marks fatty marrow, the inside read as
    # trabecular bone and no lesion was found.  The share is now of what lies outside the lytic
    # window (what a lesion displaces).  Measured: Dice 0.954, extent and planes within 1 mm;
    # the involvement reads 1.0 for 0.91 (the tenth of cortex left, 5 pixels of arc at 15
    # degrees of tilt on 2.5 mm slices, is not read), Mirels' size item 3 either way.
    spec = FemurSpec(**{**GRID, **dict(cortex_destroyed=0.9, lesion_length_mm=60.0, tilt_deg=15.0,
                                       tilt_azimuth_deg=160.0, lesion_angle_deg=260.0, lesion_center_mm=5.0,
                                       seed=2)})
    case, target, plan = _planned_spec(spec)
    assert target.lesion.type == "lytic" and _dice(target.lesion.mask, case.labels == 2) >= 0.9
    _assert_extent(case, target)
    _assert_planes(case, target, plan)
    assert plan.cortical_involvement >= case.truth["lesion"]["cortical_involvement"] - 0.01
    assert plan.risk["mirels"]["size"] == 3
