"""WMS 1.3.0 at /wms: QGIS Server started by `bando serve`, read by OWSLib and QGIS.

GetMap in the province's TM-3 (EPSG:9209) and Web Mercator shows a known LUC parcel in
the catalogue's LUC colour; GetFeatureInfo there answers its public fields, never an
owner's name; GetLegendGraphic draws the legend; bad sizes are refused before rendering.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest
from owslib.wms import WebMapService
from PIL import Image

from bando.crs import transformer
from tests.clients.test_qgis import SYSTEM_PYTHON, _qgis_env, qgis, qgis_home  # noqa: F401

PROBE = Path(__file__).with_name("qgis_wms_probe.py")
LUC = (0xFF, 0xFC, 0x8C)
SIZE = 256
HALF_M = 290.0  # a 580 m square: a z16 tile here (labels start closer up)


@pytest.fixture(scope="module")
def luc(database: str, loaded: list) -> dict:
    """A large LUC parcel whose interior point is well inside it, in storage CRS."""
    with psycopg.connect(database) as conn:
        row = conn.execute(
            'select st_srid(geom), st_x(p), st_y(p), "soHieuToBanDo", "soThuTuThua" from'
            " (select st_pointonsurface(geom) p, * from data.parcels where \"loaiDat\" = 'LUC'"
            " and st_area(geom) > 1500) t where st_distance(p, st_boundary(geom)) > 12"
            " and not exists (select 1 from data.roads r where st_dwithin(r.geom, p, 30))"
            " and not exists (select 1 from data.communes c where st_dwithin(st_boundary(c.geom), p, 30))"
            " limit 1"
        ).fetchone()
    assert row, "no LUC parcel fit for the check"
    return dict(zip(("srid", "x", "y", "to", "thua"), row, strict=True))


@pytest.fixture(scope="module")
def wms(server: str) -> WebMapService:
    return WebMapService(f"{server}/wms", version="1.3.0", timeout=120)


def _centre(png: bytes) -> tuple[int, int, int]:
    img = Image.open(io.BytesIO(png)).convert("RGB")
    return img.getpixel((img.width // 2, img.height // 2))


def test_capabilities_list_the_public_layers_and_crss(wms: WebMapService, server: str) -> None:
    assert {"parcels", "roads", "communes", "land_use_plan"} <= set(wms.contents)
    crs = set(wms.contents["parcels"].crsOptions)
    assert {"EPSG:3857", "EPSG:4326", "EPSG:9209"} <= crs
    urls = [m["url"] for m in wms.getOperationByName("GetMap").methods]
    assert all(u.startswith(f"{server}/wms") for u in urls), urls


@pytest.mark.parametrize("crs", ["EPSG:9209", "EPSG:3857"])
def test_getmap_draws_a_luc_parcel_in_its_land_use_colour(wms: WebMapService, luc: dict, crs: str) -> None:
    epsg = int(crs.split(":")[1])
    x, y = transformer(luc["srid"], epsg).transform(luc["x"], luc["y"])
    half = HALF_M * (1.0 if epsg == luc["srid"] else 1.6)  # Mercator metres are longer here
    # WMS 1.3.0 follows the CRS's axis order: easting, northing for both (EPSG:9209 is E, N).
    bbox = (x - half, y - half, x + half, y + half)
    img = wms.getmap(layers=["parcels"], styles=[""], srs=crs, bbox=bbox, size=(SIZE, SIZE), format="image/png")
    png = img.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(abs(a - b) <= 3 for a, b in zip(_centre(png), LUC, strict=True)), _centre(png)


def test_getfeatureinfo_answers_public_fields_never_the_owner(server: str, luc: dict) -> None:
    x, y = transformer(luc["srid"], 3857).transform(luc["x"], luc["y"])
    half = HALF_M * 1.6
    params = {
        "SERVICE": "WMS",
        "VERSION": "1.3.0",
        "REQUEST": "GetFeatureInfo",
        "LAYERS": "parcels",
        "QUERY_LAYERS": "parcels",
        "STYLES": "",
        "CRS": "EPSG:3857",
        "BBOX": f"{x - half},{y - half},{x + half},{y + half}",
        "WIDTH": SIZE,
        "HEIGHT": SIZE,
        "I": SIZE // 2,
        "J": SIZE // 2,
        "INFO_FORMAT": "application/json",
        "FEATURE_COUNT": 5,
    }
    r = httpx.get(f"{server}/wms", params=params, timeout=120)
    assert r.status_code == 200, r.text[:500]
    features = r.json()["features"]
    assert len(features) == 1
    props = features[0]["properties"]
    assert {"soHieuToBanDo", "soThuTuThua", "loaiDat"} <= set(props), props
    assert (props["soHieuToBanDo"], props["soThuTuThua"], props["loaiDat"]) == (luc["to"], luc["thua"], "LUC")
    for personal in ("tenChu", "soDinhDanh", "diaChi"):
        assert personal not in props and personal not in r.text


def test_legend_graphic_is_a_png(server: str) -> None:
    r = httpx.get(
        f"{server}/wms",
        params={
            "SERVICE": "WMS",
            "VERSION": "1.3.0",
            "REQUEST": "GetLegendGraphic",
            "LAYER": "roads",
            "FORMAT": "image/png",
        },
        timeout=120,
    )
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("size", ["0", "100000", "abc"])
def test_oversized_or_bad_images_are_refused_before_rendering(server: str, size: str) -> None:
    r = httpx.get(
        f"{server}/wms",
        params={"SERVICE": "WMS", "REQUEST": "GetMap", "LAYERS": "parcels", "WIDTH": size, "HEIGHT": "256"},
        timeout=30,
    )
    assert r.status_code == 400 and "WIDTH" in r.json()["description"]


def test_qgis_wms_provider_loads_a_layer(server: str, qgis: str, qgis_home: Path) -> None:  # noqa: F811
    run = subprocess.run(
        [SYSTEM_PYTHON, str(PROBE), f"{server}/wms", "parcels"],
        capture_output=True,
        text=True,
        env=_qgis_env(qgis_home),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-1500:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["valid"], seen


def test_flood_depth_is_drawn_with_the_catalogues_colour_ramp(wms: WebMapService, database: str) -> None:
    import numpy as np
    import rasterio

    assert "flood_depth" in wms.contents
    with psycopg.connect(database) as conn:
        path, srid = conn.execute(
            "select path, srid from bando.rasters where layer = 'flood_depth' and version_id = 'current'"
        ).fetchone()
    with rasterio.open(path) as src:
        band = src.read(1, masked=True)
        row, col = np.unravel_index(int(np.ma.argmax(band)), band.shape)
        depth = float(band[row, col])
        x, y = src.xy(row, col)
    assert depth >= 3.0, "the samples' deepest cell should be past the ramp's last stop"
    half = 3 * abs(src.res[0])
    img = wms.getmap(
        layers=["flood_depth"],
        styles=[""],
        srs=f"EPSG:{srid}",
        bbox=(x - half, y - half, x + half, y + half),
        size=(32, 32),
        format="image/png",
        transparent=True,
    )
    rgba = Image.open(io.BytesIO(img.read())).convert("RGBA").getpixel((16, 16))
    assert rgba[3] == 255 and all(abs(a - b) <= 3 for a, b in zip(rgba[:3], (0x08, 0x30, 0x6B), strict=True)), rgba


def _capabilities_url(base: str) -> str:
    r = httpx.get(f"{base}/wms", params={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}, timeout=120)
    r.raise_for_status()
    return WebMapService(f"{base}/wms", version="1.3.0", xml=r.content).getOperationByName("GetMap").methods[0]["url"]


def test_a_second_server_on_the_same_home_leaves_the_first_ones_wms_alone(server: str, bando_bin: str) -> None:
    """QGIS Server re-reads a project that changes: a second `bando serve` on one BANDO_HOME
    (another port, a rolling restart) must not rewrite the first one's advertised URLs."""
    import time

    from tests.conftest import serving

    capabilities = "/wms?SERVICE=WMS&REQUEST=GetCapabilities"
    with serving(bando_bin, ready=capabilities, wait_s=120) as other:
        time.sleep(2)  # time for a QGIS Server to notice a changed project, were it shared
        assert _capabilities_url(other).startswith(f"{other}/wms")
        assert _capabilities_url(server).startswith(f"{server}/wms")
