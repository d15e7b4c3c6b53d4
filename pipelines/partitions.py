"""Layers of readings are stored partitioned by month: a load's staging table, its swap, and expiry.

Gateways post readings continuously, so readings are what grows the database; a table
partitioned by range on the time field, one partition per calendar month (Vietnam's time),
lets retention drop whole months (no row-by-row delete, no bloat) and lets a ``datetime=``
query read only the months it names. A partition is created before the first reading of its
month is written, by ``bando.month_partitions`` (migration 0045): the owner's function, so the
internal API's edit roles can add a month without the right to create tables.

A load COPYs into a plain staging table as for every layer (the row and set checks read it
as they do elsewhere) and, once the delivery is accepted, rebuilds it partitioned by month
(:func:`partition_staging`); the swap then moves the month partitions into ``data`` with the
table (:func:`publish_children`). Months are named ``<table>_YYYYMM``. A load and every prune
also make this month's and next month's partitions ahead (:func:`ahead`), so a gateway's
reading rarely waits for a month to be made.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql

from bando.layers import tables
from bando.layers.model import Layer
from bando.province import TIMEZONE


def is_partitioned(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute(
        "select exists (select 1 from pg_partitioned_table where partrelid = to_regclass(%s))", (f"{schema}.{table}",)
    ).fetchone()
    return bool(row and row[0])


def months(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, datetime]]:
    """The table's month partitions, oldest first: (name, end of the month, exclusive)."""
    return [
        (name, upper)
        for name, upper in conn.execute(
            "select c.relname, (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]"
            "::timestamptz from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " where i.inhparent = to_regclass(%s) order by 2",
            (f"{schema}.{table}",),
        ).fetchall()
        if upper is not None
    ]


def partition_staging(conn: psycopg.Connection, layer: Layer, staging: str) -> int:
    """Rebuild the filled ``staging.<staging>`` as a table partitioned by month; returns the months made.

    The checks' indexes are rebuilt on it too, so the load goes on as with a plain table."""
    assert layer.time_field, "only a time series is partitioned by month"
    time = sql.Identifier(layer.time_field)
    target, flat = sql.Identifier("staging", staging), sql.Identifier("staging", f"{staging}_flat")
    conn.execute(sql.SQL("alter table {} rename to {}").format(target, sql.Identifier(f"{staging}_flat")))
    conn.execute(
        sql.SQL("create table {} (like {} including defaults) partition by range ({})").format(target, flat, time)
    )
    row = conn.execute(
        sql.SQL(
            "select bando.month_partitions(%s::regclass,"
            " array(select distinct date_trunc('month', {time}, %s) from {flat}))"
        ).format(time=time, flat=flat),
        (f"staging.{staging}", TIMEZONE),
    ).fetchone()
    made = int(row[0]) if row else 0
    made += ahead(conn, "staging", staging)
    conn.execute(sql.SQL("insert into {} select * from {}").format(target, flat))
    conn.execute(sql.SQL("drop table {}").format(flat))
    for stmt in tables.index_statements(layer, "staging", staging)[:2]:  # what the load built for its checks
        conn.execute(stmt)
    return made


def ahead(conn: psycopg.Connection, schema: str, table: str) -> int:
    """Make this month's and next month's partitions, so live readings never wait for one to be made
    (making one locks the table); a load and every prune call it. Returns the months made."""
    row = conn.execute(
        "select bando.month_partitions(%s::regclass, array[now(), now() + interval '1 month'])", (f"{schema}.{table}",)
    ).fetchone()
    return int(row[0]) if row else 0


def publish_children(conn: psycopg.Connection, layer: Layer, staging: str) -> list[str]:
    """After the swap moved the table into ``data``: move its month partitions and name them after
    it; returns their new names (their indexes keep the staging name for the swap to rename)."""
    moved = []
    for (child,) in conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " join pg_namespace n on n.oid = c.relnamespace where i.inhparent = to_regclass(%s) and n.nspname = 'staging'",
        (f"data.{layer.table}",),
    ).fetchall():
        name = child.replace(staging, layer.table, 1)
        conn.execute(sql.SQL("alter table {} set schema data").format(sql.Identifier("staging", child)))
        conn.execute(sql.SQL("alter table {} rename to {}").format(sql.Identifier("data", child), sql.Identifier(name)))
        moved.append(name)
    return moved
