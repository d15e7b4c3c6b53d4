"""One product for every province: the southern, merged Tây Ninh end to end, in its own cluster.

Tây Ninh (since 1 July 2025) joins former Tây Ninh (TM-3 105°30′) and former Long An
(105°45′), inside EPSG:5194's area of use where PROJ's automatic transformation is
0.8 m off. The sample pipeline runs in a separate embedded cluster; a real server
then serves the parcels in CRS84, compared with an independent pyproj computation.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pyogrio
import pytest
from pyproj.transformer import TransformerGroup

from tests.conftest import ROOT, cli_env, serving

MANIFEST = ROOT / "data_samples" / "tay_ninh" / "manifest.yml"


@pytest.fixture(scope="module")
def tay_ninh(bando_bin: str) -> Iterator[dict]:
    home = Path(tempfile.mkdtemp(prefix="bando-tayninh-"))
    env = cli_env({"BANDO_HOME": str(home), "BANDO_PROVINCE": "Tây Ninh", "BANDO_DB_DURABLE": "false"})
    try:
        up = subprocess.run([bando_bin, "db", "up"], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stderr
        load = subprocess.run(
            [bando_bin, "load-all", str(MANIFEST)], env=env, capture_output=True, text=True, timeout=600
        )
        assert load.returncode == 0, load.stdout[-3000:] + load.stderr
        url = subprocess.run([bando_bin, "db", "url"], env=env, capture_output=True, text=True).stdout.strip()
        with serving(bando_bin, env=env) as base:
            yield {"env": env, "url": url, "server": base}
    finally:
        subprocess.run([bando_bin, "db", "down"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def _official(srid: int):
    """EPSG:6960 straight from PROJ's database — independent of bando's own CRS code."""
    group = TransformerGroup(f"EPSG:{srid}", "EPSG:4326", always_xy=True)
    return next(t for t in group.transformers if "VN-2000 to WGS 84 (2)" in t.description)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians(a[1])
    return math.hypot((a[0] - b[0]) * 111_320 * math.cos(lat), (a[1] - b[1]) * 110_574)


@pytest.mark.parametrize(("delivery", "srid"), [("parcels_tay_ninh_cu.gpkg", 9209), ("parcels_long_an_cu.gpkg", 9210)])
def test_crs84_from_the_api_matches_the_official_transformation(tay_ninh: dict, delivery: str, srid: int) -> None:
    source = pyogrio.read_dataframe(ROOT / "data_samples" / "tay_ninh" / delivery, max_features=40)
    assert source.crs.to_epsg() == srid
    official = _official(srid)
    with httpx.Client(timeout=60) as client:
        for _, row in source.iterrows():
            key = f"maXa='{row['maXa']}' AND soHieuToBanDo={row['soHieuToBanDo']} AND soThuTuThua={row['soThuTuThua']}"
            features = client.get(f"{tay_ninh['server']}/ogc/collections/parcels/items", params={"filter": key}).json()[
                "features"
            ]
            assert len(features) == 1, key
            served = features[0]["geometry"]["coordinates"][0][0]
            polygon = row.geometry.geoms[0] if row.geometry.geom_type == "MultiPolygon" else row.geometry
            x, y = polygon.exterior.coords[0]
            expected = official.transform(x, y)
            assert min(_metres(tuple(p), expected) for p in served) < 0.01


def test_both_meridians_load_into_one_layer_and_the_border_lines_up(tay_ninh: dict) -> None:
    with psycopg.connect(tay_ninh["url"]) as conn:
        crss = {
            r[0]
            for r in conn.execute(
                "select source_crs from bando.lineage where layer = 'parcels' and outcome = 'published'"
            )
        }
        assert {"EPSG:9209", "EPSG:9210"} <= crss
        srid = conn.execute("select srid from bando.layer_state where layer = 'parcels'").fetchone()[0]
        assert srid == 9209  # stored in the zone of the part that kept the name
        # Every border vertex of one side lies on the other side's outline (no gap), and the
        # two sides share no area (no overlap); 1 cm is the tolerance for both.
        gap, overlap = conn.execute("""
            with sides as (
                select st_union(geom) filter (where "maXa" in ('25729', '25708')) as north,
                       st_union(geom) filter (where "maXa" in ('27907', '27943')) as south
                from data.parcels),
            near as (
                select st_distance(p.geom, st_boundary(s.south)) d from sides s,
                       st_dumppoints(st_boundary(s.north)) p where st_dwithin(p.geom, st_boundary(s.south), 0.5)
                union all
                select st_distance(p.geom, st_boundary(s.north)) from sides s,
                       st_dumppoints(st_boundary(s.south)) p where st_dwithin(p.geom, st_boundary(s.north), 0.5))
            select (select max(d) from near), (select st_area(st_intersection(north, south)) from sides)
        """).fetchone()
    assert gap is not None and gap < 0.01
    assert overlap < 0.01


def test_a_manifest_for_another_province_is_refused(database: str, bando_bin: str) -> None:
    result = subprocess.run([bando_bin, "load-all", str(MANIFEST)], env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 2
    assert "is a delivery for Tây Ninh" in result.stderr and "nothing was loaded" in result.stderr
