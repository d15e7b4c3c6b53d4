"""Fixtures for the web pages: the real server, a real headless Chromium, a network log.

Chromium is Debian's (``/usr/bin/chromium``; ``playwright install`` cannot download a
browser here), launched headless without a GPU: the pages draw vector tiles on canvas,
not WebGL. Every request a page makes is recorded; a request to any host other than
the bando server is aborted and fails the test (the pages must work offline, on a
closed provincial network). Screenshots go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT

CHROMIUM = os.environ.get("BANDO_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts" / "web"
LOCAL_SCHEMES = ("data", "blob", "about")


@pytest.fixture(scope="session")
def web(server: str) -> str:
    """Base URL of a server that serves the web pages (and their vendored front end)."""
    try:
        with urllib.request.urlopen(f"{server}/site-config.json", timeout=10) as r:
            status = r.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    if status != 200:
        pytest.fail(
            f"the server does not serve the web pages (/site-config.json: {status}): `bando serve` "
            "could not import the `web` package — is 'web*' in pyproject's packages?"
        )
    with urllib.request.urlopen(f"{server}/", timeout=10) as r:
        page = r.read().decode("utf-8")
    if 'id="bando-config"' not in page:
        pytest.fail("/ answers, but not with the map front end: run web/vendor.sh (make setup) first")
    return server


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package "
            "(or set BANDO_TEST_CHROMIUM to a Chromium binary)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class NetworkLog:
    """Every URL a page requested; which of them left the bando server."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.urls: list[str] = []
        self.errors: list[str] = []

    def foreign(self) -> list[str]:
        out = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme in LOCAL_SCHEMES:
                continue
            if f"{parts.scheme}://{parts.netloc}" != self.origin:
                out.append(url)
        return out


@pytest.fixture
def page_factory(browser, web: str):
    """new(viewport=…) → (page, NetworkLog); checks after the test that nothing left the server."""
    origin = f"{urlsplit(web).scheme}://{urlsplit(web).netloc}"
    opened: list[tuple[object, NetworkLog]] = []

    def new(viewport: dict | None = None, **context_options):
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 860}, **context_options)
        log = NetworkLog(origin)

        def guard(route):
            url = route.request.url
            parts = urlsplit(url)
            if parts.scheme in LOCAL_SCHEMES or f"{parts.scheme}://{parts.netloc}" == origin:
                route.continue_()
            else:
                route.abort("blockedbyclient")

        context.route("**/*", guard)
        page = context.new_page()
        page.on("request", lambda r: log.urls.append(r.url))
        page.on("pageerror", lambda e: log.errors.append(str(e)))
        page.on(
            "console",
            lambda m: (
                log.errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None
            ),
        )
        opened.append((context, log))
        return page, log

    yield new
    problems = []
    for context, log in opened:
        context.close()
        if log.foreign():
            problems.append(f"requests to hosts other than {origin}: {log.foreign()[:5]}")
        if log.errors:
            problems.append(f"errors in the page: {log.errors[:5]}")
    assert not problems, "; ".join(problems)
