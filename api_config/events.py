"""Server-Sent Events of new sensor readings, fed by PostgreSQL ``LISTEN/NOTIFY``.

``GET /events/readings`` streams every reading committed after the client connected (or after
the ``Last-Event-ID`` it sends on reconnecting), with the alert flag the catalogue's thresholds
give it, so the IOC map turns a point red as the reading is committed instead of polling.

The event id is the reading's feature id. Writes allocate ids under a per-layer lock they hold
until they commit (:func:`bando.api_config.edits_sql.next_fids`), so ids become visible in
increasing order and "everything after id N" misses nothing: a dropped connection resumes
exactly where it stopped. Every edit's transaction sends ``NOTIFY bando_edits, '<layer>'``; one
listening connection per process wakes the streams, which then read the new rows through the
public view's pool (public fields only). A stream also looks once a second on its own, so a
lost notification delays an event by a second at most, and it ends itself before the request
time limit with a ``retry`` hint: the browser reconnects with its ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg import sql
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bando import db
from bando.api_config.errors import problem
from bando.api_config.runtime import Runtime, get_runtime
from bando.errors import BandoError
from bando.layers.model import Layer

LOG = logging.getLogger("bando.api")
CHANNEL = "bando_edits"
LOOK_EVERY_S = 1.0
KEEPALIVE_S = 10.0
RETRY_MS = 500
MAX_STREAMS = 64
PAGE = 500


class Listener:
    """One LISTEN connection per process; wakes every waiting stream when a layer it watches changes."""

    def __init__(self) -> None:
        self.changed: dict[str, asyncio.Event] = {}
        self.task: asyncio.Task[None] | None = None
        self.streams = 0

    def event(self, layer: str) -> asyncio.Event:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._listen())
        return self.changed.setdefault(layer, asyncio.Event())

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    db.view_url("public"), autocommit=True, application_name="bando-events"
                ) as conn:
                    await conn.execute(sql.SQL("listen {}").format(sql.Identifier(CHANNEL)))
                    async for note in conn.notifies():
                        if note.payload in self.changed:
                            self.changed[note.payload].set()
            except (psycopg.Error, OSError):
                LOG.warning("event listener lost its database connection; retrying in 2 s")
                await asyncio.sleep(2)


LISTENER = Listener()


def _reading_layer(runtime: Runtime) -> Layer:
    """The catalogue's layer of readings: the table that carries alert thresholds."""
    for layer in runtime.catalogue:
        if layer.alert is not None and layer.time_field:
            return layer
    raise LookupError("the catalogue has no layer of readings with alert thresholds")


def _newer(runtime: Runtime, layer: Layer, after: int | None) -> list[tuple[int, dict[str, Any]]]:
    """Readings with ids above ``after`` (None: only the newest id, to start from)."""
    table = sql.Identifier("data", layer.table)
    with runtime.connection("public") as conn:
        if after is None:
            row = conn.execute(sql.SQL("select coalesce(max(fid), 0) from {}").format(table)).fetchone()
            return [(int(row[0]) if row else 0, {})]
        pairs = sql.SQL(", ").join(
            sql.SQL("{}, {}").format(sql.Literal(f.name), sql.Identifier(f.name)) for f in layer.public_fields
        )
        rows = conn.execute(
            sql.SQL("select fid, json_build_object({}) from {} where fid > %s order by fid limit %s").format(
                pairs, table
            ),
            (after, PAGE),
        ).fetchall()
    return [(int(fid), props) for fid, props in rows]


def _alert(layer: Layer, props: dict[str, Any]) -> bool:
    alert = layer.alert
    assert alert is not None
    limit = alert.thresholds.get(str(props.get(alert.by)))
    value = props.get(alert.field)
    return limit is not None and isinstance(value, (int, float)) and value > limit


def _message(fid: int, props: dict[str, Any], alert: bool) -> bytes:
    data = json.dumps({"id": fid, "alert": alert, "properties": props}, ensure_ascii=False)
    return f"id: {fid}\nevent: reading\ndata: {data}\n\n".encode()


async def _stream(runtime: Runtime, layer: Layer, after: int, seconds: float) -> AsyncIterator[bytes]:
    gate = runtime.gate("public")
    changed = LISTENER.event(layer.id)
    loop = asyncio.get_running_loop()
    end, quiet_since = loop.time() + seconds, loop.time()
    LISTENER.streams += 1
    try:
        yield f"retry: {RETRY_MS}\n: resuming after {after}\n\n".encode()
        while loop.time() < end:
            rows = await gate.run(_newer, runtime, layer, after)
            for fid, props in rows:
                after = fid
                yield _message(fid, props, _alert(layer, props))
            if rows:
                quiet_since = loop.time()
                if len(rows) == PAGE:
                    continue
            elif loop.time() - quiet_since > KEEPALIVE_S:
                quiet_since = loop.time()
                yield b": keep-alive\n\n"
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(LOOK_EVERY_S, max(end - loop.time(), 0)))
    except BandoError:
        return  # the database went away: the browser reconnects with its Last-Event-ID
    finally:
        LISTENER.streams -= 1


async def readings(request: Request) -> Response:
    runtime = get_runtime()
    try:
        layer = _reading_layer(runtime)
    except LookupError as exc:
        return problem(404, "NotFound", str(exc))
    if LISTENER.streams >= MAX_STREAMS:
        return problem(503, "ServiceUnavailable", "too many event streams; retry shortly", **{"Retry-After": "5"})
    # Last-Event-ID: the browser's own reconnect; ?after=: a client that reopens the stream itself
    last = (request.headers.get("last-event-id") or request.query_params.get("after") or "").strip()
    after = int(last) if last.isdigit() and len(last) < 19 else None
    if after is None:
        after = (await runtime.gate("public").run(_newer, runtime, layer, None))[0][0]
    seconds = max(1.0, min(25.0, runtime.settings.request_timeout_s - 5))
    return StreamingResponse(
        _stream(runtime, layer, after, seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def event_routes() -> list[Route]:
    return [Route("/events/readings", readings, methods=["GET"])]
