"""Retention of sensor readings: drop the months older than ``BANDO_READINGS_RETENTION_MONTHS``.

Gateways post readings continuously, and each one also writes an audit row and a history row,
so without a limit the readings are by far what grows the database. A layer of readings is
stored partitioned by month (:mod:`bando.pipelines.partitions`), so ``bando readings prune``
(run daily, e.g. from a timer) expires whole months: in one transaction it deletes the audit
and history rows of the readings of every month that ended before the retention's cut, then
DETACHes and DROPs those months' partitions — no row-by-row delete, no bloat, no vacuum debt —
and bumps the layer's revision so row counts, tile ETags and caches follow. A month is kept
until all of it is older than the cut, so readings live between ``months`` and ``months`` + 1.
Each prune also makes this month's and next month's partitions ahead of the gateways' readings.

A table published before readings were partitioned stays plain until its next load; for it,
prune deletes the expired rows one by one as before (its time column has an index).
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql

from bando.errors import BandoError
from bando.layers.model import Layer
from bando.pipelines import partitions


class Busy(BandoError):
    """A load of the layer is running: pruning waits for it (the load would bring the rows back)."""


def reading_layers(layers: list[Layer]) -> list[Layer]:
    """The catalogue's layers of readings: time series that carry alert thresholds."""
    return [layer for layer in layers if layer.monthly]


def prune(conn: psycopg.Connection, layer: Layer, months: int, now: datetime | None = None) -> int:
    """Expire the layer's readings older than ``months`` before ``now`` (default: the database's now).

    Returns how many readings went; ``months`` = 0 keeps everything. The history row of the highest
    feature id the layer has had is kept even if its reading expires: new ids are allocated above
    it, and the event stream's ``Last-Event-ID`` relies on ids never being reused.
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
                " (select coalesce(max(fid), 0) from bando.feature_history where layer = %s)),"
                " coalesce(%s::timestamptz, now()) - make_interval(months => %s)"
            ).format(t=table),
            (layer.id, now, months),
        ).fetchone()
        assert row is not None
        highest, cut = int(row[0]), row[1]
        if partitions.is_partitioned(conn, "data", layer.table):
            gone = _drop_months(conn, layer, cut, highest)
            partitions.ahead(conn, "data", layer.table)  # run daily: next month is ready before it starts
        else:
            gone = _delete_rows(conn, layer, cut, highest)
        if not gone:
            return 0
        conn.execute(
            "update bando.layer_state set revision = revision + 1, row_count = row_count - %s where layer = %s",
            (gone, layer.id),
        )
        conn.execute("select pg_notify('bando_edits', %s)", (layer.id,))
    return gone


def _drop_months(conn: psycopg.Connection, layer: Layer, cut: datetime, highest: int) -> int:
    """Detach and drop every month partition that ended before ``cut``, with its audit and history."""
    gone = 0
    for name, end in partitions.months(conn, "data", layer.table):
        if end > cut:
            break
        month = sql.Identifier("data", name)
        _forget(conn, layer, sql.SQL("select fid from {} where fid <> %s").format(month), highest)
        row = conn.execute(sql.SQL("select count(*) from {}").format(month)).fetchone()
        gone += int(row[0]) if row else 0
        conn.execute(sql.SQL("alter table {} detach partition {}").format(sql.Identifier("data", layer.table), month))
        conn.execute(sql.SQL("drop table {}").format(month))
    return gone


def _delete_rows(conn: psycopg.Connection, layer: Layer, cut: datetime, highest: int) -> int:
    """A plain table (not reloaded since readings were partitioned): delete the expired rows."""
    assert layer.time_field
    expired = [
        int(fid)
        for (fid,) in conn.execute(
            sql.SQL("delete from {t} where {time} < %s returning fid").format(
                t=sql.Identifier("data", layer.table), time=sql.Identifier(layer.time_field)
            ),
            (cut,),
        ).fetchall()
    ]
    if expired:
        _forget(conn, layer, sql.SQL("select unnest(%s::bigint[]) except select %s").format(), highest, expired)
    return len(expired)


def _forget(
    conn: psycopg.Connection, layer: Layer, fids: sql.Composable, highest: int, values: list[int] | None = None
) -> None:
    """Delete the history and audit rows of the features ``fids`` selects (history first: it refers to audit)."""
    params = (layer.id, *([values] if values is not None else []), highest)
    for target in ("feature_history", "audit"):
        conn.execute(
            sql.SQL("delete from {} where layer = %s and fid in ({})").format(sql.Identifier("bando", target), fids),
            params,
        )
