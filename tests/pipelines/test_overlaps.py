"""The overlap kernels: WKB read without GEOS, candidate pairs by a sweep, bounds that never undercount."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely
from shapely import STRtree

from bando.pipelines import overlap_bounds, overlaps, wkb_rings
from bando.pipelines.overlap_bounds import pair_bounds
from bando.pipelines.overlaps import Borders, Part, across, within
from bando.pipelines.wkb_rings import Rings

X0, Y0 = 605_000.0, 2_255_000.0


def wkb(geoms: np.ndarray | list, **options: object) -> pa.Array:
    return pa.array(list(shapely.to_wkb(np.asarray(geoms, dtype=object), **options)), pa.binary())


def test_the_parser_reads_boxes_and_rings_as_shapely_does() -> None:
    square = shapely.box(X0, Y0, X0 + 20, Y0 + 30)
    holed = shapely.box(X0, Y0, X0 + 50, Y0 + 50).difference(shapely.box(X0 + 10, Y0 + 10, X0 + 20, Y0 + 20))
    geoms = [
        square,
        shapely.MultiPolygon([shapely.box(X0 + 1, Y0 + 2, X0 + 3, Y0 + 7)]),
        shapely.MultiPolygon([square, shapely.box(X0 + 40, Y0 + 40, X0 + 41, Y0 + 41)]),
        holed,
        shapely.Polygon([(X0, Y0, 1), (X0 + 5, Y0, 2), (X0, Y0 + 5, 3), (X0, Y0, 1)]),
        shapely.Polygon([(X0, Y0), (X0 + 9, Y0 + 1), (X0 + 4, Y0 + 3), (X0 + 1, Y0 + 8), (X0, Y0)]),  # concave
    ]
    raw = list(shapely.to_wkb(np.array(geoms, dtype=object)))
    with_srid = shapely.to_wkb(shapely.set_srid(square, 9209), include_srid=True)  # PostGIS's binary output
    assert with_srid[1:5] != raw[0][1:5]  # the SRID flag is set
    big_endian = shapely.to_wkb(square, byte_order=0)
    assert big_endian[0] == 0
    empty = shapely.to_wkb(shapely.Polygon())
    rows = pa.array([b"", *raw, with_srid, big_endian, empty], pa.binary()).slice(1)  # a slice: offsets start past 0
    expect = [*geoms, square, square, shapely.Polygon()]
    for array in (rows, rows.cast(pa.large_binary())):
        rings = Rings.of(array)
        assert rings.simple.tolist() == [True, True, False, False, False, True, True, False, False]
        np.testing.assert_array_equal(rings.box, shapely.bounds(np.array(expect, dtype=object)))
        for k in np.flatnonzero(rings.simple):
            ring = shapely.get_coordinates(shapely.get_exterior_ring(shapely.get_geometry(expect[k], 0)))
            got = rings.xy[rings.start[k] : rings.start[k] + rings.count[k]]
            np.testing.assert_array_equal(got, ring)
        assert (rings.count[~rings.simple] == 0).all()


def random_boxes(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corner = np.round(rng.uniform(0, 400, (n, 2)))  # whole metres: many boxes touch exactly
    size = np.round(rng.uniform(1, 30, (n, 2)))
    return shapely.box(
        X0 + corner[:, 0], Y0 + corner[:, 1], X0 + corner[:, 0] + size[:, 0], Y0 + corner[:, 1] + size[:, 1]
    )


def brute_force(a: np.ndarray, fa: np.ndarray, b: np.ndarray, fb: np.ndarray, base: int, tol: float) -> set:
    i, j = STRtree(b).query(a)
    keep = (fa[i] != fb[j]) & ((fa[i] > base) | (fb[j] > base))
    i, j = i[keep], j[keep]
    ga, gb = a[i], b[j]
    inside = shapely.intersects(ga, gb) & ~shapely.touches(ga, gb)
    area = shapely.area(shapely.intersection(ga[inside], gb[inside]))
    lo, hi = np.minimum(fa[i][inside], fb[j][inside]), np.maximum(fa[i][inside], fb[j][inside])
    return {(int(x), int(y), round(float(s), 6)) for x, y, s in zip(lo, hi, area, strict=True) if s > tol}


def rounded(pairs: list) -> set:
    return {(a, b, round(s, 6)) for a, b, s in pairs}


def test_the_sweep_meets_the_pairs_an_strtree_meets() -> None:
    """Candidates (bound switched off) are exactly the pairs of boxes that meet, touching ones included."""
    geoms = random_boxes(3000, 1)
    part = Part("a", np.arange(1, len(geoms) + 1), wkb(geoms))
    i, j = overlaps.candidates(part, None, 0, -1.0)
    t, u = STRtree(geoms).query(geoms)
    assert {(int(a), int(b)) for a, b in zip(i, j, strict=True)} == {(a, b) for a, b in zip(t, u, strict=True) if a < b}
    other = random_boxes(2000, 2)
    i, j = overlaps.candidates(part, Part("b", np.arange(5001, 7001), wkb(other)), 0, -1.0)
    t, u = STRtree(other).query(geoms)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == sorted(zip(t.tolist(), u.tolist(), strict=True))


def test_within_and_across_find_what_geos_finds_on_every_pair() -> None:
    geoms, other = random_boxes(3000, 3), random_boxes(2000, 4)
    fa, fb = np.arange(1, 3001), np.arange(3001, 5001)
    for base in (0, 1500, 4000):
        assert rounded(within(Part("a", fa, wkb(geoms)), base, 0.5)) == brute_force(geoms, fa, geoms, fa, base, 0.5)
        got = across(Part("a", fa, wkb(geoms)), Part("b", fb, wkb(other)), base, 0.5)
        assert rounded(got) == brute_force(geoms, fa, other, fb, base, 0.5)
    assert len(brute_force(geoms, fa, other, fb, 0, 0.5)) > 100


def concave_shapes(n: int, seed: int, spread: float = 150) -> np.ndarray:
    """Star-shaped rings of 5–25 corners (deeply concave), a few with holes or in two parts."""
    rng = np.random.default_rng(seed)
    shapes = []
    for _ in range(n):
        k = int(rng.integers(5, 26))
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(2, 12, k)
        centre = rng.uniform(0, spread, 2) + (X0, Y0)
        shapes.append(
            shapely.make_valid(shapely.Polygon(np.c_[np.cos(angle) * radius, np.sin(angle) * radius] + centre))
        )
    geoms = np.array(shapes, dtype=object)
    geoms[:10] = shapely.difference(geoms[:10], shapely.buffer(shapely.centroid(geoms[:10]), 0.5))
    return geoms


def test_concave_shapes_overlap_as_geos_says() -> None:
    geoms, other = concave_shapes(600, 5), concave_shapes(400, 6)
    fa, fb = np.arange(1, 601), np.arange(601, 1001)
    want = brute_force(geoms, fa, geoms, fa, 0, 0.5)
    assert len(want) > 50
    assert rounded(within(Part("a", fa, wkb(geoms)), 0, 0.5)) == want
    got = across(Part("a", fa, wkb(geoms)), Part("b", fb, wkb(other)), 0, 0.5)
    assert rounded(got) == brute_force(geoms, fa, other, fb, 0, 0.5)


def test_the_triangle_bound_never_undercounts_and_proves_concave_neighbours_apart() -> None:
    a, b = concave_shapes(3000, 7, spread=15), concave_shapes(3000, 8, spread=15)
    simple = (shapely.get_num_geometries(a) == 1) & (shapely.get_num_geometries(b) == 1)
    simple &= (shapely.get_num_interior_rings(shapely.get_geometry(a, 0)) == 0) & (
        shapely.get_num_interior_rings(shapely.get_geometry(b, 0)) == 0
    )
    a, b = a[simple], b[simple]
    bound, truth = pair_bounds(a, b), shapely.area(shapely.intersection(a, b))
    assert np.all(bound >= truth - 1e-6)
    assert (truth > 1).mean() > 0.5 and (bound < truth + 1).mean() > 0.05  # real overlaps, some bounds near exact
    # an L and the notch it leaves in a square: concave, sharing four edges with noise
    ell = shapely.Polygon([(0, 0), (20, 0), (20, 10), (10, 10), (10, 20), (0, 20)])
    notch = shapely.Polygon([(10 + 1e-9, 10), (20, 10 - 1e-9), (20, 20), (10, 20 + 1e-9)])
    ring = shapely.Polygon([(0, 20), (20, 20), (20, 30), (0, 30), (0, 20)])
    cup = shapely.Polygon([(-5, -5), (25, -5), (25, 30), (20, 30), (20, 0), (0, 0), (0, 30), (-5, 30)])
    for x, y in ((ell, notch), (ell, ring), (cup, ell), (cup, notch)):
        x, y = shapely.affinity.translate(x, X0, Y0), shapely.affinity.translate(y, X0, Y0)
        assert pair_bounds(np.array([x]), np.array([y]))[0] < 1e-6
    assert pair_bounds(np.array([cup]), np.array([shapely.box(-1, 10, 1, 12)]))[0] >= 2.0 - 1e-9  # a real overlap


def test_the_band_is_the_rows_whose_box_reaches_a_neighbour() -> None:
    geoms = random_boxes(2000, 9)
    borders = Borders(
        {"a": (X0, Y0, X0 + 200, Y0 + 430), "b": (X0 + 200, Y0, X0 + 430, Y0 + 430), "c": (0, 0, 1, 1)}, 0, 0.5
    )
    part = Part("a", np.arange(1, 2001), wkb(geoms))
    band = borders.band(part)
    assert band.fids.tolist() == (np.flatnonzero(shapely.bounds(geoms)[:, 2] >= X0 + 200) + 1).tolist()
    assert band.wkb.to_pylist() == [part.wkb[k - 1].as_py() for k in band.fids]


def test_the_kernels_release_the_gil() -> None:
    for kernel in (wkb_rings._parse, overlaps._within, overlaps._across, overlap_bounds._bounds):
        assert kernel.targetoptions["nogil"]


def test_a_subset_keeps_the_rings_it_would_read_again() -> None:
    """A band's rings come from its partition's, copied, exactly as reading its rows would give them."""
    rng = np.random.default_rng(5)
    geoms = shapely.buffer(shapely.points(rng.uniform(0, 100, (60, 2))), rng.uniform(1, 5, 60))
    geoms[3] = shapely.union(geoms[3], shapely.box(200, 200, 210, 210))  # two parts: not simple
    wkb = pa.array(list(shapely.to_wkb(geoms)), pa.binary())
    part = Part("k", np.arange(60), wkb)
    part.rings()
    mask = rng.random(60) < 0.4
    mask[3] = True
    carried = part.subset(mask).rings()
    read = Part("k", np.arange(60)[mask], wkb.filter(pa.array(mask))).rings()
    for name in ("box", "simple", "start", "count", "xy"):
        assert np.array_equal(getattr(carried, name), getattr(read, name), equal_nan=True), name
    assert not np.shares_memory(carried.xy, part.rings().xy)
