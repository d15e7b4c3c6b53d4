"""The OGC API part of the app: the public and the internal view, built from the catalogue.

Parts are composed, not inherited: :func:`ogc_routes` reads the catalogue once, builds both
pygeoapi configurations from it (see :mod:`bando.api_config.config`) and returns

* ``/ogc`` — public view (public fields only),
* ``/internal/ogc`` — every field, behind bearer tokens,

as Starlette mounts that the server (:mod:`bando.cli.server`) or a test mounts.
:func:`middleware` is what must wrap them: errors, size and time limits, CORS.
How much work a request may cause, and what is logged of it, is in SECURITY.md.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route

from bando.api_config import config as config_mod
from bando.api_config import pygeoapi_seam
from bando.api_config.auth import BearerAuth, configured_tokens
from bando.api_config.errors import CatchAll
from bando.api_config.events import event_routes
from bando.api_config.extents import published_extents
from bando.api_config.headers import SecurityHeaders
from bando.api_config.limits import Limits
from bando.api_config.ratelimit import RateLimit
from bando.api_config.runtime import get_runtime
from bando.api_config.transactions import ReadOnly, Rules, Transactions
from bando.settings import Settings

VIEWS: tuple[tuple[config_mod.View, str], ...] = (("public", "/ogc"), ("internal", "/internal/ogc"))


def build_configs(settings: Settings, base_url: str) -> dict[str, dict[str, Any]]:
    runtime = get_runtime()
    extents = published_extents(runtime)
    return {
        view: config_mod.build(
            runtime.catalogue, settings, runtime.province, view, f"{base_url.rstrip('/')}{prefix}", extents
        )
        for view, prefix in VIEWS
    }


def ogc_routes(
    settings: Settings, base_url: str, rules: Rules | None = None
) -> tuple[list[Mount | Route], dict[str, dict[str, Any]]]:
    """The two OGC API views as mounts, and the configurations they were built from.

    Each view runs on its own workers (:mod:`bando.api_config.gate`) and carries the security
    headers; the public one is rate-limited per client and read-only, the internal one sits
    behind named tokens and takes Part 4 writes checked by ``rules`` (the load's rules)."""
    pygeoapi_seam.install()
    runtime = get_runtime()
    configs = build_configs(settings, base_url)
    public_api, _ = pygeoapi_seam.make_api(configs["public"])
    internal_api, _ = pygeoapi_seam.make_api(configs["internal"])
    public = pygeoapi_seam.ogc_app(public_api, runtime.gate("public"))
    internal = pygeoapi_seam.ogc_app(internal_api, runtime.gate("internal"))
    mounts: list[Mount | Route] = [
        *event_routes(),  # new readings as Server-Sent Events (public fields only)
        Mount(
            "/ogc",
            app=SecurityHeaders(
                RateLimit(ReadOnly(public), settings.rate_limit, settings.rate_burst, settings.rate_limit_exempt)
            ),
        ),
        Mount(
            "/internal/ogc",
            app=SecurityHeaders(BearerAuth(Transactions(internal, rules), configured_tokens(settings))),
        ),
    ]
    return mounts, configs


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: every error answered cleanly, then size and time limits, then CORS."""
    stack = [Middleware(CatchAll), Middleware(Limits, max_seconds=settings.request_timeout_s)]
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    return stack
