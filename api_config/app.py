"""The OGC API part of the app: the public and the internal view, built from the catalogue.

Parts are composed, not inherited: :func:`ogc_routes` reads the catalogue once, builds both
pygeoapi configurations from it (see :mod:`bando.api_config.config`) and returns

* ``/ogc`` — public view (public fields only),
* ``/internal/ogc`` — every field, behind bearer tokens,
* ``/comments`` and ``/internal/ogc/comments`` — public consultation on draft plans
  (:mod:`bando.api_config.comments`),
* ``/documents`` — the documents of published plan versions (:mod:`bando.api_config.documents`),

as Starlette mounts that the server (:mod:`bando.cli.server`) or a test mounts.
:func:`middleware` is what must wrap them: errors, size and time limits.
How much work a request may cause, and what is logged of it, is in SECURITY.md.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from bando.api_config import comments, pygeoapi_seam
from bando.api_config import config as config_mod
from bando.api_config.auth import BearerAuth, configured_tokens
from bando.api_config.caching import PublicCaching, feature_layers
from bando.api_config.documents import documents_app
from bando.api_config.errors import CatchAll, bando_error_handler
from bando.api_config.events import event_routes
from bando.api_config.extents import published_extents
from bando.api_config.headers import SecurityHeaders
from bando.api_config.limits import Limits
from bando.api_config.logs import RequestLog
from bando.api_config.metrics import Metrics
from bando.api_config.qgis_project import ProjectDownload
from bando.api_config.ratelimit import RateLimit
from bando.api_config.runtime import get_runtime
from bando.api_config.styles import Styles
from bando.api_config.styles import routes as style_routes
from bando.api_config.transactions import ReadOnly, Rules, Transactions
from bando.errors import BandoError
from bando.layers.styles.glyphs import FONTS_DIR
from bando.settings import Settings

VIEWS: tuple[tuple[config_mod.View, str], ...] = (("public", "/ogc"), ("internal", "/internal/ogc"))


def build_configs(
    settings: Settings, base_url: str, extents: dict[str, list[float]] | None = None
) -> dict[str, dict[str, Any]]:
    runtime = get_runtime()
    extents = published_extents(runtime) if extents is None else extents
    return {
        view: config_mod.build(
            runtime.catalogue, settings, runtime.province, view, f"{base_url.rstrip('/')}{prefix}", extents
        )
        for view, prefix in VIEWS
    }


def ogc_routes(
    settings: Settings, base_url: str, rules: Rules | None = None
) -> tuple[list[BaseRoute], dict[str, dict[str, Any]]]:
    """The two OGC API views as mounts, and the configurations they were built from.

    Each view runs on its own workers (:mod:`bando.api_config.gate`) and carries the security
    headers; the public one is rate-limited per client, read-only, and carries HTTP validators
    and CORS (:mod:`bando.api_config.caching`); the internal one sits behind named tokens and
    takes Part 4 writes checked by ``rules`` (the load's rules).
    ``/ogc`` itself is the landing page (its ``self`` link), not a redirect to ``/ogc/``."""
    pygeoapi_seam.install()
    runtime = get_runtime()
    extents = published_extents(runtime)
    configs = build_configs(settings, base_url, extents)
    public_api, _ = pygeoapi_seam.make_api(configs["public"])
    internal_api, _ = pygeoapi_seam.make_api(configs["internal"])
    public = with_styles(
        pygeoapi_seam.ogc_app(public_api, runtime.gate("public")),
        Styles(
            runtime.catalogue,
            f"{base_url.rstrip('/')}/ogc",
            extents,
            FONTS_DIR,
            ProjectDownload(settings, base_url),
        ),
    )
    internal = pygeoapi_seam.ogc_app(internal_api, runtime.gate("internal"))
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    public_mount = Mount(
        "/ogc",
        app=SecurityHeaders(
            PublicCaching(
                RateLimit(ReadOnly(public), settings.rate_limit, settings.rate_burst, settings.rate_limit_exempt),
                feature_layers(configs["public"]),
                settings.cache_max_age,
                origins,
            )
        ),
    )
    internal_mount = Mount(
        "/internal/ogc",
        app=SecurityHeaders(BearerAuth(Transactions(internal, rules), configured_tokens(settings))),
    )
    comments_internal = Mount(
        "/internal/ogc/comments",
        app=SecurityHeaders(BearerAuth(comments.internal_app(), configured_tokens(settings))),
    )
    extra = [
        Mount(
            "/comments",
            app=SecurityHeaders(
                RateLimit(comments.public_app(), settings.rate_limit, settings.rate_burst, settings.rate_limit_exempt)
            ),
        ),
        Mount(
            "/documents",
            app=SecurityHeaders(
                RateLimit(documents_app(), settings.rate_limit, settings.rate_burst, settings.rate_limit_exempt)
            ),
        ),
    ]
    routes = [_without_slash(public_mount), public_mount, comments_internal, _without_slash(internal_mount)]
    events: list[BaseRoute] = [*event_routes()]  # new readings as Server-Sent Events (public fields only)
    return [*events, *routes, internal_mount, *extra], configs


class _Landing:
    """``/ogc`` answered by the mount's landing page (an ASGI app: Starlette routes it as is)."""

    def __init__(self, mount: Mount) -> None:
        self.mount = mount

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or self.mount.path.encode()
        await self.mount(dict(scope, path=f"{self.mount.path}/", raw_path=raw + b"/"), receive, send)


def _without_slash(mount: Mount) -> Route:
    """``/ogc`` answered in place, not redirected to ``/ogc/``: pygeoapi's ``self`` and ``root``
    links point at ``/ogc?f=…``."""
    return Route(mount.path, _Landing(mount), methods=["GET", "HEAD"])


def with_styles(ogc: Starlette, styles: Styles) -> Starlette:
    """The public view with OGC API - Styles in front of pygeoapi's routes."""
    routes = [*style_routes(styles), Mount("", app=ogc)]
    return Starlette(debug=False, routes=routes, exception_handlers={BandoError: bando_error_handler})


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: requests counted and timed, one log line per request, every error answered
    cleanly, then size and time limits (CORS is the public view's own: :mod:`bando.api_config.caching`)."""
    return [
        Middleware(Metrics),
        Middleware(RequestLog),
        Middleware(CatchAll),
        Middleware(Limits, max_seconds=settings.request_timeout_s),
    ]
