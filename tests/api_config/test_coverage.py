"""OGC API Coverages for the flood-depth raster: a real server over the loaded samples.

The size limit and the not-yet-published case need a catalogue the samples do not
have (a tiny ``max_pixels``, a raster layer nobody loaded), so those tests mount the
OGC API alone, in-process, over a scratch copy of ``layers/`` and the same database.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
import rasterio
import yaml
from rasterio.io import MemoryFile
from rasterio.windows import from_bounds

from bando.crs import transformer
from tests.conftest import ROOT

COVERAGE = "/ogc/collections/flood_depth/coverage"
NODATA = -9999.0


@pytest.fixture(scope="module")
def cog(database: str, loaded: list) -> dict:
    """The registered COG of flood_depth (path, CRS, bounds) as the pipeline published it."""
    with psycopg.connect(database) as conn:
        row = conn.execute("select path, srid, bounds from bando.rasters where layer = 'flood_depth'").fetchone()
    assert row is not None, "the samples did not publish flood_depth"
    return {"path": row[0], "srid": row[1], "bounds": row[2]}


def middle_bbox_crs84(cog: dict) -> tuple[list[float], list[float]]:
    """A bbox over the middle third of the raster: (CRS84, the same in the storage CRS)."""
    x0, y0, x1, y1 = cog["bounds"]
    dx, dy = (x1 - x0) / 3, (y1 - y0) / 3
    storage = [x0 + dx, y0 + dy, x1 - dx, y1 - dy]
    return [round(v, 6) for v in transformer(cog["srid"], 4326).transform_bounds(*storage)], storage


def geotiff(response: httpx.Response) -> tuple[dict, np.ndarray]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/tiff")
    with MemoryFile(response.content) as mem, mem.open() as ds:
        return {
            "crs": ds.crs,
            "bounds": ds.bounds,
            "transform": ds.transform,
            "nodata": ds.nodata,
            "units": ds.units,
        }, ds.read(1)


def fetch(server: str, **params: object) -> httpx.Response:
    return httpx.get(f"{server}{COVERAGE}", params=params, timeout=60)


def test_geotiff_over_a_bbox_is_the_published_data_in_vn2000_tm3(server: str, cog: dict) -> None:
    bbox, storage = middle_bbox_crs84(cog)
    meta, data = geotiff(fetch(server, f="GTiff", bbox=",".join(map(str, bbox))))
    assert meta["crs"].to_epsg() == 9209 == cog["srid"]
    assert meta["units"] == ("m",) and meta["nodata"] == NODATA
    left, bottom, right, top = meta["bounds"]
    pixel = abs(meta["transform"].a)
    # the CRS84 box, densified into TM-3, covers the storage box; never more than the raster
    assert left <= storage[0] + pixel and right >= storage[2] - pixel
    assert bottom <= storage[1] + pixel and top >= storage[3] - pixel
    x0, y0, x1, y1 = cog["bounds"]
    assert left >= x0 - 1e-6 and right <= x1 + 1e-6 and bottom >= y0 - 1e-6 and top <= y1 + 1e-6
    valid = data[data != NODATA]
    assert valid.size > 0.5 * data.size
    assert 0.0 <= float(valid.min()) and float(valid.max()) < 10.0  # flood depth in metres
    with rasterio.open(cog["path"]) as src:  # the very values the pipeline published
        window = from_bounds(left, bottom, right, top, transform=src.transform).round_offsets().round_lengths()
        assert np.array_equal(src.read(1, window=window), data)


def test_whole_coverage_without_parameters_as_geotiff(server: str, cog: dict) -> None:
    meta, data = geotiff(fetch(server, f="GTiff"))
    with rasterio.open(cog["path"]) as src:
        assert data.shape == (src.height, src.width)
        assert np.array_equal(src.read(1), data)


def test_coveragejson_has_the_same_grid_and_values(server: str, cog: dict) -> None:
    bbox, _ = middle_bbox_crs84(cog)
    _, data = geotiff(fetch(server, f="GTiff", bbox=",".join(map(str, bbox))))
    response = fetch(server, f="json", bbox=",".join(map(str, bbox)))
    assert response.status_code == 200, response.text
    cov = response.json()
    assert cov["type"] == "Coverage" and cov["domain"]["domainType"] == "Grid"
    axes = cov["domain"]["axes"]
    assert (axes["y"]["num"], axes["x"]["num"]) == data.shape
    assert cov["domain"]["referencing"][0]["system"]["id"].endswith("/EPSG/0/9209")
    values = np.array([np.nan if v is None else v for v in cov["ranges"]["flood_depth"]["values"]])
    expected = np.where(data == NODATA, np.nan, data).astype("float64").ravel()
    assert np.allclose(values, expected, equal_nan=True, rtol=0, atol=1e-6)


def test_subset_on_the_storage_axes(server: str, cog: dict) -> None:
    _, storage = middle_bbox_crs84(cog)
    subset = f"x({storage[0]}:{storage[2]}),y({storage[1]}:{storage[3]})"
    meta, data = geotiff(fetch(server, f="GTiff", subset=subset))
    left, bottom, right, top = meta["bounds"]
    pixel = abs(meta["transform"].a)
    assert abs(left - storage[0]) <= pixel and abs(right - storage[2]) <= pixel
    assert abs(bottom - storage[1]) <= pixel and abs(top - storage[3]) <= pixel


def test_bbox_crs_epsg_4326_is_latitude_first(server: str, cog: dict) -> None:
    (lon0, lat0, lon1, lat1), _ = middle_bbox_crs84(cog)
    _, by_crs84 = geotiff(fetch(server, f="GTiff", bbox=f"{lon0},{lat0},{lon1},{lat1}"))
    _, by_4326 = geotiff(
        fetch(
            server,
            f="GTiff",
            bbox=f"{lat0},{lon0},{lat1},{lon1}",
            **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
        )
    )
    assert np.array_equal(by_crs84, by_4326)


BAD = [
    {"bbox": "nan,nan,nan,nan"},
    {"bbox": "106.1,20.8,106.0,20.9"},  # minx > maxx
    {"bbox": "200,20,201,21"},  # not a longitude
    {"bbox": "100.0,10.0,100.5,10.5"},  # nowhere near the raster
    {"bbox": "105.9,20.8,106.1,21.0", "bbox-crs": "EPSG:NOPE"},
    {"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/9209"},  # without a bbox
    {"subset": "x(a:b)"},
    {"subset": "x(600000:500000)"},
    {"subset": "x(548500:549000)", "bbox": "105.9,20.8,106.1,21.0"},
    {"f": "xyz"},
]


@pytest.mark.parametrize("params", BAD, ids=[str(p) for p in BAD])
def test_bad_requests_are_400_with_a_message(server: str, cog: dict, params: dict) -> None:
    response = fetch(server, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["description"]
    assert "Traceback" not in response.text and str(Path(cog["path"]).parent) not in response.text


PYGEOAPI_BBOX = ["a,b,c,d", "1,2,3", "106.0,21.0,106.1,20.9"]


@pytest.mark.parametrize("bbox", PYGEOAPI_BBOX)
def test_malformed_bbox_strings_are_400(server: str, bbox: str) -> None:
    assert fetch(server, bbox=bbox).status_code == 400


def test_collection_id_like_a_path_is_404(server: str) -> None:
    for name in ("..%2F..%2Fetc%2Fpasswd", "%2E%2E", "etc%2Fpasswd", "passwd"):
        response = httpx.get(f"{server}/ogc/collections/{name}/coverage", timeout=30)
        assert response.status_code == 404, (name, response.text)
        assert "root:" not in response.text


def test_provider_for_an_unknown_layer_refuses_to_build(database: str) -> None:
    from pygeoapi.provider.base import ProviderItemNotFoundError

    from bando.api_config.providers.coverage import BandoCoverageProvider

    with pytest.raises(ProviderItemNotFoundError):
        BandoCoverageProvider(
            {
                "name": "c",
                "type": "coverage",
                "data": {"layer": "../../etc/passwd"},
                "format": {"name": "GTiff", "mimetype": "image/tiff"},
            }
        )


def test_collection_description_shows_the_grid(server: str, cog: dict) -> None:
    response = httpx.get(f"{server}/ogc/collections/flood_depth", timeout=30)
    assert response.status_code == 200, response.text
    grid = response.json()["extent"]["spatial"]["grid"]
    with rasterio.open(cog["path"]) as src:
        assert [g["cellsCount"] for g in grid] == [src.width, src.height]


# -- a scratch catalogue, mounted in-process ------------------------------------------------


@pytest.fixture(scope="module")
def scratch_api(database: str, loaded: list, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The public OGC API over layers/ plus: flood_depth limited to 1000 pixels, and two more rasters."""
    from starlette.testclient import TestClient

    from bando.api_config import config as config_mod
    from bando.api_config.pygeoapi_seam import make_api, ogc_app
    from bando.api_config.runtime import get_runtime, reset_runtime
    from bando.settings import get_settings, reset_settings

    folder = tmp_path_factory.mktemp("layers")
    for src in (ROOT / "layers").glob("*.yml"):
        shutil.copy(src, folder)
    flood = yaml.safe_load((folder / "flood_depth.yml").read_text(encoding="utf-8"))
    flood["raster"]["max_pixels"] = 1000
    (folder / "flood_depth.yml").write_text(yaml.safe_dump(flood, allow_unicode=True), encoding="utf-8")
    for extra in ("flood_future", "flood_lost"):
        copy = dict(flood, id=extra)
        (folder / f"{extra}.yml").write_text(yaml.safe_dump(copy, allow_unicode=True), encoding="utf-8")
    saved = os.environ.get("BANDO_LAYERS_DIR")
    os.environ["BANDO_LAYERS_DIR"] = str(folder)
    reset_settings()
    reset_runtime()
    try:
        runtime = get_runtime()
        config = config_mod.build(runtime.catalogue, get_settings(), runtime.province, "public", "http://testserver")
        api, _ = make_api(config)
        with TestClient(ogc_app(api)) as client:
            yield client
    finally:
        if saved is None:
            os.environ.pop("BANDO_LAYERS_DIR", None)
        else:
            os.environ["BANDO_LAYERS_DIR"] = saved
        reset_runtime()
        reset_settings()


def test_oversized_request_is_400_naming_the_limit(scratch_api, cog: dict) -> None:
    for params in ({"f": "GTiff"}, {"f": "json"}):
        response = scratch_api.get("/collections/flood_depth/coverage", params=params)
        assert response.status_code == 400, response.text
        assert "1,000 pixels" in response.json()["description"]
    x0, y0, _, _ = cog["bounds"]
    corner = f"x({x0}:{x0 + 100}),y({y0}:{y0 + 100})"  # 20 × 20 pixels of 5 m: under the limit
    small = scratch_api.get("/collections/flood_depth/coverage", params={"f": "GTiff", "subset": corner})
    assert small.status_code == 200, small.text


def test_unpublished_raster_is_404_with_a_clear_message(scratch_api) -> None:
    response = scratch_api.get("/collections/flood_future/coverage", params={"f": "GTiff"})
    assert response.status_code == 404, response.text
    assert "not been published" in response.json()["description"]
    described = scratch_api.get("/collections/flood_future", params={"f": "json"})
    assert described.status_code == 200, described.text  # the collection is still described


def test_registered_file_that_cannot_be_read_is_503_without_the_path(scratch_api, database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        lineage = conn.execute(
            "insert into bando.lineage (layer, source_path, outcome) values"
            " ('flood_lost', 'test', 'published') returning id"
        ).fetchone()[0]
        conn.execute(
            "insert into bando.rasters (layer, path, srid, width, height, bounds, lineage_id)"
            " values ('flood_lost', '/etc/passwd', 9209, 10, 10, '{0,0,10,10}', %s)",
            (lineage,),
        )
        try:
            response = scratch_api.get("/collections/flood_lost/coverage", params={"f": "GTiff"})
            described = scratch_api.get("/collections/flood_lost", params={"f": "json"})
        finally:
            conn.execute("delete from bando.rasters where layer = 'flood_lost'")
            conn.execute("delete from bando.lineage where id = %s", (lineage,))
    assert response.status_code == 503, response.text
    assert "/etc" not in response.text and "root:" not in response.text and "Traceback" not in response.text
    assert described.status_code == 200, described.text
