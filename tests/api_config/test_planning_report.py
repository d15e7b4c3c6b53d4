"""The `planning-report` process against a real `bando serve` over the loaded samples.

Every expectation is checked against the database itself (parcels, plan zones and red
lines found with SQL here), so the tests hold for any draw of the sample generator.
"""

from __future__ import annotations

import http.client
import json
import math
import random
import time
import urllib.parse
from typing import Any

import psycopg
import pytest
import shapely

from bando.layers.catalogue import load as load_catalogue

PATH = "/ogc/processes/planning-report/execution"
PARCEL_KEY = ("maXa", "soHieuToBanDo", "soThuTuThua")
INDICATORS = ("kyHieuO", "chucNang", "matDoXayDung", "tangCaoMin", "tangCaoMax", "heSoSuDungDat", "khoangLui")


# -- helpers -------------------------------------------------------------------------


def post(server: str, body: Any, raw: bytes | None = None) -> tuple[int, Any]:
    url = urllib.parse.urlsplit(server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        data = raw if raw is not None else json.dumps(body).encode()
        conn.request("POST", PATH, body=data, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        text = resp.read().decode()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(text)
    except json.JSONDecodeError:
        return resp.status, text


def report(server: str, inputs: dict[str, Any]) -> dict[str, Any]:
    status, doc = post(server, {"inputs": inputs})
    assert status == 200, (status, doc)
    return doc


def key_of(row: tuple) -> dict[str, Any]:
    return dict(zip(PARCEL_KEY, row))


def keys_of(doc: Any) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in keys_of(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in keys_of(v)}
    return set()


@pytest.fixture(scope="module")
def db(database: str, loaded: list):
    with psycopg.connect(database, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def plotted_parcel(db: psycopg.Connection) -> tuple:
    """A parcel well inside the 1/2000 plan and the land-use plan, with its area."""
    return db.execute(
        'select p."maXa", p."soHieuToBanDo", p."soThuTuThua", st_area(p.geom) from data.parcels p'
        " join data.planning_plots o on o.valid_to is null and st_contains(o.geom, p.geom)"
        " where st_area(p.geom) > 200 order by p.fid limit 1"
    ).fetchone()


# -- what the report says ------------------------------------------------------------


def test_known_parcel_reports_planned_use_indicators_and_versions(
    server: str, db: psycopg.Connection, plotted_parcel: tuple
) -> None:
    doc = report(server, key_of(plotted_parcel[:3]))
    assert doc["lang"] == "vi" and doc["subject"]["kind"] == "parcel"
    parcel = doc["parcel"]
    assert tuple(parcel[k] for k in PARCEL_KEY) == plotted_parcel[:3]
    assert parcel["geometryAreaM2"] == pytest.approx(plotted_parcel[3], abs=0.01)
    for name in ("dienTich", "dienTichPhapLy", "loaiDat", "landUseName", "colour"):
        assert name in parcel
    assert parcel["colour"].startswith("#")

    planned = doc["plannedLandUse"]
    assert planned["zones"], "the land-use plan covers the sample parcels"
    assert sum(z["percent"] for z in planned["zones"]) == pytest.approx(100, abs=0.5)
    assert sum(z["areaM2"] for z in planned["zones"]) == pytest.approx(plotted_parcel[3], rel=0.005)
    for zone in planned["zones"]:
        assert zone["landUseName"] and zone["zone"]["loaiDatQH"] and zone["version"]
    in_force = db.execute(
        "select version_id, decision from bando.layer_versions where layer = 'land_use_plan' and valid_to is null"
    ).fetchone()
    assert {z["version"] for z in planned["zones"]} == {in_force[0]}
    assert [(v["versionId"], v["decision"]) for v in planned["versions"]] == [tuple(in_force)]
    assert all(v["decisionDate"] and v["authority"] and v["inForce"] for v in planned["versions"])

    plots = doc["construction"]["plots"]
    assert plots and sum(p["percent"] for p in plots) == pytest.approx(100, abs=0.5)
    for name in INDICATORS:
        assert plots[0]["plot"][name] is not None, name
    assert doc["construction"]["versions"][0]["decision"]

    assert doc["currentLandUse"]["items"] and doc["currentLandUse"]["coveredPercent"] > 99
    for section in ("currentLandUse", "plannedLandUse", "construction", "redLines"):
        assert doc[section]["dataDate"], section
    assert set(doc["dataDates"]) >= {"parcels", "land_use_plan", "planning_plots"}
    assert "tham khảo" in doc["disclaimer"]
    assert doc["labels"]["soThuTuThua"] == "Số thứ tự thửa"


def _red_strips(db: psycopg.Connection) -> shapely.Geometry:
    """The road reserves as data_samples/README.md draws them: the polygon between paired edges."""
    edges = {
        r[0]: shapely.from_wkb(r[1])
        for r in db.execute('select "maDoiTuong", st_asbinary(geom) from data.red_lines where valid_to is null')
    }
    strips = []
    for name, left in edges.items():
        right = edges.get(name[:-2] + "-P") if name.endswith("-T") else None
        if right is not None:
            strips += [
                shapely.Polygon(list(a.coords) + list(b.coords)[::-1])
                for a, b in zip(shapely.get_parts(left), shapely.get_parts(right))
            ]
    assert strips, "the samples' red lines come in -T/-P pairs"
    return shapely.union_all(strips)


def test_parcel_cut_by_red_line_reports_taken_area_and_geometry(server: str, db: psycopg.Connection) -> None:
    strip = _red_strips(db)
    rows = db.execute(
        'select p."maXa", p."soHieuToBanDo", p."soThuTuThua", st_asbinary(p.geom) from data.parcels p'
        " join data.red_lines r on r.valid_to is null and st_dwithin(p.geom, r.geom, 1) order by p.fid limit 400"
    ).fetchall()
    cut = [(r[:3], shapely.from_wkb(r[3])) for r in rows]
    cut = [(k, g, g.intersection(strip).area) for k, g in cut]
    key, geom, taken = max(cut, key=lambda c: c[2] / c[1].area if c[2] < c[1].area - 1 else 0)
    assert taken > 1
    red = report(server, key_of(key))["redLines"]
    assert red["areaM2"] == pytest.approx(taken, abs=0.5)
    assert red["percent"] == pytest.approx(100 * taken / geom.area, abs=0.2)
    assert red["roads"] and red["roads"][0]["width"] > 0 and red["roads"][0]["rule"] == "edges"
    assert red["versions"][0]["decision"]
    shape = shapely.geometry.shape(red["geometry"])
    assert shape.geom_type in ("Polygon", "MultiPolygon")
    lon, lat = shape.representative_point().coords[0]
    assert 104 < lon < 108 and 8 < lat < 24  # CRS84: longitude first
    # and a parcel far from every red line has none
    far = db.execute(
        'select p."maXa", p."soHieuToBanDo", p."soThuTuThua" from data.parcels p where not exists'
        " (select 1 from data.red_lines r where st_dwithin(p.geom, r.geom, 300)) limit 1"
    ).fetchone()
    none = report(server, key_of(far))["redLines"]
    assert none["areaM2"] == 0 and none["geometry"] is None and none["roads"] == []


@pytest.mark.parametrize("crs", ["http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326", "tm3"])
def test_point_inside_parcel_reports_that_parcel(
    server: str, db: psycopg.Connection, plotted_parcel: tuple, crs: str
) -> None:
    row = db.execute(
        "select st_x(g), st_y(g), st_x(t), st_y(t), st_srid(p.geom) from data.parcels p,"
        " lateral (select st_pointonsurface(p.geom) as g) s, lateral (select st_transform(g, 4326) as t) w"
        ' where (p."maXa", p."soHieuToBanDo", p."soThuTuThua") = (%s, %s, %s)',
        plotted_parcel[:3],
    ).fetchone()
    point, name = ([row[0], row[1]], f"EPSG:{row[4]}") if crs == "tm3" else ([row[2], row[3]], crs)
    doc = report(server, {"point": point, "crs": name})
    assert tuple(doc["parcel"][k] for k in PARCEL_KEY) == plotted_parcel[:3]
    assert doc["query"] == {"kind": "point", "point": point, "crs": name}


def test_plan_version_switch_changes_planned_use(server: str, db: psycopg.Connection) -> None:
    versions = db.execute(
        "select version_id, decision, valid_to is null from bando.layer_versions"
        " where layer = 'land_use_plan' order by valid_from"
    ).fetchall()
    assert len(versions) >= 2, "the samples carry the approved plan and an adjustment"
    (old, old_decision, _), (new, new_decision, in_force) = versions[0], versions[-1]
    assert in_force
    row = db.execute(
        'select p."maXa", p."soHieuToBanDo", p."soThuTuThua", a."loaiDatQH", b."loaiDatQH" from data.parcels p'
        " join data.land_use_plan a on a.version_id = %s and st_contains(a.geom, p.geom)"
        " join data.land_use_plan b on b.version_id = %s and st_contains(b.geom, p.geom)"
        ' where a."loaiDatQH" <> b."loaiDatQH" order by p.fid limit 1',
        (old, new),
    ).fetchone()
    assert row, "the adjustment changes the planned use of some parcels"
    now = report(server, key_of(row[:3]))["plannedLandUse"]
    before = report(server, key_of(row[:3]) | {"version": old})["plannedLandUse"]
    assert [z["zone"]["loaiDatQH"] for z in now["zones"]] == [row[4]]
    assert [z["zone"]["loaiDatQH"] for z in before["zones"]] == [row[3]]
    assert {z["version"] for z in before["zones"]} == {old}
    assert [v["decision"] for v in before["versions"]] == [old_decision]
    assert before["versions"][0]["inForce"] is False and now["versions"][0]["decision"] == new_decision


def test_area_report_covers_the_drawn_polygon(server: str, db: psycopg.Connection, plotted_parcel: tuple) -> None:
    ring, area = db.execute(
        "select st_asgeojson(st_transform(b, 4326), 9)::json, st_area(b) from data.parcels p,"
        " lateral (select st_buffer(st_centroid(p.geom), 40, 2) as b) o"  # an octagon around the parcel
        ' where (p."maXa", p."soHieuToBanDo", p."soThuTuThua") = (%s, %s, %s)',
        plotted_parcel[:3],
    ).fetchone()
    doc = report(server, {"polygon": ring, "lang": "en"})
    assert doc["subject"]["kind"] == "area" and doc["parcel"] is None
    assert doc["subject"]["areaM2"] == pytest.approx(area, abs=0.05)  # there and back through CRS84
    assert sum(z["percent"] for z in doc["plannedLandUse"]["zones"]) == pytest.approx(100, abs=0.5)
    assert doc["lang"] == "en" and "reference" in doc["disclaimer"]
    assert doc["plannedLandUse"]["title"].startswith("Land-use plan")


def test_report_carries_no_personal_data(server: str, db: psycopg.Connection, plotted_parcel: tuple) -> None:
    catalogue = load_catalogue()
    private = {f.name for layer in catalogue for f in layer.fields if not f.public or f.personal}
    assert {"tenChu", "soDinhDanh", "diaChi"} <= private
    owner = db.execute(
        'select "tenChu", "soDinhDanh", "diaChi" from data.parcels'
        ' where ("maXa", "soHieuToBanDo", "soThuTuThua") = (%s, %s, %s)',
        plotted_parcel[:3],
    ).fetchone()
    docs = [report(server, key_of(plotted_parcel[:3])), report(server, key_of(plotted_parcel[:3]) | {"lang": "en"})]
    for doc in docs:
        assert not keys_of(doc) & private
        text = json.dumps(doc, ensure_ascii=False)
        for value in owner:
            assert not value or value not in text


# -- refusals ------------------------------------------------------------------------


def _circle(n: int) -> list[list[float]]:
    ring = [
        [106 + 0.001 * math.cos(2 * math.pi * i / n), 20.9 + 0.001 * math.sin(2 * math.pi * i / n)] for i in range(n)
    ]
    return ring + [ring[0]]


_RING = [[106.0, 20.9], [106.001, 20.9], [106.001, 20.901], [106.0, 20.901], [106.0, 20.9]]
BAD = {
    "no inputs": {},
    "unknown input": {"maXa": "12019", "soHieuToBanDo": 1, "soThuTuThua": 1, "owner": "x"},
    "sheet as string": {"maXa": "12019", "soHieuToBanDo": "1", "soThuTuThua": 1},
    "parcel as float": {"maXa": "12019", "soHieuToBanDo": 1, "soThuTuThua": 1.0},
    "parcel as bool": {"maXa": "12019", "soHieuToBanDo": 1, "soThuTuThua": True},
    "huge number": {"maXa": "12019", "soHieuToBanDo": 1, "soThuTuThua": 10**30},
    "negative sheet": {"maXa": "12019", "soHieuToBanDo": -1, "soThuTuThua": 1},
    "maXa as number": {"maXa": 12019, "soHieuToBanDo": 1, "soThuTuThua": 1},
    "key incomplete": {"maXa": "12019", "soHieuToBanDo": 1},
    "injection in maXa": {"maXa": "1'; drop table data.parcels; --", "soHieuToBanDo": 1, "soThuTuThua": 1},
    "injection in version": {"maXa": "12019", "soHieuToBanDo": 1, "soThuTuThua": 1, "version": "x' or '1'='1"},
    "two subjects": {"maXa": "12019", "soHieuToBanDo": 1, "soThuTuThua": 1, "point": [106.0, 20.9]},
    "unknown version": {"maXa": "12019", "soHieuToBanDo": 1, "soThuTuThua": 1, "version": "qhsdd-1999"},
    "bad lang": {"maXa": "12019", "soHieuToBanDo": 1, "soThuTuThua": 1, "lang": "fr"},
    "point of strings": {"point": ["106", "20.9"]},
    "point of three": {"point": [106.0, 20.9, 1.0, 2.0]},
    "point out of range": {"point": [200.0, 20.9]},
    "point infinite": {"point": [1e400, 20.9]},
    "invalid crs": {"point": [106.0, 20.9], "crs": "EPSG:3857"},
    "crs garbage": {"point": [106.0, 20.9], "crs": "'; select pg_sleep(10); --"},
    "crs for a key": {"maXa": "12019", "soHieuToBanDo": 1, "soThuTuThua": 1, "crs": "EPSG:4326"},
    "polygon not geojson": {"polygon": "POLYGON((0 0, 1 0, 1 1, 0 0))"},
    "polygon wrong type": {"polygon": {"type": "Point", "coordinates": [106.0, 20.9]}},
    "polygon unclosed": {"polygon": {"type": "Polygon", "coordinates": [_RING[:-1]]}},
    "polygon bow-tie": {
        "polygon": {
            "type": "Polygon",
            "coordinates": [[[106, 20.9], [106.001, 20.901], [106.001, 20.9], [106, 20.901], [106, 20.9]]],
        }
    },
    "polygon too large": {
        "polygon": {
            "type": "Polygon",
            "coordinates": [[[105.9, 20.8], [106.2, 20.8], [106.2, 21.0], [105.9, 21.0], [105.9, 20.8]]],
        }
    },
    "polygon 5k vertices": {"polygon": {"type": "Polygon", "coordinates": [_circle(5_000)]}},
}


def _assert_clean_refusal(status: int, doc: Any) -> str:
    assert 400 <= status < 500, (status, doc)
    assert isinstance(doc, dict), doc
    text = doc.get("description", "")
    assert text and len(text) < 400, text
    lowered = text.lower()
    for leak in ("traceback", "select ", "psycopg", "/work", ".py", "geos", "postgis"):
        assert leak not in lowered, text
    return text


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_refused_with_a_short_message(server: str, name: str) -> None:
    status, doc = post(server, {"inputs": BAD[name]})
    text = _assert_clean_refusal(status, doc)
    assert " / " in text, "messages are Vietnamese / English"


def test_polygon_of_100k_vertices_is_refused(server: str) -> None:
    status, doc = post(server, {"inputs": {"polygon": {"type": "Polygon", "coordinates": [_circle(100_000)]}}})
    _assert_clean_refusal(status, doc)  # by the server's body limit or by the process's vertex limit


def test_nan_and_non_json_bodies_are_refused(server: str) -> None:
    for raw in (
        b'{"inputs": {"point": [NaN, 20.9]}}',
        b'{"inputs": {"maXa": "1", "soHieuToBanDo": Infinity}}',
        b"not json",
    ):
        status, doc = post(server, None, raw=raw)
        _assert_clean_refusal(status, doc)


def test_unknown_parcel_is_not_found(server: str) -> None:
    status, doc = post(server, {"inputs": {"maXa": "99999", "soHieuToBanDo": 9999, "soThuTuThua": 99999}})
    assert status == 404, (status, doc)
    text = _assert_clean_refusal(status, doc)
    assert "không tìm thấy thửa đất" in text and "parcel not found" in text


def test_point_outside_every_parcel_is_not_found(server: str) -> None:
    status, doc = post(server, {"inputs": {"point": [105.0, 10.0]}})
    text = _assert_clean_refusal(status, doc)
    assert "parcel not found" in text


def test_process_is_described(server: str) -> None:
    url = urllib.parse.urlsplit(server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", "/ogc/processes/planning-report?f=json")
    resp = conn.getresponse()
    doc = json.loads(resp.read())
    conn.close()
    assert resp.status == 200
    assert {"maXa", "soHieuToBanDo", "soThuTuThua", "point", "polygon", "crs", "version", "lang"} <= set(doc["inputs"])


# -- speed ---------------------------------------------------------------------------


def test_p95_over_200_random_parcels(server: str, db: psycopg.Connection) -> None:
    """Measured, printed, not asserted: timing belongs to benchmarks, not to a pass/fail gate."""
    keys = db.execute('select "maXa", "soHieuToBanDo", "soThuTuThua" from data.parcels').fetchall()
    sample = random.Random(20250701).sample(keys, min(200, len(keys)))
    url = urllib.parse.urlsplit(server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)  # keep-alive, like a browser
    times = []
    try:
        for key in sample:
            body = json.dumps({"inputs": key_of(key)}).encode()
            t0 = time.perf_counter()
            conn.request("POST", PATH, body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            times.append(time.perf_counter() - t0)
            assert resp.status == 200, key
    finally:
        conn.close()
    times.sort()
    p50, p95 = times[len(times) // 2], times[math.ceil(0.95 * len(times)) - 1]
    print(
        f"\nplanning-report over HTTP, {len(times)} random parcels: p50 {p50 * 1e3:.1f} ms, "
        f"p95 {p95 * 1e3:.1f} ms, max {times[-1] * 1e3:.1f} ms"
    )
