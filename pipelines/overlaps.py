"""Overlaps between polygons, found with GEOS through shapely 2 only where needed: cost follows the problems.

Testing every neighbouring pair with ``ST_Relate`` costs the same on a clean coverage
as on a broken one: a million parcels have three million neighbours. So nearly all the
work happens before any GEOS object exists. A partition's rows arrive as WKB bytes in an
Arrow array; a compiled parser reads, straight from Arrow's buffers, each row's box and,
for a single-ring polygon (most parcels), its exterior ring. A compiled sweep over the
boxes (sorted by their left edge) finds the pairs whose boxes meet and, in the same
pass, a separating-axis bound proves most of them cannot overlap by more than the
tolerance; where that bound is loose (concave rings: parcels cut along a commune
border), both rings are cut into triangles and the bound summed over triangle pairs.
Only the pairs left (about 1 in 1,000 on generated parcels) are decoded into GEOS geometries: for polygons "interiors
meet" is "intersects and does not touch", the same answer as the relate pattern
``2********``, and only those pairs pay for an intersection and its area. Decoding every
row, asking GEOS for its rings and building an STRtree cost several times the whole
check; no library gives boxes and rings from WKB without building GEOS objects first,
hence the parser and sweep here. Work is done per partition (a commune), plus a band:
the rows whose box reaches another partition's extent are checked against that
partition's band once both have been seen, and dropped when all their neighbours have,
so memory follows one partition and its open borders, not the layer. The kernels release
the GIL, so partitions are checked side by side on threads.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely
from shapely import STRtree

from bando.pipelines.compiled import compiled

#: (lower fid, higher fid, shared area in m²)
Pair = tuple[int, int, float]


def _u32(d: np.ndarray, p: int | np.int64) -> np.int64:  # pragma: no cover (compiled)
    return np.int64(d[p]) | (np.int64(d[p + 1]) << 8) | (np.int64(d[p + 2]) << 16) | (np.int64(d[p + 3]) << 24)


_u32 = compiled(_u32)


def _parse_py(
    offsets: np.ndarray, data: np.ndarray, flat: np.ndarray, flatb: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:  # pragma: no cover (compiled)
    n = len(offsets) - 1
    box = np.empty((n, 4))
    box[:] = np.nan
    simple = np.zeros(n, dtype=np.bool_)
    start = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    used = 0  # vertices written to flat
    for r in range(n):
        p, end = np.int64(offsets[r]), np.int64(offsets[r + 1])
        start[r] = used
        if end - p < 9 or data[p] != 1:  # big-endian (or garbage): left to shapely
            continue
        kind = _u32(data, p + 1)
        p += 5
        if kind & 0x20000000:  # EWKB with an SRID
            p += 4
        kind &= 0xDFFFFFFF
        if kind != 3 and kind != 6:  # Z or M (ISO codes 1003…, EWKB flags), or not a polygon
            continue
        if kind == 6:  # a MultiPolygon of exactly one little-endian Polygon
            if p + 9 > end or _u32(data, p) != 1 or data[p + 4] != 1 or _u32(data, p + 5) != 3:
                continue
            p += 9
        if p + 8 > end or _u32(data, p) != 1:  # holes, or empty
            continue
        points = _u32(data, p + 4)
        p += 8
        if points < 4 or p + 16 * points > end:
            continue
        for byte in range(16 * points):
            flatb[16 * used + byte] = data[p + byte]
        x0, y0, x1, y1 = np.inf, np.inf, -np.inf, -np.inf
        for v in range(2 * used, 2 * (used + points), 2):
            x, y = flat[v], flat[v + 1]
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
        box[r, 0], box[r, 1], box[r, 2], box[r, 3] = x0, y0, x1, y1
        simple[r], count[r] = True, points
        used += int(points)
    return box, simple, start, count, used


_parse = compiled(_parse_py)


@dataclass(frozen=True)
class Rings:
    """Boxes of a partition's rows and the exterior rings of its single-part, hole-free polygons, flat for the kernels."""

    box: np.ndarray  # (rows, 4): xmin, ymin, xmax, ymax (NaN when empty)
    simple: np.ndarray  # bool per row: one 2D polygon without holes
    xy: np.ndarray  # (total vertices, 2): every ring, closed, one after the other
    start: np.ndarray  # per row: its ring's first row in xy
    count: np.ndarray  # per row: its ring's number of vertices (0 if not simple)

    @classmethod
    def of(cls, wkb: pa.Array) -> Rings:
        """Read ISO WKB or EWKB (as PostGIS sends it); rows that are not simple get their box from shapely."""
        if isinstance(wkb, pa.ChunkedArray):
            wkb = wkb.combine_chunks()
        n = len(wkb)
        large = pa.types.is_large_binary(wkb.type)
        if not large and not pa.types.is_binary(wkb.type):
            wkb = wkb.cast(pa.binary())
        width = np.int64 if large else np.int32
        _, offsets_buffer, data_buffer = wkb.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=width)[wkb.offset : wkb.offset + n + 1]
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
        flat = np.empty(2 * ((int(offsets[-1]) - int(offsets[0])) // 16 + 1) if n else 2)
        box, simple, start, count, used = _parse(offsets, data, flat, flat.view(np.uint8))
        other = np.flatnonzero(~simple)
        if len(other):
            box[other] = shapely.bounds(shapely.from_wkb(wkb.take(pa.array(other)).to_numpy(zero_copy_only=False)))
        return cls(box, simple, flat[: 2 * used].reshape(-1, 2), start, count)

    def subset(self, mask: np.ndarray) -> Rings:
        count = self.count[mask]
        start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
        rows = np.repeat(self.start[mask] - start, count) + np.arange(int(count.sum()))
        return Rings(self.box[mask], self.simple[mask], self.xy[rows], start, count)


@dataclass
class Part:
    """One partition's rows: feature ids and their WKB (or EWKB), in the same order."""

    key: Hashable
    fids: np.ndarray
    wkb: pa.Array
    _rings: Rings | None = None  # computed once, when first asked

    def rings(self) -> Rings:
        if self._rings is None:
            self._rings = Rings.of(self.wkb)
        return self._rings

    def subset(self, mask: np.ndarray) -> Part:
        """Some rows; their rings, if read already, come along (copied: a band outlives its partition)."""
        return Part(
            self.key,
            self.fids[mask],
            self.wkb.filter(pa.array(mask)),
            None if self._rings is None else self._rings.subset(mask),
        )

    def geoms(self, rows: np.ndarray) -> np.ndarray:
        """GEOS geometries of some rows (each decoded once), for those rows only."""
        unique, back = np.unique(rows, return_inverse=True)
        return shapely.from_wkb(self.wkb.take(pa.array(unique)).to_numpy(zero_copy_only=False))[back]


def _bound_py(
    xa: np.ndarray, a0: int, a1: int, xb: np.ndarray, b0: int, b1: int, enough: float
) -> float:  # pragma: no cover (compiled)
    """The bound of one pair; it stops as soon as it is at most ``enough``."""
    ox, oy = xa[a0, 0], xa[a0, 1]  # small numbers keep their precision
    best = np.inf
    for side in range(2):
        xs, e0, e1 = (xa, a0, a1) if side == 0 else (xb, b0, b1)
        for e in range(e0, e1 - 1):
            ux, uy = xs[e + 1, 0] - xs[e, 0], xs[e + 1, 1] - xs[e, 1]
            length = np.sqrt(ux * ux + uy * uy)
            if length == 0.0:
                continue
            ux, uy = ux / length, uy / length
            an0, an1, au0, au1 = np.inf, -np.inf, np.inf, -np.inf
            for q in range(a0, a1):
                x, y = xa[q, 0] - ox, xa[q, 1] - oy
                dn, du = ux * y - uy * x, ux * x + uy * y
                an0, an1, au0, au1 = min(an0, dn), max(an1, dn), min(au0, du), max(au1, du)
            bn0, bn1, bu0, bu1 = np.inf, -np.inf, np.inf, -np.inf
            for q in range(b0, b1):
                x, y = xb[q, 0] - ox, xb[q, 1] - oy
                dn, du = ux * y - uy * x, ux * x + uy * y
                bn0, bn1, bu0, bu1 = min(bn0, dn), max(bn1, dn), min(bu0, du), max(bu1, du)
            depth = min(an1, bn1) - max(an0, bn0)
            if depth <= 0.0:
                return 0.0
            best = min(best, depth * min(au1 - au0, bu1 - bu0))
            if best <= enough:
                return best
    return best


_bound = compiled(_bound_py, inline="always")  # called per pair: no call, no reference counting


MAX_CLIPPED = 64  # vertices: larger rings are left to GEOS rather than cut in O(n³)


def _triangles_py(xs: np.ndarray, s0: int, s1: int, ox: float, oy: float) -> np.ndarray:  # pragma: no cover
    """A closed ring cut into triangles by ear clipping, as rows (x0, y0, x1, y1, x2, y2) relative to (ox, oy).

    Zero rows when the ring cannot be cut (too many vertices, no ear found, or triangles
    whose areas do not add up to the ring's): the caller then proves nothing with it.
    """
    n = s1 - s0 - 1  # the last vertex repeats the first
    if n < 3 or n > MAX_CLIPPED:
        return np.empty((0, 6))
    px, py, left = np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)
    for v in range(n):
        px[v], py[v], left[v] = xs[s0 + v, 0] - ox, xs[s0 + v, 1] - oy, v
    twice = 0.0
    for v in range(n):
        w = (v + 1) % n
        twice += px[v] * py[w] - px[w] * py[v]
    if twice == 0.0:
        return np.empty((0, 6))
    sign = 1.0 if twice > 0 else -1.0
    out = np.empty((n - 2, 6))
    m, t, at, total = n, 0, 0, 0.0
    while m > 3:
        found = False
        for _ in range(m):
            a, b, c = left[(at + m - 1) % m], left[at % m], left[(at + 1) % m]
            cross = sign * ((px[b] - px[a]) * (py[c] - py[b]) - (py[b] - py[a]) * (px[c] - px[b]))
            ear = cross >= 0.0
            for r in range(m):  # no other corner inside the ear, nor on its sides
                v = left[r]
                if not ear:
                    break
                if v in (a, b, c):
                    continue
                d0 = sign * ((px[b] - px[a]) * (py[v] - py[a]) - (py[b] - py[a]) * (px[v] - px[a]))
                d1 = sign * ((px[c] - px[b]) * (py[v] - py[b]) - (py[c] - py[b]) * (px[v] - px[b]))
                d2 = sign * ((px[a] - px[c]) * (py[v] - py[c]) - (py[a] - py[c]) * (px[v] - px[c]))
                ear = d0 < 0.0 or d1 < 0.0 or d2 < 0.0
            if ear:
                out[t, 0], out[t, 1], out[t, 2], out[t, 3], out[t, 4], out[t, 5] = (
                    px[a],
                    py[a],
                    px[b],
                    py[b],
                    px[c],
                    py[c],
                )
                total += cross
                t += 1
                k = at % m
                for r in range(k, m - 1):
                    left[r] = left[r + 1]
                m -= 1
                at = k % m
                found = True
                break
            at = (at + 1) % m
        if not found:
            return np.empty((0, 6))
    a, b, c = left[0], left[1], left[2]
    cross = sign * ((px[b] - px[a]) * (py[c] - py[b]) - (py[b] - py[a]) * (px[c] - px[b]))
    if cross < 0.0:
        return np.empty((0, 6))
    out[t, 0], out[t, 1], out[t, 2], out[t, 3], out[t, 4], out[t, 5] = px[a], py[a], px[b], py[b], px[c], py[c]
    total += cross
    if abs(total - abs(twice)) > 1e-9 * abs(twice):
        return np.empty((0, 6))
    return out


_triangles = compiled(_triangles_py)


def _triangle_bound(t: np.ndarray, u: np.ndarray) -> float:  # pragma: no cover (compiled)
    """The separating-axis bound of two triangles (rows of :func:`_triangles`)."""
    best = np.inf
    for side in range(2):
        s = t if side == 0 else u
        for e in range(3):
            f = (e + 1) % 3
            ux, uy = s[2 * f] - s[2 * e], s[2 * f + 1] - s[2 * e + 1]
            length = np.sqrt(ux * ux + uy * uy)
            if length == 0.0:
                continue
            ux, uy = ux / length, uy / length
            an0, an1, au0, au1 = np.inf, -np.inf, np.inf, -np.inf
            bn0, bn1, bu0, bu1 = np.inf, -np.inf, np.inf, -np.inf
            for v in range(3):
                dn, du = ux * t[2 * v + 1] - uy * t[2 * v], ux * t[2 * v] + uy * t[2 * v + 1]
                an0, an1, au0, au1 = min(an0, dn), max(an1, dn), min(au0, du), max(au1, du)
                dn, du = ux * u[2 * v + 1] - uy * u[2 * v], ux * u[2 * v] + uy * u[2 * v + 1]
                bn0, bn1, bu0, bu1 = min(bn0, dn), max(bn1, dn), min(bu0, du), max(bu1, du)
            depth = min(an1, bn1) - max(an0, bn0)
            if depth <= 0.0:
                return 0.0
            best = min(best, depth * min(au1 - au0, bu1 - bu0))
    return best


_triangle_bound = compiled(_triangle_bound)


def _pieces_bound_py(
    xa: np.ndarray, a0: int, a1: int, xb: np.ndarray, b0: int, b1: int, enough: float
) -> float:  # pragma: no cover (compiled)
    """Both rings cut into triangles: the sum of the bound over triangle pairs (inf if a ring cannot be cut)."""
    ox, oy = xa[a0, 0], xa[a0, 1]
    ta, tb = _triangles(xa, a0, a1, ox, oy), _triangles(xb, b0, b1, ox, oy)
    if not len(ta) or not len(tb):
        return np.inf
    total = 0.0
    for s in range(len(ta)):
        t = ta[s]
        tx0, tx1 = min(t[0], t[2], t[4]), max(t[0], t[2], t[4])
        ty0, ty1 = min(t[1], t[3], t[5]), max(t[1], t[3], t[5])
        for r in range(len(tb)):
            u = tb[r]
            if min(u[0], u[2], u[4]) > tx1 or max(u[0], u[2], u[4]) < tx0:
                continue
            if min(u[1], u[3], u[5]) > ty1 or max(u[1], u[3], u[5]) < ty0:
                continue
            total += _triangle_bound(t, u)
            if total > enough:
                return total
    return total


_pieces_bound = compiled(_pieces_bound_py)


def _pair_bound_py(
    xa: np.ndarray, a0: int, a1: int, xb: np.ndarray, b0: int, b1: int, enough: float
) -> float:  # pragma: no cover (compiled)
    """The rings' bound, and where it is not enough (concave rings), the triangles' bound too.

    Exact when at most ``enough``; above it, the answer is only known to be above it.
    """
    whole = _bound(xa, a0, a1, xb, b0, b1, enough)
    if whole <= enough:
        return whole
    return min(whole, _pieces_bound(xa, a0, a1, xb, b0, b1, enough))


_pair_bound = compiled(_pair_bound_py, inline="always")


def _bounds_py(
    xa: np.ndarray, sa: np.ndarray, na: np.ndarray, xb: np.ndarray, sb: np.ndarray, nb: np.ndarray
) -> np.ndarray:  # pragma: no cover (compiled)
    out = np.empty(len(sa))
    for k in range(len(sa)):
        if na[k] == 0 or nb[k] == 0:  # not a simple polygon: nothing proved
            out[k] = np.inf
        else:
            whole = _bound(xa, sa[k], sa[k] + na[k], xb, sb[k], sb[k] + nb[k], -1.0)
            out[k] = min(whole, _pieces_bound(xa, sa[k], sa[k] + na[k], xb, sb[k], sb[k] + nb[k], np.inf))
    return out


_bounds = compiled(_bounds_py)


def overlap_bound(ra: Rings, i: np.ndarray, rb: Rings, j: np.ndarray) -> np.ndarray:
    """An upper bound of area(a[i] ∩ b[j]) for pairs of simple polygons, by separating axes.

    Along the normal of each edge of either ring, the pair's projections overlap by some
    depth; a ∩ b lies in that strip, no wider along the edge than the narrower of the two,
    so depth × width bounds the area, for any shapes (0 when an axis separates them). For
    neighbours along a shared edge with float noise the depth is ~1e-9 m, which proves the
    pair cannot overlap by more than the tolerance without asking GEOS for the overlay.
    That is tight for convex rings only, so the answer is the smaller of it and the sum of
    the same bound over the pairs of triangles the two rings cut into (a ∩ b is the union
    of those pairs' intersections). Compiled with numba, the GIL released: ~0.2 µs a pair,
    where GEOS's ``intersects`` alone is ~4 µs.
    """
    return _bounds(ra.xy, ra.start[i], ra.count[i], rb.xy, rb.start[j], rb.count[j])


def pair_bounds(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`overlap_bound` of a[k] and b[k] for two arrays of simple polygons."""
    index = np.arange(len(a))
    ra, rb = (Rings.of(pa.array(shapely.to_wkb(g), pa.binary())) for g in (a, b))
    return overlap_bound(ra, index, rb, index)


def _by_left_edge(box: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows by left edge, empty ones (NaN) left out, and their box sides in that order (numpy sorts: numba's sort is slow to compile)."""
    order = np.argsort(box[:, 0], kind="stable")
    order = order[~np.isnan(box[order, 0])]
    sides = box[order]
    return (order, *(np.ascontiguousarray(sides[:, c]) for c in range(4)))


def _columns(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    i, j = np.empty(len(pairs), np.int64), np.empty(len(pairs), np.int64)
    for m in range(len(pairs)):
        i[m], j[m] = pairs[m]
    return i, j


_columns = compiled(_columns)


def _within_py(
    fids: np.ndarray,
    order: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    simple: np.ndarray,
    xy: np.ndarray,
    start: np.ndarray,
    count: np.ndarray,
    base: int,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    out = []  # a list, not a growing array: reassigning arrays in the loop costs reference counting
    for k in range(len(order)):
        p = order[k]
        right, low, high, new, easy = x1[k], y0[k], y1[k], fids[p] > base, simple[p]
        for kk in range(k + 1, len(order)):
            if x0[kk] > right:
                break
            if y0[kk] > high or y1[kk] < low:
                continue
            q = order[kk]
            if not new and fids[q] <= base:
                continue
            if (
                easy
                and simple[q]
                and _pair_bound(xy, start[p], start[p] + count[p], xy, start[q], start[q] + count[q], limit) <= limit
            ):
                continue
            out.append((min(p, q), max(p, q)))
    return _columns(out)


_within = compiled(_within_py)


def _across_py(
    fa: np.ndarray,
    oa: np.ndarray,
    ax0: np.ndarray,
    ay0: np.ndarray,
    ax1: np.ndarray,
    ay1: np.ndarray,
    sa: np.ndarray,
    xya: np.ndarray,
    starta: np.ndarray,
    counta: np.ndarray,
    fb: np.ndarray,
    ob: np.ndarray,
    bx0: np.ndarray,
    by0: np.ndarray,
    bx1: np.ndarray,
    by1: np.ndarray,
    sb: np.ndarray,
    xyb: np.ndarray,
    startb: np.ndarray,
    countb: np.ndarray,
    base: int,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    out = []  # a list, not a growing array: reassigning arrays in the loop costs reference counting
    ia, ib = 0, 0
    while ia < len(oa) and ib < len(ob):  # the lower left edge goes first and meets the other side's boxes ahead
        a_first = ax0[ia] <= bx0[ib]
        if a_first:
            right, low, high, k0, n = ax1[ia], ay0[ia], ay1[ia], ib, len(ob)
        else:
            right, low, high, k0, n = bx1[ib], by0[ib], by1[ib], ia, len(oa)
        for k in range(k0, n):
            if (bx0[k] if a_first else ax0[k]) > right:
                break
            if a_first:
                if by0[k] > high or by1[k] < low:
                    continue
                p, q = oa[ia], ob[k]
            else:
                if ay0[k] > high or ay1[k] < low:
                    continue
                p, q = oa[k], ob[ib]
            if fa[p] <= base and fb[q] <= base:
                continue
            if (
                sa[p]
                and sb[q]
                and _pair_bound(xya, starta[p], starta[p] + counta[p], xyb, startb[q], startb[q] + countb[q], limit)
                <= limit
            ):
                continue
            out.append((p, q))
        if a_first:
            ia += 1
        else:
            ib += 1
    return _columns(out)


_across = compiled(_across_py)


def candidates(a: Part, b: Part | None, base: int, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a[i], b[j]) of rows whose boxes meet (touching counts), with a row newer than ``base``,
    and that the bounds cannot prove to share at most ``limit`` m² (b None: pairs i < j inside a)."""
    ra = a.rings()
    if b is None:
        return _within(a.fids, *_by_left_edge(ra.box), ra.simple, ra.xy, ra.start, ra.count, base, limit)
    rb = b.rings()
    return _across(
        a.fids,
        *_by_left_edge(ra.box),
        ra.simple,
        ra.xy,
        ra.start,
        ra.count,
        b.fids,
        *_by_left_edge(rb.box),
        rb.simple,
        rb.xy,
        rb.start,
        rb.count,
        base,
        limit,
    )


def _true_overlaps(a: Part, i: np.ndarray, b: Part, j: np.ndarray, tol: float) -> list[Pair]:
    """Of the pairs (a[i], b[j]) the bound left, keep those whose interiors meet by an area > tol (GEOS)."""
    if not len(i):
        return []
    if a is b:
        both = a.geoms(np.concatenate([i, j]))
        ga, gb = both[: len(i)], both[len(i) :]
    else:
        ga, gb = a.geoms(i), b.geoms(j)
    fa, fb = a.fids[i], b.fids[j]
    inside = shapely.intersects(ga, gb) & ~shapely.touches(ga, gb)
    fa, ga, fb, gb = fa[inside], ga[inside], fb[inside], gb[inside]
    if not len(fa):
        return []
    area = shapely.area(shapely.intersection(ga, gb))
    big = area > tol
    lo, hi = np.minimum(fa[big], fb[big]), np.maximum(fa[big], fb[big])
    return [(int(a), int(b), float(s)) for a, b, s in zip(lo, hi, area[big], strict=True)]


def within(part: Part, base: int, tol: float) -> list[Pair]:
    """Overlapping pairs inside one partition (at least one row newer than ``base``)."""
    if len(part.fids) < 2 or part.fids.max() <= base:
        return []
    i, j = candidates(part, None, base, tol * 0.5)
    return _true_overlaps(part, i, part, j, tol)


def across(a: Part, b: Part, base: int, tol: float) -> list[Pair]:
    """Overlapping pairs with one row in each of two partitions."""
    if not len(a.fids) or not len(b.fids):
        return []
    i, j = candidates(a, b, base, tol * 0.5)
    return _true_overlaps(a, i, b, j, tol)


class Borders:
    """Cross-partition pairs: each partition's band is kept until all its neighbours are seen."""

    def __init__(self, extents: dict[Hashable, tuple[float, float, float, float]], base: int, tol: float) -> None:
        self.keys = list(extents)
        self.extents = {k: np.asarray(extents[k], dtype=float) for k in self.keys}
        boxes = shapely.box(*np.array([extents[k] for k in self.keys], dtype=float).reshape(-1, 4).T)
        self.neighbours: dict[Hashable, set[Hashable]] = {k: set() for k in self.keys}
        for n, m in zip(*STRtree(boxes).query(boxes), strict=True):
            if n != m:
                self.neighbours[self.keys[n]].add(self.keys[m])
        self.waiting = {k: len(v) for k, v in self.neighbours.items()}
        self.bands: dict[Hashable, Part] = {}
        self.seen: set[Hashable] = set()
        self.base, self.tol = base, tol

    def band(self, part: Part) -> Part:
        """The rows of a partition whose box reaches a neighbouring partition's extent (touching counts)."""
        box = part.rings().box
        hit = np.zeros(len(box), dtype=bool)
        for q in self.neighbours[part.key]:
            x0, y0, x1, y1 = self.extents[q]
            hit |= (box[:, 0] <= x1) & (box[:, 2] >= x0) & (box[:, 1] <= y1) & (box[:, 3] >= y0)
        return part.subset(hit)

    def add(self, band: Part) -> list[tuple[Part, Part]]:
        """The neighbours' bands seen so far that a partition's band must be checked against
        (with :func:`across`, on any thread); finished bands are forgotten."""
        found: list[tuple[Part, Part]] = []
        for q in self.neighbours[band.key]:
            other = self.bands.get(q)
            if other is not None:
                found.append((band, other))
                self.waiting[q] -= 1
                if self.waiting[q] == 0:
                    del self.bands[q]
        self.waiting[band.key] = sum(1 for q in self.neighbours[band.key] if q not in self.seen)
        self.seen.add(band.key)
        if self.waiting[band.key]:
            self.bands[band.key] = band
        return found
