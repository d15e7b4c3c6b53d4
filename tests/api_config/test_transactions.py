"""OGC API Features Part 4 on /internal/ogc, against a real `bando serve` with named, scoped tokens.

Every feature a test creates is deleted by it again, so the shared sample data keeps its counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import morecantile
import psycopg
import pytest
import shapely.geometry

from bando import db
from bando.api_config.auth import new_token
from tests.conftest import cli_env, serving

pytestmark = pytest.mark.slow  # a `bando serve` of its own

STEWARD = "steward-infrastructure"
CADASTRE = "cadastre-editor"
GATEWAY = "sensor-gateway"


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("tokens") / "tokens.yml"
    made = {
        STEWARD: new_token(path, STEWARD, ["*"], ["roads", "point_assets", "drainage_lines"]),
        CADASTRE: new_token(path, CADASTRE, ["parcels"], ["parcels"]),
        GATEWAY: new_token(path, GATEWAY, ["env_sensors"], ["sensor_readings"]),
    }
    return path, made


@pytest.fixture(scope="module")
def edit_server(loaded: list, bando_bin: str, tokens: tuple[Path, dict[str, str]]) -> Iterator[str]:
    path, _ = tokens
    extra = {"BANDO_INTERNAL_TOKENS_FILE": str(path), "BANDO_INTERNAL_TOKENS": None}
    with serving(bando_bin, extra, log="edit-server.log") as url:
        yield url


def auth(tokens: tuple[Path, dict[str, str]], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[1][name]}"}


def owner_rows(query: str, params: Any = None) -> list[tuple]:
    with psycopg.connect(db.database_url()) as conn:
        return conn.execute(query, params).fetchall()


def storage_point(layer: str, dx: float, dy: float) -> tuple[int, float, float]:
    """A spot east of every feature of the layer (empty ground inside the province), in storage CRS."""
    srid, x, y = owner_rows(
        f"select st_srid(geom), st_xmax(st_extent(geom)), st_ymin(st_extent(geom)) from data.{layer} group by 1"
    )[0]
    return srid, x + dx, y + dy


def crs_uri(srid: int) -> str:
    return f"http://www.opengis.net/def/crs/EPSG/0/{srid}"


def square(x: float, y: float, side: float) -> dict[str, Any]:
    ring = [[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]
    return {"type": "MultiPolygon", "coordinates": [[ring]]}


def sample_features() -> dict[str, tuple[dict[str, Any], dict[str, Any], int]]:
    """One new feature each of a point, a line and a polygon layer, in their storage CRS."""
    srid, x, y = storage_point("point_assets", 300, 0)
    commune = owner_rows('select "maXa" from data.parcels limit 1')[0][0]
    _, px, py = storage_point("parcels", 400, 0)
    return {
        "point_assets": (
            {"maTaiSan": "EDIT-P-1", "loai": "tru_cuu_hoa", "trangThai": "tot", "namLapDat": 2020},
            {"type": "Point", "coordinates": [x, y]},
            srid,
        ),
        "roads": (
            {"maDuong": "EDIT-R-1", "tenDuong": "Đường thử", "capDuong": "Đường xã", "beRong": 7.5},
            {"type": "LineString", "coordinates": [[x, y + 50], [x + 120, y + 80]]},
            srid,
        ),
        "parcels": (
            {
                "maXa": commune,
                "soHieuToBanDo": 9999,
                "soThuTuThua": 99001,
                "dienTich": 400.0,
                "loaiDat": "ODT",
                "tenChu": "Nguyễn Văn Thử",
            },
            square(px, py, 20),
            srid,
        ),
    }


TOKEN_OF = {"point_assets": STEWARD, "roads": STEWARD, "parcels": CADASTRE}


def create(url: str, headers: dict[str, str], layer: str, props: dict, geometry: dict, srid: int) -> httpx.Response:
    body = {"type": "Feature", "properties": props, "geometry": geometry}
    return httpx.post(
        f"{url}/internal/ogc/collections/{layer}/items",
        json=body,
        headers={**headers, "Content-Crs": f"<{crs_uri(srid)}>", "Content-Type": "application/geo+json"},
        timeout=30,
    )


def tile_etag(url: str, layer: str, lon: float, lat: float) -> str:
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 16)
    r = httpx.get(f"{url}/ogc/collections/{layer}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}", timeout=30)
    assert r.status_code in (200, 204), r.text[:200]
    return r.headers["etag"]


@pytest.mark.parametrize("layer", ["point_assets", "roads", "parcels"])
def test_create_patch_replace_delete_show_on_both_apis_and_in_tiles(edit_server: str, tokens, layer: str) -> None:
    url, headers = edit_server, auth(tokens, TOKEN_OF[layer])
    props, geometry, srid = sample_features()[layer]
    created = create(url, headers, layer, props, geometry, srid)
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    item = f"/collections/{layer}/items/{fid}"
    try:
        public = httpx.get(f"{url}/ogc{item}", timeout=30).json()
        spot = shapely.geometry.shape(public["geometry"]).representative_point()
        lon, lat = spot.x, spot.y
        assert "tenChu" not in public["properties"]  # public fields only
        tile_before = tile_etag(url, layer, lon, lat)
        got = httpx.get(f"{url}/internal/ogc{item}", headers=headers, timeout=30)
        assert got.status_code == 200 and got.headers["etag"] == created.headers["etag"]
        if layer == "parcels":
            assert got.json()["properties"]["tenChu"] == "Nguyễn Văn Thử"
        field, value = {
            "point_assets": ("trangThai", "hu_hong"),
            "roads": ("beRong", 9.0),
            "parcels": ("loaiDat", "TMD"),
        }[layer]
        patched = httpx.patch(
            f"{url}/internal/ogc{item}",
            json={"type": "Feature", "properties": {field: value}},
            headers={**headers, "If-Match": got.headers["etag"]},
            timeout=30,
        )
        assert patched.status_code == 204, patched.text
        assert httpx.get(f"{url}/ogc{item}", timeout=30).json()["properties"][field] == value
        time.sleep(1.1)  # the layers' clock is read at most once a second
        assert tile_etag(url, layer, lon, lat) != tile_before
        replaced = httpx.put(
            f"{url}/internal/ogc{item}",
            json={"type": "Feature", "properties": props, "geometry": geometry},
            headers={**headers, "If-Match": patched.headers["etag"], "Content-Crs": f"<{crs_uri(srid)}>"},
            timeout=30,
        )
        assert replaced.status_code == 204, replaced.text
        assert httpx.get(f"{url}/ogc{item}", timeout=30).json()["properties"][field] == props[field]
        etag = replaced.headers["etag"]
    except BaseException:
        etag = httpx.get(f"{url}/internal/ogc{item}", headers=headers, timeout=30).headers.get("etag", "")
        httpx.delete(f"{url}/internal/ogc{item}", headers={**headers, "If-Match": etag}, timeout=30)
        raise
    deleted = httpx.delete(f"{url}/internal/ogc{item}", headers={**headers, "If-Match": etag}, timeout=30)
    assert deleted.status_code == 204, deleted.text
    assert httpx.get(f"{url}/ogc{item}", timeout=30).status_code == 404


def _tile_at(url: str, layer: str, lon: float, lat: float, z: int = 16) -> tuple[httpx.Response, dict]:
    """The layer's tile over a point, and the tile set's limits at that zoom from its metadata."""
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
    base = f"{url}/ogc/collections/{layer}/tiles/WebMercatorQuad"
    meta = httpx.get(f"{base}/metadata", params={"f": "json"}, timeout=30).json()
    limits = next(m for m in meta["tileMatrixSetLimits"] if m["tileMatrix"] == str(z))
    inside = limits["minTileRow"] <= t.y <= limits["maxTileRow"] and limits["minTileCol"] <= t.x <= limits["maxTileCol"]
    return httpx.get(f"{base}/{z}/{t.y}/{t.x}", timeout=30), {"inside": inside, **limits}


def test_a_feature_created_beyond_the_published_extent_is_in_the_tiles_and_the_style_at_once(
    edit_server: str, tokens
) -> None:
    """Tile-set limits and the map style's bounds follow the layer's recorded extent, which an
    edit grows: a hydrant placed 3 km east of every other one is drawn without a restart."""
    url, headers = edit_server, auth(tokens, STEWARD)
    srid, x, y = storage_point("point_assets", 3000, 0)
    lon, lat = owner_rows(
        "select st_x(p), st_y(p) from st_transform(st_setsrid(st_point(%s, %s), %s), 4326) p", (x, y, srid)
    )[0]
    before, limits = _tile_at(url, "point_assets", lon, lat)
    assert before.status_code == 404 and not limits["inside"], "the spot should start outside the tile-set limits"
    props = {"maTaiSan": "EDIT-FAR-1", "loai": "tru_cuu_hoa", "trangThai": "tot", "namLapDat": 2021}
    created = create(url, headers, "point_assets", props, {"type": "Point", "coordinates": [x, y]}, srid)
    assert created.status_code == 201, created.text
    item = f"{url}/internal/ogc/collections/point_assets/items/{created.json()['id']}"
    try:
        deadline = time.monotonic() + 10
        while True:  # the API reads the layers' state at most once a second
            after, limits = _tile_at(url, "point_assets", lon, lat)
            if after.status_code != 404 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert after.status_code == 200 and limits["inside"], after.text[:200]
        assert b"EDIT-FAR-1" in after.content
        style = httpx.get(f"{url}/ogc/styles/bando", params={"f": "mapbox"}, timeout=30).json()
        w, s, e, n = style["sources"]["point_assets"]["bounds"]
        assert w <= lon <= e and s <= lat <= n
        one = httpx.get(f"{url}/ogc/collections/point_assets/styles/default", params={"f": "mapbox"}, timeout=30)
        w, s, e, n = one.json()["sources"]["point_assets"]["bounds"]
        assert w <= lon <= e and s <= lat <= n
    finally:
        etag = httpx.get(item, headers=headers, timeout=30).headers.get("etag", "")
        assert httpx.delete(item, headers={**headers, "If-Match": etag}, timeout=30).status_code == 204


def test_the_public_api_refuses_every_write_with_405(edit_server: str) -> None:
    items = f"{edit_server}/ogc/collections/point_assets/items"
    feature = {
        "type": "Feature",
        "properties": {"maTaiSan": "X"},
        "geometry": {"type": "Point", "coordinates": [106, 20.8]},
    }
    assert httpx.post(items, json=feature, timeout=30).status_code == 405
    assert (
        httpx.post(items, json=feature, headers={"Content-Type": "application/geo+json"}, timeout=30).status_code == 405
    )
    for method in ("PUT", "PATCH", "DELETE"):
        assert httpx.request(method, f"{items}/1", json=feature, timeout=30).status_code == 405
    conformance = httpx.get(f"{edit_server}/ogc/conformance", timeout=30).json()["conformsTo"]
    assert not [c for c in conformance if "features-4" in c]


def test_part_4_is_declared_on_the_internal_api(edit_server: str, tokens) -> None:
    answer = httpx.get(f"{edit_server}/internal/ogc/conformance", headers=auth(tokens, STEWARD), timeout=30)
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in answer.json()["conformsTo"]


def count(layer: str) -> int:
    return int(owner_rows(f"select count(*) from data.{layer}")[0][0])


@pytest.mark.parametrize(
    ("layer", "change", "status", "rule"),
    [
        ("point_assets", {"loai": "bogus"}, 422, "domain.invalid_value"),
        ("point_assets", {"namLapDat": 1800}, 422, "domain.out_of_range"),
        ("point_assets", {"maTaiSan": None}, 422, "required.missing"),
        ("point_assets", {"namLapDat": "năm ngoái"}, 422, "type.invalid"),
        ("parcels", {"loaiDat": "XYZ"}, 422, "domain.unknown_code"),
        ("roads", {"geometry": {"type": "Point", "coordinates": [0, 0]}}, 422, "geometry.mixed_types"),
        ("point_assets", {"geometry": {"type": "Point", "coordinates": [0.0, 0.0]}}, 422, "extent.outside"),
        ("parcels", {"overlap": True}, 409, "geometry.overlap"),
        ("point_assets", {"duplicate": True}, 409, "key.duplicate"),
    ],
)
def test_a_write_breaking_a_rule_answers_its_code_and_changes_nothing(
    edit_server: str, tokens, layer: str, change: dict, status: int, rule: str
) -> None:
    props, geometry, srid = sample_features()[layer]
    props = dict(props)
    if change.pop("overlap", False):
        first = owner_rows("select st_asgeojson(geom) from data.parcels order by fid limit 1")[0][0]
        geometry = json.loads(first)
    if change.pop("duplicate", False):
        props["maTaiSan"] = owner_rows('select "maTaiSan" from data.point_assets order by fid limit 1')[0][0]
    geometry = change.pop("geometry", geometry)
    if geometry.get("coordinates") == [0.0, 0.0]:
        srid = srid  # zero in the storage CRS: far outside the province
    props.update(change)
    before = count(layer), owner_rows("select count(*) from bando.audit")[0][0]
    answer = create(edit_server, auth(tokens, TOKEN_OF[layer]), layer, props, geometry, srid)
    assert answer.status_code == status, answer.text
    assert rule in [f["rule"] for f in answer.json()["rules"]], answer.text
    assert (count(layer), owner_rows("select count(*) from bando.audit")[0][0]) == before


@pytest.fixture
def hydrant(edit_server: str, tokens) -> Iterator[tuple[str, str]]:
    """A feature of our own on point_assets: (item URL, its ETag); deleted afterwards."""
    props, geometry, srid = sample_features()["point_assets"]
    props = {**props, "maTaiSan": f"EDIT-H-{time.monotonic_ns()}"}
    created = create(edit_server, auth(tokens, STEWARD), "point_assets", props, geometry, srid)
    assert created.status_code == 201, created.text
    item = f"{edit_server}/internal/ogc/collections/point_assets/items/{created.json()['id']}"
    yield item, created.headers["etag"]
    current = httpx.get(item, headers=auth(tokens, STEWARD), timeout=30).headers.get("etag", "")
    httpx.delete(item, headers={**auth(tokens, STEWARD), "If-Match": current}, timeout=30)


def test_a_stale_or_missing_if_match_is_refused(edit_server: str, tokens, hydrant) -> None:
    item, etag = hydrant
    headers = auth(tokens, STEWARD)
    patch = {"type": "Feature", "properties": {"trangThai": "dang_sua"}}
    assert httpx.patch(item, json=patch, headers=headers, timeout=30).status_code == 428
    assert httpx.patch(item, json=patch, headers={**headers, "If-Match": etag}, timeout=30).status_code == 204
    for method in ("PATCH", "PUT", "DELETE"):
        stale = httpx.request(method, item, json=patch, headers={**headers, "If-Match": etag}, timeout=30)
        assert stale.status_code == 412, (method, stale.text)


def test_twenty_concurrent_patches_with_one_etag_exactly_one_wins(edit_server: str, tokens, hydrant) -> None:
    item, etag = hydrant
    headers = {**auth(tokens, STEWARD), "If-Match": etag}

    def patch(k: int) -> int:
        body = {"type": "Feature", "properties": {"namLapDat": 2000 + k}}
        return httpx.patch(item, json=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(patch, range(20)))
    assert sorted(statuses) == [204] + [412] * 19, statuses


def test_the_audit_names_the_token_and_keeps_before_and_after(edit_server: str, tokens, hydrant) -> None:
    item, etag = hydrant
    fid = int(item.rsplit("/", 1)[1])
    answer = httpx.patch(
        item,
        json={"type": "Feature", "properties": {"trangThai": "hu_hong"}},
        headers={**auth(tokens, STEWARD), "If-Match": etag},
        timeout=30,
    )
    assert answer.status_code == 204
    rows = owner_rows(
        "select token, operation, before, after from bando.audit where layer = 'point_assets' and fid = %s order by id",
        (fid,),
    )
    assert [(r[0], r[1]) for r in rows] == [(STEWARD, "create"), (STEWARD, "update")]
    assert rows[1][2]["trangThai"] == "tot" and rows[1][3]["trangThai"] == "hu_hong"
    assert rows[1][3]["geometry"]["type"] == "Point"
    assert tokens[1][STEWARD] not in (Path(os.environ["BANDO_HOME"]) / "edit-server.log").read_text()


def test_a_sensor_gateway_token_posts_readings_and_nothing_else(edit_server: str, tokens) -> None:
    headers = auth(tokens, GATEWAY)
    sensor = owner_rows('select "maCamBien" from data.env_sensors order by fid limit 1')[0][0]
    reading = {
        "type": "Feature",
        "geometry": None,
        "properties": {"maCamBien": sensor, "thoiGian": "2026-12-04T08:00:00+07:00", "giaTri": 12.5, "loai": "pm25"},
    }
    items = f"{edit_server}/internal/ogc/collections/sensor_readings/items"
    created = httpx.post(items, json={"type": "FeatureCollection", "features": [reading]}, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    fid = created.json()["ids"][0]
    for layer in ("roads", "parcels", "point_assets"):
        answer = create(edit_server, headers, layer, *sample_features()[layer])
        assert answer.status_code == 403, (layer, answer.text)
        assert (
            httpx.get(f"{edit_server}/internal/ogc/collections/{layer}/items", headers=headers, timeout=30).status_code
            == 403
        )
    cadastre = create(edit_server, auth(tokens, STEWARD), "parcels", *sample_features()["parcels"])
    assert cadastre.status_code == 403  # the infrastructure steward may not edit parcels
    etag = httpx.get(f"{items}/{fid}", headers=headers, timeout=30).headers["etag"]
    assert httpx.delete(f"{items}/{fid}", headers={**headers, "If-Match": etag}, timeout=30).status_code == 204


def test_the_edit_role_can_write_only_its_own_table(database: str) -> None:
    """PostgreSQL, not bando, keeps an edit of one layer away from the others."""
    with psycopg.connect(db.view_url("internal")) as conn:
        conn.execute("set role bando_edit_sensor_readings")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute('update data.roads set "tenDuong" = "tenDuong" where false')
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute('update data.roads set "tenDuong" = "tenDuong" where false')  # without set role either


def test_datetime_before_an_edit_answers_the_old_state_on_both_apis(edit_server: str, tokens, hydrant) -> None:
    item, etag = hydrant
    fid = int(item.rsplit("/", 1)[1])
    headers = auth(tokens, STEWARD)
    time.sleep(0.05)
    before_edit = owner_rows("select now()")[0][0].isoformat()
    time.sleep(0.05)
    answer = httpx.patch(
        item, json={"type": "Feature", "properties": {"trangThai": "dang_sua"}}, headers={**headers, "If-Match": etag}
    )
    assert answer.status_code == 204
    for base, h in ((f"{edit_server}/ogc", {}), (f"{edit_server}/internal/ogc", headers)):
        url = f"{base}/collections/point_assets/items"
        maTaiSan = httpx.get(f"{url}/{fid}", headers=h, timeout=30).json()["properties"]["maTaiSan"]
        then = httpx.get(url, params={"datetime": before_edit, "maTaiSan": maTaiSan}, headers=h, timeout=30).json()
        now = httpx.get(url, params={"maTaiSan": maTaiSan}, headers=h, timeout=30).json()
        assert [f["properties"]["trangThai"] for f in then["features"]] == ["tot"], then
        assert [f["properties"]["trangThai"] for f in now["features"]] == ["dang_sua"]
        long_ago = httpx.get(url, params={"datetime": "2001-01-01T00:00:00Z", "maTaiSan": maTaiSan}, headers=h)
        assert long_ago.json()["features"] == []  # it was created after that
        untouched = httpx.get(url, params={"datetime": before_edit, "limit": 5}, headers=h, timeout=30).json()
        assert len(untouched["features"]) == 5  # features never edited are as loaded


def test_bando_history_shows_a_features_life(edit_server: str, tokens, hydrant, bando_bin: str) -> None:
    item, etag = hydrant
    fid = item.rsplit("/", 1)[1]
    answer = httpx.patch(
        item,
        json={"type": "Feature", "properties": {"trangThai": "hu_hong"}},
        headers={**auth(tokens, STEWARD), "If-Match": etag},
    )
    assert answer.status_code == 204
    shown = subprocess.run(
        [bando_bin, "history", "point_assets", fid], env=cli_env(), capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "create" in shown.stdout and "update" in shown.stdout and STEWARD in shown.stdout
    assert "tot → hu_hong" in shown.stdout
    missing = subprocess.run(
        [bando_bin, "history", "point_assets", "987654321"], env=cli_env(), capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 3


def test_a_gateway_posts_json_lines_all_or_nothing(edit_server: str, tokens) -> None:
    headers = {**auth(tokens, GATEWAY), "Content-Type": "application/x-ndjson"}
    sensor = owner_rows('select "maCamBien" from data.env_sensors order by fid limit 1')[0][0]
    items = f"{edit_server}/internal/ogc/collections/sensor_readings/items"
    lines = [
        {"maCamBien": sensor, "thoiGian": f"2026-12-04T09:{m:02d}:00+07:00", "giaTri": 20 + m, "loai": "pm25"}
        for m in range(50)
    ]
    before = count("sensor_readings")
    bad = [*lines[:10], {**lines[10], "loai": "co2"}]
    refused = httpx.post(items, content="\n".join(json.dumps(x) for x in bad), headers=headers, timeout=30)
    assert refused.status_code == 422 and refused.json()["rules"][0]["rule"] == "domain.invalid_value"
    assert refused.json()["rules"][0]["index"] == 10
    assert count("sensor_readings") == before
    answer = httpx.post(items, content="\n".join(json.dumps(x) for x in lines), headers=headers, timeout=30)
    assert answer.status_code == 201, answer.text
    ids = answer.json()["ids"]
    assert len(ids) == 50 and count("sensor_readings") == before + 50
    with psycopg.connect(db.database_url()) as conn:  # as the owner, keeping the published row count true
        conn.execute("delete from data.sensor_readings where fid = any(%s)", (ids,))
        conn.execute(
            "update bando.layer_state set row_count = (select count(*) from data.sensor_readings)"
            " where layer = 'sensor_readings'"
        )
