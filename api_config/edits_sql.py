"""The SQL of one edit: role, lock, current state and ETag, write, audit, history — in one transaction.

Every statement runs on the internal API's connection after ``SET LOCAL ROLE`` to the layer's
edit role (:func:`bando.roles.edit_role`), so PostgreSQL itself refuses a write to any other
table. A feature's ETag is the MD5 of its whole row as PostgreSQL prints it: any change to any
column changes it, and no column has to be kept in step. ``SELECT … FOR UPDATE`` makes
concurrent writers of one feature queue; each then compares the ETag it was given with the row
as the previous writer left it, so exactly one of two writers holding the same ETag succeeds.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from bando import roles
from bando.errors import BadInput, BandoError, Unavailable
from bando.layers.model import Layer
from bando.province import TIMEZONE

HISTORY_COLUMNS = "layer, fid, valid_from, valid_to, properties, public, geom, audit_id"
#: Readings are partitioned by calendar month in Vietnam's time; one write may span this many months.
VIETNAM = ZoneInfo(TIMEZONE)
MAX_MONTHS = 24


class Busy(BandoError):
    """A load of the layer is running: edits wait for it (its swap would drop them)."""


def table(layer: Layer) -> sql.Identifier:
    return sql.Identifier("data", layer.table)


def begin(conn: psycopg.Connection, layer: Layer) -> None:
    """Become the layer's edit role and share the layer's load lock for this transaction."""
    try:
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(roles.edit_role(layer.table))))
    except (psycopg.errors.InvalidParameterValue, psycopg.errors.InsufficientPrivilege):
        raise Unavailable(
            f"edits of {layer.id!r} are not set up in this database: run `bando db up` "
            "(with BANDO_ADMIN_DATABASE_URL where DATABASE_URL may not create roles)"
        ) from None
    # An edit's statements are short: JIT compiling them (chosen when a fast-growing table's
    # statistics lag behind) costs more than they run.
    conn.execute("set local jit = off")
    if layer.monthly:
        # A month's partition grows from empty within minutes; a generic plan cached while it was
        # small would go on reading it whole (seq scans, hash joins) for every batch.
        conn.execute("set local plan_cache_mode = force_custom_plan")
    row = conn.execute("select pg_try_advisory_xact_lock_shared(hashtext(%s))", (f"bando.load:{layer.id}",)).fetchone()
    if not row or not row[0]:
        raise Busy(f"a load of layer {layer.id!r} is running; retry when it has finished")


def _restricted(layer: Layer) -> list[str]:
    return [f.name for f in layer.fields if not f.public]


def _state(layer: Layer, alias: str = "t") -> sql.Composable:
    """A row as JSON: its fields, and its geometry as GeoJSON in the storage CRS."""
    t = sql.Identifier(alias)
    if not layer.geometry:
        return sql.SQL("to_jsonb({t}) - 'fid'").format(t=t)
    return sql.SQL(
        "(to_jsonb({t}) - 'fid' - 'geom') || jsonb_build_object('geometry', st_asgeojson({t}.geom)::jsonb)"
    ).format(t=t)


def current(conn: psycopg.Connection, layer: Layer, fid: int) -> tuple[str, dict[str, Any]] | None:
    """(ETag, state) of one feature, locked until the transaction ends; None when it does not exist."""
    row = conn.execute(
        sql.SQL("select md5(t::text), {state} from {t} t where fid = %s for update").format(
            state=_state(layer), t=table(layer)
        ),
        (fid,),
    ).fetchone()
    return (row[0], row[1]) if row else None


def etag(conn: psycopg.Connection, layer: Layer, fid: int) -> str | None:
    row = conn.execute(sql.SQL("select md5(t::text) from {} t where fid = %s").format(table(layer)), (fid,)).fetchone()
    return row[0] if row else None


def month_partitions(conn: psycopg.Connection, layer: Layer, rows: list[dict[str, Any]]) -> None:
    """A layer of readings is partitioned by month: make sure the rows' months exist before writing them.

    The owner's function ``bando.month_partitions`` adds a missing month (edit roles may not create
    tables); a write spanning more than ``MAX_MONTHS`` months is refused (400) before any is made. A create calls it before touching the table, so a new month's partition never waits
    on a lock its own transaction holds."""
    if layer.monthly and layer.time_field:
        times = list({row[layer.time_field] for row in rows if row.get(layer.time_field) is not None})
        months = {(t.astimezone(VIETNAM).year, t.astimezone(VIETNAM).month) for t in times}
        if len(months) > MAX_MONTHS:  # each new month is a table: a request may add only a few
            raise BadInput(f"a batch of readings may span at most {MAX_MONTHS} months; this one spans {len(months)}")
        conn.execute("select bando.month_partitions(%s::regclass, %s::timestamptz[])", (f"data.{layer.table}", times))


def next_fids(conn: psycopg.Connection, layer: Layer, n: int) -> list[int]:
    """Ids for new features: above every id the layer has had (history included), under a per-layer lock."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"bando.edit.fid:{layer.id}",))
    row = conn.execute(
        sql.SQL(
            "select greatest((select coalesce(max(fid), 0) from {t}),"
            " (select coalesce(max(fid), 0) from bando.feature_history where layer = %s))"
        ).format(t=table(layer)),
        (layer.id,),
    ).fetchone()
    start = int(row[0]) if row else 0
    return list(range(start + 1, start + n + 1))


def _columns(layer: Layer) -> list[str]:
    return [f.name for f in layer.fields] + (["geom"] if layer.geometry else [])


def _values(layer: Layer) -> sql.Composable:
    parts: list[sql.Composable] = [sql.Placeholder() for _ in layer.fields]
    if layer.geometry:
        parts.append(sql.SQL("%s::geometry"))
    return sql.SQL(", ").join(parts)


def insert(conn: psycopg.Connection, layer: Layer, fids: list[int], rows: list[dict[str, Any]]) -> None:
    """New features by COPY (a gateway's batch of readings is thousands of rows); geometry as hex EWKB."""
    cols = _columns(layer)
    statement = sql.SQL("copy {t} (fid, {c}) from stdin").format(
        t=table(layer), c=sql.SQL(", ").join(map(sql.Identifier, cols))
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for fid, row in zip(fids, rows, strict=True):
            copy.write_row((fid, *(row.get(c) for c in cols)))


def replace(conn: psycopg.Connection, layer: Layer, fid: int, row: dict[str, Any]) -> None:
    cols = _columns(layer)
    conn.execute(
        sql.SQL("update {t} set ({c}) = row({v}) where fid = %s").format(
            t=table(layer), c=sql.SQL(", ").join(map(sql.Identifier, cols)), v=_values(layer)
        ),
        (*(row.get(c) for c in cols), fid),
    )


def delete(conn: psycopg.Connection, layer: Layer, fid: int) -> None:
    conn.execute(sql.SQL("delete from {} where fid = %s").format(table(layer)), (fid,))


def audit(
    conn: psycopg.Connection,
    token: str,
    layer: Layer,
    operation: str,
    fid: int,
    before: dict | None,
    after: dict | None,
) -> int:
    row = conn.execute(
        "insert into bando.audit (token, layer, fid, operation, before, after) values (%s, %s, %s, %s, %s, %s)"
        " returning id",
        (token, layer.id, fid, operation, _json(before), _json(after)),
    ).fetchone()
    assert row is not None
    return int(row[0])


def audit_created(conn: psycopg.Connection, token: str, layer: Layer, fids: list[int]) -> None:
    """One audit row per created feature, and its history opened — set-based, for batches of readings.

    The ids are given to both reads of the table: joined to the audit rows alone, a table partitioned
    by month would be read whole (a hash join over every reading) instead of through its index."""
    conn.execute(
        sql.SQL(
            "with a as (insert into bando.audit (token, layer, fid, operation, after)"
            " select %s, %s, t.fid, 'create', {state} from {t} t where t.fid = any(%s) returning id, fid)"
            " insert into bando.feature_history (" + HISTORY_COLUMNS + ")"
            " select %s, t.fid, now(), null, to_jsonb(t) - 'fid' - 'geom', (to_jsonb(t) - 'fid' - 'geom') - %s::text[],"
            " {geom}, a.id from {t} t join a on a.fid = t.fid where t.fid = any(%s)"
        ).format(state=_state(layer), t=table(layer), geom=sql.SQL("t.geom" if layer.geometry else "null")),
        (token, layer.id, fids, layer.id, _restricted(layer), fids),
    )


def close_history(conn: psycopg.Connection, layer: Layer, fid: int) -> None:
    """End the feature's current state now; a feature unchanged since its load gets its first row."""
    cur = conn.execute(
        "update bando.feature_history set valid_to = now() where layer = %s and fid = %s and valid_to is null",
        (layer.id, fid),
    )
    if cur.rowcount == 0:
        conn.execute(
            sql.SQL(
                "insert into bando.feature_history (" + HISTORY_COLUMNS + ")"
                " select %s, fid, null, now(), to_jsonb(t) - 'fid' - 'geom', (to_jsonb(t) - 'fid' - 'geom') - %s::text[],"
                " {geom}, null from {t} t where fid = %s"
            ).format(t=table(layer), geom=sql.SQL("t.geom" if layer.geometry else "null")),
            (layer.id, _restricted(layer), fid),
        )


def open_history(conn: psycopg.Connection, layer: Layer, fid: int, audit_id: int) -> None:
    conn.execute(
        sql.SQL(
            "insert into bando.feature_history (" + HISTORY_COLUMNS + ")"
            " select %s, fid, now(), null, to_jsonb(t) - 'fid' - 'geom', (to_jsonb(t) - 'fid' - 'geom') - %s::text[],"
            " {geom}, %s from {t} t where fid = %s"
        ).format(t=table(layer), geom=sql.SQL("t.geom" if layer.geometry else "null")),
        (layer.id, _restricted(layer), audit_id, fid),
    )


def state(conn: psycopg.Connection, layer: Layer, fid: int) -> dict[str, Any] | None:
    row = conn.execute(
        sql.SQL("select {s} from {t} t where fid = %s").format(s=_state(layer), t=table(layer)), (fid,)
    ).fetchone()
    return row[0] if row else None


def bump(conn: psycopg.Connection, layer: Layer, added: int, placed: list[int] | None = None) -> None:
    """A new revision of the layer: tile ETags and caches change with it, and event streams hear of it
    (PostgreSQL delivers the notification only if the transaction commits).

    The layer's recorded extent grows to cover the features ``placed`` (created, or given a new
    geometry), so the tile-set limits include them at once; it never shrinks between publishes.
    An extent not known (a layer published empty) stays unknown: the API then uses the province's."""
    conn.execute(
        "update bando.layer_state set revision = revision + 1, row_count = row_count + %s where layer = %s",
        (added, layer.id),
    )
    if placed and layer.geometry:
        conn.execute(
            sql.SQL(
                "update bando.layer_state s set bounds = st_combinebbox(s.bounds, x.e::geometry)"
                " from (select st_extent(geom) as e from {} where fid = any(%s)) x"
                " where s.layer = %s and s.bounds is not null and x.e is not null"
            ).format(table(layer)),
            (placed, layer.id),
        )
    conn.execute("select pg_notify('bando_edits', %s)", (layer.id,))


def _json(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)
