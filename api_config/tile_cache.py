"""Tile caching: one LRU of tile bytes on disk that every server process shares, the layers'
lineage clock, ETag and 304.

The cache (:class:`SharedTiles`) is ``diskcache`` — SQLite plus files under
``BANDO_CACHE_DIR`` (default ``BANDO_HOME/cache``), safe for many processes and, on a shared
filesystem, many machines — bounded by ``BANDO_TILE_CACHE_MB`` and evicted least recently
used first. A process that misses a tile claims it before building it; another process
asking for the same tile meanwhile waits for the first one's bytes instead of building it
again, so each tile is computed once. A small in-process LRU (:class:`TileCache`) in front
keeps the hottest tiles off the disk. Both are keyed by the layer's clock, so a publish or
an edit changes every key of that layer: nothing stale is served, and the old entries age
out of the LRU.

A tile is identified by :class:`TileKey` — layer, view, tile matrix set, z/row/col,
the lineage id of the published layer and a fingerprint of how the layer's tiles are
made (SQL version, attributes, catalogue tile settings). The strong ETag is a hash
of that key, so it is the same in every worker process and changes when a steward
republishes the layer (a new lineage id in ``bando.layer_state``) or when a deploy
changes what a tile holds.

``bando.layer_state`` is read at most once per :data:`LINEAGE_TTL_S` for all layers
(one small query, not one per tile), so a republish is seen within a second.

pygeoapi's tile handler cannot set response headers, so :func:`cached` wraps the
tile-data route: it answers ``If-None-Match`` with 304 and cache hits with the bytes
before pygeoapi is involved, and otherwise lets pygeoapi's handler run; the provider
then records (thread-locally) the key of the tile it built — with the lineage read
in the same statement as the tile — and :func:`with_etag` turns it into headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import diskcache
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bando.api_config.errors import problem
from bando.api_config.gate import Gate
from bando.api_config.metrics import TILE_CACHE, TILES_COMPUTED
from bando.errors import BadInput, BandoError, NotFound, Unavailable

LOG = logging.getLogger("bando.api")
MVT = "application/vnd.mapbox-vector-tile"
#: The in-process front of the shared cache, per process.
CACHE_BYTES = 32 * 2**20
#: How long a process waits for a tile another process is building before building it itself.
CLAIM_WAIT_S = 5.0
#: What one entry costs beyond its bytes (key, dict slot): an empty tile is not free, so
#: a crawl over empty tiles cannot grow the cache without bound.
ENTRY_BYTES = 256
LINEAGE_TTL_S = 1.0
MAX_AGE_S = 60
_MISSING = object()


@dataclass(frozen=True, slots=True)
class TileKey:
    layer: str
    view: str
    tms: str
    z: int
    row: int
    col: int
    lineage: int | None
    fingerprint: str

    @property
    def etag(self) -> str:
        parts = (self.layer, self.view, self.tms, self.z, self.row, self.col, self.lineage, self.fingerprint)
        return f'"{hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()}"'

    def headers(self) -> dict[str, str]:
        # Internal tiles may carry personal data: no shared cache may keep them.
        scope = "public" if self.view == "public" else "private"
        return {"ETag": self.etag, "Cache-Control": f"{scope}, max-age={MAX_AGE_S}"}


class TileCache:
    """Least-recently-used tile bytes, bounded by their total size; thread-safe."""

    def __init__(self, max_bytes: int = CACHE_BYTES, entry_bytes: int = ENTRY_BYTES) -> None:
        self.max_bytes = max_bytes
        self.entry_bytes = entry_bytes
        self.size = 0
        self.hits = self.misses = 0
        self._items: OrderedDict[TileKey, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: TileKey) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return data

    def put(self, key: TileKey, data: bytes) -> None:
        if len(data) > self.max_bytes // 8:  # one huge tile must not flush everything else
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old) + self.entry_bytes
            self._items[key] = data
            self.size += len(data) + self.entry_bytes
            while self.size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped) + self.entry_bytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self._items)


class Lineages:
    """Each published layer's lineage id, publish time and extent, read from ``bando.layer_state`` at
    most once per TTL; HTTP caching of the other answers reads the same clock, and tile-set limits
    and style bounds the same extents (:meth:`extent`)."""

    def __init__(self, ttl_s: float = LINEAGE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._values: dict[str, int] = {}
        self._published: dict[str, datetime] = {}
        self._bounds: dict[str, tuple[int, float, float, float, float]] = {}
        self._read_at = float("-inf")
        self._failed_at = float("-inf")
        self._lock = threading.Lock()

    def peek(self, layer: str) -> Any:
        """The lineage id if fresh (None: not published), else ``_MISSING``; never does I/O."""
        if time.monotonic() - self._read_at < self.ttl_s:
            return self._values.get(layer)
        return _MISSING

    def get(self, layer: str) -> int | None:
        value = self.peek(layer)
        if value is not _MISSING:
            return value
        with self._lock:  # one reader refreshes; the others wait for its answer
            if time.monotonic() - self._read_at >= self.ttl_s:
                if time.monotonic() - self._failed_at < self.ttl_s:  # the waiters share a failure too
                    raise Unavailable()
                from bando.api_config.runtime import get_runtime
                from bando.api_config.tiles_sql import LAYER_CLOCK

                try:
                    with get_runtime().connection() as conn:
                        rows = conn.execute(
                            f"select layer, {LAYER_CLOCK}, published_at, srid, st_xmin(bounds), st_ymin(bounds),"
                            " st_xmax(bounds), st_ymax(bounds) from bando.layer_state"
                        ).fetchall()
                except Unavailable:
                    self._failed_at = time.monotonic()
                    raise
                self._values = {r[0]: r[1] for r in rows}
                self._published = {r[0]: r[2] for r in rows}
                self._bounds = {r[0]: (r[3], *r[4:]) for r in rows if r[3] is not None and r[4] is not None}
                self._read_at = time.monotonic()
            return self._values.get(layer)

    def expire(self) -> None:
        """Read the layers' state again at the next request: this process has just changed it (an
        edit), so its own next answer shows the change; other processes see it within the TTL."""
        self._read_at = float("-inf")

    def extent(self, layer: str) -> tuple[float, float, float, float] | None:
        """The layer's CRS84 extent as last read (publishes set it, edits grow it); None if not known.
        Never does I/O: callers that need it fresh call :meth:`get` first."""
        bounds = self._bounds.get(layer)
        return None if bounds is None else crs84_box(*bounds)

    def snapshot(self) -> dict[str, tuple[int, datetime]]:
        """Every published layer's (lineage id, publish time), refreshed if older than the TTL."""
        self.get("")
        values, published = self._values, self._published
        return {layer: (lineage, published[layer]) for layer, lineage in values.items() if layer in published}

    def fresh(self) -> bool:
        return time.monotonic() - self._read_at < self.ttl_s


class SharedTiles:
    """The on-disk LRU all processes share; a failing disk degrades to no cache, never to an error."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True)
        self.disk = diskcache.Cache(
            str(folder), size_limit=max_bytes, eviction_policy="least-recently-used", cull_limit=64, timeout=2
        )

    def get(self, key: TileKey) -> bytes | None:
        try:
            data = self.disk.get(key.etag, retry=True)
        except (OSError, diskcache.Timeout):
            return None
        return data if isinstance(data, bytes) else None

    def put(self, key: TileKey, data: bytes) -> None:
        if len(data) > self.max_bytes // 8:
            return
        try:
            self.disk.set(key.etag, data, tag=key.layer, retry=True)
        except (OSError, diskcache.Timeout) as exc:
            LOG.warning("shared tile cache: could not store a tile (%s)", type(exc).__name__)

    def claim(self, key: TileKey) -> bool:
        """True when this process is the one to build the tile (for the next few seconds)."""
        try:
            return bool(self.disk.add("claim:" + key.etag, os.getpid(), expire=CLAIM_WAIT_S, retry=True))
        except (OSError, diskcache.Timeout):
            return True

    def release(self, key: TileKey) -> None:
        with contextlib.suppress(OSError, diskcache.Timeout):
            self.disk.delete("claim:" + key.etag, retry=True)

    def volume(self) -> int:
        try:
            return int(self.disk.volume())
        except (OSError, diskcache.Timeout):
            return 0

    def clear(self) -> None:
        self.disk.clear(retry=True)


class Tiles:
    """The in-process front and the shared disk cache, as one."""

    def __init__(self) -> None:
        self.front = TileCache()
        self.enabled = True
        self._shared: SharedTiles | None = None
        self._lock = threading.Lock()

    def off(self) -> None:
        """Keep nothing: every tile is built by the database (benchmarks; BANDO_TILE_CACHE_MB=0)."""
        self.enabled = False
        self.front.clear()

    def shared(self) -> SharedTiles:
        with self._lock:
            if self._shared is None:
                from bando.settings import get_settings

                s = get_settings()
                if s.tile_cache_mb == 0:
                    self.off()
                self._shared = SharedTiles(s.tile_cache_dir / "tiles", max(s.tile_cache_mb, 1) * 2**20)
            return self._shared

    def get(self, key: TileKey) -> bytes | None:
        if not self.enabled:
            return None
        data = self.front.get(key)
        if data is None:
            data = self.shared().get(key)
            if data is not None:
                self.front.put(key, data)
        return data

    def put(self, key: TileKey, data: bytes) -> None:
        """A tile just built by the database."""
        TILES_COMPUTED.labels(key.layer).inc()
        if self.enabled:
            self.front.put(key, data)
            self.shared().put(key, data)

    def clear(self) -> None:
        self.front.clear()
        self.shared().clear()

    def reset(self) -> None:
        """Forget the shared cache's handle (settings changed: tests)."""
        with self._lock:
            if self._shared is not None:
                self._shared.disk.close()
            self._shared = None
        self.front.clear()

    def __len__(self) -> int:
        return len(self.front)


CACHE = Tiles()
LINEAGES = Lineages()


def shared() -> SharedTiles:
    return CACHE.shared()


_served = threading.local()


def record(key: TileKey) -> None:
    """Called by the tile provider, in the worker thread, for the tile it is returning."""
    _served.key = key


def with_etag(handler: Callable[..., tuple[dict, int, Any]]) -> Callable[..., tuple[dict, int, Any]]:
    """pygeoapi's tile-data handler, adding ETag and Cache-Control for the tile it served."""

    def tiles_data(api: Any, request: Any, *args: Any) -> tuple[dict, int, Any]:
        _served.key = None
        headers, status, content = handler(api, request, *args)
        key, _served.key = getattr(_served, "key", None), None
        if status == HTTPStatus.OK and key is not None:
            headers.update(key.headers())
        elif status >= 400 and headers.get("Content-Type") == MVT:  # pygeoapi leaves the tile type on errors
            text = content.decode() if isinstance(content, bytes) else str(content)
            headers["Content-Type"] = "application/json" if text.startswith("{") else "text/plain; charset=utf-8"
        return headers, status, content

    return tiles_data


def etag_matches(header: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison against a list of tags, or '*'."""
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


@functools.lru_cache(maxsize=1024)
def crs84_box(srid: int, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    """A storage-CRS box as a CRS84 one, rounded outwards to 1e-6° so it never loses an edge."""
    from bando.crs import transformer

    w, s, e, n = transformer(srid, 4326).transform_bounds(x0, y0, x1, y1)
    return (
        math.floor(w * 1e6) / 1e6,
        math.floor(s * 1e6) / 1e6,
        math.ceil(e * 1e6) / 1e6,
        math.ceil(n * 1e6) / 1e6,
    )


def _tile_targets(config: dict[str, Any]) -> dict[str, tuple[str, str, tuple[float, float, float, float] | None]]:
    """collection id → (layer id, view, CRS84 bounds or None) for every collection with a bando tile provider."""
    out = {}
    for cid, resource in config.get("resources", {}).items():
        for p in resource.get("providers", []) if isinstance(resource, dict) else []:
            if p.get("type") == "tile" and p.get("name", "").endswith("BandoTileProvider"):
                bounds = (p.get("options") or {}).get("bounds")
                bbox = None
                if isinstance(bounds, list) and len(bounds) == 4:
                    bbox = (float(bounds[0]), float(bounds[1]), float(bounds[2]), float(bounds[3]))
                out[cid] = (p["data"]["layer"], p["data"].get("view", "public"), bbox)
    return out


def _with_default_format(request: Request) -> Request:
    """A tile URL without ``f`` means the only format there is (pygeoapi would say 400)."""
    if "f" in request.query_params:
        return request
    query = request.scope.get("query_string", b"")
    scope = dict(request.scope, query_string=(query + b"&" if query else b"") + b"f=mvt")
    return Request(scope, request.receive)


async def _cached_or_claimed(key: TileKey) -> bytes | None:
    """The tile from a cache, or None once this process has claimed building it (or waited long enough)."""
    shared = CACHE.shared()
    if not CACHE.enabled:
        TILE_CACHE.labels("miss").inc()
        return None
    data = CACHE.get(key)
    deadline = time.monotonic() + CLAIM_WAIT_S
    while data is None and not shared.claim(key) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)  # another process is building it
        data = shared.get(key)
        if data is not None:
            CACHE.front.put(key, data)
    TILE_CACHE.labels("hit" if data is not None else "miss").inc()
    return data


def cached(api: Any, route: Route, gate: Gate) -> Route:
    """Put ETag/304 handling and the tile cache in front of pygeoapi's tile-data route."""
    from bando.api_config.tiles_sql import tile_source

    inner = route.endpoint
    targets = _tile_targets(api.config)

    async def endpoint(request: Request) -> Response:
        params = request.path_params
        target = targets.get(params.get("collection_id", ""))
        if target is None:
            return await inner(_with_default_format(request))
        if request.query_params.get("f", "mvt") != "mvt":  # pygeoapi would send the MVT bytes under any f
            return problem(400, "InvalidParameterValue", "vector tiles are served as f=mvt only")
        try:
            layer_id, view, bbox = target
            source = tile_source(layer_id, view)
            lineage = LINEAGES.peek(source.layer.id)
            if lineage is _MISSING:
                lineage = await gate.run(LINEAGES.get, source.layer.id)
            bbox = LINEAGES.extent(source.layer.id) or bbox  # as now published, else as at start-up
            if bbox is None:  # the provider's extent before any load: the province's
                from bando.api_config.runtime import get_runtime

                bbox = get_runtime().province.bbox_lonlat
            address = source.address(params["tms"], params["z"], params["row"], params["col"], bbox)
        except BadInput as exc:
            return problem(400, "InvalidParameterValue", str(exc))
        except NotFound as exc:
            return problem(404, "NotFound", str(exc))
        except Unavailable as exc:  # the database is down: say so now, not after a second wait
            return problem(503, "ServiceUnavailable", str(exc), **{"Retry-After": "2"})
        except BandoError:  # e.g. the database is down: pygeoapi and the provider answer it
            return await inner(_with_default_format(request))
        key = TileKey(
            source.layer.id, source.view, address.tms, address.z, address.row, address.col, lineage, source.fingerprint
        )
        if_none_match = request.headers.get("if-none-match")
        if etag_matches(if_none_match, key.etag):
            return Response(status_code=304, headers=key.headers())
        data = await _cached_or_claimed(key)
        if data is not None:
            return Response(data, media_type=MVT, headers=key.headers())
        try:
            response = await inner(_with_default_format(request))
        finally:
            if CACHE.enabled:
                CACHE.shared().release(key)
        etag = response.headers.get("etag")
        if response.status_code == 200 and etag and etag_matches(if_none_match, etag):
            return Response(status_code=304, headers={k: response.headers[k] for k in ("etag", "cache-control")})
        return response

    return Route(route.path, endpoint, methods=["GET"], name=route.name)
