"""The soft-tissue extension of a lytic lesion: tumour grown out through a cortical break.

It has soft-tissue density like the muscle around it, so density alone cannot find it; what
tells it apart is a small, consistent difference that smoothing brings out, and where it is: it
grows from the break, next to the bone, within the lesion's own levels.  Where the lesion and
the muscle do not differ enough to tell, no extension is claimed and a note says so.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


_SEPARATION = 1.5  # lesion and tissue must differ by this many noise widths of the smoothed image


def soft_tissue_extension(hu: np.ndarray, solid: np.ndarray, lesion: np.ndarray, lesion_hu: float,
                          spacing_kji: np.ndarray, reach_mm: float) -> tuple[np.ndarray, str | None]:
    """(mask outside ``solid`` connected to the lesion's break, note or None); ROI arrays."""
    empty = np.zeros_like(lesion)
    shell = solid & ~ndimage.binary_erosion(solid)
    breach = lesion & ndimage.binary_dilation(shell)
    if not breach.any():
        return empty, None
    outside = ~solid
    dist_break = ndimage.distance_transform_edt(~breach, sampling=spacing_kji)
    dist_bone = ndimage.distance_transform_edt(outside, sampling=spacing_kji)
    # Smooth soft tissue only (normalised convolution: cortex and fat do not bleed in), enough
    # that a difference of a few HU stands out of the noise (sigma ~2 mm).
    soft = outside & (np.abs(hu - lesion_hu) < 100)
    sigma = 2.0 / spacing_kji
    weight = ndimage.gaussian_filter(soft.astype(np.float32), sigma)
    smooth = ndimage.gaussian_filter(np.where(soft, hu, 0).astype(np.float32), sigma)
    smooth = np.where(weight > 0.2, smooth / np.maximum(weight, 1e-6), lesion_hu + 1e3)
    # The tissue around the bone at the lesion's levels, away from the break: the reference.
    levels = np.zeros(hu.shape[0], dtype=bool)
    levels[np.flatnonzero(lesion.any(axis=(1, 2)))] = True
    around = soft & (dist_bone > 2.0) & (dist_bone < 2.0 + reach_mm) & (dist_break > reach_mm)
    around &= levels[:, None, None]
    if around.sum() < 50:
        return empty, None
    tissue_hu = float(np.median(smooth[around]))
    noise = 1.4826 * float(np.median(np.abs(smooth[around] - tissue_hu)))  # robust: MAD
    if abs(tissue_hu - lesion_hu) < _SEPARATION * noise:
        return empty, (f"The lesion ({lesion_hu:.0f} HU) and the tissue around the bone "
                       f"({tissue_hu:.0f} HU) are too alike to outline a soft-tissue extension; "
                       "none is included.")
    closer = np.abs(smooth - lesion_hu) < np.abs(smooth - tissue_hu)
    zone = soft & (dist_break <= reach_mm) & levels[:, None, None] & closer
    # Speckles of noise that happen to be closer to the lesion are opened away before growing.
    # (in-plane only: a small extension is few slices thick).
    cross = ndimage.generate_binary_structure(3, 1)
    cross[0], cross[2] = False, False
    zone = ndimage.binary_opening(zone, structure=cross)
    grown = ndimage.binary_propagation(breach & zone | (ndimage.binary_dilation(breach) & zone),
                                       mask=zone)
    return grown & outside, None
