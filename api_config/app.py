"""The one ASGI app: public OGC API, internal OGC API, and the web pages.

Parts are composed, not inherited: each is a Starlette app a test can mount alone.
``create_app`` reads the catalogue once, builds both pygeoapi configurations from it
(see :mod:`api_config.config`), and mounts

* ``/ogc`` — public view (public fields only),
* ``/internal/ogc`` — every field, behind bearer tokens,
* ``/`` and ``/ioc`` — the citizens' site and the operations-centre map.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route

from api_config import config as config_mod
from api_config import speedups
from api_config.auth import BearerAuth, configured_tokens
from api_config.errors import CatchAll
from api_config.limits import Limits
from api_config.extents import published_extents
from api_config.ogc import make_api, ogc_app
from api_config.runtime import get_runtime
from bando.settings import Settings, get_settings

LOG = logging.getLogger("bando.api")


def build_configs(settings: Settings, base_url: str) -> dict[str, dict[str, Any]]:
    runtime = get_runtime()
    extents = published_extents(runtime)
    return {
        view: config_mod.build(runtime.catalogue, settings, runtime.province, view,
                               f"{base_url.rstrip('/')}{prefix}", extents)  # fmt: skip
        for view, prefix in (("public", "/ogc"), ("internal", "/internal/ogc"))
    }


def create_app(base_url: str | None = None, settings: Settings | None = None) -> Starlette:
    s = settings or get_settings()
    base = (base_url or s.base_url or "http://127.0.0.1:8000").rstrip("/")
    speedups.install()
    configs = build_configs(s, base)
    public_api, _ = make_api(configs["public"])
    internal_api, _ = make_api(configs["internal"])
    routes: list[Route | Mount] = [
        Mount("/ogc", app=ogc_app(public_api)),
        Mount("/internal/ogc", app=BearerAuth(ogc_app(internal_api), configured_tokens(s))),
    ]
    try:
        from web.app import web_routes
    except ImportError:  # the web pages are optional parts
        routes.append(Route("/", lambda request: RedirectResponse("/ogc")))
    else:
        routes += web_routes(s)
    middleware = [Middleware(CatchAll), Middleware(Limits)]
    origins = [o.strip() for o in s.cors_origins.split(",") if o.strip()]
    if origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                                     allow_headers=["Authorization", "Content-Type"]))  # fmt: skip
    app = Starlette(debug=False, routes=routes, middleware=middleware)
    app.state.configs = configs
    return app


def app_from_settings() -> Starlette:
    """uvicorn factory: the app as configured by the environment (``bando serve``)."""
    from bando.settings import reset_settings

    reset_settings()
    return create_app()
