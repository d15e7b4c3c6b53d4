"""The OGC API's HTML pages on a closed network: a real Chromium opens each page with every
request to another host blocked, and finds no failed request, no console error (a Content-
Security-Policy violation is one) and the map or the API document drawn."""

from __future__ import annotations

import httpx
import pytest

PAGES = [
    "/ogc?f=html",
    "/ogc/collections?f=html",
    "/ogc/collections/roads?f=html",
    "/ogc/collections/roads/items?f=html&limit=20",
    "ITEM",
    "/ogc/collections/parcels/queryables?f=html",
    "/ogc/collections/roads/tiles?f=html",
    "/ogc/collections/roads/tiles/WebMercatorQuad/metadata?f=html",
    "/ogc/TileMatrixSets?f=html",
    "/ogc/processes?f=html",
    "/ogc/processes/planning-report?f=html",
    "/ogc/openapi?f=html",
]


@pytest.fixture(scope="module")
def item_path(web: str) -> str:
    doc = httpx.get(f"{web}/ogc/collections/roads/items", params={"limit": 1, "f": "json"}, timeout=30).json()
    return f"/ogc/collections/roads/items/{doc['features'][0]['id']}?f=html"


def test_every_api_page_works_offline(page_factory, web: str, item_path: str) -> None:
    page, log = page_factory()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    for path in PAGES:
        path = item_path if path == "ITEM" else path
        response = page.goto(f"{web}{path}", wait_until="networkidle")
        assert response is not None and response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        assert page.locator("link[href='/static/css/common.css']").count() == 1, path
        if "/items" in path:
            page.wait_for_selector(".leaflet-overlay-pane path", timeout=15_000)
        if "/openapi" in path:
            page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert not failed, failed
    assert not log.errors, log.errors
