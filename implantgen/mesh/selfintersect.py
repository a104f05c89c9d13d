"""Which triangles of a mesh meet where they should not: an exact self-intersection test.

Two triangles intersect when they share a point other than the vertices and edge they share in
the mesh (touching counts: a slicer cannot tell a touch from a crossing either).  Geometric
predicates are exact on the stored coordinates: each sign is computed in float64 with
Shewchuk's error bound, and only the undecided ones (coplanar or nearly so) are recomputed with
Python integers.  The broad phase pairs triangles whose bounding boxes meet (``broadphase``);
float tests with proven rounding margins (a separating axis, a vertex ring that cannot fold)
settle nearly all pairs before any exact predicate runs.

An exact test also finds what a boolean kernel leaves within its tolerance (manifold3d's
results are only epsilon-valid): ``penetration_depths`` says how deep each meeting goes.
"""

from __future__ import annotations

import numpy as np

from .broadphase import candidate_pairs

_EPS = 2.0**-53
# Shewchuk, "Adaptive precision floating-point arithmetic", 1997: first-stage error bounds.
_O3D_BOUND = (7.0 + 56.0 * _EPS) * _EPS
_O2D_BOUND = (3.0 + 16.0 * _EPS) * _EPS


class _Points:
    """Vertex coordinates as floats and, on demand, as exact integers on a common 2^base scale."""

    def __init__(self, vertices: np.ndarray):
        self.xyz = np.ascontiguousarray(vertices, dtype=np.float64)
        mant, exp = np.frexp(self.xyz)
        self.mant = (mant * 2.0**53).astype(np.int64)  # exact: a float64 mantissa has 53 bits
        exp = exp.astype(np.int64) - 53
        nonzero = self.mant != 0
        self.base = int(exp[nonzero].min()) if nonzero.any() else 0
        self.shift = np.where(nonzero, exp - self.base, 0)

    def exact(self, idx: np.ndarray) -> np.ndarray:
        """Coordinates of vertices ``idx`` as an object array of Python ints (same scale for all)."""
        return self.mant[idx].astype(object) * (2 ** self.shift[idx].astype(object))


def _o3d(a, b, c, d):
    """Shewchuk's orient3d determinant and permanent; works on float and object arrays."""
    adx, ady, adz = (a[:, k] - d[:, k] for k in range(3))
    bdx, bdy, bdz = (b[:, k] - d[:, k] for k in range(3))
    cdx, cdy, cdz = (c[:, k] - d[:, k] for k in range(3))
    p1, p2, p3, p4, p5, p6 = bdx * cdy, cdx * bdy, cdx * ady, adx * cdy, adx * bdy, bdx * ady
    det = adz * (p1 - p2) + bdz * (p3 - p4) + cdz * (p5 - p6)
    if det.dtype == object:
        return det, None
    perm = (abs(p1) + abs(p2)) * abs(adz) + (abs(p3) + abs(p4)) * abs(bdz) + (abs(p5) + abs(p6)) * abs(cdz)
    return det, perm


def _sign(x) -> np.ndarray:
    return (x > 0).astype(np.int8) - (x < 0).astype(np.int8)


def orient3d(pts: _Points, a, b, c, d) -> np.ndarray:
    """Exact sign of d's side of plane (a, b, c): +1 where the normal (b-a)x(c-a) points."""
    x = pts.xyz
    det, perm = _o3d(x[a], x[b], x[c], x[d])
    sign = -_sign(det)  # Shewchuk's determinant is positive below the plane
    unsure = np.flatnonzero(np.abs(det) <= _O3D_BOUND * perm)
    if unsure.size:
        e = [pts.exact(v[unsure]) for v in (a, b, c, d)]
        sign[unsure] = -_sign(_o3d(*e)[0])
    return sign


def _project(xyz, axis):
    """Drop coordinate ``axis`` (one for all rows, or per row), keeping the other two in cyclic order."""
    if np.isscalar(axis):
        return xyz[:, [(axis + 1) % 3, (axis + 2) % 3]]
    rows = np.arange(len(xyz))
    return np.stack([xyz[rows, (axis + 1) % 3], xyz[rows, (axis + 2) % 3]], axis=1)


def _o2d(a, b, c):
    acx, acy = a[:, 0] - c[:, 0], a[:, 1] - c[:, 1]
    bcx, bcy = b[:, 0] - c[:, 0], b[:, 1] - c[:, 1]
    left, right = acx * bcy, acy * bcx
    if left.dtype == object:
        return left - right, None
    return left - right, abs(left) + abs(right)


def orient2d(pts: _Points, axis, a, b, c) -> np.ndarray:
    """Exact sign of triangle (a, b, c) seen along coordinate ``axis`` (per row)."""
    x = pts.xyz
    det, perm = _o2d(*(_project(x[v], axis) for v in (a, b, c)))
    sign = _sign(det)
    unsure = np.flatnonzero(np.abs(det) <= _O2D_BOUND * perm)
    if unsure.size:
        ax = axis if np.isscalar(axis) else axis[unsure]
        e = [_project(pts.exact(v[unsure]), ax) for v in (a, b, c)]
        sign[unsure] = _sign(_o2d(*e)[0])
    return sign


def _mixed(*signs) -> np.ndarray:
    """True where the signs include both +1 and -1."""
    return np.any([s > 0 for s in signs], axis=0) & np.any([s < 0 for s in signs], axis=0)


def _on_segment(pts, axis, p, q, r) -> np.ndarray:
    """For r collinear with p, q (projected): r lies within segment pq. Float comparisons are exact."""
    pp, qq, rr = (_project(pts.xyz[v], axis) for v in (p, q, r))
    return np.all((np.minimum(pp, qq) <= rr) & (rr <= np.maximum(pp, qq)), axis=1)


def _segments_meet_2d(pts, axis, p, q, r, s) -> np.ndarray:
    """Closed segments pq and rs (coplanar) share a point."""
    o1, o2 = orient2d(pts, axis, p, q, r), orient2d(pts, axis, p, q, s)
    o3, o4 = orient2d(pts, axis, r, s, p), orient2d(pts, axis, r, s, q)
    hit = (o1 * o2 < 0) & (o3 * o4 < 0)
    for o, (u, v, w) in ((o1, (p, q, r)), (o2, (p, q, s)), (o3, (r, s, p)), (o4, (r, s, q))):
        zero = np.flatnonzero((o == 0) & ~hit)
        if zero.size:
            hit[zero] |= _on_segment(pts, axis[zero], u[zero], v[zero], w[zero])
    return hit


def _inside_2d(pts, axis, t0, t1, t2, p) -> np.ndarray:
    """Point p lies in the closed triangle (coplanar, projected)."""
    s = [orient2d(pts, axis, u, v, p) for u, v in ((t0, t1), (t1, t2), (t2, t0))]
    return ~_mixed(*s)


def _normal_axis(pts, t0, t1, t2) -> np.ndarray:
    """The coordinate along which a triangle projects without collapsing (largest normal part)."""
    x = pts.xyz
    n = np.cross(x[t1] - x[t0], x[t2] - x[t0])
    return np.argmax(np.abs(n), axis=1)


def _segment_meets_triangle_2d(pts, p, q, t0, t1, t2) -> np.ndarray:
    axis = _normal_axis(pts, t0, t1, t2)
    hit = _inside_2d(pts, axis, t0, t1, t2, p) | _inside_2d(pts, axis, t0, t1, t2, q)
    for u, v in ((t0, t1), (t1, t2), (t2, t0)):
        rest = np.flatnonzero(~hit)
        if not rest.size:
            break
        hit[rest] = _segments_meet_2d(pts, axis[rest], p[rest], q[rest], u[rest], v[rest])
    return hit


def segment_meets_triangle(pts, p, q, t0, t1, t2, sp=None, sq=None) -> np.ndarray:
    """Closed segment pq and closed triangle (t0, t1, t2) share a point (exact).

    ``sp``, ``sq``: the sides of p and q of the triangle's plane, when already known.
    """
    if sp is None:
        sp, sq = orient3d(pts, t0, t1, t2, p), orient3d(pts, t0, t1, t2, q)
    hit = np.zeros(len(p), dtype=bool)
    in_plane = (sp == 0) & (sq == 0)
    crossing = np.flatnonzero((sp * sq <= 0) & ~in_plane)
    if crossing.size:
        pc, qc = p[crossing], q[crossing]
        a, b, c = t0[crossing], t1[crossing], t2[crossing]
        # The line pq passes through the triangle when it turns the same way round all three edges.
        s = [orient3d(pts, pc, qc, u, v) for u, v in ((a, b), (b, c), (c, a))]
        hit[crossing] = ~_mixed(*s)
    flat = np.flatnonzero(in_plane)
    if flat.size:
        hit[flat] = _segment_meets_triangle_2d(pts, p[flat], q[flat], t0[flat], t1[flat], t2[flat])
    return hit


def _disjoint_pairs(pts, f, g) -> np.ndarray:
    """Triangles f and g (no vertex in common) share a point.

    Non-coplanar triangles meet exactly when an edge of one meets the other (the ends of their
    common segment lie on edges); coplanar ones too, containment included.
    """
    sg = [orient3d(pts, f[:, 0], f[:, 1], f[:, 2], g[:, k]) for k in range(3)]
    sf = [orient3d(pts, g[:, 0], g[:, 1], g[:, 2], f[:, k]) for k in range(3)]
    apart = lambda s: np.all([x > 0 for x in s], 0) | np.all([x < 0 for x in s], 0)  # noqa: E731
    live = np.flatnonzero(~apart(sg) & ~apart(sf))
    hit = np.zeros(len(f), dtype=bool)
    tests = [(g, f, sg, i, (i + 1) % 3) for i in range(3)] + [(f, g, sf, i, (i + 1) % 3) for i in range(3)]
    for seg, tri, side, i, j in tests:
        rows = live[~hit[live]]
        if not rows.size:
            break
        hit[rows] = segment_meets_triangle(
            pts, seg[rows, i], seg[rows, j], tri[rows, 0], tri[rows, 1], tri[rows, 2], side[i][rows], side[j][rows]
        )
    return hit


def _roll_to(faces, first):
    """Rotate each face's vertex order (keeping its orientation) so column ``first`` comes first."""
    rows = np.arange(len(faces))
    return np.stack([faces[rows, (first + k) % 3] for k in range(3)], axis=1)


def _vertex_sharing_pairs(pts, f, g, eq) -> np.ndarray:
    """Triangles with exactly one common vertex s meet elsewhere: an opposite edge meets the other."""
    f = _roll_to(f, np.argmax(eq.any(axis=2), axis=1))
    g = _roll_to(g, np.argmax(eq.any(axis=1), axis=1))
    sg = [orient3d(pts, f[:, 0], f[:, 1], f[:, 2], g[:, k]) for k in (1, 2)]
    sf = [orient3d(pts, g[:, 0], g[:, 1], g[:, 2], f[:, k]) for k in (1, 2)]
    # A triangle whose two free vertices lie strictly on one side touches the other's plane at s only.
    live = np.flatnonzero((sg[0] * sg[1] <= 0) & (sf[0] * sf[1] <= 0))
    hit = np.zeros(len(f), dtype=bool)
    if live.size:
        fl, gl = f[live], g[live]
        h = segment_meets_triangle(pts, gl[:, 1], gl[:, 2], fl[:, 0], fl[:, 1], fl[:, 2], sg[0][live], sg[1][live])
        h |= segment_meets_triangle(pts, fl[:, 1], fl[:, 2], gl[:, 0], gl[:, 1], gl[:, 2], sf[0][live], sf[1][live])
        hit[live] = h
    return hit


def _edge_sharing_pairs(pts, f, g, eq) -> np.ndarray:
    """Triangles on a common edge overlap only when folded flat onto each other."""
    rows = np.arange(len(f))
    a = f[rows, np.argmin(eq.any(axis=2), axis=1)]  # the vertex of f not in g
    b = g[rows, np.argmin(eq.any(axis=1), axis=1)]
    first = np.argmax(eq.any(axis=2), axis=1)  # a shared vertex of f, then the other shared one
    s = f[rows, first]
    t = np.where(f[rows, (first + 1) % 3] == a, f[rows, (first + 2) % 3], f[rows, (first + 1) % 3])
    coplanar = orient3d(pts, s, t, a, b) == 0
    hit = np.zeros(len(f), dtype=bool)
    idx = np.flatnonzero(coplanar)
    if idx.size:
        axis = _normal_axis(pts, s[idx], t[idx], a[idx])
        same_side = orient2d(pts, axis, s[idx], t[idx], a[idx]) * orient2d(pts, axis, s[idx], t[idx], b[idx]) > 0
        hit[idx] = same_side
    return hit


def _dot(u, v):
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def _cross(u, v):
    return (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])


def _separated(pts: _Points, f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Triangles certainly apart: a separating axis whose gap exceeds every rounding error.

    Axes: both normals, each normal crossed with its triangle's edges (in-plane separation of
    near-coplanar triangles) and the nine edge-edge crosses.  Any axis is valid however it was
    rounded; only the projections' rounding is bounded (coordinates taken relative to one corner).
    """
    x = pts.xyz
    ref = x[f[:, 0]]
    # Coordinate columns relative to f's first corner: corners of f (3 x 3), then of g.
    cols = [x[t[:, i], c] - ref[:, c] for t in (f, g) for i in range(3) for c in range(3)]
    # Relative coordinates and dot products each err by a few eps of sum_k |d_k| |L_k|, which
    # is at most max_k |L_k| times the largest 1-norm of a corner.
    reach = np.max([abs(cols[3 * p]) + abs(cols[3 * p + 1]) + abs(cols[3 * p + 2]) for p in range(6)], axis=0)
    rows = np.arange(len(f))
    apart = np.zeros(len(f), dtype=bool)
    for k in range(17):
        corner = [tuple(cols[3 * p + c] for c in range(3)) for p in range(6)]
        axis = _separating_axis(k, corner[:3], corner[3:])
        pa = [_dot(axis, p) for p in corner[:3]]
        pb = [_dot(axis, p) for p in corner[3:]]
        gap = np.maximum(np.minimum.reduce(pb) - np.maximum.reduce(pa), np.minimum.reduce(pa) - np.maximum.reduce(pb))
        size = np.maximum.reduce([abs(c) for c in axis]) * reach
        done = gap > 16.0 * _EPS * size
        apart[rows[done]] = True
        keep = ~done
        rows, reach = rows[keep], reach[keep]
        cols = [c[keep] for c in cols]
        if not rows.size:
            break
    return apart


def _separating_axis(k: int, a, b):
    """Axis k of 17 for triangles a and b (corners as coordinate-column triples)."""
    ea = [tuple(a[(i + 1) % 3][c] - a[i][c] for c in range(3)) for i in range(3)]
    eb = [tuple(b[(i + 1) % 3][c] - b[i][c] for c in range(3)) for i in range(3)]
    if k < 2:
        e = ea if k == 0 else eb
        return _cross(e[0], e[1])
    if k < 8:  # a normal crossed with one of its triangle's edges: in-plane separation
        e = ea if k < 5 else eb
        return _cross(_cross(e[0], e[1]), e[(k - 2) % 3])
    return _cross(ea[(k - 8) // 3], eb[(k - 8) % 3])


def _embedded_fans(pts: _Points, faces: np.ndarray, bad_vertex: np.ndarray) -> np.ndarray:
    """Vertices whose ring of triangles certainly does not overlap itself.

    Seen along the ring's mean normal, every triangle of a closed, consistently oriented ring
    that faces that way (normal . mean > 0.05, far above rounding) turns positively, so the
    angles at the vertex add up to 2*pi*k; k = 1 (sum under 3*pi) means the projected triangles
    tile a disc once, and two of them can meet in 3D only at the vertex (a common point elsewhere
    would project to a common point: a triangle containing the viewing direction would not face
    it).  Triangles of such a ring sharing an edge cannot be folded onto each other either.
    """
    v = pts.xyz
    nv = len(v)
    corner = [tuple(v[faces[:, i], c] for c in range(3)) for i in range(3)]
    e = [tuple(corner[(i + 1) % 3][c] - corner[i][c] for c in range(3)) for i in range(3)]
    cross = _cross(e[0], tuple(-c for c in e[2]))
    area2 = np.sqrt(_dot(cross, cross))
    mean = [sum(np.bincount(faces[:, k], weights=cross[c], minlength=nv) for k in range(3)) for c in range(3)]
    norm = np.sqrt(_dot(mean, mean))
    good = (norm > 0) & ~bad_vertex
    mean = [m / np.where(norm > 0, norm, 1.0) for m in mean]
    total = np.zeros(nv)
    for k in range(3):
        s = faces[:, k]
        m = tuple(c[s] for c in mean)
        e1, e2 = e[k], tuple(-c for c in e[(k + 2) % 3])  # from corner k to the next two corners
        length = np.sqrt(_dot(e1, e1) * _dot(e2, e2))
        facing = (_dot(cross, m) > 0.05 * area2) & (area2 > 1e-10 * length)
        good &= np.bincount(s, weights=~facing, minlength=nv) == 0
        # The angle at the corner seen along m (projecting out m changes neither cross . m ...).
        d1, d2 = _dot(e1, m), _dot(e2, m)
        dot = _dot(e1, e2) - d1 * d2
        angle = np.arctan2(_dot(_cross(e1, e2), m), dot)
        total += np.bincount(s, weights=angle, minlength=nv)
    return good & (total < 3 * np.pi)


def edge_pairs(faces: np.ndarray, nv: int):
    """Directed edges (face k's edges are rows 3k..3k+2) grouped by undirected edge.

    Returns (directed edges, order sorting them by undirected edge, group start positions in
    that order, group sizes).
    """
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    lo, hi = np.minimum(directed[:, 0], directed[:, 1]), np.maximum(directed[:, 0], directed[:, 1])
    key = lo * np.int64(nv) + hi
    order = np.argsort(key)
    k = key[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    return directed, order, starts, sizes


def _bad_vertices(faces: np.ndarray, nv: int) -> np.ndarray:
    """Ends of edges that are not shared by exactly two faces in opposite directions."""
    directed, order, starts, sizes = edge_pairs(faces, nv)
    pair = starts[sizes == 2]
    first, second = directed[order[pair]], directed[order[pair + 1]]
    good_edge = np.zeros(len(directed), dtype=bool)
    opposite = first[:, 0] == second[:, 1]
    good_edge[order[pair[opposite]]] = True
    good_edge[order[pair[opposite] + 1]] = True
    bad = np.zeros(nv, dtype=bool)
    bad[directed[~good_edge].ravel()] = True
    return bad


def _merge_vertices(vertices: np.ndarray):
    """Vertices at the same position as one: (unique positions, index map)."""
    order = np.lexsort(vertices.T[::-1])
    v = vertices[order]
    new = np.r_[True, np.any(v[1:] != v[:-1], axis=1)]
    inverse = np.empty(len(v), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return v[new], inverse


def _degenerate(pts, faces) -> np.ndarray:
    """Faces whose three corners are collinear (exactly): all three projected areas are zero."""
    flat = np.ones(len(faces), dtype=bool)
    for k in range(3):
        rows = np.flatnonzero(flat)
        f = faces[rows]
        flat[rows] = orient2d(pts, k, f[:, 0], f[:, 1], f[:, 2]) == 0
    return flat


def intersecting_pairs(vertices, faces) -> np.ndarray:
    """Pairs (i, j), i < j, of faces that meet other than along their common vertices or edge.

    Degenerate faces (collinear corners) are left out: they have no inside to meet.
    Vertices at the same position count as one vertex.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) < 2:
        return np.empty((0, 2), dtype=np.int64)
    unique, inverse = _merge_vertices(vertices)
    merged = inverse[faces]
    if len(unique) < 2**31:  # half the memory traffic in the gathers below
        merged = merged.astype(np.int32)
    pts = _Points(unique)
    keep = np.flatnonzero(~_degenerate(pts, merged))
    pairs = keep[candidate_pairs(unique[merged[keep]])]
    # All faces, degenerate ones too: a ring with one cannot be certified.
    fan_ok = _embedded_fans(pts, merged, _bad_vertices(merged, len(unique)))
    # Contiguous columns and 1-D gathers: this runs on every candidate pair.
    cols = [np.ascontiguousarray(merged[:, k]) for k in range(3)]
    pi, pj = np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
    fc, gc = [c[pi] for c in cols], [c[pj] for c in cols]
    in_g = [(fk == gc[0]) | (fk == gc[1]) | (fk == gc[2]) for fk in fc]  # vertex k of f is one of g's
    shared = in_g[0].astype(np.int8) + in_g[1] + in_g[2]
    # Neighbours round a certified vertex ring meet only where they should.
    certified = (in_g[0] & fan_ok[fc[0]]) | (in_g[1] & fan_ok[fc[1]]) | (in_g[2] & fan_ok[fc[2]])
    certified &= shared < 3
    hit = shared == 3  # the same triangle twice
    rows = np.flatnonzero(shared == 0)
    if rows.size:
        f, g = np.column_stack([c[rows] for c in fc]), np.column_stack([c[rows] for c in gc])
        live = ~_separated(pts, f, g)
        hit[rows[live]] = _disjoint_pairs(pts, f[live], g[live])
    for count, test in ((1, _vertex_sharing_pairs), (2, _edge_sharing_pairs)):
        rows = np.flatnonzero((shared == count) & ~certified)
        if rows.size:
            f, g = np.column_stack([c[rows] for c in fc]), np.column_stack([c[rows] for c in gc])
            hit[rows] = test(pts, f, g, f[:, :, None] == g[:, None, :])
    return pairs[hit]


def penetration_depths(vertices, faces, pairs) -> np.ndarray:
    """How far (mm) one triangle of each pair must move to clear the other (0 for a touch).

    The least overlap of the two triangles' shadows over the separating-axis candidates (both
    normals, normals crossed with edges, edge crossed with edge): the penetration depth of two
    convex sets.  A measure, not a predicate: plain floats.
    """
    v = np.asarray(vertices, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not len(pairs):
        return np.zeros(0)
    f, g = np.asarray(faces)[pairs[:, 0]], np.asarray(faces)[pairs[:, 1]]
    ref = v[f[:, 0]]
    a = [tuple(v[f[:, i], c] - ref[:, c] for c in range(3)) for i in range(3)]
    b = [tuple(v[g[:, i], c] - ref[:, c] for c in range(3)) for i in range(3)]
    axes = [_separating_axis(k, a, b) for k in range(17)]
    lengths = np.array([np.sqrt(_dot(x, x)) for x in axes])  # (17, m)
    usable = lengths > 1e-9 * lengths.max(axis=0)  # parallel edges give no direction
    depth = np.full(len(pairs), np.inf)
    for axis, length, ok in zip(axes, lengths, usable):
        pa = [_dot(axis, p) for p in a]
        pb = [_dot(axis, p) for p in b]
        shift = np.minimum(np.maximum.reduce(pb) - np.minimum.reduce(pa), np.maximum.reduce(pa) - np.minimum.reduce(pb))
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = np.where(ok, np.minimum(depth, np.maximum(shift, 0.0) / length), depth)
    return np.where(np.isfinite(depth), depth, 0.0)
