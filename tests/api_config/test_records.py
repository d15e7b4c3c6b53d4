"""OGC API Records: the `catalogue` collection, one record per layer, on a real server."""

from __future__ import annotations

import json
from datetime import datetime

import httpx
import psycopg
import pytest

from bando.layers import catalogue as catalogue_mod
from tests.conftest import INTERNAL_TOKEN

CATALOGUE = catalogue_mod.load()
ITEMS = "/ogc/collections/catalogue/items"
RESTRICTED = {f.name for layer in CATALOGUE for f in layer.fields if not f.public}


def get(server: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{server}{path}", params=params, timeout=30)


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {f["id"] for f in response.json()["features"]}


@pytest.fixture(scope="module")
def records(server: str) -> dict[str, dict]:
    body = get(server, ITEMS, limit=1000).json()
    return {f["id"]: f for f in body["features"]}


@pytest.fixture(scope="module")
def published(database: str, loaded: list) -> dict[str, tuple]:
    with psycopg.connect(database) as conn:
        rows = conn.execute("select layer, published_at, row_count, srid from bando.layer_state").fetchall()
    return {r[0]: r[1:] for r in rows}


def test_catalogue_lists_every_layer_once(server: str, records: dict[str, dict]) -> None:
    body = get(server, ITEMS, limit=1000).json()
    assert set(records) == {layer.id for layer in CATALOGUE}
    assert body["numberMatched"] == len(CATALOGUE) == len(body["features"])


def test_record_has_the_ogc_record_shape_and_the_catalogue_metadata(server: str, records: dict[str, dict]) -> None:
    for layer in CATALOGUE:
        record = records[layer.id]
        p = record["properties"]
        assert record["type"] == "Feature" and "time" in record and record["conformsTo"]
        assert p["type"] == "dataset"
        assert (p["title"], p["title_en"]) == (layer.title.vi, layer.title.en)
        assert (p["description"], p["description_en"]) == (layer.description.vi, layer.description.en)
        assert p["keywords"] == (list(layer.metadata.keywords) or [layer.theme])
        assert p["themes"][0]["concepts"][0]["id"] == layer.theme
        assert p["contacts"][0]["organization"] == layer.metadata.contact.organisation
        if layer.metadata.contact.email:
            assert p["contacts"][0]["emails"] == [{"value": layer.metadata.contact.email}]
        assert p["license"] == layer.metadata.license
        assert p["source_decision"] == layer.metadata.source_decision
        assert p["formats"] and all(f["mediaType"] for f in p["formats"])
        assert [f["name"] for f in p["fields"]] == [f.name for f in layer.public_fields]


def test_record_links_to_its_collection_items_and_tiles(server: str, records: dict[str, dict]) -> None:
    for layer in CATALOGUE:
        links = {link["rel"]: link["href"] for link in records[layer.id]["links"]}
        base = f"{server}/ogc/collections/{layer.id}"
        assert links["describes"] == base
        if layer.kind == "raster":
            assert links["http://www.opengis.net/def/rel/ogc/1.0/coverage"].startswith(f"{base}/coverage")
        else:
            assert links["items"] == f"{base}/items"
        if layer.geometry and layer.tiles:
            assert links["http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"] == f"{base}/tiles"


def test_record_shows_when_the_layer_was_last_published(records: dict[str, dict], published: dict) -> None:
    assert published, "the samples published nothing"
    for layer_id, (published_at, row_count, srid) in published.items():
        if layer_id not in records:
            continue
        p = records[layer_id]["properties"]
        updated = datetime.fromisoformat(p["updated"].replace("Z", "+00:00"))
        assert abs((updated - published_at).total_seconds()) < 0.001
        assert p["published"] is True and p["row_count"] == row_count
        if srid:
            assert p["storage_crs"] == f"http://www.opengis.net/def/crs/EPSG/0/{srid}"
    for layer_id in set(records) - set(published):
        p = records[layer_id]["properties"]
        assert p["updated"] is None and p["published"] is False and p["row_count"] is None


def test_record_geometry_is_the_published_extent_in_crs84(records: dict[str, dict], database: str) -> None:
    from bando.crs import transformer

    with psycopg.connect(database) as conn:
        x0, y0, x1, y1 = conn.execute(
            "select st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from (select st_extent(geom) e from data.parcels) x"
        ).fetchone()
    lon0, lat0, lon1, lat1 = transformer(9209, 4326).transform_bounds(x0, y0, x1, y1)
    ring = records["parcels"]["geometry"]["coordinates"][0]
    (rx0, ry0), (rx1, ry1) = ring[0], ring[2]
    tolerance = 0.001  # degrees: the estimate comes from planner statistics
    assert abs(rx0 - lon0) < tolerance and abs(ry0 - lat0) < tolerance
    assert abs(rx1 - lon1) < tolerance and abs(ry1 - lat1) < tolerance


def test_unpublished_layer_gets_the_province_bbox(database: str) -> None:
    from bando.api_config.providers.records import BandoRecordProvider
    from bando.api_config.runtime import get_runtime

    provider = BandoRecordProvider(
        {"name": "records", "type": "record", "data": {"view": "public", "base_url": "http://example/ogc"}}
    )
    record = provider.record(CATALOGUE.get("parcels"), None)
    x0, y0, x1, y1 = get_runtime().province.bbox_lonlat
    assert record["geometry"]["coordinates"][0] == [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    assert record["properties"]["updated"] is None
    assert record["links"][0]["href"] == "http://example/ogc/collections/parcels"


def test_q_searches_titles_descriptions_and_keywords_without_diacritics(server: str) -> None:
    assert "flood_depth" in ids(get(server, ITEMS, q="ngập lụt"))
    assert "flood_depth" in ids(get(server, ITEMS, q="ngap lut"))
    assert "parcels" in ids(get(server, ITEMS, q="Thua dat dia chinh"))
    assert "parcels" in ids(get(server, ITEMS, q="cadastral"))
    assert {"flood_depth", "parcels"} <= ids(get(server, ITEMS, q="flood,cadastral parcels"))
    assert ids(get(server, ITEMS, q="zzz-no-such-word")) == set()


def test_bbox_filters_records_by_extent(server: str, records: dict[str, dict]) -> None:
    ring = records["parcels"]["geometry"]["coordinates"][0]
    inside = f"{ring[0][0]},{ring[0][1]},{ring[2][0]},{ring[2][1]}"
    assert "parcels" in ids(get(server, ITEMS, bbox=inside))
    assert ids(get(server, ITEMS, bbox="100.0,10.0,100.5,10.5")) == set()  # far outside the province


def test_properties_datetime_sorting_and_paging(server: str, published: dict) -> None:
    assert ids(get(server, ITEMS, kind="raster")) == {layer.id for layer in CATALOGUE if layer.kind == "raster"}
    assert ids(get(server, ITEMS, datetime="2000-01-01/..")) == set(published) & {layer.id for layer in CATALOGUE}
    newest = get(server, ITEMS, sortby="-updated", limit=1000).json()["features"]
    stamps = [f["properties"]["updated"] for f in newest if f["properties"]["updated"]]
    assert stamps == sorted(stamps, reverse=True)
    first = get(server, ITEMS, sortby="title", limit=5).json()
    second = get(server, ITEMS, sortby="title", limit=5, offset=5).json()
    assert first["numberMatched"] == len(CATALOGUE) and first["numberReturned"] == 5
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}


def test_bad_sortby_and_datetime_are_400(server: str) -> None:
    for params in ({"sortby": "row_count"}, {"datetime": "yesterday"}, {"filter": "title = 'x'"}):
        response = get(server, ITEMS, **params)
        assert response.status_code == 400, (params, response.text)
        assert "Traceback" not in response.text


def test_public_records_never_name_a_restricted_field(server: str) -> None:
    assert RESTRICTED, "the catalogue should have restricted fields for this test to mean anything"
    texts = [get(server, ITEMS, limit=1000).text]
    texts += [get(server, f"{ITEMS}/{layer.id}").text for layer in CATALOGUE]
    for text in texts:
        assert not {name for name in RESTRICTED if name in text}


def test_internal_records_list_every_field_and_flag_personal_ones(server: str) -> None:
    response = httpx.get(
        f"{server}/internal/ogc/collections/catalogue/items/parcels",
        headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    fields = {f["name"]: f for f in response.json()["properties"]["fields"]}
    assert fields.keys() == {f.name for f in CATALOGUE.get("parcels").fields}
    assert fields["tenChu"]["personal"] is True and fields["tenChu"]["public"] is False


def test_unknown_record_is_404_without_internals(server: str) -> None:
    for identifier in ("no_such_layer", "..%2F..%2Fetc%2Fpasswd", "%2E%2E"):
        response = httpx.get(f"{server}{ITEMS}/{identifier}", timeout=30)
        assert response.status_code == 404, (identifier, response.text)
        assert "Traceback" not in response.text


def test_owslib_reads_the_catalogue(server: str) -> None:
    from owslib.ogcapi.records import Records

    client = Records(f"{server}/ogc")
    assert "catalogue" in client.records()
    found = client.collection_items("catalogue", q="địa chính", limit=50)
    assert "parcels" in {f["id"] for f in found["features"]}
    record = client.collection_item("catalogue", "flood_depth")
    assert record["id"] == "flood_depth" and record["properties"]["type"] == "dataset"
    json.dumps(record)  # plain JSON all the way down
