"""What the server measures, in Prometheus' format (``prometheus-client``), served at ``/metrics``.

Requests are counted by *route template* (``/ogc/collections/{collectionId}/items``), never by
the path as sent: a label per URL would let any client grow the server's memory, and a path
may carry what a client typed. Gauges that describe this moment — connections in use, the
shared tile cache's size, replica lag, loads by outcome — are read when scraped
(:class:`bando.api_config.health.StateCollector`), not kept up to date on every request.

With ``bando serve --workers N`` each worker process counts for itself into
``BANDO_METRICS_DIR`` and any worker answers ``/metrics`` for all (prometheus-client's
multiprocess mode); point-in-time gauges are then the answering worker's.
"""

from __future__ import annotations

import logging
import re
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOG = logging.getLogger("bando.api")

REQUESTS = Counter("bando_http_requests", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "bando_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TILE_CACHE = Counter("bando_tile_cache_requests", "Tile requests by the shared cache's answer", ["result"])
TILES_COMPUTED = Counter("bando_tiles_computed", "Vector tiles built by the database (cache misses)", ["layer"])
PUBLIC_READS = Counter("bando_public_reads", "Public API transactions by the server that answered them", ["server"])
REPLICA_FALLBACKS = Counter("bando_replica_fallbacks", "Public reads sent to the primary because no replica was fit")

#: Path segments of the OGC API that name a part of the API, not a thing in it.
_LITERALS = frozenset(
    [
        "api",
        "collections",
        "items",
        "tiles",
        "processes",
        "execution",
        "jobs",
        "results",
        "conformance",
        "openapi",
        "queryables",
        "schema",
        "sortables",
        "coverage",
        "map",
        "styles",
        "tileMatrixSets",
        "TileMatrixSets",
        "metadata",
    ]
)
_AFTER = {
    "collections": "{collectionId}",
    "items": "{featureId}",
    "processes": "{processId}",
    "jobs": "{jobId}",
    "styles": "{styleId}",
}
_NUMBER = re.compile(r"^\d{1,9}$")


def route_label(path: str, tops: frozenset[str]) -> str:
    """A bounded label for a request path: the route's template, or ``other``."""
    for prefix in ("/internal/ogc", "/ogc"):
        if path == prefix or path.startswith(prefix + "/"):
            return prefix + _ogc_template(path[len(prefix) :])
    first = path.split("/")[1] if path.count("/") >= 1 else ""
    if path == "/" or first in tops:
        return path if path.count("/") == 1 else f"/{first}/…"
    return "other"


def _ogc_template(rest: str) -> str:
    parts = [p for p in rest.split("/") if p]
    if len(parts) > 8:
        return "/{other}"
    out: list[str] = []
    for i, part in enumerate(parts):
        before = parts[i - 1] if i else ""
        if before in _AFTER:
            out.append(_AFTER[before])
        elif part in _LITERALS:
            out.append(part)
        elif before == "tiles":
            out.append("{tileMatrixSetId}")
        elif _NUMBER.match(part) and "{tileMatrixSetId}" in out:
            out.append("{n}")
        else:
            out.append("{other}")
    return "/" + "/".join(out) if out else ""


class Metrics:
    """Outermost middleware: counts and times every HTTP request by route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._tops: frozenset[str] | None = None

    def tops(self, scope: Scope) -> frozenset[str]:
        if self._tops is None:
            routes = getattr(scope.get("app"), "routes", [])
            self._tops = frozenset(str(getattr(r, "path", "/")).split("/")[1] for r in routes) - {""}
        return self._tops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = route_label(scope.get("path", ""), self.tops(scope))
            REQUESTS.labels(route, scope.get("method", ""), str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)
