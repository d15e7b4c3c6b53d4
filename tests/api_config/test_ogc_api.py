"""The public and internal OGC API, driven over HTTP against a real `bando serve`."""

from __future__ import annotations

import json
import math
import subprocess

import httpx
import psycopg
import pyogrio
import pytest

from bando.layers.catalogue import load as load_catalogue
from tests.conftest import INTERNAL_TOKEN

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
TM3 = "http://www.opengis.net/def/crs/EPSG/0/9209"
WGS84 = "http://www.opengis.net/def/crs/EPSG/0/4326"
RESTRICTED = sorted({f.name for layer in load_catalogue() for f in layer.fields if not f.public})


def get(server: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{server}/ogc{path}", params=params, timeout=60)


def test_conformance_lists_what_is_implemented(server: str) -> None:
    classes = get(server, "/conformance").json()["conformsTo"]
    for needed in (
        "ogcapi-features-1/1.0/conf/core",
        "ogcapi-features-1/1.0/conf/geojson",
        "ogcapi-features-1/1.0/conf/oas30",
        "ogcapi-features-2/1.0/conf/crs",
        "ogcapi-features-3/1.0/conf/filter",
        "cql2/1.0/conf/cql2-text",
        "cql2/1.0/conf/cql2-json",
        "ogcapi-tiles-1/1.0/conf/core",
        "ogcapi-tiles-1/1.0/conf/mvt",
        "ogcapi-coverages-1/1.0/conf/core",
        "ogcapi-records-1/1.0/conf/core",
        "ogcapi-processes-1/1.0/conf/core",
    ):
        assert any(c.endswith(needed) for c in classes), needed
    assert not any("create-replace-delete" in c for c in classes)


def test_every_catalogue_layer_is_a_collection(server: str) -> None:
    ids = {c["id"] for c in get(server, "/collections", f="json").json()["collections"]}
    assert {layer.id for layer in load_catalogue()} <= ids
    assert "catalogue" in ids


def _first_parcel(database: str) -> tuple[int, list[float]]:
    with psycopg.connect(database) as conn:
        fid, text = conn.execute(
            "select fid, st_asgeojson(geom, 3) from data.parcels where \"maXa\" <> '12345' order by fid limit 1"
        ).fetchone()
    return fid, json.loads(text)["coordinates"][0][0][0]


def test_item_in_tm3_has_the_stored_coordinates_and_content_crs(server: str, database: str) -> None:
    fid, first = _first_parcel(database)
    response = get(server, f"/collections/parcels/items/{fid}", crs=TM3)
    assert response.status_code == 200
    assert response.headers["content-crs"] == f"<{TM3}>"
    got = response.json()["geometry"]["coordinates"][0][0][0]
    assert math.dist(got, first) < 0.002


def test_epsg_4326_is_latitude_first_and_crs84_longitude_first(server: str, database: str) -> None:
    fid, _ = _first_parcel(database)
    lonlat = get(server, f"/collections/parcels/items/{fid}").json()["geometry"]["coordinates"][0][0][0]
    latlon = get(server, f"/collections/parcels/items/{fid}", crs=WGS84).json()["geometry"]["coordinates"][0][0][0]
    assert 105 < lonlat[0] < 107 and 20 < lonlat[1] < 22
    assert latlon == [lonlat[1], lonlat[0]]


def test_bbox_in_tm3_and_in_crs84_select_the_same_parcels(server: str, database: str) -> None:
    with psycopg.connect(database) as conn:
        x0, y0, x1, y1 = conn.execute(
            "select st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from (select st_expand(st_centroid(geom), 150) e"
            " from data.parcels where \"maXa\" <> '12345' order by fid limit 1 offset 100) t"
        ).fetchone()
        expected = conn.execute(
            "select count(*) from data.parcels where geom && st_makeenvelope(%s, %s, %s, %s, 9209)", (x0, y0, x1, y1)
        ).fetchone()[0]
    tm3 = get(server, "/collections/parcels/items", bbox=f"{x0},{y0},{x1},{y1}", **{"bbox-crs": TM3}, limit=1000)
    assert tm3.status_code == 200 and tm3.json()["numberMatched"] == expected > 0


def test_cql2_text_filter_sortby_properties_and_paging(server: str, database: str) -> None:
    with psycopg.connect(database) as conn:
        luc = conn.execute("""select count(*) from data.parcels where "loaiDat" = 'LUC'""").fetchone()[0]
    page = get(
        server,
        "/collections/parcels/items",
        filter="loaiDat='LUC' AND dienTich > 0",
        limit=5,
        sortby="-dienTich",
        properties="loaiDat,dienTich",
        skipGeometry="true",
    ).json()
    assert page["numberMatched"] == luc
    areas = [f["properties"]["dienTich"] for f in page["features"]]
    assert areas == sorted(areas, reverse=True)
    assert all(set(f["properties"]) == {"loaiDat", "dienTich"} and f["geometry"] is None for f in page["features"])
    rels = {link["rel"] for link in page["links"]}
    assert "next" in rels
    second = get(server, "/collections/parcels/items", filter="loaiDat='LUC'", limit=5, offset=5).json()
    assert {link["rel"] for link in second["links"]} >= {"next", "prev"}


def test_cql2_json_filter_by_post(server: str) -> None:
    body = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "loaiDat"}, "ONT"]},
            {
                "op": "s_intersects",
                "args": [
                    {"property": "geometry"},
                    {
                        "type": "Polygon",
                        "coordinates": [[[105.9, 20.8], [106.1, 20.8], [106.1, 21.0], [105.9, 21.0], [105.9, 20.8]]],
                    },
                ],
            },
        ],
    }
    response = httpx.post(
        f"{server}/ogc/collections/parcels/items?limit=3",
        content=json.dumps(body),
        headers={"Content-Type": "application/query-cql-json"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    assert features and all(f["properties"]["loaiDat"] == "ONT" for f in features)


@pytest.mark.parametrize(
    "query",
    [
        {"filter": "loaiDat='LUC'; drop table data.parcels"},
        {"filter": "\"loaiDat\\\" = 'x' or 1=1 --\" = 'a'"},
        {"filter": "tenChu = 'Nguyễn Văn An'"},
        {"sortby": "tenChu"},
        {"properties": "tenChu"},
        {"bbox": "1,2,3"},
        {"bbox": "nan,nan,nan,nan"},
        {"crs": "EPSG:999999"},
        {"limit": "-1"},
        {"offset": "-5"},
        {"datetime": "not-a-date"},
    ],
)
def test_bad_queries_are_4xx_with_a_short_message(server: str, query: dict) -> None:
    response = get(server, "/collections/parcels/items", **query)
    assert 400 <= response.status_code < 500, (query, response.status_code, response.text[:300])
    text = response.text.lower()
    for leak in ("traceback", "psycopg", "select ", "data.parcels", "/work/", "site-packages"):
        assert leak not in text, (query, leak)
    with httpx.Client() as client:  # the table survived
        assert client.get(f"{server}/ogc/collections/parcels/items?limit=1", timeout=30).status_code == 200


def test_versioned_plan_answers_by_date(server: str) -> None:
    def versions(**params: object) -> set[str]:
        items = get(server, "/collections/land_use_plan/items", limit=1000, skipGeometry="true", **params).json()
        return {f["properties"]["version_id"] for f in items["features"]}

    assert versions() == {"qhsdd-2030-dc1"}
    assert versions(datetime="2024-06-01") == {"qhsdd-2030"}
    assert versions(datetime="2025-10-01") == {"qhsdd-2030-dc1"}
    assert versions(filter="version_id='qhsdd-2030'") == {"qhsdd-2030"}


def _owner_names(database: str) -> list[str]:
    with psycopg.connect(database) as conn:
        return [
            r[0]
            for r in conn.execute(
                """select distinct "tenChu" from data.parcels where "tenChu" not like 'UBND%' limit 50"""
            )
        ]


def test_no_restricted_field_or_owner_name_in_any_public_response(server: str, database: str) -> None:
    owners = _owner_names(database)
    assert owners
    paths = [
        "/",
        "/openapi?f=json",
        "/conformance",
        "/collections",
        "/collections/catalogue/items?limit=100",
        "/processes",
    ]
    for layer in load_catalogue():
        paths += [f"/collections/{layer.id}", f"/collections/{layer.id}/queryables", f"/collections/{layer.id}/schema"]
        if layer.kind != "raster":
            paths.append(f"/collections/{layer.id}/items?limit=200")
    for path in paths:
        response = httpx.get(f"{server}/ogc{path}", timeout=60)
        assert response.status_code == 200, (path, response.status_code)
        for word in [*RESTRICTED, *owners]:
            assert word not in response.text, (path, word)


def test_internal_view_shows_everything_with_a_token_only(server: str) -> None:
    url = f"{server}/internal/ogc/collections/parcels/items?limit=5"
    assert httpx.get(url, timeout=30).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong-token-wrong-token"}, timeout=30).status_code == 403
    response = httpx.get(url, headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"}, timeout=30)
    assert response.status_code == 200
    assert "tenChu" in response.json()["features"][0]["properties"]
    assert httpx.get(f"{server}/internal/ogc/collections?token={INTERNAL_TOKEN}", timeout=30).status_code == 401


def test_owslib_reads_features_records_and_processes(server: str) -> None:
    from owslib.ogcapi.features import Features
    from owslib.ogcapi.processes import Processes

    features = Features(f"{server}/ogc")
    items = features.collection_items("parcels", limit=3)
    assert len(items["features"]) == 3
    assert "planning-report" in {p["id"] for p in Processes(f"{server}/ogc").processes()}


def test_gdal_oapif_reads_a_layer_in_wgs84_and_in_tm3(server: str, database: str) -> None:
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{server}/ogc", "communes"], capture_output=True, text=True, timeout=120
    )
    assert info.returncode == 0, info.stderr
    assert "Feature Count: 3" in info.stdout and "WGS 84" in info.stdout
    tm3 = pyogrio.read_dataframe(f"OAPIF:{server}/ogc", layer="communes", CRS="EPSG:9209")
    assert tm3.crs.to_epsg() == 9209 and len(tm3) == 3
    with psycopg.connect(database) as conn:
        area = conn.execute("select sum(st_area(geom)) from data.communes").fetchone()[0]
    assert abs(tm3.area.sum() - area) / area < 1e-6


def test_open_ended_datetime_interval_on_a_versioned_layer(server: str) -> None:
    items = get(server, "/collections/land_use_plan/items", datetime="2000-01-01/..", limit=1000, skipGeometry="true")
    versions = {f["properties"]["version_id"] for f in items.json()["features"]}
    assert versions == {"qhsdd-2030", "qhsdd-2030-dc1"}
