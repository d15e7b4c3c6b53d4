"""Retention of sensor readings: drop the ones older than ``BANDO_READINGS_RETENTION_MONTHS``.

Gateways post readings continuously, and each one also writes an audit row and a history row,
so without a limit the readings are by far what grows the database. ``bando readings prune``
(run daily, e.g. from a timer) deletes, in one transaction, the readings whose time is older than
the retention, together with their audit and history rows, and bumps the layer's revision so
row counts, tile ETags and caches follow. The time column has its own index (every layer with a
``time_field`` gets one), so the delete reads only the expired rows.

The table stays a plain table rather than one partitioned by month: a load swaps a whole new
table in, and edits, history and the event stream address readings by feature id, all of which
a partitioned table would have to be taught first. Deleting by time keeps every one of them as is.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql

from bando.errors import BandoError
from bando.layers.model import Layer


class Busy(BandoError):
    """A load of the layer is running: pruning waits for it (the load would bring the rows back)."""


def reading_layers(layers: list[Layer]) -> list[Layer]:
    """The catalogue's layers of readings: time series that carry alert thresholds."""
    return [layer for layer in layers if layer.alert is not None and layer.time_field]


def prune(conn: psycopg.Connection, layer: Layer, months: int, now: datetime | None = None) -> int:
    """Delete the layer's readings older than ``months`` before ``now`` (default: the database's now).

    Returns how many readings were deleted; ``months`` = 0 keeps everything. The history row of the
    highest feature id the layer has had is kept even if its reading expires: new ids are allocated
    above it, and the event stream's ``Last-Event-ID`` relies on ids never being reused.
    """
    if months <= 0 or conn.execute("select to_regclass(%s)", (f"data.{layer.table}",)).fetchone() == (None,):
        return 0  # nothing to keep short, or never loaded
    assert layer.time_field, "only a time series has readings to expire"
    table = sql.Identifier("data", layer.table)
    with conn.transaction():
        got = conn.execute(
            "select pg_try_advisory_xact_lock_shared(hashtext(%s))", (f"bando.load:{layer.id}",)
        ).fetchone()
        if not got or not got[0]:
            raise Busy(f"a load of layer {layer.id!r} is running; prune again when it has finished")
        row = conn.execute(
            sql.SQL(
                "select greatest((select coalesce(max(fid), 0) from {t}),"
                " (select coalesce(max(fid), 0) from bando.feature_history where layer = %s))"
            ).format(t=table),
            (layer.id,),
        ).fetchone()
        highest = int(row[0]) if row else 0
        expired = [
            int(fid)
            for (fid,) in conn.execute(
                sql.SQL(
                    "delete from {t} where {time} < coalesce(%s::timestamptz, now()) - make_interval(months => %s)"
                    " returning fid"
                ).format(t=table, time=sql.Identifier(layer.time_field)),
                (now, months),
            ).fetchall()
        ]
        if not expired:
            return 0
        gone = [fid for fid in expired if fid != highest]
        conn.execute("delete from bando.feature_history where layer = %s and fid = any(%s)", (layer.id, gone))
        conn.execute("delete from bando.audit where layer = %s and fid = any(%s)", (layer.id, gone))
        conn.execute(
            "update bando.layer_state set revision = revision + 1, row_count = row_count - %s where layer = %s",
            (len(expired), layer.id),
        )
        conn.execute("select pg_notify('bando_edits', %s)", (layer.id,))
    return len(expired)
