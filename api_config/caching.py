"""HTTP caching and CORS for the public OGC API: validators that intermediaries can use.

What the public API answers changes only when a steward publishes a layer (or bando is
upgraded), so a validator is derived from the publish, not from the bytes (an items page
carries a ``timeStamp`` and would never match): the weak ``ETag`` hashes the request — path,
query, the headers that choose the representation — with the lineage ids of the layers it can
show (its collection's layer, or every layer for the landing page, lists, records and the API
document); ``Last-Modified`` is their latest publish. ``If-None-Match`` is answered with 304
before pygeoapi or the database is involved, from the same clock the tile cache reads once a
second (:data:`bando.api_config.tile_cache.LINEAGES`). Tile data keeps its own strong ETag.

The data is open, so public GETs carry CORS headers (``BANDO_CORS_ORIGINS``, by default any
origin); this wraps the public view only — ``/internal/ogc`` never answers a foreign origin.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from importlib.metadata import version
from typing import Any

import anyio.to_thread
import pygeoapi
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bando.api_config.tile_cache import LINEAGES, etag_matches
from bando.errors import BandoError

#: What else changes an answer: the code that writes it.
RELEASE = f"{version('bando')}/{pygeoapi.__version__}"
#: Headers that choose the representation (and so are part of the validator, and of ``Vary``).
VARYING = ("accept", "accept-language")
_COLLECTION = re.compile(r"^/collections/([^/]+)")
_TILE_DATA = re.compile(r"/tiles/[^/]+/[^/]+/[^/]+/[^/]+$")
EXPOSED = "ETag, Last-Modified, Link, Content-Crs, Content-Language, Retry-After"


def _header(name: str, value: str) -> tuple[bytes, bytes]:
    return name.lower().encode("latin-1"), value.encode("latin-1")


class PublicCaching:
    """ETag, Last-Modified, 304, Cache-Control and CORS around the public view's app.

    ``layers`` maps a collection id to the layer it shows; collections not in it (records,
    processes) and pages that are not about one collection depend on every layer."""

    def __init__(self, app: ASGIApp, layers: dict[str, str], max_age: int, origins: list[str]) -> None:
        self.app, self.layers, self.max_age, self.origins = app, layers, max_age, origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        cors = self._cors(request_headers.get("origin"))
        method = scope["method"]
        if method == "OPTIONS" and cors and request_headers.get("access-control-request-method"):
            await self._preflight(cors, send)
            return
        added = list(cors)
        path = _route_path(scope)
        if method in ("GET", "HEAD") and not _TILE_DATA.search(path):
            validators = await self._validators(scope, path, request_headers)
            if validators:
                added += validators
                strong_form = validators[0][1].decode().removeprefix("W/")  # If-None-Match compares weakly
                if etag_matches(request_headers.get("if-none-match"), strong_form):
                    await send({"type": "http.response.start", "status": 304, "headers": added})
                    await send({"type": "http.response.body", "body": b""})
                    return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                ok = message["status"] == 200
                extra = [h for h in added if ok or h[0].startswith(b"access-control") or h[0] == b"vary"]
                names = {k for k, _ in extra}
                kept = [h for h in message.get("headers", []) if h[0].lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cors(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        if "*" in self.origins:
            allowed = "*"
        elif origin and origin in self.origins:
            allowed = origin
        else:
            return []
        out = [_header("Access-Control-Allow-Origin", allowed), _header("Access-Control-Expose-Headers", EXPOSED)]
        return out if allowed == "*" else [*out, _header("Vary", "Origin")]

    async def _preflight(self, cors: list[tuple[bytes, bytes]], send: Send) -> None:
        headers = [
            *cors,
            _header("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS"),
            _header("Access-Control-Allow-Headers", "Accept, Accept-Language, Content-Type, If-None-Match"),
            _header("Access-Control-Max-Age", "600"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _validators(self, scope: Scope, path: str, headers: Headers) -> list[tuple[bytes, bytes]]:
        try:
            state = LINEAGES.snapshot() if LINEAGES.fresh() else await anyio.to_thread.run_sync(LINEAGES.snapshot)
        except BandoError:  # the database is down: no validator, the view answers for itself
            return []
        match = _COLLECTION.match(path)
        layer = self.layers.get(match.group(1)) if match else None
        shown = {layer: state[layer]} if layer in state else ({} if layer else state)
        if not shown:
            return []
        return validators(scope, path, headers, shown, self.max_age)


def validators(
    scope: Scope, path: str, headers: Headers, shown: dict[str, tuple[int, datetime]], max_age: int
) -> list[tuple[bytes, bytes]]:
    """ETag (first), Last-Modified, Cache-Control and Vary for an answer showing ``shown``."""
    parts: list[Any] = [RELEASE, path, scope.get("query_string", b""), *(headers.get(h, "") for h in VARYING)]
    parts += sorted((name, lineage) for name, (lineage, _) in shown.items())
    etag = f'W/"{hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()}"'
    latest = max(at for _, at in shown.values())
    return [
        _header("ETag", etag),
        _header("Last-Modified", format_datetime(latest.astimezone(UTC).replace(microsecond=0), usegmt=True)),
        _header("Cache-Control", f"public, max-age={max_age}"),
        _header("Vary", "Accept, Accept-Language, Origin"),
    ]


def _route_path(scope: Scope) -> str:
    """The path inside the mounted view ('/collections/x/items')."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def feature_layers(config: dict[str, Any]) -> dict[str, str]:
    """collection id → layer id for every collection a bando provider serves."""
    out = {}
    for cid, resource in config.get("resources", {}).items():
        for p in resource.get("providers", []) if isinstance(resource, dict) else []:
            data = p.get("data")
            if isinstance(data, dict) and "layer" in data:
                out[cid] = str(data["layer"])
    return out
