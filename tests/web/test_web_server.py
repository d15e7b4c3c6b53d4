"""The real server: static files cannot escape their folder; headers on every web response."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

TRAVERSALS = [
    "/static/../../etc/passwd",
    "/static/../web/app.py",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/..%5c..%5cetc%5cpasswd",
    "/static/%252e%252e/%252e%252e/etc/passwd",
    "/static//etc/passwd",
    "/static/css/../../app.py",
    "/vendor/../../../etc/passwd",
    "/vendor/%2e%2e/app.py",
    "/vendor/..%2f..%2fpyproject.toml",
]


def raw_get(base: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET with the path sent byte for byte (HTTP clients would normalise the dots away)."""
    netloc = urlsplit(base).netloc
    conn = http.client.HTTPConnection(netloc, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_out_of_static_folders_is_404(web: str, path: str) -> None:
    status, _, body = raw_get(web, path)
    assert status == 404, (path, status)
    assert b"root:" not in body and b"web_routes" not in body and b"[project]" not in body


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/ioc",
        "/site-config.json",
        "/static/js/site.js",
        "/vendor/leaflet/leaflet.js",
        "/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
    ],
)
def test_web_responses_carry_security_headers(web: str, path: str) -> None:
    status, headers, _ = raw_get(web, path)
    assert status == 200, path
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
