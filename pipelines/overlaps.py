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
hence the parser (:mod:`bando.pipelines.wkb_rings`), the bounds
(:mod:`bando.pipelines.overlap_bounds`) and the sweep here. Work is done per partition (a commune), plus a band:
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
from bando.pipelines.overlap_bounds import pair_bound
from bando.pipelines.wkb_rings import Rings

#: (lower fid, higher fid, shared area in m²)
Pair = tuple[int, int, float]


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
                and pair_bound(xy, start[p], start[p] + count[p], xy, start[q], start[q] + count[q], limit) <= limit
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
                and pair_bound(xya, starta[p], starta[p] + counta[p], xyb, startb[q], startb[q] + countb[q], limit)
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
