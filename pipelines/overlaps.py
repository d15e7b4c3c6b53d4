"""Overlaps between polygons, found with GEOS through shapely 2: cost follows the problems.

Testing every neighbouring pair with ``ST_Relate`` costs the same on a clean coverage
as on a broken one: a million parcels have four million neighbours. Here an STRtree
query with the exact ``intersects`` predicate (prepared, vectorised, GIL released)
finds the pairs that meet; for polygons "interiors meet" is "intersects and does not
touch", the same answer as the relate pattern ``2********``; only those pairs pay for
an intersection and its area. Work is done per partition (a commune), plus a band:
the parcels whose box reaches another partition's extent are checked against that
partition's band once both have been seen, and dropped when all their neighbours
have, so memory follows one partition and its open borders, not the layer.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

#: (lower fid, higher fid, shared area in m²)
Pair = tuple[int, int, float]


@dataclass
class Part:
    """One partition's rows: feature ids and geometries, in the same order."""

    key: Hashable
    fids: np.ndarray
    geoms: np.ndarray
    convex: np.ndarray | None = None  # one convex quadrilateral? (computed once, see quads)
    corners: np.ndarray | None = None

    def shape(self) -> tuple[np.ndarray, np.ndarray]:
        if self.convex is None or self.corners is None:
            self.convex, self.corners = quads(self.geoms)
        return self.convex, self.corners

    def subset(self, mask: np.ndarray) -> Part:
        convex, corners = self.shape()
        return Part(self.key, self.fids[mask], self.geoms[mask], convex[mask], corners[mask])


def quads(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which geometries are one convex quadrilateral, and their corners (n, 4, 2) relative to nothing."""
    n = len(geoms)
    corners = np.zeros((n, 4, 2))
    single = shapely.get_num_geometries(geoms) == 1
    polys = np.where(single, shapely.get_geometry(geoms, 0), None)
    ok = single & (shapely.get_num_interior_rings(polys) == 0)
    rings = shapely.get_exterior_ring(polys[ok])
    five = shapely.get_num_coordinates(rings) == 5
    idx = np.flatnonzero(ok)[five]
    ok[:] = False
    if len(idx):
        xy = shapely.get_coordinates(rings[five]).reshape(-1, 5, 2)[:, :4]
        edges = np.roll(xy, -1, axis=1) - xy
        turn = (
            edges[:, :, 0] * np.roll(edges, -1, axis=1)[:, :, 1] - edges[:, :, 1] * np.roll(edges, -1, axis=1)[:, :, 0]
        )
        convex = np.all(turn >= 0, axis=1) | np.all(turn <= 0, axis=1)
        ok[idx[convex]] = True
        corners[idx] = xy
    return ok, corners


NEXT = np.array([1, 2, 3, 0])


def _clipped_area(p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Area of each convex polygon p (m, 4, 2) on the side d >= 0 of a line (d: signed distances)."""
    p1, d1 = p[:, NEXT], d[:, NEXT]
    inside, inside1 = d >= 0, d1 >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(inside != inside1, d / (d - d1), 0.0)
    x = p + t[..., None] * (p1 - p)
    start = np.where(inside[..., None], p, x)
    end = np.where(inside1[..., None], p1, x)
    cross = start[..., 0] * end[..., 1] - start[..., 1] * end[..., 0]
    twice = np.where(inside | inside1, cross, 0.0).sum(axis=1)
    leave = inside & ~inside1  # the clipped boundary runs back along the line from the exit to the entry
    enter = ~inside & inside1
    exit_pt = (x * leave[..., None]).sum(axis=1)
    entry_pt = (x * enter[..., None]).sum(axis=1)
    clipped = leave.any(axis=1)
    twice += np.where(clipped, exit_pt[:, 0] * entry_pt[:, 1] - exit_pt[:, 1] * entry_pt[:, 0], 0.0)
    return np.abs(twice) / 2


def overlap_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """An upper bound of area(a ∩ b) for convex quadrilaterals: a clipped by each of b's edges, the least.

    b is the intersection of its edges' half-planes, so a ∩ b lies in a ∩ each of them;
    along a shared edge with float noise that is a sliver of ~1e-9 m², which proves the
    pair cannot overlap by more than the tolerance without asking GEOS for the overlay.
    """
    origin = a[:, :1, :]
    a, b = a - origin, b - origin  # small numbers: the area keeps its precision
    signed = (b[:, :, 0] * b[:, NEXT, 1] - b[:, :, 1] * b[:, NEXT, 0]).sum(axis=1)
    b = np.where((signed < 0)[:, None, None], b[:, ::-1, :], b)  # counter-clockwise: inside is on the left
    bound = np.full(len(a), np.inf)
    for k in range(4):
        p, q = b[:, k, :], b[:, (k + 1) % 4, :]
        e = q - p
        d = e[:, None, 0] * (a[..., 1] - p[:, None, 1]) - e[:, None, 1] * (a[..., 0] - p[:, None, 0])
        bound = np.minimum(bound, _clipped_area(a, d))
    return bound


def _true_overlaps(a: Part, i: np.ndarray, b: Part, j: np.ndarray, base: int, tol: float) -> list[Pair]:
    """Of candidate pairs (a[i], b[j]) that intersect, keep those with a new row, meeting interiors, area > tol."""
    new = (a.fids[i] > base) | (b.fids[j] > base)
    i, j = i[new], j[new]
    (qa, ca), (qb, cb) = a.shape(), b.shape()
    both = np.flatnonzero(qa[i] & qb[j])
    if len(both):  # convex quadrilaterals (most parcels): a bound rules most pairs out without GEOS
        small = np.zeros(len(i), dtype=bool)
        small[both] = overlap_bound(ca[i[both]], cb[j[both]]) <= tol * 0.5
        i, j = i[~small], j[~small]
    fa, ga, fb, gb = a.fids[i], a.geoms[i], b.fids[j], b.geoms[j]
    inside = ~shapely.touches(ga, gb)
    fa, ga, fb, gb = fa[inside], ga[inside], fb[inside], gb[inside]
    if not len(fa):
        return []
    area = shapely.area(shapely.intersection(ga, gb))
    big = area > tol
    lo, hi = np.minimum(fa[big], fb[big]), np.maximum(fa[big], fb[big])
    return [(int(a), int(b), float(s)) for a, b, s in zip(lo, hi, area[big], strict=True)]


def within(part: Part, base: int, tol: float) -> list[Pair]:
    """Overlapping pairs inside one partition (at least one row newer than ``base``)."""
    if len(part.geoms) < 2 or part.fids.max() <= base:
        return []
    i, j = STRtree(part.geoms).query(part.geoms, predicate="intersects")
    keep = i < j
    return _true_overlaps(part, i[keep], part, j[keep], base, tol)


def across(a: Part, b: Part, base: int, tol: float) -> list[Pair]:
    """Overlapping pairs with one row in each of two partitions."""
    if not len(a.geoms) or not len(b.geoms):
        return []
    i, j = STRtree(b.geoms).query(a.geoms, predicate="intersects")
    return _true_overlaps(a, i, b, j, base, tol)


class Borders:
    """Cross-partition pairs: each partition's band is kept until all its neighbours are seen."""

    def __init__(self, extents: dict[Hashable, tuple[float, float, float, float]], base: int, tol: float) -> None:
        self.keys = list(extents)
        boxes = shapely.box(*np.array([extents[k] for k in self.keys], dtype=float).reshape(-1, 4).T)
        self.tree = STRtree(boxes)
        self.boxes = boxes
        index = {k: n for n, k in enumerate(self.keys)}
        self.neighbours: dict[Hashable, set[Hashable]] = {k: set() for k in self.keys}
        for n, m in zip(*self.tree.query(boxes), strict=True):
            if n != m:
                self.neighbours[self.keys[n]].add(self.keys[m])
        self.index = index
        self.waiting = {k: len(v) for k, v in self.neighbours.items()}
        self.bands: dict[Hashable, Part] = {}
        self.seen: set[Hashable] = set()
        self.base, self.tol = base, tol

    def band(self, part: Part) -> Part:
        """The rows of a partition whose box reaches a neighbouring partition's extent."""
        own = self.index[part.key]
        g, e = self.tree.query(part.geoms)
        hit = np.zeros(len(part.geoms), dtype=bool)
        hit[g[e != own]] = True
        return part.subset(hit)

    def add(self, band: Part) -> list[Pair]:
        """Check a partition's band against the neighbours seen so far; forget finished bands."""
        found: list[Pair] = []
        for q in self.neighbours[band.key]:
            other = self.bands.get(q)
            if other is not None:
                found += across(band, other, self.base, self.tol)
                self.waiting[q] -= 1
                if self.waiting[q] == 0:
                    del self.bands[q]
        self.waiting[band.key] = sum(1 for q in self.neighbours[band.key] if q not in self.seen)
        self.seen.add(band.key)
        if self.waiting[band.key]:
            self.bands[band.key] = band
        return found
