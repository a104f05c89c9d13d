"""The contrast-filled lumen of large vessels, and its wall: never bone.

On a contrast scan the aorta's blood (150-250 HU) is as dense as osteoporotic trabecular bone,
and noise lifts some of it over the cortex level; the calcified plaques of its wall are denser
still, and together with the vertebral body they wall the lumen in as cortex walls marrow.  The
aorta lies against the vertebral bodies, so all of it joins the spine.  Blood is smooth where
bone is textured (trabeculae, cortex edges): a wide patch that is smooth to within the noise and
well above soft tissue (contrast) is a lumen, and what lies within a vessel wall of it is
plaque.  (Without contrast the lumen is soft tissue: nothing is found.)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .components import PLANE8, label

LUMEN_SD = 12.0  # HU over ~5 mm: blood is smooth to within the noise; trabecular bone is not
LUMEN_MM2 = 100.0  # a lumen's section is wide (the aorta ~400 mm2); bone has no smooth patch so big
ENHANCED_HU = 45.0  # contrast lifts arterial blood this far above soft tissue (veins, organs less)
WALL_MM = 3.0  # plaques lie in the vessel's wall, within this of its lumen
# The smooth core found stops where the texture window first takes in the wall or a plaque, or
# earlier where streaks roughen the blood: 3-8 mm inside the wall on a real aorta (the wall band
# then missed the plaques).  Blood goes on, below the cortex level, to the wall; up to this far.
LUMEN_REACH_MM = 8.0
SEARCH_MM = 15.0  # around enhanced patches: the rest of a lumen, its wall, the filters' reach



def vessel_wall(lumen: np.ndarray, spacing) -> np.ndarray:
    """``lumen`` grown in-plane by WALL_MM (a disk): the lumen with the wall around it."""
    r = [int(round(WALL_MM / float(s))) for s in (spacing[1], spacing[0])]
    jj, ii = np.mgrid[-r[0]:r[0] + 1, -r[1]:r[1] + 1]
    disk = ((jj * float(spacing[1])) ** 2 + (ii * float(spacing[0])) ** 2) <= WALL_MM ** 2
    return ndimage.binary_dilation(lumen, structure=disk[None])


def lumen_to_wall(core: np.ndarray, g: np.ndarray, spacing, soft_hu: float,
                  cortex_hu: float) -> np.ndarray:
    """The lumen's smooth ``core`` (smooth_lumen) grown in-plane, by up to LUMEN_REACH_MM, through
    blood: ``g`` (HU smoothed over ~0.5 mm, little enough that a plaque's blur does not stop it
    short) over half the contrast's lift above ``soft_hu`` and below ``cortex_hu``."""
    blood = (g > soft_hu + ENHANCED_HU / 2) & (g < cortex_hu)
    steps = max(1, int(round(LUMEN_REACH_MM / float(spacing[0]))))
    return ndimage.binary_dilation(core, structure=PLANE8, iterations=steps, mask=blood | core)


def smooth_lumen(wide: np.ndarray, texture: np.ndarray, spacing, soft_hu: float,
                 trabecular_hu: float) -> np.ndarray:
    """In-plane patches of at least LUMEN_MM2, smooth (``texture``: local SD below LUMEN_SD),
    denser than ``trabecular_hu`` and on average ENHANCED_HU above ``soft_hu`` (``wide``: HU
    smoothed over ~1.5 mm): arterial blood with contrast, not a vein or an organ."""
    patch = (texture < LUMEN_SD) & (wide > trabecular_hu)
    labels, n = label(patch, structure=PLANE8)
    if n == 0:
        return patch
    count = np.bincount(labels[patch], minlength=n + 1)  # label 0 (outside) is never kept
    mean = np.bincount(labels[patch], weights=wide[patch], minlength=n + 1) / np.maximum(count, 1)
    keep = (count * float(spacing[0] * spacing[1]) >= LUMEN_MM2) & (mean >= soft_hu + ENHANCED_HU)
    keep[0] = False
    return keep[labels]
