"""One test per adaptation in ``bando.api_config.pygeoapi_seam`` (see its table).

Each test sends the request that meets the upstream behaviour twice, in process: once
through bando's app (the adaptation answers well) and once with that one adaptation
switched off (pygeoapi's own answer). The first half fails if the adaptation is removed;
the second fails once pygeoapi itself is fixed, which says the adaptation can go.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pygeoapi.api as core_api
import pytest
from starlette.testclient import TestClient

import bando.api_config.pygeoapi_seam.handlers as fix
from bando.api_config import pygeoapi_seam
from bando.api_config.pygeoapi_seam import crs as seam_crs
from bando.api_config.runtime import get_runtime
from bando.crs import transformer
from bando.errors import Unavailable
from bando.settings import get_settings
from tests.conftest import INTERNAL_TOKEN

IDENTITY: Callable[[Any], Any] = lambda handler: handler  # noqa: E731


def app_client(monkeypatch: pytest.MonkeyPatch | None = None, **switched_off: Any) -> TestClient:
    """bando's app in process; ``switched_off`` replaces named adaptations in the handlers module."""
    from bando.cli.server import create_app

    for name, replacement in switched_off.items():
        assert monkeypatch is not None and hasattr(fix, name), name
        monkeypatch.setattr(fix, name, replacement)
    return TestClient(create_app("http://testserver", get_settings()), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(loaded: list) -> Iterator[TestClient]:
    with app_client() as c:
        yield c


@contextmanager
def without(monkeypatch: pytest.MonkeyPatch, **switched_off: Any) -> Iterator[TestClient]:
    with monkeypatch.context() as m, app_client(m, **switched_off) as c:
        yield c


def test_1_two_views_in_one_process_never_in_debug(client: TestClient) -> None:
    public = client.get("/ogc/collections", params={"f": "json"})
    internal = client.get(
        "/internal/ogc/collections/parcels/queryables",
        params={"f": "json"},
        headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
    )
    assert public.status_code == 200, public.text
    assert internal.status_code in (200, 403)  # the token is configured for the server fixture only
    assert "pygeoapi.starlette_app" not in sys.modules, "pygeoapi's own app (global, debug) is never loaded"
    assert client.app.debug is False


def test_2_bbox_transform_is_cached_and_pinned_to_the_official_vn2000_parameters() -> None:
    pygeoapi_seam.install()
    srid = get_runtime().province.tm3_epsg
    bbox = [106.0, 20.9, 106.01, 20.91]
    crs84, tm3 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84", f"http://www.opengis.net/def/crs/EPSG/0/{srid}"
    x0, y0, _, _ = transformer(4326, srid).transform_bounds(*bbox, densify_pts=21)
    ours = seam_crs.transform_bbox(bbox, crs84, tm3)
    assert abs(ours[0] - x0) < 0.01 and abs(ours[1] - y0) < 0.01
    assert seam_crs._bbox_transformer.cache_info().currsize >= 1
    import pygeoapi.crs as pcrs

    assert pcrs.transform_bbox is seam_crs.transform_bbox
    upstream = seam_crs._original_transform_bbox(bbox, crs84, tm3)
    assert max(abs(a - b) for a, b in zip(upstream[:2], (x0, y0))) > 0.3, "PROJ's own choice is not EPSG:6960"


def test_3_a_refused_value_is_not_echoed_whole(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    params = {"crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84" + "A" * 5000}
    ours = client.get("/ogc/collections/roads/items", params=params)
    assert ours.status_code == 400 and len(ours.json()["description"]) <= fix.MAX_DESCRIPTION + 1
    with without(monkeypatch, short_error=IDENTITY) as raw:
        assert len(raw.get("/ogc/collections/roads/items", params=params).text) > 5000


def test_4_malformed_json_body_is_400(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/ogc/processes/planning-report/execution"
    body, headers = b"null", {"Content-Type": "application/json"}
    assert client.post(path, content=body, headers=headers).status_code == 400
    with without(monkeypatch, body_problem=lambda body: None) as raw:
        assert raw.post(path, content=body, headers=headers).status_code == 500


def test_5_invalid_coverage_bbox_is_400_in_every_format(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/ogc/collections/flood_depth/coverage"
    for fmt in ("json", "html"):
        assert client.get(path, params={"bbox": "1,2,x", "f": fmt}).status_code == 400
    with without(monkeypatch, valid_bbox=IDENTITY) as raw:
        assert raw.get(path, params={"bbox": "1,2,x", "f": "html"}).status_code == 500


def test_6_records_as_csv_is_400(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/ogc/collections/catalogue/items"
    assert client.get(path, params={"f": "csv"}).status_code == 400
    with without(monkeypatch, records_not_as_csv=IDENTITY) as raw:
        assert raw.get(path, params={"f": "csv"}).status_code == 500


CALLBACKS = {"successUri": "http://127.0.0.1:9/done", "inProgressUri": "http://127.0.0.1:9/running"}


@pytest.mark.parametrize("subscriber", ["x", CALLBACKS], ids=["not-an-object", "callbacks"])
def test_7_a_subscriber_is_400(client: TestClient, monkeypatch: pytest.MonkeyPatch, subscriber: Any) -> None:
    path = "/ogc/processes/planning-report/execution"
    body = {"inputs": {"maXa": "00001", "soHieuToBanDo": "1", "soThuTuThua": "1"}, "subscriber": subscriber}
    answer = client.post(path, json=body)
    assert answer.status_code == 400 and "subscriber" in answer.json()["description"]
    with without(monkeypatch, no_subscriber=IDENTITY) as raw:
        assert raw.post(path, json=body).status_code == 500


def test_8_a_database_outage_in_a_process_is_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = get_runtime()
    sheet = client.get("/ogc/collections/parcels/items", params={"limit": 1, "f": "json"}).json()["features"][0]
    inputs = {k: sheet["properties"][k] for k in ("maXa", "soHieuToBanDo", "soThuTuThua")}
    path = "/ogc/processes/planning-report/execution"

    @contextmanager
    def down(view: str = "public") -> Iterator[Any]:
        raise Unavailable()
        yield

    monkeypatch.setattr(runtime, "connection", down)
    answer = client.post(path, json={"inputs": inputs})
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    with without(monkeypatch, unavailable_is_503=IDENTITY) as raw:
        assert raw.post(path, json={"inputs": inputs}).status_code == 400


def test_9_conformance_states_what_bando_implements(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    crud = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"
    ours = client.get("/ogc/conformance", params={"f": "json"}).json()["conformsTo"]
    assert crud not in ours and "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json" in ours
    with without(monkeypatch, conformance=core_api.conformance) as raw:
        assert crud in raw.get("/ogc/conformance", params={"f": "json"}).json()["conformsTo"]


def test_10_a_refused_filter_is_not_logged_by_pygeoapi(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    secret = "Phạm Ngọc Vân"
    params = {"filter": f"diaChi = '{secret}' AND"}  # not CQL2: pygeoapi refuses it, quoting it
    with caplog.at_level(logging.DEBUG):
        assert client.get("/ogc/collections/parcels/items", params=params).status_code == 400
    assert secret not in caplog.text
    upstream = logging.getLogger("pygeoapi")
    saved = upstream.level, upstream.propagate
    upstream.setLevel(logging.NOTSET)
    upstream.propagate = True
    try:
        with caplog.at_level(logging.DEBUG):
            client.get("/ogc/collections/parcels/items", params=params)
        assert secret in caplog.text, "pygeoapi quotes a refused filter in its log"
    finally:
        upstream.setLevel(saved[0])
        upstream.propagate = saved[1]


def test_the_seam_refuses_another_pygeoapi_series(monkeypatch: pytest.MonkeyPatch) -> None:
    import pygeoapi

    from bando.errors import SetupError

    monkeypatch.setattr(pygeoapi, "__version__", "0.25.0")
    with pytest.raises(SetupError, match="0.24"):
        pygeoapi_seam.install()


def test_11_cql2_json_filter_by_get(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/ogc/collections/roads/items"
    params = {"filter-lang": "cql2-json", "filter": '{"op": ">", "args": [{"property": "beRong"}, 0]}', "f": "json"}
    assert client.get(path, params=params).status_code == 200
    with without(monkeypatch, cql2_json_by_get=IDENTITY) as raw:
        assert raw.get(path, params=params).status_code == 400


def test_12_queryables_carry_the_catalogue_titles(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    path, params = "/ogc/collections/parcels/queryables", {"f": "json"}
    assert client.get(path, params=params).json()["properties"]["maXa"]["title"] != "maXa"
    with without(monkeypatch, titled_queryables=lambda handler, titles: handler) as raw:
        assert raw.get(path, params=params).json()["properties"]["maXa"]["title"] == "maXa"


def test_16_accept_image_tiff_on_a_coverage(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    path, headers = "/ogc/collections/flood_depth/coverage", {"Accept": "image/tiff"}
    assert client.get(path, headers=headers).headers["content-type"].startswith("image/tiff")
    with without(monkeypatch, tiff_by_accept=IDENTITY) as raw:
        assert not raw.get(path, headers=headers).headers["content-type"].startswith("image/tiff")
