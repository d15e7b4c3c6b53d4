"""``/healthz``, ``/readyz`` and ``/metrics``: what a load balancer and Prometheus ask a server.

* ``/healthz`` — the process answers (no database work: a liveness probe must not restart
  servers because the database is down).
* ``/readyz`` — 200 when the primary database answers a query now, else 503, so a load
  balancer sends no traffic to a server that can only fail. Each probe opens a fresh
  connection (2 s timeout) rather than borrowing one from the pools, so it tells the truth
  while they still hold dead connections; answers are shared for :data:`READY_TTL_S`. Read
  replicas are reported with their lag, but a replica down does not make the server
  unready: the public API then reads from the primary.
* ``/metrics`` — Prometheus' text format (:mod:`bando.api_config.metrics`), with the
  point-in-time gauges of :class:`StateCollector` read at scrape time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bando import db
from bando.api_config import tile_cache
from bando.api_config.runtime import get_runtime
from bando.errors import BandoError
from bando.settings import get_settings

READY_TTL_S = 0.5
_ready_lock = threading.Lock()
_ready: tuple[float, bool, str] = (float("-inf"), False, "")


def _database_answers() -> tuple[bool, str]:
    try:
        with psycopg.connect(db.view_url("public"), connect_timeout=2, autocommit=True) as conn:
            conn.execute("select 1")
        return True, "ok"
    except (psycopg.Error, BandoError):
        return False, "unreachable"


def ready() -> tuple[bool, str]:
    """Whether the primary answers, asked at most once per TTL for all requests of this process."""
    global _ready
    with _ready_lock:
        at, ok, text = _ready
        if time.monotonic() - at >= READY_TTL_S:
            ok, text = _database_answers()
            _ready = (time.monotonic(), ok, text)
        return ok, text


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> Response:
    ok, text = await run_in_threadpool(ready)
    replicas = {
        name: {"lag_s": None if lag is None else round(lag, 3), "read_from": fit}
        for name, (lag, fit) in get_runtime().replica_states().items()
    }
    body: dict[str, Any] = {"status": "ready" if ok else "unavailable", "database": text}
    if replicas:
        body["replicas"] = replicas
    headers = {"Cache-Control": "no-store"} | ({} if ok else {"Retry-After": "2"})
    return JSONResponse(body, status_code=200 if ok else 503, headers=headers)


class StateCollector(Collector):
    """Point-in-time gauges, read at scrape time: pools, the tile cache, replicas, loads."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runtime = get_runtime()
        pools = GaugeMetricFamily(
            "bando_db_pool_connections", "Database connections by pool and state", labels=["pool", "state"]
        )
        for name, stats in runtime.pool_stats().items():
            size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
            pools.add_metric([name, "open"], size)
            pools.add_metric([name, "in_use"], size - idle)
            pools.add_metric([name, "waiting"], stats.get("requests_waiting", 0))
        yield pools
        cache = GaugeMetricFamily("bando_tile_cache_bytes", "Bytes held by the shared tile cache")
        cache.add_metric([], tile_cache.shared().volume())
        yield cache
        lag = GaugeMetricFamily("bando_replica_lag_seconds", "How far each read replica is behind", labels=["replica"])
        up = GaugeMetricFamily("bando_replica_read_from", "1 when the replica is fit to read from", labels=["replica"])
        for name, (seconds, fit) in runtime.replica_states().items():
            if seconds is not None:
                lag.add_metric([name], seconds)
            up.add_metric([name], 1.0 if fit else 0.0)
        yield lag
        yield up
        yield from _loads(runtime)


def _loads(runtime: Any) -> Iterator[GaugeMetricFamily]:
    loads = GaugeMetricFamily(
        "bando_loads", "Loads recorded in the lineage, by layer and outcome", labels=["layer", "outcome"]
    )
    try:
        with runtime.connection("internal") as conn:
            rows = conn.execute("select layer, outcome, count(*) from bando.lineage group by 1, 2").fetchall()
    except BandoError:
        return  # the database is down: /readyz says so; the other metrics still answer
    for layer, outcome, count in rows:
        loads.add_metric([str(layer), str(outcome)], int(count))
    yield loads


_STATE = StateCollector()
REGISTRY.register(_STATE)


def exposition(multiprocess_dir: str | None) -> bytes:
    """Every metric as text; with several workers, their counters summed from the shared folder."""
    if not multiprocess_dir:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiprocess_dir)
    registry.register(_STATE)
    return generate_latest(registry)


async def metrics(request: Request) -> Response:
    folder = get_settings().metrics_dir
    body = await run_in_threadpool(exposition, str(folder) if folder else None)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def health_routes() -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
