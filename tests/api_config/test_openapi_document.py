"""The API document: valid OpenAPI 3.0 (openapi-spec-validator), self-contained (no $ref leaves
it), and only what bando serves."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.metadata import version

import pytest
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from bando.settings import get_settings


@pytest.fixture(scope="module")
def client(loaded: list) -> Iterator[TestClient]:
    from bando.cli.server import create_app

    with TestClient(create_app("http://testserver", get_settings()), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict:
    response = client.get("/ogc/openapi", params={"f": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_document_validates_and_is_self_contained(document: dict) -> None:
    validate(document)
    refs = re.findall(r'"\$ref": "([^"]*)"', json.dumps(document))
    assert refs and all(ref.startswith("#/") for ref in refs), [r for r in refs if not r.startswith("#/")][:5]


def test_items_document_filters_and_datetime(document: dict) -> None:
    params = document["paths"]["/collections/roads/items"]["get"]["parameters"]
    names = {p.get("name") or p["$ref"].rsplit("/", 1)[-1] for p in params}
    assert {"filter", "filter-lang", "filter-crs", "datetime", "bbox", "limit"} <= names


def test_only_what_bando_serves_and_its_own_version(client: TestClient, document: dict) -> None:
    assert document["info"]["version"] == version("bando")
    tags = {t["name"] for t in document.get("tags", [])}
    assert not tags & {"edr", "maps", "stac"}
    for path in ("/TileMatrixSets", "/collections/roads/tiles/{tileMatrixSetId}/metadata", "/dcat"):
        assert path in document["paths"], path
    concrete = [p for p in document["paths"] if "{" not in p and not p.endswith("/execution")]
    for path in concrete:
        assert client.get(f"/ogc{path}").status_code == 200, path
    assert client.get("/ogc/TileMatrixSets/WebMercatorQuad").status_code == 200
    assert client.get("/ogc/collections/roads/tiles/WebMercatorQuad/metadata").status_code == 200


def test_the_internal_document_validates_too(loaded: list) -> None:
    from bando.api_config import pygeoapi_seam
    from bando.api_config.app import build_configs

    _, doc = pygeoapi_seam.make_api(build_configs(get_settings(), "http://testserver")["internal"])
    validate(doc)
    assert "/dcat" not in doc["paths"] and not any(p.endswith("/downloads") for p in doc["paths"])
