"""A mixed lesion's end surface: a quadratic fitted robustly to its read columns' reaches, and
the apex it puts past them where a partial break's tip tapers against the cortex.

On 1.5 x 3 mm voxels a mixed lesion's last 0.6-2 mm at a partial break is a thin apex against
the cortex that never fills half a voxel: even the true labels' farthest voxel centre lies
1.7-2.1 mm under the true end (2 ends of seeds 11-12), and the columns read against the cortex
(extent._cortex_tips) read their own reach right but stop beside the apex (an end 1.30 mm short,
seed 11 case 5). A lytic lesion's apex is extrapolated as a paraboloid over the columns within
4.5 mm of its crest (extent._hidden_apex); a mixed lesion's islands leave too few of those read,
and its unread columns are mostly islands, so here the apex comes from the end's whole surface
(the quadratic extent._surface_crest fits over 15 mm), only where it is a summit beside columns
read against the cortex, no farther than the next column and its last voxel's far face.
"""

from __future__ import annotations

import numpy as np

# The surface is fitted over the columns read within this many mm in-plane of the crest's
# column, wherever on the end that is: a whole-circumference end spans the canal and the broken
# cortex, 15.5 mm in radius (10 mm from a crest column at its edge left the fit flat there, the
# misread patch standing).
SURFACE_MM = 15.0
# Tukey's weight drops columns this many robust SDs off the surface: a misread patch stands 1.5-2
# mm out, the columns' own scatter ~0.3-0.5 mm.
_SURFACE_CUT = 2.5
SURFACE_MIN = 12  # columns: twice the quadratic's six coefficients
# The apex column must have a column read against the cortex within this many columns: there
# the apex is a partial break's tip against the cortex.  Elsewhere the unread columns past the
# summit are islands': without this guard one end of seeds 11-12 went 1.10 mm out (0.87 before,
# 1.3 x 2.5 mm voxels), and so it did with 3 columns; with 1 the 1.30 mm short end stayed short.
_CORTEX_COLUMNS = 2


def tukey_fit(design: np.ndarray, z: np.ndarray, iters: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, weights): least squares of ``z`` on ``design``, reweighted by Tukey's
    biweight (its scale: the residuals' MAD) so that columns far off the surface, either way,
    count for nothing (weight 0)."""
    w = np.ones(len(z))
    for _ in range(iters):
        root = np.sqrt(w)
        coef = np.linalg.lstsq(design * root[:, None], z * root, rcond=None)[0]
        r = z - design @ coef
        scale = 1.4826 * float(np.median(np.abs(r - np.median(r)))) + 1e-6
        u = r / (_SURFACE_CUT * scale)
        w = np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0)
    return coef, w


def design(d: np.ndarray) -> np.ndarray:
    """The quadratic's terms (1, u, v, u^2, uv, v^2) at in-plane offsets ``d`` (N, 2)."""
    u, v = d.T
    return np.column_stack([np.ones(len(u)), u, v, u * u, u * v, v * v])


def surface_fit(reach: np.ndarray, spacing, crest: float):
    """(top, offsets, reaches, coefficients, weights) of the quadratic over the read columns
    within SURFACE_MM of the crest's column (``top``, mm; ``offsets`` from it), or None where
    fewer than SURFACE_MIN are read there."""
    rows = np.argwhere(~np.isnan(reach))
    x = rows * np.asarray(spacing, dtype=float)
    z = reach[tuple(rows.T)]
    top = x[np.argmin(np.abs(z - crest))]  # the crest's own column
    near = np.linalg.norm(x - top, axis=1) <= SURFACE_MM
    if np.count_nonzero(near) < SURFACE_MIN:
        return None
    c, w = tukey_fit(design(x[near] - top), z[near])
    return top, x[near] - top, z[near], c, w


def summit(c: np.ndarray) -> np.ndarray | None:
    """The quadratic's summit (offset from its origin, mm), None where it has none (flat or a
    saddle)."""
    hessian = np.array([[2 * c[3], c[4]], [c[4], 2 * c[5]]])
    if np.linalg.eigvalsh(hessian).max() >= 0:
        return None
    return np.linalg.solve(hessian, -c[1:3])


def cortex_apex(reach: np.ndarray, centres: np.ndarray, cortex: np.ndarray, spacing, crest: float,
                delta: float) -> float:
    """A mixed lesion's crest, or farther where the end surface's summit lies past it in an
    unread column of the lesion with a column read against the cortex (``cortex``, a map like
    ``reach``) within _CORTEX_COLUMNS: a partial break's tip.  Like extent._hidden_apex, no
    farther than the next column (the surface's reach one column diagonal from the crest's
    column, towards its summit) and that column's last lesion voxel's far face (``centres`` +
    ``delta``/2; its next voxel is not lesion): two columns on, two ends of seeds 11-12 went
    1.07 and 1.74 mm out.  It moved the crests of 16 sweep ends (seeds 11-13, both grids) out
    by 0.12-0.81 mm."""
    fit = surface_fit(reach, spacing, crest)
    if fit is None:
        return crest
    top, _, _, c, _ = fit
    apex = summit(c)
    if apex is None:
        return crest
    sp = np.asarray(spacing, dtype=float)
    step = float(np.linalg.norm(sp))
    apex = apex * min(1.0, step / max(float(np.linalg.norm(apex)), 1e-9))
    level = float(design(apex[None])[0] @ c)
    col = tuple(np.round((top + apex) / sp).astype(int))
    inside = all(0 <= i < n for i, n in zip(col, reach.shape))
    if level <= crest or not inside or np.isnan(centres[col]) or not np.isnan(reach[col]):
        return crest
    box = tuple(slice(max(i - _CORTEX_COLUMNS, 0), i + _CORTEX_COLUMNS + 1) for i in col)
    if not (cortex[box] & ~np.isnan(reach[box])).any():
        return crest
    return max(crest, min(level, float(centres[col]) + delta / 2))
