"""The web part as mounted alone: security headers, the front-end fallback, no inline code."""

from __future__ import annotations

import re
import warnings

import pytest
from starlette.applications import Starlette

with warnings.catch_warnings():  # starlette's notice about its httpx-based client, not about this code
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import bando.web.app as web_app
from bando.settings import Settings

PAGES = ("/", "/ioc")


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = Starlette(routes=web_app.web_routes(Settings(province="33")))
    return TestClient(app)


def _assert_secure(response) -> None:
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize("path", [*PAGES, "/site-config.json", "/static/css/site.css", "/static/js/site.js"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    _assert_secure(response)


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_script_or_style_and_embed_the_config(client: TestClient, path: str) -> None:
    html = client.get(path).text
    if not web_app.vendored():
        pytest.skip("front end not vendored (see test_pages_say_how_to_install_a_missing_front_end)")
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    island = re.search(r'<script type="application/json" id="bando-config">(.*?)</script>', html, re.S)
    assert island and "<" not in island.group(1)


def test_pages_say_how_to_install_a_missing_front_end(client: TestClient, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(web_app, "VENDOR_STAMP", tmp_path / "missing")
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200
        assert "make demo" in response.text and "not installed" in response.text
        _assert_secure(response)


def test_our_files_name_no_other_host() -> None:
    """Scripts, styles and templates load nothing from the internet (no CDN, no web fonts)."""
    folder = web_app.HERE
    files = [*folder.glob("static/**/*.*"), *folder.glob("templates/*.html")]
    assert files
    for path in files:
        if path.suffix not in (".js", ".css", ".html", ".svg"):
            continue
        text = path.read_text(encoding="utf-8")
        hosts = set(re.findall(r"(?:https?:)?//([a-z0-9.-]+\.[a-z]{2,})", text)) - {"www.w3.org"}
        assert not hosts, f"{path.name} names {hosts}"
        assert "@import" not in text and "fonts.googleapis" not in text


def test_a_configured_basemap_is_the_only_other_image_source() -> None:
    url = "https://tiles.example.gov.vn/{z}/{x}/{y}.png"
    app = Starlette(routes=web_app.web_routes(Settings(province="33", basemap_url=url)))
    response = TestClient(app).get("/site-config.json")
    assert response.json()["basemap"]["url"] == url
    csp = response.headers["content-security-policy"]
    assert "img-src 'self' https://tiles.example.gov.vn;" in csp
    assert "connect-src 'self';" in csp and "script-src 'self';" in csp
