"""The web pages as one composable part: the citizens' site (``/``) and the IOC map (``/ioc``).

Both pages are static HTML, CSS and JavaScript that read only the public OGC API at
``/ogc`` — as any third-party client would — plus what this part serves itself:
``/static`` (our files), ``/vendor`` (Leaflet and Leaflet.VectorGrid, copied from npm
by ``web/vendor.sh`` at setup; never a CDN) and ``/site-config.json`` (derived from the
catalogue, see :mod:`bando.web.site_config`; the pages also carry it as a JSON data island).

Every response of this part carries a strict Content-Security-Policy (only 'self';
no inline script or style), ``nosniff`` and a same-origin referrer policy. If the
front end was never vendored, the pages still answer 200 and say how to install it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bando.http_headers import security_headers
from bando.layers import catalogue as catalogue_mod
from bando.province import configured
from bando.settings import Settings
from bando.web import site_config
from bando.web.qr import qr_endpoint

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
VENDOR = HERE / "vendor"
TEMPLATES = HERE / "templates"
VENDOR_STAMP = VENDOR / ".installed"


class SecureHeaders:
    """Wraps one ASGI app of this part and adds the security headers to its responses."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in self.raw}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + self.raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def vendored() -> bool:
    """True once ``web/vendor.sh`` has copied the front-end libraries in."""
    return VENDOR_STAMP.exists()


def _island(config: dict[str, Any]) -> str:
    """JSON safe inside a ``<script type="application/json">`` data block (not executed)."""
    text = json.dumps(config, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    """The pages' templates: one base with the header and panel, a page per file; autoescaped."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )


def render(name: str, **values: str) -> str:
    """Render a page; values are HTML-escaped unless the template marks them ``| safe``."""
    return _templates().get_template(name).render(**values)


class Pages:
    """The page endpoints, bound to one deployment's settings (config built once)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._configs: dict[str, dict[str, Any]] = {}

    def config(self, page: site_config.Page) -> dict[str, Any]:
        if page not in self._configs:
            catalogue = catalogue_mod.cached(self.settings.layers_dir)
            self._configs[page] = site_config.build(
                catalogue, configured(self.settings), self.settings.basemap_url, page
            )
        return self._configs[page]

    def _page(self, page: site_config.Page, template: str) -> Response:
        config = self.config(page)
        province = config["province"]["fullName"]
        if not vendored():
            body = render("not_installed.html", province=province)
            return HTMLResponse(body, headers={"Cache-Control": "no-store"})
        body = render(template, province=province, page=page, config=_island(config))
        return HTMLResponse(body, headers={"Cache-Control": "no-cache"})

    async def site(self, request: Request) -> Response:
        return self._page("site", "site.html")

    async def ioc(self, request: Request) -> Response:
        return self._page("ioc", "ioc.html")

    async def site_config(self, request: Request) -> Response:
        page: site_config.Page = "ioc" if request.query_params.get("page") == "ioc" else "site"
        return JSONResponse(self.config(page), headers={"Cache-Control": "no-cache"})


def web_routes(settings: Settings) -> list[Route | Mount]:
    """The routes this part adds to bando's app: ``/``, ``/ioc``, ``/site-config.json``, ``/qr.svg``, ``/static``,
    ``/vendor``."""
    pages = Pages(settings)
    basemap = site_config.basemap(settings.basemap_url)
    headers = security_headers(basemap["origin"] if basemap else "")

    def secure(endpoint):
        async def wrapped(request: Request) -> Response:
            response = await endpoint(request)
            response.headers.update(headers)
            return response

        return wrapped

    return [
        Route("/", secure(pages.site), methods=["GET", "HEAD"]),
        Route("/ioc", secure(pages.ioc), methods=["GET", "HEAD"]),
        Route("/site-config.json", secure(pages.site_config), methods=["GET", "HEAD"]),
        Route("/qr.svg", secure(qr_endpoint), methods=["GET", "HEAD"]),
        Mount("/static", app=SecureHeaders(StaticFiles(directory=STATIC), headers), name="static"),
        Mount("/vendor", app=SecureHeaders(StaticFiles(directory=VENDOR, check_dir=False), headers), name="vendor"),
    ]
