"""Synthetic CT of a right thigh with a metastasis in the femoral shaft, with exact ground truth.

Every tissue is an analytic solid in patient millimetres (LPS).  Each voxel's HU comes from the
solids evaluated at the voxel centre, with a partial-volume ramp one voxel footprint wide across
each surface (the footprint is the voxel box projected on the surface normal, so thick slices
blur surfaces that cross them obliquely), then an in-plane Gaussian PSF, then Gaussian noise.
The lesion displaces only the tissue of the solid it grows in (bone or canal), so a voxel's HU
holds the lesion's share and no trace of what it replaced.  Labels are hard decisions at the
voxel centres on the same solids (the lesion: where it covers more than half the voxel), so
the truth is exact.

The bone axis frame: ``s`` is the position along the axis from the bone centre (positive =
superior); angles around the axis are measured from the projection of LPS +x (the patient's
left, medial for this right femur) towards the projection of +y (posterior).

The work is done in slabs of slices and only on points that can hold tissue, which keeps a
512 x 512 x 400 volume to a few seconds and a few hundred MB beyond the output arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from implantgen.records import Volume

# --- Fixed anatomy (mm).  HU from docs/domain.md: fat -50..-100, muscle +40..+80, fatty
# marrow negative, trabecular bone 100-300, cortex 700-2000, lytic 20-80, blastic ~650.
THIGH_CENTRE = np.array([-90.0, 20.0, -250.0])  # patient's right, mid-femur height (LPS)
THIGH_SEMI_AXES = (75.0, 65.0)  # x (left-right), y (antero-posterior): a 150 x 130 mm thigh
SKIN_MM, FAT_MM = 2.0, 14.0
BONE_OFFSET = np.array([-4.0, -6.0, 0.0])  # the shaft sits a little lateral (-x) and anterior (-y)
SHAFT_RADIUS_MM, CORTEX_SHAFT_MM, CORTEX_END_MM = 13.0, 5.5, 1.0
END_RADIUS_MM, METAPHYSIS_MM = 26.0, 65.0  # flared, rounded ends over the last 65 mm
END_FLATNESS = 0.45  # the rounded end is a half-spheroid this many times as long as it is wide
HU = {"air": -1000.0, "skin": 30.0, "fat": -100.0, "muscle": 50.0, "cortex": 1450.0,
      "marrow": -80.0, "trabecular": 230.0, "lytic": 40.0, "blastic": 780.0}
TEXTURE_HU = {"trabecular": 60.0, "lytic": 10.0, "blastic": 90.0}
# Lesion shapes: (order, relative amplitude, phase) of the lobes around the lesion's own centre
# line, plus one axial undulation.  Fixed, so the seed changes noise and texture, not the truth.
LYTIC_LOBES, LYTIC_AXIAL = ((2, 0.08, 0.6), (3, 0.05, 2.1)), (0.04, 1.0)
BLASTIC_LOBES, BLASTIC_AXIAL = ((3, 0.15, 0.4), (5, 0.08, 1.7)), (0.12, 0.3)
# Lesion centre lines run parallel to the axis, this fraction of the canal radius off it.
LYTIC_OFFSET, BLASTIC_OFFSET = 0.8, 0.25
LYTIC_BREACH_MM = 2.5  # how far the lytic body reaches past the periosteum: the cortical break
# A lytic lesion destroying a chosen share of the cortex (FemurSpec.cortex_destroyed) is a wedge
# around the axis: reaching past the periosteum over that share, this far out (a share of the
# canal radius) elsewhere, and between the two on ramps this many degrees wide.  Its flanks cross
# mid-cortex steeply, so the lobes move the share little (a round body grazes it past ~3/4).
WEDGE_CORE, WEDGE_FLANK_DEG = 0.5, 20.0
# A mixed lesion is the lytic body with sclerotic islands: blastic where a smooth random field
# of 5-10 mm wavelength is above this level (about a third of the body's volume).
ISLAND_LEVEL, ISLAND_WAVELENGTH_MM = 0.45, (5.0, 10.0)
EXTENSION_AXES_MM = (7.0, 9.0)  # soft-tissue mass: radial (thickness) and tangential semi-axes
SLAB = 16  # slices per slab; fixed, so the noise stream does not depend on memory


@dataclass(frozen=True)
class FemurSpec:
    size: int = 256  # columns = rows of each slice
    pixel_mm: float = 0.8  # in-plane pixel spacing
    slices: int = 180
    slice_mm: float = 2.0
    direction: tuple = (1, 0, 0, 0, 1, 0, 0, 0, 1)  # row-major; columns = LPS vectors of i, j, k
    tilt_deg: float = 0.0  # angle of the bone's long axis against the scanner z axis
    tilt_azimuth_deg: float = 0.0  # direction of that tilt in the x-y plane (0 = towards +x)
    bone_length_mm: float = 300.0  # shaft + flared metaphyses with rounded ends, centred in the FOV
    lesion_type: str = "lytic"  # "lytic", "blastic" or "mixed" (lytic with sclerotic islands)
    lesion_length_mm: float = 40.0  # extent along the bone axis
    lesion_center_mm: float = 0.0  # along the axis from the bone centre (positive = superior)
    lesion_angle_deg: float = 30.0  # around the axis (module docstring): where it breaks the cortex
    soft_tissue_extension: bool = True  # lytic and mixed: a small mass through the cortical break
    # Lytic and mixed: the share of the circumference (0-1] the lesion destroys to mid-cortex and
    # beyond, before its lobes (the truth's cortical_involvement is that measured).  None: the
    # round body, LYTIC_OFFSET x the canal radius off the axis, destroying about 0.36 of it.
    cortex_destroyed: float | None = None
    noise_hu: float = 12.0
    margin_mm: float = 20.0  # resection margin used for the truth osteotomies
    seed: int = 0


@dataclass(frozen=True)
class PhantomCase:
    volume: Volume  # HU as int16, geometry filled, summary=None
    labels: np.ndarray  # uint8 (k, j, i): 0 background, 1 bone, 2 lesion (see femur_phantom)
    truth: dict  # JSON-serialisable ground truth


def femur_phantom(spec: FemurSpec = FemurSpec()) -> PhantomCase:
    """Render the phantom described by ``spec``.

    Labels: 1 is the intact solid bone (cortex + marrow); 2 is the lesion, painted over the bone
    it replaced and including any soft-tissue extension outside it.  So ``labels >= 1`` minus the
    extension is the whole solid bone.  Raises ValueError for a spec that makes no sense.
    """
    geo = _Geometry(spec)
    rng = np.random.default_rng(spec.seed)
    textures = {"trabecular": _Texture(rng, 1.5, 4.0), "lesion": _Texture(rng, 3.0, 7.0)}
    if spec.lesion_type == "mixed":  # from a stream of its own: the noise stays that of the seed
        textures["islands"] = _Texture(np.random.default_rng((spec.seed, 1)), *ISLAND_WAVELENGTH_MM)
    hu, labels = _render(geo, textures, rng)
    volume = Volume(array=hu, spacing=geo.spacing, origin=geo.origin, direction=geo.D)
    from .truth import phantom_truth  # it reads this module's anatomy

    return PhantomCase(volume=volume, labels=labels, truth=phantom_truth(geo, labels))


class _Geometry:
    """The spec turned into vectors and profiles; all positions relative to THIGH_CENTRE."""

    def __init__(self, spec: FemurSpec):
        _validate(spec)
        self.spec = spec
        self.D = np.asarray(spec.direction, dtype=float).reshape(3, 3)
        self.spacing = np.array([spec.pixel_mm, spec.pixel_mm, spec.slice_mm], dtype=float)
        self.B = self.D * self.spacing[None, :]  # index steps in mm, one column per index axis
        self.pad = 0.5 * self.spacing.sum() + 0.5  # beyond any ramp's reach (half a footprint)
        centre_index = (np.array([spec.size, spec.size, spec.slices]) - 1) / 2.0
        self.origin = THIGH_CENTRE - self.B @ centre_index  # grid centre = thigh centre
        t, az = math.radians(spec.tilt_deg), math.radians(spec.tilt_azimuth_deg)
        self.d = np.array([math.sin(t) * math.cos(az), math.sin(t) * math.sin(az), math.cos(t)])
        e1 = np.array([1.0, 0, 0]) - self.d[0] * self.d  # angles start from +x ...
        if np.linalg.norm(e1) < 1e-6:  # ... or from +y when the axis lies along x
            e1 = np.array([0.0, 1.0, 0]) - self.d[1] * self.d
        e1 = e1 / np.linalg.norm(e1)
        e2 = np.cross(self.d, e1)
        th = math.radians(spec.lesion_angle_deg)
        self.u = math.cos(th) * e1 + math.sin(th) * e2  # towards the lesion
        self.v = np.cross(self.d, self.u)
        self.e1, self.e2 = e1, e2
        self.half = spec.bone_length_mm / 2.0
        self.meta = min(METAPHYSIS_MM, 0.25 * spec.bone_length_mm)  # short bones: shorter ends
        self.r_end = min(END_RADIUS_MM, 0.45 * self.meta)
        self.c_end = END_FLATNESS * self.r_end  # axial semi-axis of the end caps
        self.s_cap = self.half - self.c_end  # centres of the end caps
        self.s_shaft = self.half - self.meta  # |s| <= s_shaft: constant shaft radius and cortex
        self.rc = SHAFT_RADIUS_MM - CORTEX_SHAFT_MM
        self.h, self.sc = spec.lesion_length_mm / 2.0, spec.lesion_center_mm
        if spec.lesion_type == "blastic":
            self.offset = BLASTIC_OFFSET * self.rc
        else:  # the wedge's centre line is the axis
            self.offset = LYTIC_OFFSET * self.rc if spec.cortex_destroyed is None else 0.0
        if abs(self.sc) + self.h >= self.s_shaft:
            raise ValueError(
                f"The lesion ({self.sc - self.h:g} to {self.sc + self.h:g} mm along the axis) must "
                f"lie inside the femoral shaft, which spans -{self.s_shaft:g} to {self.s_shaft:g} "
                f"mm from the bone centre: move it or make it shorter.")

    def wedge(self, phi: np.ndarray):
        """Radius of the wedge (WEDGE_CORE) at angles phi from the lesion angle, and its derivative:
        it crosses mid-cortex at +-pi * cortex_destroyed."""
        reach, core = SHAFT_RADIUS_MM + LYTIC_BREACH_MM, WEDGE_CORE * self.rc
        slope = (reach - core) / math.radians(WEDGE_FLANK_DEG)
        mid = SHAFT_RADIUS_MM - CORTEX_SHAFT_MM / 2
        raw = mid + slope * (math.pi * self.spec.cortex_destroyed - np.abs(phi))
        ramp = (raw > core) & (raw < reach)
        return np.clip(raw, core, reach), np.where(ramp, -slope * np.sign(phi), 0.0)

    def width(self, n: np.ndarray) -> np.ndarray:
        """Voxel footprint (mm) across a surface with unit normals n (3, N)."""
        return np.maximum(np.abs(self.B.T @ n).sum(axis=0), 0.25 * self.spacing.min())

    def frame(self, P: np.ndarray):
        """Axial position s, radial vector (3, N) and radius of points P (3, N)."""
        w = P - BONE_OFFSET[:, None]
        s = self.d @ w
        rvec = w - self.d[:, None] * s
        return s, rvec, np.linalg.norm(rvec, axis=0)

    def profile(self, s: np.ndarray):
        """Outer and endosteal radii and their slopes dR/ds, valid for |s| <= s_cap."""
        span = self.s_cap - self.s_shaft
        t = np.clip((np.abs(s) - self.s_shaft) / span, 0.0, 1.0)
        sm, dsm = t * t * (3 - 2 * t), 6 * t * (1 - t) * np.sign(s) / span
        R = SHAFT_RADIUS_MM + (self.r_end - SHAFT_RADIUS_MM) * sm
        dR = (self.r_end - SHAFT_RADIUS_MM) * dsm
        thick = CORTEX_SHAFT_MM + (CORTEX_END_MM - CORTEX_SHAFT_MM) * sm
        dthick = (CORTEX_END_MM - CORTEX_SHAFT_MM) * dsm
        return R, dR, R - thick, dR - dthick

    def trabecularity(self, s: np.ndarray) -> np.ndarray:
        """0 in the fatty diaphysis, 1 in the metaphyses; starts 10 mm before the flare."""
        start = self.s_shaft - 10.0
        t = np.clip((np.abs(s) - start) / (0.5 * (self.s_cap - self.s_shaft) + 10.0), 0.0, 1.0)
        return t * t * (3 - 2 * t)

    def solid_sd(self, s, rvec, rho, R, dR, inset):
        """Signed distance (first order) and normal of a solid of revolution closed by
        half-spheroids; ``inset`` shrinks the caps (the endosteal surface)."""
        norm = np.sqrt(1.0 + dR**2)
        sd = (rho - R) / norm
        n = (rvec / np.maximum(rho, 1e-9) - self.d[:, None] * dR) / norm
        cap = np.abs(s) > self.s_cap
        if cap.any():
            z, a, c = s - np.sign(s) * self.s_cap, self.r_end - inset, self.c_end - inset
            r = np.sqrt((z / c) ** 2 + (rho / a) ** 2)
            g = self.d[:, None] * (z / c**2) + rvec / a**2  # = r * grad(r)
            gn = np.maximum(np.sqrt((g * g).sum(axis=0)), 1e-9)
            sd = np.where(cap, (r - 1) * r / gn, sd)
            n = np.where(cap, g / gn, n)
        return sd, n

    def lesion_body(self, s, rvec, offset, a0, lobes, axial):
        """A lobulated body, blunt-ended along the axis (t^4): exactly |s - sc| <= h at q = 0.

        Its centre line runs parallel to the axis, ``offset`` mm towards the lesion angle.  Its
        radius ``a0``: a number, or a function of the angle phi around the centre line giving the
        radius and its derivative (in the normal: the lobes' is small and left out, not a wedge's).
        """
        qu, qv = self.u @ rvec - offset, self.v @ rvec
        phi, t = np.arctan2(qv, qu), (s - self.sc) / self.h
        a0, da0 = a0(phi) if callable(a0) else (a0, None)
        a = a0 * (1 + sum(amp * np.cos(m * phi + ph) for m, amp, ph in lobes))
        a = a * (1 + axial[0] * np.cos(2 * np.pi * t + axial[1]))
        G = t**4 + (qu**2 + qv**2) / a**2 - 1
        g = np.outer(self.d, 4 * t**3 / self.h) + np.outer(self.u, 2 * qu / a**2)
        g = g + np.outer(self.v, 2 * qv / a**2)
        if da0 is not None:  # + dG/dphi / rho along the tangent (-qv u + qu v) / rho
            c = 2 * (da0 / a0) / a**2
            g = g + np.outer(self.u, c * qv) - np.outer(self.v, c * qu)
        gn = np.maximum(np.linalg.norm(g, axis=0), 1e-6)
        return G / gn, g / gn

    def lesion(self, s, rvec, f):
        """Partial coverage of the lesion's body (within the solid it grows in, the bone for a
        lytic lesion and the canal for a blastic one), of its soft-tissue extension (outside
        any solid; zero without one) and the hard inside-test of both together."""
        extension = np.zeros_like(s)
        if self.spec.lesion_type in ("lytic", "mixed"):
            offset = self.offset  # eccentric: breaks the cortex on its own side only
            a0 = SHAFT_RADIUS_MM + LYTIC_BREACH_MM - offset
            if self.spec.cortex_destroyed is not None:
                a0 = self.wedge
            sd, n = self.lesion_body(s, rvec, offset, a0, LYTIC_LOBES, LYTIC_AXIAL)
            body = np.minimum(_coverage(sd, self.width(n)), f["cover_bone"])
            inside = (sd < 0) & (f["sd_bone"] < 0)
            if self.spec.soft_tissue_extension:
                coords = (s - self.sc, self.u @ rvec - SHAFT_RADIUS_MM, self.v @ rvec)
                axes = (0.6 * self.h,) + EXTENSION_AXES_MM  # strictly within the axial extent
                sd_e, n_e = _ellipsoid_sd(coords, axes, (self.d, self.u, self.v))
                extension = _coverage(sd_e, self.width(n_e))
                inside |= sd_e < 0
        else:
            offset = self.offset  # reaches the endosteum on its side, stays inside
            sd, n = self.lesion_body(s, rvec, offset, self.rc - offset + 0.5, BLASTIC_LOBES,
                                     BLASTIC_AXIAL)
            body = np.minimum(_coverage(sd, self.width(n)), f["cover_canal"])
            inside = (sd < 0) & (f["sd_canal"] < 0)
        return body, extension, inside

    def bone_fields(self, P: np.ndarray) -> dict:
        """Everything about the bone and lesion at points P (3, N)."""
        s, rvec, rho = self.frame(P)
        R, dR, Ri, dRi = self.profile(s)
        f = {"s": s}
        f["sd_bone"], n = self.solid_sd(s, rvec, rho, R, dR, 0.0)
        f["cover_bone"] = _coverage(f["sd_bone"], self.width(n))
        f["sd_canal"], n = self.solid_sd(s, rvec, rho, Ri, dRi, CORTEX_END_MM)
        f["cover_canal"] = _coverage(f["sd_canal"], self.width(n))
        for key in ("cover_body", "cover_extension"):
            f[key] = np.zeros_like(s)
        f["in_lesion"] = np.zeros(s.shape, dtype=bool)
        near = np.flatnonzero(np.abs(s - self.sc) < self.h + self.pad)
        if near.size:
            sub = {key: value[near] for key, value in f.items()}
            body, extension, inside = self.lesion(s[near], rvec[:, near], sub)
            f["cover_body"][near], f["cover_extension"][near], f["in_lesion"][near] = \
                body, extension, inside
        # The lesion's share of each voxel; the labels are exactly where it is over one half.
        f["cover_lesion"] = np.maximum(f["cover_body"], f["cover_extension"])
        return f


class _Texture:
    """Smooth random texture of unit variance: a few plane waves with seeded directions."""

    def __init__(self, rng, wavelength_lo, wavelength_hi, waves=12):
        k = rng.normal(size=(waves, 3))
        k /= np.linalg.norm(k, axis=1, keepdims=True)
        self.k = k * (2 * np.pi / rng.uniform(wavelength_lo, wavelength_hi, size=(waves, 1)))
        self.phase = rng.uniform(0, 2 * np.pi, size=(waves, 1))
        self.scale = math.sqrt(2.0 / waves)

    def __call__(self, P: np.ndarray) -> np.ndarray:
        return self.scale * np.cos(self.k @ P + self.phase).sum(axis=0)


def _render(geo: _Geometry, textures: dict, rng):
    spec = geo.spec
    shape = (spec.slices, spec.size, spec.size)
    hu = np.empty(shape, dtype=np.int16)
    labels = np.zeros(shape, dtype=np.uint8)
    for k0 in range(0, spec.slices, SLAB):
        k1 = min(k0 + SLAB, spec.slices)
        flat, box = _thigh_voxels(geo, k0, k1)
        kk, jj, ii = np.unravel_index(flat, (k1 - k0, spec.size, spec.size))
        P = (geo.origin - THIGH_CENTRE)[:, None] + geo.B @ np.stack([ii, jj, kk + k0]).astype(float)
        values, labs = _tissue(geo, textures, P)
        slab = np.full((k1 - k0, spec.size, spec.size), HU["air"], dtype=np.float32)
        slab.reshape(-1)[flat] = values
        # The scanner PSF, in-plane; outside the box all is air, which a blur leaves unchanged.
        slab[box] = ndimage.gaussian_filter(slab[box], sigma=(0, 0.5, 0.5), mode="nearest")
        slab += rng.standard_normal(slab.shape, dtype=np.float32) * np.float32(spec.noise_hu)
        hu[k0:k1] = np.clip(np.rint(slab), -1024, 3071)
        labels[k0:k1].reshape(-1)[flat] = labs
    return hu, labels


def _thigh_voxels(geo: _Geometry, k0: int, k1: int):
    """Flat slab indices of the voxels inside the padded thigh outline, and their bounding box.

    Along one image row x and y are linear in i, so the ellipse test is a quadratic in i: solving
    it row by row avoids evaluating anything on the (mostly air) full grid.
    """
    n = geo.spec.size
    a, b = (ax + geo.pad for ax in THIGH_SEMI_AXES)
    k, j = np.meshgrid(np.arange(k0, k1, dtype=float), np.arange(n, dtype=float), indexing="ij")
    o = geo.origin - THIGH_CENTRE
    x0 = o[0] + geo.B[0, 1] * j + geo.B[0, 2] * k  # position at i = 0
    y0 = o[1] + geo.B[1, 1] * j + geo.B[1, 2] * k
    p, q = geo.B[0, 0], geo.B[1, 0]  # change per step in i
    A = max(p * p / a**2 + q * q / b**2, 1e-12)  # tiny if i runs along z: all in or all out
    Bq = 2 * (x0 * p / a**2 + y0 * q / b**2)
    disc = Bq * Bq - 4 * A * ((x0 / a) ** 2 + (y0 / b) ** 2 - 1)
    root = np.sqrt(np.maximum(disc, 0.0))
    lo, hi = (-Bq - root) / (2 * A), np.where(disc > 0, (-Bq + root) / (2 * A), -np.inf)
    lo = np.clip(np.ceil(lo), 0, n).astype(np.int64).ravel()
    hi = np.clip(np.floor(hi), -1, n - 1).astype(np.int64).ravel()
    counts = np.maximum(hi - lo + 1, 0)
    starts = np.arange(lo.size) * n + lo
    flat = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
    rows = np.flatnonzero(counts) % n  # j of the rows that hold tissue
    if rows.size == 0:
        return flat, (slice(None), slice(0, 0), slice(0, 0))
    g = 3  # the blur reaches 2 pixels (sigma 0.5, truncated at 4 sigma)
    box = (slice(None), slice(max(rows.min() - g, 0), rows.max() + g + 1),
           slice(max(lo[counts > 0].min() - g, 0), hi[counts > 0].max() + g + 1))
    return flat, box


def _tissue(geo: _Geometry, textures: dict, P: np.ndarray):
    """HU and labels at points P (3, N) inside the padded thigh outline."""
    hu = _thigh(geo, P[0], P[1])
    labels = np.zeros(P.shape[1], dtype=np.uint8)
    w = P - BONE_OFFSET[:, None]
    s = geo.d @ w  # a cheap pre-selection of the points near the bone: |w|^2 - s^2 = rho^2
    rho2 = (w * w).sum(axis=0) - s * s
    near = np.flatnonzero((np.abs(s) < geo.half + geo.pad) & (rho2 < (geo.r_end + geo.pad) ** 2))
    if near.size:
        Pn = P[:, near]
        f = geo.bone_fields(Pn)
        v = _mix(hu[near], HU["cortex"], f["cover_bone"])
        trab = geo.trabecularity(f["s"])
        marrow = HU["marrow"] + (HU["trabecular"] - HU["marrow"]) * trab
        marrow = marrow + TEXTURE_HU["trabecular"] * trab * textures["trabecular"](Pn)
        v = _mix(v, marrow, f["cover_canal"])
        kind = geo.spec.lesion_type
        lesion = _lesion_hu(kind, textures, Pn, f["cover_extension"] > f["cover_body"])
        if kind in ("lytic", "mixed"):  # grows in the bone: what it displaces is the bone's own mixture
            share = np.clip(f["cover_canal"] / np.maximum(f["cover_bone"], 1e-9), 0.0, 1.0)
            content = _mix(HU["cortex"], marrow, share)
        else:  # grows in the canal: it displaces marrow
            content = marrow
        hu[near] = _paint_lesion(v, content, lesion, f["cover_body"], f["cover_extension"])
        labels[near] = np.where(f["in_lesion"], 2, np.where(f["sd_bone"] < 0, 1, 0))
    return hu, labels


def _lesion_hu(kind: str, textures: dict, P: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """The lesion's own HU at points P (3, N); ``soft``: where its soft-tissue extension is the
    larger share (a mixed lesion's extension is a soft-tissue mass, without islands)."""
    if kind != "mixed":
        return HU[kind] + TEXTURE_HU[kind] * textures["lesion"](P)
    tex = textures["lesion"](P)
    island = (textures["islands"](P) > ISLAND_LEVEL) & ~soft
    return np.where(island, HU["blastic"] + TEXTURE_HU["blastic"] * tex, HU["lytic"] + TEXTURE_HU["lytic"] * tex)


def _thigh(geo: _Geometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Air, skin, subcutaneous fat and muscle of an elliptic thigh running along z.

    The inner layers are parallel to the skin (constant thickness), so their signed distances
    are the skin's shifted by the depth, and one normal serves all three ramps.
    """
    sd, n = _ellipsoid_sd((x, y), THIGH_SEMI_AXES, (np.array([1.0, 0, 0]), np.array([0, 1.0, 0])))
    w = geo.width(n)
    hu = np.full(x.shape, HU["air"])
    for depth, tissue in ((0.0, "skin"), (SKIN_MM, "fat"), (SKIN_MM + FAT_MM, "muscle")):
        hu = _mix(hu, HU[tissue], _coverage(sd + depth, w))
    return hu


def _ellipsoid_sd(coords, axes, dirs):
    """First-order signed distance to sum((c/A)^2) = 1 and its unit normal (3, N).

    coords are the points' coordinates along the unit vectors dirs, from the centre.
    """
    r = np.sqrt(sum((c / A) ** 2 for c, A in zip(coords, axes)))
    g = sum(np.outer(e, c / A**2) for e, c, A in zip(dirs, coords, axes))  # = r * grad(r)
    gn = np.sqrt((g * g).sum(axis=0))
    ok = gn > 1e-12
    sd = np.where(ok, (r - 1) * r / np.where(ok, gn, 1.0), -min(axes))
    return sd, g / np.where(ok, gn, 1.0)


def _coverage(sd: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Fraction of a voxel inside a surface: a linear ramp one footprint wide."""
    return np.clip(0.5 - sd / width, 0.0, 1.0)


def _mix(hu, value, cover):
    return hu + cover * (value - hu)


def _paint_lesion(hu, content, lesion, body, extension):
    """A voxel's HU with the lesion in it, its lesion share being max(body, extension).

    The body grows inside a solid (bone or canal) and displaces only that solid's ``content``:
    at the solid's surface a half-covered voxel is half lesion and half what lies outside the
    solid.  Mixing the lesion over the voxel's already mixed value instead would keep part of
    the displaced tissue (cortex at the endosteum or periosteum) in the voxel, and its HU would
    disagree with the labels there.  The extension's surface is unrelated to the solids, so the
    extension's extra share takes from the rest of the voxel in proportion.
    """
    hu = hu + body * (lesion - content)
    rest_share = 1.0 - body
    rest = (hu - body * lesion) / np.maximum(rest_share, 1e-9)  # HU of the non-body remainder
    extra = np.maximum(extension - body, 0.0)
    return hu + np.where(rest_share > 1e-9, extra * (lesion - rest), 0.0)


def _validate(spec: FemurSpec) -> None:
    D = np.asarray(spec.direction, dtype=float)
    if D.size != 9 or not np.allclose(D.reshape(3, 3).T @ D.reshape(3, 3), np.eye(3), atol=1e-4):
        raise ValueError("The direction must be an orthonormal 3x3 matrix given as 9 numbers.")
    if spec.size < 8 or spec.slices < 1 or spec.pixel_mm <= 0 or spec.slice_mm <= 0:
        raise ValueError("The grid needs at least 8 x 8 pixels, one slice and positive spacings.")
    if spec.lesion_type not in ("lytic", "blastic", "mixed"):
        raise ValueError(f"The lesion type must be 'lytic', 'blastic' or 'mixed', not {spec.lesion_type!r}.")
    if spec.bone_length_mm < 80:
        raise ValueError("The bone must be at least 80 mm long to have a shaft between its ends.")
    if spec.cortex_destroyed is not None and not 0 < spec.cortex_destroyed <= 1:
        raise ValueError("The share of the cortex destroyed must be above 0 and at most 1.")
    if spec.lesion_length_mm <= 0 or spec.noise_hu < 0 or spec.margin_mm < 0:
        raise ValueError("The lesion length must be positive and the noise and margin not negative.")
