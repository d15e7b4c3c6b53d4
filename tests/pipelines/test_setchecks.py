"""Set checks: GEOS in-process gives the same overlap answers as PostGIS ``ST_Relate`` on every pair."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import pyarrow as pa
import shapely
from psycopg import sql

from bando.layers.catalogue import load as load_catalogue
from bando.layers.tables import create_table, index_statements
from bando.pipelines import setchecks
from bando.pipelines.load import LoadOptions, run_load
from bando.pipelines.overlap_bounds import pair_bounds
from bando.pipelines.overlaps import Part, within

X0, Y0 = 605_000.0, 2_255_000.0  # in Hưng Yên (EPSG:9209), away from the samples and other tests' parcels
REFERENCE = (
    "select a.fid, b.fid, st_area(st_intersection(a.geom, b.geom)) from {t} a join {t} b"
    " on a.geom && b.geom and a.fid < b.fid where (a.fid > %s or b.fid > %s)"
    " and st_relate(a.geom, b.geom, '2********')"
)


def wkb(geoms: np.ndarray) -> pa.Array:
    return pa.array(shapely.to_wkb(geoms), pa.binary())


def messy_coverage(n_communes: int = 6, side: int = 12, seed: int = 7) -> gpd.GeoDataFrame:
    """Communes of side×side 20 m parcels, edges with float noise, and deliberate overlaps of every kind."""
    rng = np.random.default_rng(seed)
    rows, geoms = [], []
    for c in range(n_communes):
        ox, oy = X0 + (c % 3) * side * 20.0, Y0 + (c // 3) * side * 20.0
        for k in range(side * side):
            x, y = ox + (k % side) * 20.0, oy + (k // side) * 20.0
            noise = rng.normal(0, 1e-7, 4)  # shared edges that do not quite coincide
            g = shapely.box(x + noise[0], y + noise[1], x + 20 + noise[2], y + 20 + noise[3])
            geoms.append(g)
            rows.append((f"1{c:04d}", 1 + k // 100, 1 + k % 100))
    # inside one commune: a shifted copy (big), a sliver below the tolerance, a contained parcel
    geoms[5] = shapely.affinity.translate(geoms[5], 6.0, 0)
    geoms[30] = shapely.affinity.translate(geoms[30], 0.01, 0)
    geoms[50] = shapely.box(X0 + 3 * 20 + 5, Y0 + 4 * 20 + 5, X0 + 3 * 20 + 10, Y0 + 4 * 20 + 10)
    # across a commune border: the last column of commune 0 pushed into commune 1
    for k in (side - 1, 3 * side - 1):
        geoms[k] = shapely.affinity.translate(geoms[k], 8.0, 0)
    # across the border vertically (commune 0 into commune 3), and a chain a–b–c
    geoms[side * (side - 1) + 4] = shapely.affinity.translate(geoms[side * (side - 1) + 4], 0, 9.0)
    geoms[200] = shapely.affinity.translate(geoms[200], 7.0, 3.0)
    data = {
        "maXa": [r[0] for r in rows],
        "soHieuToBanDo": [r[1] for r in rows],
        "soThuTuThua": [r[2] for r in rows],
        "dienTich": shapely.area(np.array(geoms)),
        "loaiDat": ["LUC"] * len(rows),
    }
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:9209")


def _staging(conn: psycopg.Connection, frame: gpd.GeoDataFrame, base: int) -> sql.Composable:
    layer = load_catalogue().get("parcels")
    conn.execute(create_table(layer, "staging", "test_setchecks", 9209))
    with (
        conn.cursor() as cur,
        cur.copy(
            'copy staging.test_setchecks (fid, "maXa", "soHieuToBanDo", "soThuTuThua", "dienTich", "loaiDat", geom)'
            " from stdin"
        ) as cp,
    ):
        for n, (row, g) in enumerate(zip(frame.itertuples(), frame.geometry, strict=True)):
            wkb = shapely.to_wkb(shapely.set_srid(shapely.multipolygons([g]), 9209), hex=True, include_srid=True)
            cp.write_row((base + n + 1, row.maXa, row.soHieuToBanDo, row.soThuTuThua, row.dienTich, "LUC", wkb))
    table = sql.Identifier("staging", "test_setchecks")
    for stmt in index_statements(layer, "staging", "test_setchecks")[:2]:
        conn.execute(stmt)
    return table


def test_overlaps_found_by_geos_are_those_postgis_finds(database: str) -> None:
    layer = load_catalogue().get("parcels")
    frame = messy_coverage()
    with psycopg.connect(database) as conn:
        table = _staging(conn, frame, 0)
        expected = conn.execute(sql.SQL(REFERENCE).format(t=table), (0, 0)).fetchall()
        found = setchecks.find_overlaps(conn, layer, table, 0, sql.SQL("true"))
        conn.rollback()
    want = {(a, b): area for a, b, area in expected if area > layer.rules.overlap_tolerance}
    got = {(a, b): area for a, b, area in found}
    assert len(want) >= 6  # inside communes, across borders, a contained parcel
    assert got.keys() == want.keys()
    for pair, area in want.items():
        assert abs(got[pair] - area) < 1e-6


def test_overlap_rejects_are_the_same_rows_with_the_same_reasons(database: str, tmp_path: Path) -> None:
    frame = messy_coverage()
    path = tmp_path / "overlaps.gpkg"
    frame.to_file(path, layer="thua_dat", driver="GPKG")
    result = run_load("parcels", path, LoadOptions(dry_run=True))
    assert result.outcome == "dry-run", result.message
    with psycopg.connect(database) as conn:
        got = conn.execute(
            "select source_index, reason from bando.rejects where lineage_id = %s and rule = 'geometry.overlap'"
            " order by source_index",
            (result.lineage_id,),
        ).fetchall()
    # the later row of each pair is rejected, once, naming the earlier one
    assert [i for i, _ in got] == sorted({i for i, _ in got})
    assert (6, "overlaps source row 5 by 120.00 m²") in got  # 5 moved 6 m right over 6
    assert all("overlaps source row" in reason for _, reason in got)
    assert result.rows_rejected == len(got)


def test_touching_parcels_that_share_vertices_are_not_overlaps() -> None:
    x = np.arange(50) * 10.0
    boxes = shapely.box(x[:, None], x[None, :], x[:, None] + 10, x[None, :] + 10).ravel()
    part = Part("x", np.arange(1, len(boxes) + 1), wkb(boxes))
    assert within(part, 0, 0.5) == []
    moved = boxes.copy()
    moved[7] = shapely.affinity.translate(moved[7], 2.0, 0)
    pairs = within(Part("x", part.fids, wkb(moved)), 0, 0.5)
    assert sorted((a, b) for a, b, _ in pairs) == [(8, 58)]


def test_the_separating_axis_bound_never_falls_below_the_true_overlap() -> None:
    """The compiled bound may rule a pair out only if GEOS would find it small too."""
    rng = np.random.default_rng(11)
    n = 4000
    centre = rng.uniform(0, 30, (n, 2)) + (X0, Y0)
    angle = np.sort(rng.uniform(0, 2 * np.pi, (n, 4)), axis=1)  # convex: corners on an ellipse, in order
    radius = rng.uniform(3, 15, (n, 1))
    quads = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * radius[..., None] + centre[:, None, :]
    a, b = shapely.polygons(quads[: n // 2]), shapely.polygons(quads[n // 2 :])
    a[:50] = shapely.buffer(a[:50], 2.0)  # rounded: many vertices
    a[50:100] = shapely.difference(a[50:100], shapely.buffer(shapely.centroid(a[50:100]), 1.0))  # concave notch
    a = np.where(shapely.get_num_interior_rings(a) == 0, a, shapely.polygons(shapely.get_exterior_ring(a)))
    bound = pair_bounds(a, b)
    truth = shapely.area(shapely.intersection(a, b))
    assert np.all(bound >= truth - 1e-6)
    assert (truth == 0).any() and (bound[truth == 0] == 0).any()  # separated pairs cost nothing further
    itself = shapely.transform(a, lambda xy: xy + 1e-9)
    assert np.all(pair_bounds(a, itself) >= shapely.area(a) - 1e-6)  # nor a parcel on itself
    box = shapely.box(X0, Y0, X0 + 20, Y0 + 20)
    beside = shapely.box(X0 + 20 + 1e-9, Y0 + 1e-9, X0 + 40, Y0 + 20)  # shares an edge, with survey noise
    assert pair_bounds(np.array([box]), np.array([beside]))[0] < 1e-6
