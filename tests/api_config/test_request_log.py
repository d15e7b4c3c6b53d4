"""One log line per request — method, route, status, milliseconds, request id — and no traceback
for a client's mistake; JSON lines when asked for."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from bando.api_config.logs import JsonLines
from bando.settings import get_settings


@pytest.fixture(scope="module")
def client(loaded: list) -> Iterator[TestClient]:
    from bando.cli.server import create_app

    with TestClient(create_app("http://testserver", get_settings()), raise_server_exceptions=False) as c:
        yield c


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bando.api"]


def test_one_line_per_request_with_its_id(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="bando.api"):
        answer = client.get("/ogc/collections/roads/items", params={"limit": "2"})
    (line,) = _lines(caplog)
    rid = answer.headers["x-request-id"]
    text = line.getMessage()
    assert text.startswith("GET /ogc/collections/{collection_id}/items 200 ") and f"request_id={rid}" in text
    assert "ms " in text and "limit" not in text


def test_a_client_error_is_one_line_without_traceback(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="bando.api"):
        answer = client.get("/ogc/collections/parcels/items", params={"filter": "tenChu = 'Nguyễn Văn A' AND"})
    assert answer.status_code == 400
    (line,) = _lines(caplog)
    assert line.exc_info is None and line.levelno == logging.INFO
    assert " 400 " in line.getMessage() and "query=" in line.getMessage() and "Nguyễn" not in line.getMessage()


def test_a_well_formed_request_id_is_kept(client: TestClient) -> None:
    answer = client.get("/ogc/conformance", headers={"X-Request-ID": "proxy-0123456789"})
    assert answer.headers["x-request-id"] == "proxy-0123456789"
    assert client.get("/ogc/conformance", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"] != "bad id"


def test_json_lines(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="bando.api"):
        client.get("/ogc/nothing")
    (line,) = _lines(caplog)
    doc = json.loads(JsonLines().format(line))
    assert doc["status"] == 404 and doc["route"] == "unmatched" and doc["method"] == "GET" and doc["request_id"]
