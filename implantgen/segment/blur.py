"""What the scanner's blur of dense bone adds to the voxels beside it, its width read off the image.

A voxel of marrow a voxel or two inside the endosteum reads tens of HU above the marrow: the
blur of the cortex beside it, and of the cortex's partial-volume voxels, spills into it.  Past
the lesion-marrow midpoint it is taken for lesion; a lesion voxel there gets the same lift.  So
the midpoint is raised at each voxel by what its neighbours' excess over a dense level spreads
into it, under a Gaussian blur whose width is the one that best explains the marrow beside the
cortex away from the lesion.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..geometry import bbox
from .filters import grow_box

# Tissue this far above the lesion's level is denser tissue whose blur spreads (8 noise spreads
# at 20 HU); at a fixed 200 HU a blastic lesion's own voxels lifted its edges (Dice -0.007 to
# -0.041 on 24 random blastic cases).
SOURCE_ABOVE_LESION_HU = 160.0
_SIGMAS_PX = np.round(np.arange(0.3, 1.201, 0.05), 2)  # in-plane blur widths tried
_MIN_SAMPLES = 50  # marrow voxels beside dense bone needed to read the width


def _lift(source: np.ndarray, sigma: float) -> np.ndarray:
    """What each voxel's in-plane neighbours' ``source`` spreads into it under a Gaussian blur
    of ``sigma`` pixels (its own share taken out)."""
    sig = (0.0, sigma, sigma)
    spread = ndimage.gaussian_filter(source, sigma=sig, mode="nearest", truncate=3.0)
    unit = np.zeros((1, 7, 7), np.float32)
    unit[0, 3, 3] = 1.0
    own = ndimage.gaussian_filter(unit, sigma=sig, mode="constant", truncate=3.0)[0, 3, 3]
    return spread - own * source


def blur_lift(hu: np.ndarray, lesion_hu: float, normal_hu: float, marrow: np.ndarray,
              core: np.ndarray) -> np.ndarray | float:
    """HU that dense tissue's blur adds at each voxel of ``hu``, or 0.0 where the width cannot be
    read.  ``marrow``: voxels of normal marrow (level ``normal_hu``); ``core``: the lesion's core.

    The width is the one whose lift best explains (least median absolute residual) the marrow
    voxels next to dense tissue away from the lesion: on the femur phantoms it comes out 0.6
    pixel in 61 of 64 cases (0.55-0.65 in the rest), the phantom's own blur, never given."""
    level = lesion_hu + SOURCE_ABOVE_LESION_HU
    source = np.maximum(hu - np.float32(level), np.float32(0.0))
    box = bbox(grow_box(core, (9, 21, 21)))
    away = grow_box(marrow, (1, 5, 5)) & ~grow_box(core, (3, 9, 9)) & (hu < level)
    near = (grow_box(source > 0, (1, 3, 3)) & away)[box]
    if np.count_nonzero(near) < _MIN_SAMPLES:
        return 0.0
    seen = hu[box][near] - np.float32(normal_hu)
    misfit = [float(np.median(np.abs(seen - _lift(source[box], s)[near]))) for s in _SIGMAS_PX]
    return _lift(source, float(_SIGMAS_PX[int(np.argmin(misfit))]))
