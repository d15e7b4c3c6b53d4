"""HTTP validators and CORS on the public API, in process over the loaded samples: the same
ETag while nothing is republished, 304 on ``If-None-Match``, a new ETag after a publish."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from bando.api_config.tile_cache import LINEAGES
from bando.pipelines.load import LoadOptions, run_load
from bando.settings import get_settings
from tests.conftest import INTERNAL_TOKEN, ROOT

ROADS = ROOT / "data_samples" / "hung_yen" / "roads.geojson"


@pytest.fixture(scope="module")
def client(loaded: list) -> Iterator[TestClient]:
    from bando.cli.server import create_app

    with TestClient(create_app("http://testserver", get_settings()), raise_server_exceptions=False) as c:
        yield c


def _first_road(client: TestClient) -> str:
    return str(client.get("/ogc/collections/roads/items", params={"limit": "1"}).json()["features"][0]["id"])


def test_public_answers_carry_stable_validators_and_304(client: TestClient) -> None:
    fid = _first_road(client)
    paths = [
        "/ogc/collections",
        "/ogc/collections/roads",
        "/ogc/collections/roads/items?limit=5",
        f"/ogc/collections/roads/items/{fid}",
        "/ogc/collections/catalogue/items",
        "/ogc/collections/catalogue/items/roads",
    ]
    for path in paths:
        first, second = client.get(path), client.get(path)
        assert first.status_code == 200, (path, first.text)
        assert first.headers["etag"] == second.headers["etag"], path
        assert first.headers["last-modified"].endswith("GMT")
        assert first.headers["cache-control"] == f"public, max-age={get_settings().cache_max_age}"
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", path
        assert again.headers["etag"] == first.headers["etag"]
    html = client.get("/ogc/collections/roads/items?limit=5&f=html")
    assert html.headers["etag"] != client.get("/ogc/collections/roads/items?limit=5").headers["etag"]


def test_an_error_carries_no_validator(client: TestClient) -> None:
    response = client.get("/ogc/collections/roads/items/999999999")
    assert response.status_code == 404
    assert "etag" not in response.headers and "cache-control" not in response.headers


def test_a_republish_changes_the_etag(client: TestClient) -> None:
    path = "/ogc/collections/roads/items?limit=5"
    before = client.get(path).headers["etag"]
    other = client.get("/ogc/collections/parcels/items?limit=5").headers["etag"]
    result = run_load("roads", ROADS, LoadOptions(encoding="utf-8", force=True))
    assert result.outcome == "published", result
    time.sleep(LINEAGES.ttl_s + 0.1)
    after = client.get(path)
    assert after.headers["etag"] != before
    assert client.get(path, headers={"If-None-Match": before}).status_code == 200
    assert client.get("/ogc/collections/parcels/items?limit=5").headers["etag"] == other  # another layer's


def test_public_gets_allow_any_origin_and_the_internal_view_none(client: TestClient) -> None:
    origin = {"Origin": "https://portal.example.org"}
    public = client.get("/ogc/collections/roads/items?limit=1", headers=origin)
    assert public.headers["access-control-allow-origin"] == "*"
    assert "ETag" in public.headers["access-control-expose-headers"]
    preflight = client.options(
        "/ogc/collections/roads/items", headers=origin | {"Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    internal = client.get(
        "/internal/ogc/collections/roads/items?limit=1",
        headers=origin | {"Authorization": f"Bearer {INTERNAL_TOKEN}"},
    )
    assert "access-control-allow-origin" not in internal.headers
    assert "etag" not in internal.headers
    internal_preflight = client.options(
        "/internal/ogc/collections/roads/items", headers=origin | {"Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in internal_preflight.headers
