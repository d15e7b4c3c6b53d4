"""What a client that follows the OGC standards and the links meets: parameters, CQL2, media
types, errors, versions — each against bando's app in process, over the loaded samples."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from starlette.testclient import TestClient

from bando.settings import get_settings


@pytest.fixture(scope="module")
def client(loaded: list) -> Iterator[TestClient]:
    from bando.cli.server import create_app

    with TestClient(create_app("http://testserver", get_settings()), raise_server_exceptions=False) as c:
        yield c


def matched(client: TestClient, collection: str, **params: str) -> int:
    response = client.get(f"/ogc/collections/{collection}/items", params={"f": "json", "limit": "1", **params})
    assert response.status_code == 200, response.text
    return int(response.json()["numberMatched"])


def test_unknown_items_parameter_is_400_and_names_it(client: TestClient) -> None:
    response = client.get("/ogc/collections/roads/items", params={"q": "D4"})
    assert response.status_code == 400
    assert "q" in response.json()["description"]
    assert client.get("/ogc/collections/roads/items", params={"limitt": "5"}).status_code == 400
    assert client.get("/ogc/collections/roads/items", params={"limit": "5", "f": "json"}).status_code == 200


def test_property_parameter_reaches_an_old_plan_version(client: TestClient, database: str) -> None:
    with psycopg.connect(database) as conn:
        (expected,) = conn.execute("select count(*) from data.land_use_plan where version_id = 'qhsdd-2030'").fetchone()
    assert expected > 0
    assert matched(client, "land_use_plan", version_id="qhsdd-2030") == expected
    assert matched(client, "land_use_plan", filter="version_id = 'qhsdd-2030'") == expected


def test_filter_on_valid_from_is_not_narrowed_to_the_current_version(client: TestClient, database: str) -> None:
    with psycopg.connect(database) as conn:
        (expected,) = conn.execute("select count(*) from data.land_use_plan where valid_from < '2025-01-01'").fetchone()
    assert expected > 0
    assert matched(client, "land_use_plan", filter="valid_from < DATE('2025-01-01')") == expected


def test_cql2_json_filter_by_get(client: TestClient) -> None:
    cql = {"op": "=", "args": [{"property": "version_id"}, "qhsdd-2030"]}
    by_get = matched(client, "land_use_plan", filter=json.dumps(cql), **{"filter-lang": "cql2-json"})
    by_text = matched(client, "land_use_plan", filter="version_id = 'qhsdd-2030'")
    assert by_get == by_text > 0


def _a_road_name(database: str) -> str:
    with psycopg.connect(database) as conn:
        row = conn.execute(
            'select "tenDuong" from data.roads where "tenDuong" ~ \'[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộ'
            "ơờớởỡợùúủũụưừứửữựỳýỷỹỵ]' limit 1"
        ).fetchone()
    assert row, "the samples have roads with Vietnamese names"
    return str(row[0])


def test_casei_like_and_accenti(client: TestClient, database: str) -> None:
    name = _a_road_name(database)
    word = max(name.split(), key=len)
    upper = word.upper()
    like = matched(client, "roads", filter=f"CASEI(tenDuong) LIKE CASEI('%{upper}%')")
    assert like > 0
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))
    plain = plain.replace("đ", "d").replace("Đ", "D")
    assert plain != word
    accenti = matched(client, "roads", filter=f"ACCENTI(CASEI(tenDuong)) LIKE ACCENTI(CASEI('%{plain}%'))")
    assert accenti >= like


def test_queryables_carry_the_catalogue_titles(client: TestClient) -> None:
    props = client.get("/ogc/collections/parcels/queryables", params={"f": "json"}).json()["properties"]
    assert props["maXa"]["title"] != "maXa"
    assert props["soThuTuThua"]["title"] != "soThuTuThua"
    english = client.get("/ogc/collections/parcels/queryables", params={"f": "json", "lang": "en"}).json()
    assert english["properties"]["maXa"]["title"] != props["maXa"]["title"]


def test_items_are_geojson_by_type(client: TestClient) -> None:
    for headers in ({}, {"Accept": "application/geo+json"}):
        items = client.get("/ogc/collections/roads/items", params={"limit": "1"}, headers=headers)
        assert items.status_code == 200
        assert items.headers["content-type"].startswith("application/geo+json")
    fid = items.json()["features"][0]["id"]
    one = client.get(f"/ogc/collections/roads/items/{fid}", params={"f": "json"})
    assert one.headers["content-type"].startswith("application/geo+json")


def test_unknown_path_is_a_json_404(client: TestClient) -> None:
    for path in ("/ogc/nothing-here", "/ogc/collections/roads/nothing"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["code"] == "NotFound"


def test_ogc_without_slash_is_the_landing_page_its_links_name(client: TestClient) -> None:
    response = client.get("/ogc", params={"f": "json"}, follow_redirects=False)
    assert response.status_code == 200
    hrefs = {link["rel"]: link["href"] for link in response.json()["links"]}
    assert hrefs["self"].startswith("http://testserver/ogc?")


def test_a_filter_whose_type_member_is_an_object_is_400(client: TestClient) -> None:
    body = {"op": "s_equals", "args": [{"property": "x", "type": {"a": []}}, {"type": {"b": 1}}]}
    response = client.post("/ogc/collections/cameras/items", json=body)
    assert response.status_code == 400, response.text


def _execute(client: TestClient, inputs: dict) -> tuple[int, dict]:
    response = client.post("/ogc/processes/planning-report/execution", json={"inputs": inputs})
    return response.status_code, response.json()


def test_an_unknown_parcel_is_404(client: TestClient) -> None:
    status, _ = _execute(client, {"maXa": "99999", "soHieuToBanDo": 9999, "soThuTuThua": 99999})
    assert status == 404
    status, _ = _execute(client, {"maXa": "99999", "soHieuToBanDo": 0, "soThuTuThua": 1})
    assert status == 400  # a malformed key stays a bad request


def test_epsg_4326_uri_is_latitude_first_in_the_process_as_in_features(client: TestClient, database: str) -> None:
    with psycopg.connect(database) as conn:
        lon, lat, key = conn.execute(
            'select st_x(t), st_y(t), array["maXa", "soHieuToBanDo"::text, "soThuTuThua"::text]'
            " from data.parcels p, lateral (select st_transform(st_pointonsurface(p.geom), 4326) as t) w"
            " order by fid limit 1"
        ).fetchone()
    uri = "http://www.opengis.net/def/crs/EPSG/0/4326"
    status, doc = _execute(client, {"point": [lat, lon], "crs": uri})
    assert status == 200, doc
    assert [doc["parcel"]["maXa"], str(doc["parcel"]["soHieuToBanDo"]), str(doc["parcel"]["soThuTuThua"])] == key
    status, _ = _execute(client, {"point": [lon, lat], "crs": "EPSG:4326"})
    assert status == 200


def test_records_are_not_created_after_they_were_updated(client: TestClient) -> None:
    records = client.get("/ogc/collections/catalogue/items", params={"f": "json", "limit": "100"}).json()["features"]
    assert records
    for record in records:
        props = record["properties"]
        if props.get("created") and props.get("updated"):
            assert props["created"] <= props["updated"], record["id"]


TILES = "/ogc/collections/parcels/tiles/WebMercatorQuad"


def test_a_tile_outside_the_tile_set_limits_is_a_json_404_naming_them(client: TestClient) -> None:
    """16/0/0 is a tile of the matrix but far outside the province: 404, not an empty 200."""
    limits = {
        m["tileMatrix"]: m for m in client.get(f"{TILES}/metadata", params={"f": "json"}).json()["tileMatrixSetLimits"]
    }
    at16 = limits["16"]
    response = client.get(f"{TILES}/16/0/0", params={"f": "mvt"})
    assert response.status_code == 404, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    text = response.json()["description"]
    assert f"rows {at16['minTileRow']}–{at16['maxTileRow']}" in text
    assert f"columns {at16['minTileCol']}–{at16['maxTileCol']}" in text
    inside = client.get(f"{TILES}/16/{at16['minTileRow']}/{at16['minTileCol']}", params={"f": "mvt"})
    assert inside.status_code == 200  # inside the limits: a tile, empty or not
    beyond = client.get(f"{TILES}/{max(int(z) for z in limits) + 1}/0/0", params={"f": "mvt"})
    assert beyond.status_code == 404 and beyond.json()["description"]


def test_tile_set_metadata_is_json_and_tilejson_has_its_own_type(client: TestClient) -> None:
    """OGC API Tiles: the TileSet document is application/json; TileJSON is asked for with
    f=tilejson and answers under the type the metadata's own link announces."""
    tileset = client.get(f"{TILES}/metadata", params={"f": "json"})
    assert tileset.status_code == 200 and tileset.headers["content-type"].startswith("application/json")
    announced = next(link["type"] for link in tileset.json()["links"] if link["href"].endswith("f=tilejson"))
    for path in (TILES, f"{TILES}/metadata"):
        tilejson = client.get(path, params={"f": "tilejson"})
        assert tilejson.status_code == 200, tilejson.text[:200]
        assert tilejson.headers["content-type"] == announced == "application/vnd.mapbox.tile+json"
        assert tilejson.json()["tilejson"] == "3.0.0"


COVERAGE = "/ogc/collections/flood_depth"


def _raster(database: str) -> tuple[int, list[float]]:
    with psycopg.connect(database) as conn:
        row = conn.execute("select srid, bounds from bando.rasters where layer = 'flood_depth'").fetchone()
    assert row is not None, "the samples did not publish flood_depth"
    return int(row[0]), list(row[1])


def test_coverage_collection_carries_crs_and_storage_crs(client: TestClient, database: str) -> None:
    storage = f"http://www.opengis.net/def/crs/EPSG/0/{_raster(database)[0]}"
    collection = client.get(COVERAGE, params={"f": "json"}).json()
    assert collection["storageCrs"] == storage and collection["crs"] == [storage]
    listed = client.get("/ogc/collections", params={"f": "json"}).json()["collections"]
    assert next(c for c in listed if c["id"] == "flood_depth")["storageCrs"] == storage


def test_coverage_subset_takes_the_axis_names_of_its_crs(client: TestClient, database: str) -> None:
    """VN-2000 / TM-3 names its axes E and N: a subset by those names is the one by x and y."""
    x0, y0, x1, y1 = _raster(database)[1]
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    xs, ys = f"({mx - 100}:{mx + 100})", f"({my - 100}:{my + 100})"
    by_xy = client.get(f"{COVERAGE}/coverage", params={"f": "json", "subset": f"x{xs},y{ys}"})
    by_en = client.get(f"{COVERAGE}/coverage", params={"f": "json", "subset": f"E{xs},N{ys}"})
    assert by_xy.status_code == 200 and by_en.status_code == 200, by_en.text[:300]
    assert by_en.json()["domain"]["axes"] == by_xy.json()["domain"]["axes"]
    assert by_en.json()["domain"]["axes"]["x"]["num"] < 100  # the subset applied, not the whole grid
    assert client.get(f"{COVERAGE}/coverage", params={"f": "json", "subset": f"Lat{xs}"}).status_code == 400


def test_coverage_html_page_is_small(client: TestClient) -> None:
    response = client.get(f"{COVERAGE}/coverage", params={"f": "html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert len(response.content) < 100_000, len(response.content)
    assert "coverage?f=GTiff" in response.text and "coverage?f=json" in response.text
