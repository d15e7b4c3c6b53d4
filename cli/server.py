"""The one ASGI app ``bando serve`` runs: the OGC API views and the web pages, composed.

Each part is a list of Starlette routes a test can mount alone (the OGC API from
:mod:`bando.api_config.app`, the pages from :mod:`bando.web.app`); only here are they put
together, behind the API's middleware.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette

from bando.api_config import wms
from bando.api_config.app import middleware, ogc_routes
from bando.api_config.health import health_routes
from bando.api_config.logs import JsonLines
from bando.api_config.transactions import Rules
from bando.pipelines import edits
from bando.settings import Settings, get_settings, reset_settings
from bando.web.app import web_routes

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def create_app(base_url: str | None = None, settings: Settings | None = None) -> Starlette:
    s = settings or get_settings()
    base = (base_url or s.base_url or DEFAULT_BASE_URL).rstrip("/")
    mounts, configs = ogc_routes(s, base, Rules(edits.check_rows, edits.check_set))
    extra = wms.routes(s.wms_upstream, s.request_timeout_s) if s.wms_upstream else []
    app = Starlette(debug=False, routes=[*health_routes(), *mounts, *extra, *web_routes(s)], middleware=middleware(s))
    app.state.configs = configs
    return app


def app_from_settings() -> Starlette:
    """uvicorn factory: the app as configured by the environment (``bando serve``)."""
    reset_settings()
    handler = logging.StreamHandler()
    if get_settings().log_json:
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("bando.api").setLevel(logging.INFO)  # one line per request, see api_config.logs
    return create_app()
