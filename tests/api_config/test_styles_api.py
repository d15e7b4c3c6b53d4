"""OGC API - Styles on a real `bando serve`: the map's style, per-layer styles in three
encodings, legends, glyphs; collections link their styles; TileJSON says where the data is.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import psycopg
import pytest

from bando.crs import transformer

VALIDATE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / ".bin" / "gl-style-validate"
STYLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/styles"


def get(server: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{server}/ogc{path}", params=params, timeout=60)


def test_collections_link_their_styles(server: str) -> None:
    links = get(server, "/collections/parcels", f="json").json()["links"]
    styles = [x for x in links if x["rel"] == STYLES_REL]
    assert styles and styles[0]["href"] == f"{server}/ogc/collections/parcels/styles"


def test_a_collection_lists_its_style_in_three_encodings_and_a_legend(server: str) -> None:
    doc = get(server, "/collections/parcels/styles").json()
    assert doc["default"] == "default"
    types = {x["type"] for x in doc["styles"][0]["links"]}
    assert {"application/vnd.mapbox.style+json", "application/vnd.ogc.sld+xml;version=1.0"} <= types
    assert {"application/vnd.qgis.qml", "image/svg+xml"} <= types
    meta = get(server, "/collections/parcels/styles/default/metadata").json()
    assert {s["specification"] for s in meta["stylesheets"]} == {"mapbox", "sld10", "qml"}


def test_styles_in_every_encoding(server: str, tmp_path: Path) -> None:
    mapbox = get(server, "/collections/parcels/styles/default", f="mapbox")
    assert mapbox.headers["content-type"].startswith("application/vnd.mapbox.style+json")
    doc = mapbox.json()
    assert doc["sources"]["parcels"]["tiles"][0].startswith(f"{server}/ogc/collections/parcels/tiles/")
    assert doc["glyphs"] == f"{server}/ogc/resources/fonts/{{fontstack}}/{{range}}.pbf"
    (tmp_path / "parcels.json").write_text(mapbox.text, encoding="utf-8")
    run = subprocess.run([str(VALIDATE), str(tmp_path / "parcels.json")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    sld = get(server, "/collections/parcels/styles/default", f="sld10")
    assert sld.headers["content-type"].startswith("application/vnd.ogc.sld+xml")
    assert ET.fromstring(sld.content).get("version") == "1.0.0"
    qml = get(server, "/collections/roads/styles/default", f="qml")
    assert qml.text.startswith("<!DOCTYPE qgis") and "Tên đường" in qml.text
    by_accept = httpx.get(
        f"{server}/ogc/collections/roads/styles/default", headers={"Accept": "application/vnd.qgis.qml"}, timeout=30
    )
    assert by_accept.text == qml.text
    svg = get(server, "/collections/parcels/styles/default/legend")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "#FFFC8C" in svg.text


def test_the_map_style_validates_and_draws_every_tiled_layer(server: str, tmp_path: Path) -> None:
    listing = get(server, "/styles").json()
    href = listing["styles"][0]["links"][0]["href"]
    doc = httpx.get(href, timeout=30).json()
    (tmp_path / "map.json").write_text(json.dumps(doc), encoding="utf-8")
    run = subprocess.run([str(VALIDATE), str(tmp_path / "map.json")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert {"parcels", "communes", "roads", "land_use_plan"} <= set(doc["sources"])
    assert {x["source"] for x in doc["layers"] if x["type"] == "symbol"} >= {"parcels", "communes", "roads"}


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/collections/nope/styles", {}, 404),
        ("/collections/sensor_readings/styles", {}, 404),
        ("/collections/parcels/styles/other", {}, 404),
        ("/collections/parcels/styles/default", {"f": "mapinfo"}, 400),
        ("/styles/other", {}, 404),
        ("/resources/fonts/Noto%20Sans%20Regular/0-99.pbf", {}, 404),
        ("/resources/fonts/Noto%20Sans%20Regular/..%2F..%2Fetc.pbf", {}, 404),
    ],
)
def test_bad_style_requests_get_clear_statuses(server: str, path: str, params: dict, status: int) -> None:
    r = get(server, path, **params)
    assert r.status_code == status
    assert "Traceback" not in r.text


def test_style_answers_carry_no_personal_field(server: str) -> None:
    for f in ("mapbox", "sld10", "qml"):
        body = get(server, "/collections/parcels/styles/default", f=f).text
        assert "tenChu" not in body and "soDinhDanh" not in body and "diaChi" not in body


def test_tilejson_bounds_and_centre_are_those_of_the_published_data(server: str, database: str) -> None:
    tj = get(server, "/collections/parcels/tiles/WebMercatorQuad", f="tilejson").json()
    with psycopg.connect(database) as conn:
        srid, x0, y0, x1, y1 = conn.execute(
            "select st_srid(geom), st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from"
            " (select st_extent(geom)::geometry e, min(st_srid(geom)) from data.parcels) t,"
            " lateral (select geom from data.parcels limit 1) g"
        ).fetchone()
    w, s, e, n = transformer(srid, 4326).transform_bounds(x0, y0, x1, y1)
    bw, bs, be, bn = tj["bounds"]
    # The recorded extent is the exact one (within rounding), never the world.
    assert bw <= w + 1e-4 and bs <= s + 1e-4 and be >= e - 1e-4 and bn >= n - 1e-4
    assert (be - bw) < 3 * (e - w) and (bn - bs) < 3 * (n - s)
    cx, cy, cz = tj["center"]
    assert w <= cx <= e and s <= cy <= n
    assert tj["minzoom"] <= cz <= tj["maxzoom"]


def test_the_qgis_project_downloads_once_built(server: str) -> None:
    import io
    import time
    import zipfile

    deadline = time.monotonic() + 300
    r = get(server, "/resources/bando.qgz")
    while r.status_code == 503 and time.monotonic() < deadline:
        assert r.headers["retry-after"]
        time.sleep(3)
        r = get(server, "/resources/bando.qgz")
    assert r.status_code == 200, r.text[:300]
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    qgs = next(n for n in names if n.endswith(".qgs"))
    text = zipfile.ZipFile(io.BytesIO(r.content)).read(qgs).decode("utf-8")
    assert f"url='{server}/ogc'" in text.replace("&apos;", "'") and "typename='parcels'" in text.replace("&apos;", "'")
    assert "tenChu" not in text
    site = httpx.get(f"{server}/", timeout=30).text
    assert 'href="/ogc/resources/bando.qgz"' in site
