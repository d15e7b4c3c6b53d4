"""Vector tiles: PostGIS-made MVT through pygeoapi, ETag/304 and the republish that changes them.

Unit tests first (addressing, SQL text, cache, ETag matching — no database), then
tests over HTTP against a real `bando serve` on the loaded samples.
"""

from __future__ import annotations

import math
import subprocess
import time
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
import numpy as np
import psycopg
import pyogrio
import pytest
import yaml
from psycopg import sql

from bando.api_config.tile_cache import ENTRY_BYTES, TileCache, TileKey, etag_matches
from bando.api_config.tiles_sql import TileSource, placement, tile_columns
from bando.crs import transformer
from bando.errors import BadInput, NotFound
from bando.layers.catalogue import load as load_catalogue
from tests.conftest import INTERNAL_TOKEN, MANIFEST, cli_env

CATALOGUE = {layer.id: layer for layer in load_catalogue()}
TILED = sorted(layer_id for layer_id, layer in CATALOGUE.items() if layer.tiles and layer.geometry)
RESTRICTED = sorted({f.name for layer in CATALOGUE.values() for f in layer.fields if not f.public})
PARCEL_PROPS = set(CATALOGUE["parcels"].tiles.properties)
MVT = "application/vnd.mapbox-vector-tile"
AUTH = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


# -- units: no database ---------------------------------------------------------------


def _source(layer_id: str = "parcels", view: str = "public") -> TileSource:
    layer = CATALOGUE[layer_id]
    names = tuple(f.name for f in (layer.fields if view == "internal" else layer.public_fields))
    return TileSource(layer, view, 9209, tile_columns(layer, view, names))


def test_public_tile_columns_are_the_catalogue_tile_properties_and_never_personal() -> None:
    assert _source().columns == CATALOGUE["parcels"].tiles.properties
    internal = _source(view="internal").columns
    assert set(internal) >= PARCEL_PROPS | {"tenChu"}
    for layer_id in TILED:
        assert not set(_source(layer_id).columns) & set(RESTRICTED), layer_id


@pytest.mark.parametrize(
    ("tms", "z", "row", "col", "error"),
    [
        ("WebMercatorQuad", "13", "0", "0", NotFound),  # below the layer's minzoom
        ("WebMercatorQuad", "23", "0", "0", NotFound),  # above its maxzoom
        ("WebMercatorQuad", "16", "-1", "0", NotFound),
        ("WebMercatorQuad", "16", "65536", "0", NotFound),
        ("WorldCRS84Quad", "16", "0", "131072", NotFound),  # two columns at level 0, so 2**17 at 16
        ("WebMercatorQuad", "16", "9" * 40, "0", NotFound),
        ("WebMercatorQuad", "16", "1.5", "0", BadInput),
        ("WebMercatorQuad", "16", "abc", "0", BadInput),
        ("WebMercatorQuad", "١٦", "0", "0", BadInput),  # non-ASCII digits are not indexes
        ("WebMercatorQuad", "16", "1; drop table data.parcels", "0", BadInput),
        ("GoogleCRS84Quad", "16", "0", "0", NotFound),
    ],
)
def test_tile_indexes_are_checked_against_the_matrix_and_zoom_range(
    tms: str, z: str, row: str, col: str, error: type
) -> None:
    with pytest.raises(error):
        _source().address(tms, z, row, col)


def test_world_crs84_quad_has_two_columns_at_level_zero() -> None:
    assert _source().address("WorldCRS84Quad", "16", "0", "131071").col == 131071


def test_sql_text_holds_no_request_value_and_caps_features() -> None:
    source = _source("land_use_plan")
    a = source.address("WebMercatorQuad", 16, 28875, 52061)
    b = source.address("WebMercatorQuad", 16, 28876, 52062)
    (text_a, params_a), (text_b, params_b) = source.query(a), source.query(b)
    assert text_a == text_b  # one text per matrix set and simplification; values are parameters
    assert "28875" not in text_a and "52061" not in text_a
    assert params_a["x0"] != params_b["x0"] and params_a["limit"] == CATALOGUE["land_use_plan"].tiles.max_features
    assert "valid_to is null" in text_a  # versioned: the current version only
    assert "st_snaptogrid" in text_a and "tolerance" in params_a  # below maxzoom: simplified
    top, top_params = source.query(source.address("WebMercatorQuad", source.maxzoom, 0, 0))
    assert "st_snaptogrid" not in top and "tolerance" not in top_params


def _tile_envelope(tms_id: str, lon: float, lat: float, z: int) -> tuple[tuple[float, ...], float]:
    tms = morecantile.tms.get(tms_id)
    x0, y0, x1, y1 = tms.xy_bounds(tms.tile(lon, lat, z))
    pad = (x1 - x0) * 64 / 4096
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad), (x1 - x0) / 4096


@pytest.mark.parametrize(("tms_id", "srid"), [("WebMercatorQuad", 3857), ("WorldCRS84Quad", 4326)])
def test_affine_stand_in_is_within_a_quarter_grid_unit_of_the_exact_transformation(tms_id: str, srid: int) -> None:
    envelope, unit = _tile_envelope(tms_id, 106.0, 20.9, 14)
    where = placement(srid, 9209, envelope, unit)
    assert where.mode == "affine"
    a, b, d, e, xoff, yoff = where.affine
    rng = np.random.default_rng(1)
    tx = rng.uniform(envelope[0], envelope[2], 500)
    ty = rng.uniform(envelope[1], envelope[3], 500)
    sx, sy = transformer(srid, 9209).transform(tx, ty)  # the pinned, exact transformation
    ax, ay = a * sx + b * sy + xoff, d * sx + e * sy + yoff
    assert np.hypot(ax - tx, ay - ty).max() < 0.25 * unit
    bx0, by0, bx1, by1 = where.box
    assert bx0 <= sx.min() and sx.max() <= bx1 and by0 <= sy.min() and sy.max() <= by1


def test_low_zoom_tiles_use_st_transform_and_same_crs_needs_none() -> None:
    envelope, unit = _tile_envelope("WebMercatorQuad", 106.0, 20.9, 8)
    assert placement(3857, 9209, envelope, unit).mode == "transform"
    assert placement(4326, 4326, (106.0, 20.0, 106.1, 20.1), 1e-5).mode == "same"


def _key(lineage: int, col: int = 0) -> TileKey:
    return TileKey("parcels", "public", "WebMercatorQuad", 16, 0, col, lineage, "f")


def test_cache_is_bounded_by_bytes_and_drops_the_least_recently_used() -> None:
    cache = TileCache(max_bytes=1000, entry_bytes=0)  # the tiles' bytes alone (entries: the next test)
    for col in range(9):
        cache.put(_key(1, col), bytes(100))
    assert cache.get(_key(1, 0)) is not None  # now the most recently used
    cache.put(_key(1, 9), bytes(100))  # exactly the budget
    assert len(cache) == 10 and cache.size == 1000
    cache.put(_key(1, 10), bytes(100))  # over it: the least recently used (column 1) goes
    assert cache.get(_key(1, 1)) is None and cache.get(_key(1, 0)) is not None
    assert cache.size == 1000
    cache.put(_key(1, 11), bytes(200))  # more than an eighth of the budget: never cached
    assert cache.get(_key(1, 11)) is None
    assert cache.get(_key(2, 0)) is None  # another lineage is another tile


def test_empty_tiles_count_toward_the_cache_size() -> None:
    """A crawl over empty tiles (most of the world) cannot grow the cache without bound."""
    cache = TileCache(max_bytes=100 * ENTRY_BYTES)
    for col in range(10_000):
        cache.put(_key(1, col), b"")
    assert len(cache) == 100 and cache.size == 100 * ENTRY_BYTES
    assert cache.get(_key(1, 9_999)) == b"" and cache.get(_key(1, 0)) is None


def test_etag_follows_the_key_and_if_none_match_compares_weakly() -> None:
    etag = _key(7).etag
    assert etag == _key(7).etag and etag != _key(8).etag and etag.startswith('"')
    assert etag_matches(etag, etag) and etag_matches(f'"x", W/{etag}', etag) and etag_matches("*", etag)
    assert not etag_matches(None, etag) and not etag_matches('"other"', etag)
    assert _key(7).headers()["Cache-Control"] == "public, max-age=60"
    internal = TileKey("parcels", "internal", "WebMercatorQuad", 16, 0, 0, 7, "f")
    assert internal.headers()["Cache-Control"].startswith("private")


# -- over HTTP ------------------------------------------------------------------------------------


def tile_url(server: str, layer: str, tms: str, z: int, row: int, col: int, view: str = "public") -> str:
    prefix = "/ogc" if view == "public" else "/internal/ogc"
    return f"{server}{prefix}/collections/{layer}/tiles/{tms}/{z}/{row}/{col}?f=mvt"


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def a_point(database: str, layer_id: str) -> tuple[int, float, float]:
    """(fid, lon, lat) of a point on the first current feature of a layer."""
    layer = CATALOGUE[layer_id]
    where = sql.SQL("where valid_to is null") if layer.versioned else sql.SQL("")
    query = sql.SQL(
        "select fid, st_x(p), st_y(p) from (select fid, st_transform(st_pointonsurface(geom), 4326) p"
        " from {} {} order by fid limit 1) t"
    ).format(sql.Identifier("data", layer_id), where)
    with psycopg.connect(database) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None, f"{layer_id} holds no feature"
    return row


def tile_at(tms: str, lon: float, lat: float, z: int) -> morecantile.Tile:
    return morecantile.tms.get(tms).tile(lon, lat, z)


@pytest.fixture(scope="module")
def parcel(server: str, database: str) -> dict:
    """A known parcel: a point inside it, its first vertex and its key (maXa, sheet, number) and land use.

    Tests find it in tiles by its key: feature ids change when the layer is republished."""
    with psycopg.connect(database) as conn:
        lon, lat, vx, vy, key = conn.execute(
            """select st_x(p), st_y(p), st_x(v), st_y(v), array["maXa", "soHieuToBanDo"::text,
               "soThuTuThua"::text, "loaiDat"] from (select *, st_transform(st_pointonsurface(geom), 4326) p,
               st_transform(st_pointn(st_exteriorring(st_geometryn(geom, 1)), 1), 4326) v
               from data.parcels where "maXa" <> '12345' order by fid limit 1 offset 40) t"""
        ).fetchone()
    return {"lon": lon, "lat": lat, "vertex": (vx, vy), "key": key}


def find(features: list[dict], parcel: dict) -> dict:
    """The known parcel among a tile's features, by its key."""
    for f in features:
        p = f["properties"]
        if [p.get("maXa"), str(p.get("soHieuToBanDo")), str(p.get("soThuTuThua"))] == parcel["key"][:3]:
            return f
    raise AssertionError(f"parcel {parcel['key'][:3]} is not in the tile")


@pytest.mark.parametrize("z", [15, 16, 17])
def test_tile_over_a_known_parcel_holds_it_with_exactly_the_catalogue_tile_properties(
    server: str, parcel: dict, z: int
) -> None:
    t = tile_at("WebMercatorQuad", parcel["lon"], parcel["lat"], z)
    response = httpx.get(tile_url(server, "parcels", "WebMercatorQuad", z, t.y, t.x), timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == MVT
    layers = decode(response.content)
    assert list(layers) == ["parcels"]  # the MVT layer is named after the layer id
    features = layers["parcels"]["features"]
    assert features
    assert all(set(f["properties"]) == PARCEL_PROPS for f in features)
    assert find(features, parcel)["properties"]["loaiDat"] == parcel["key"][3]


def test_affine_stand_in_agrees_with_st_transform_on_the_parcels(database: str, parcel: dict) -> None:
    source = _source()
    t = tile_at("WebMercatorQuad", parcel["lon"], parcel["lat"], 14)
    text, params = source.query(source.address("WebMercatorQuad", 14, t.y, t.x))
    assert "st_affine" in text and "st_transform" not in text
    unit = (params["x1"] - params["x0"]) / 4096
    with psycopg.connect(database) as conn:
        worst, n = conn.execute(
            "select max(st_hausdorffdistance(st_transform(geom, 3857), st_affine(geom, %(a)s, %(b)s, %(d)s, %(e)s,"
            " %(xoff)s, %(yoff)s))), count(*) from data.parcels"
            " where geom && st_makeenvelope(%(sx0)s, %(sy0)s, %(sx1)s, %(sy1)s, 9209)",
            params,
        ).fetchone()
    assert n > 100 and worst < 0.25 * unit


def _expected_pixel(tms_id: str, t: morecantile.Tile, lon: float, lat: float) -> tuple[float, float]:
    tms = morecantile.tms.get(tms_id)
    x0, y0, x1, y1 = tms.xy_bounds(t)
    x, y = tms.xy(lon, lat) if tms_id == "WebMercatorQuad" else (lon, lat)
    return (x - x0) / (x1 - x0) * 4096, (y1 - y) / (y1 - y0) * 4096


def _vertices(geometry: dict) -> list[tuple[float, float]]:
    coords = geometry["coordinates"]
    while isinstance(coords[0][0], list):
        coords = [c for part in coords for c in part]
    return [tuple(c) for c in coords]


@pytest.mark.parametrize("tms", ["WebMercatorQuad", "WorldCRS84Quad"])
def test_parcel_lands_at_its_place_in_both_tile_matrix_sets(server: str, parcel: dict, tms: str) -> None:
    z = 17
    t = tile_at(tms, parcel["lon"], parcel["lat"], z)
    response = httpx.get(tile_url(server, "parcels", tms, z, t.y, t.x), timeout=60)
    assert response.status_code == 200, response.text[:200]
    mine = find(decode(response.content)["parcels"]["features"], parcel)
    ex, ey = _expected_pixel(tms, t, *parcel["vertex"])
    # One rendered pixel of snapping is 8 grid units; an axis swap or a wrong envelope is thousands off.
    assert min(math.dist((ex, ey), v) for v in _vertices(mine["geometry"])) < 8


def test_no_personal_field_or_owner_data_in_any_public_tile(server: str, database: str) -> None:
    for layer_id in TILED:
        layer = CATALOGUE[layer_id]
        _, lon, lat = a_point(database, layer_id)
        z = min(max(layer.tiles.minzoom, 16), layer.tiles.maxzoom)
        t = tile_at("WebMercatorQuad", lon, lat, z)
        response = httpx.get(tile_url(server, layer_id, "WebMercatorQuad", z, t.y, t.x), timeout=60)
        assert response.status_code == 200, (layer_id, response.status_code)
        features = decode(response.content)[layer_id]["features"]
        assert features, layer_id
        shown = {k for f in features for k in f["properties"]}
        assert shown <= set(layer.tiles.properties or ()), (layer_id, shown)
        for word in (f.name for f in layer.fields if not f.public):
            assert word.encode() not in response.content, (layer_id, word)
        if layer_id == "parcels":
            with psycopg.connect(database) as conn:
                personal = conn.execute(
                    """select "tenChu", "soDinhDanh", "diaChi" from data.parcels where fid = any(%s)""",
                    ([f["id"] for f in features],),
                ).fetchall()
            values = {v for row in personal for v in row if v}
            assert values
            for value in values:
                assert value.encode() not in response.content, "personal data in a public tile"


def test_internal_tile_needs_a_token_and_may_show_every_field(server: str, parcel: dict) -> None:
    t = tile_at("WebMercatorQuad", parcel["lon"], parcel["lat"], 17)
    url = tile_url(server, "parcels", "WebMercatorQuad", 17, t.y, t.x, view="internal")
    assert httpx.get(url, timeout=30).status_code == 401
    response = httpx.get(url, headers=AUTH, timeout=60)
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("private")  # never kept by shared caches
    mine = find(decode(response.content)["parcels"]["features"], parcel)
    assert {"tenChu", "dienTich"} <= set(mine["properties"]) and PARCEL_PROPS <= set(mine["properties"])
    public = httpx.get(tile_url(server, "parcels", "WebMercatorQuad", 17, t.y, t.x), timeout=30)
    assert public.headers["etag"] != response.headers["etag"]


def test_versioned_layer_tiles_show_only_the_current_version(server: str, database: str) -> None:
    _, lon, lat = a_point(database, "land_use_plan")
    t = tile_at("WebMercatorQuad", lon, lat, 14)
    response = httpx.get(tile_url(server, "land_use_plan", "WebMercatorQuad", 14, t.y, t.x), timeout=60)
    ids = {f["id"] for f in decode(response.content)["land_use_plan"]["features"]}
    with psycopg.connect(database) as conn:
        current = {r[0] for r in conn.execute("select fid from data.land_use_plan where valid_to is null")}
        old = {r[0] for r in conn.execute("select fid from data.land_use_plan where valid_to is not null")}
    assert old, "the samples should hold a superseded plan version"
    assert ids and ids <= current


def test_tile_inside_the_matrix_but_outside_the_limits_is_a_404(server: str) -> None:
    response = httpx.get(tile_url(server, "parcels", "WebMercatorQuad", 16, 100, 100), timeout=30)
    assert response.status_code == 404 and "limits" in response.json()["description"]


def test_tile_url_without_f_is_the_mvt_tile(server: str, parcel: dict) -> None:
    t = tile_at("WebMercatorQuad", parcel["lon"], parcel["lat"], 16)
    url = tile_url(server, "parcels", "WebMercatorQuad", 16, t.y, t.x)
    bare = httpx.get(url.removesuffix("?f=mvt"), timeout=30)
    assert bare.status_code == 200 and bare.content == httpx.get(url, timeout=30).content


@pytest.mark.parametrize(
    "path",
    [
        "WebMercatorQuad/13/7218/13015",  # below minzoom 14
        "WebMercatorQuad/23/0/0",  # above maxzoom 22
        "WorldCRS84Quad/0/0/1",
        "WebMercatorQuad/16/-1/52061",
        "WebMercatorQuad/16/28875/-52061",
        "WebMercatorQuad/16/65536/0",
        "WebMercatorQuad/16/99999999999999999999999999/0",
        "WebMercatorQuad/16/abc/0",
        "WebMercatorQuad/1e3/0/0",
        "WebMercatorQuad/16/0x10/0",
        "WebMercatorQuad/16/%20/0",
        "WebMercatorQuad/16/0/1%3B%20select%201",
        "NoSuchMatrixSet/16/0/0",
    ],
)
def test_zoom_outside_limits_and_garbage_indexes_are_4xx_with_a_message(server: str, path: str) -> None:
    response = httpx.get(f"{server}/ogc/collections/parcels/tiles/{path}?f=mvt", timeout=30)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:200])
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["description"]
    for leak in ("traceback", "psycopg", "data.parcels", "st_asmvt", "/work/"):
        assert leak not in response.text.lower()


def test_unknown_collection_tile_is_404(server: str) -> None:
    assert httpx.get(f"{server}/ogc/collections/nope/tiles/WebMercatorQuad/16/0/0?f=mvt", timeout=30).status_code == 404


def test_same_tile_twice_has_one_strong_etag_and_if_none_match_is_304(server: str, parcel: dict) -> None:
    t = tile_at("WebMercatorQuad", parcel["lon"], parcel["lat"], 16)
    url = tile_url(server, "parcels", "WebMercatorQuad", 16, t.y, t.x)
    first, second = httpx.get(url, timeout=60), httpx.get(url, timeout=60)
    etag = first.headers["etag"]
    assert etag.startswith('"') and second.headers["etag"] == etag  # strong: no W/
    assert second.content == first.content
    assert first.headers["cache-control"] == "public, max-age=60"
    not_modified = httpx.get(url, headers={"If-None-Match": etag}, timeout=30)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    weak = httpx.get(url, headers={"If-None-Match": f'"something-else", W/{etag}'}, timeout=30)
    assert weak.status_code == 304
    other = httpx.get(url, headers={"If-None-Match": '"something-else"'}, timeout=30)
    assert other.status_code == 200 and other.content == first.content


def _parcels_delivery() -> dict:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return next(d for d in manifest["deliveries"] if d["layer"] == "parcels")


def _load_parcels(bando_bin: str, source: Path, delivery: dict) -> None:
    args = [bando_bin, "load", "parcels", str(source), "--force"]
    for option in ("source_layer", "crs", "encoding"):
        if delivery.get(option):
            args += [f"--{option.replace('_', '-')}", str(delivery[option])]
    done = subprocess.run(args, capture_output=True, text=True, env=cli_env(), timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _wait_for_new_etag(url: str, old: str, seconds: float = 10.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        response = httpx.get(url, timeout=60)
        if response.headers.get("etag") != old or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_republishing_the_layer_changes_the_etag_and_the_content(
    server: str, database: str, parcel: dict, bando_bin: str, tmp_path: Path
) -> None:
    t = tile_at("WebMercatorQuad", parcel["lon"], parcel["lat"], 17)
    url = tile_url(server, "parcels", "WebMercatorQuad", 17, t.y, t.x)
    before = httpx.get(url, timeout=60)
    old_etag = before.headers["etag"]
    delivery = _parcels_delivery()
    original = (MANIFEST.parent / delivery["source"]).resolve()
    frame = pyogrio.read_dataframe(original, layer=delivery.get("source_layer"))
    maxa, sheet, number, use = parcel["key"]
    mine = (frame["maXa"] == maxa) & (frame["soHieuToBanDo"] == int(sheet)) & (frame["soThuTuThua"] == int(number))
    assert mine.sum() == 1
    new_use = "NTD" if use != "NTD" else "SON"
    frame.loc[mine, "loaiDat"] = new_use
    changed = tmp_path / "parcels_changed.gpkg"
    pyogrio.write_dataframe(frame, changed, layer=delivery.get("source_layer") or "parcels")
    try:
        _load_parcels(bando_bin, changed, delivery)
        after = _wait_for_new_etag(url, old_etag)
        assert after.headers["etag"] != old_etag, "the ETag did not change within 10 s of a republish"
        assert after.content != before.content
        assert find(decode(after.content)["parcels"]["features"], parcel)["properties"]["loaiDat"] == new_use
        stale = httpx.get(url, headers={"If-None-Match": old_etag}, timeout=30)
        assert stale.status_code == 200 and stale.content == after.content
    finally:  # leave the session's samples as they were for the tests that follow
        _load_parcels(bando_bin, original, delivery)
    restored = _wait_for_new_etag(url, after.headers["etag"])
    assert find(decode(restored.content)["parcels"]["features"], parcel)["properties"]["loaiDat"] == use


def test_tile_metadata_endpoints_answer_with_both_tilesets(server: str, parcel: dict) -> None:
    base = f"{server}/ogc/collections/parcels/tiles"
    listing = httpx.get(f"{base}?f=json", timeout=30)
    assert listing.status_code == 200
    tilesets = listing.json()["tilesets"]
    assert {ts["tileMatrixSetURI"].rsplit("/", 1)[-1] for ts in tilesets} == {"WebMercatorQuad", "WorldCRS84Quad"}
    assert all(ts["dataType"] == "vector" for ts in tilesets)
    for tms in ("WebMercatorQuad", "WorldCRS84Quad"):
        for path in (f"{base}/{tms}", f"{base}/{tms}/metadata", f"{base}/{tms}?f=json"):
            response = httpx.get(path, timeout=30)
            assert response.status_code == 200, (path, response.text[:200])
            meta = response.json()
            assert meta["tileMatrixSetURI"].endswith(tms) and meta["dataType"] == "vector"
            limits = meta["tileMatrixSetLimits"]
            assert [m["tileMatrix"] for m in limits] == [str(z) for z in range(14, 23)]
            layer = meta["layers"][0]
            assert layer["id"] == "parcels" and (layer["minTileMatrix"], layer["maxTileMatrix"]) == ("14", "22")
            assert set(layer["propertiesSchema"]["properties"]) == PARCEL_PROPS
            template = next(link["href"] for link in meta["links"] if link["rel"] == "item")
        t = tile_at(tms, parcel["lon"], parcel["lat"], 16)
        limit16 = next(m for m in limits if m["tileMatrix"] == "16")
        assert limit16["minTileRow"] <= t.y <= limit16["maxTileRow"]
        assert limit16["minTileCol"] <= t.x <= limit16["maxTileCol"]
        tile = httpx.get(template.format(tileMatrix=16, tileRow=t.y, tileCol=t.x), timeout=60)
        assert tile.status_code == 200
        find(decode(tile.content)["parcels"]["features"], parcel)
    tilejson = httpx.get(f"{base}/WebMercatorQuad/metadata?f=tilejson", timeout=30)
    assert tilejson.status_code == 200
    tj = tilejson.json()
    assert tj["tilejson"].startswith("3.") and (tj["minzoom"], tj["maxzoom"]) == (14, 22)
    assert set(tj["vector_layers"][0]["fields"]) == PARCEL_PROPS and tj["vector_layers"][0]["id"] == "parcels"
    t = tile_at("WebMercatorQuad", parcel["lon"], parcel["lat"], 16)
    assert httpx.get(tj["tiles"][0].format(z=16, y=t.y, x=t.x), timeout=60).status_code == 200
    html = httpx.get(f"{base}/WebMercatorQuad/metadata?f=html", timeout=30)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
