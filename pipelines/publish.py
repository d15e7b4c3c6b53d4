"""Publish: swap the staging table in for the live one, inside the load's transaction.

Readers see the old table or the new one, never a mix: the swap (drop old, move and
rename new) happens under an exclusive lock at the very end of the one transaction
that built the staging table, so a crash at any moment before COMMIT leaves the
published layer exactly as it was and leaves no staging table behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from bando import roles
from bando.db import scalar
from bando.errors import BadInput
from bando.layers.model import Layer
from bando.layers.tables import copy_columns, field_columns
from bando.pipelines import load_history, partitions
from bando.pipelines.access import grant_layer


@dataclass(frozen=True)
class Version:
    """A version of a plan: the decision it comes from and when it applies.

    A draft (published for viewing and comment, not yet approved) is stored with an empty
    validity interval, valid_from = valid_to = the day it was loaded: every "in force"
    question (valid_to is null, or a date inside the interval) then passes over it without
    each reader knowing about drafts, and approval (:func:`approve`) gives it a real start.
    """

    id: str
    decision: str | None = None
    decision_date: date | None = None
    authority: str | None = None
    valid_from: date | None = None
    draft: bool = False

    def __post_init__(self) -> None:
        if self.draft and self.valid_from is not None:
            raise BadInput("a draft is not in force: give --valid-from when approving it (bando approve)")


def exists(conn: psycopg.Connection, layer: Layer) -> bool:
    return bool(scalar(conn, "select to_regclass(%s) is not null", (f"data.{layer.table}",)))


def carry_other_versions(conn: psycopg.Connection, layer: Layer, staging: str, version: Version) -> int:
    """Copy every other version's rows into staging (a versioned layer keeps them all)."""
    if not exists(conn, layer):
        return 0
    live_cols = {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'data' and table_name = %s",
            (layer.table,),
        )
    }
    cols = [c for c in ["fid", *field_columns(layer), "version_id", "valid_from", "valid_to", "geom"] if c in live_cols]
    if layer.geometry is None:
        cols = [c for c in cols if c != "geom"]
    ident = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    cur = conn.execute(
        sql.SQL("insert into {s} ({c}) select {c} from {d} where version_id <> %s").format(
            s=sql.Identifier("staging", staging), d=sql.Identifier("data", layer.table), c=ident
        ),
        (version.id,),
    )
    if version.draft:
        conn.execute(
            sql.SQL("update {s} set valid_from = current_date, valid_to = current_date where version_id = %s").format(
                s=sql.Identifier("staging", staging)
            ),
            (version.id,),
        )
    elif version.valid_from:
        conn.execute(
            sql.SQL(
                "update {s} set valid_to = %s where version_id <> %s and valid_to is null"
                " and (valid_from is null or valid_from < %s)"
            ).format(s=sql.Identifier("staging", staging)),
            (version.valid_from, version.id, version.valid_from),
        )
    return cur.rowcount


def next_fid_base(conn: psycopg.Connection, layer: Layer, version: Version | None) -> int:
    """Feature ids stay unique across the versions or partitions a layer keeps."""
    if (version is None and not layer.partition) or not exists(conn, layer):
        return 0
    if version is None:  # ids of deleted features live on in their history: never reuse them
        row = conn.execute(
            sql.SQL(
                "select greatest((select max(fid) from {}),"
                " (select max(fid) from bando.feature_history where layer = %s), 0)"
            ).format(sql.Identifier("data", layer.table)),
            (layer.id,),
        ).fetchone()
    else:
        row = conn.execute(
            sql.SQL("select coalesce(max(fid), 0) from {} where version_id <> %s").format(
                sql.Identifier("data", layer.table)
            ),
            (version.id,),
        ).fetchone()
    return int(row[0]) if row else 0


def carry_other_partitions(conn: psycopg.Connection, layer: Layer, staging: str, delivered: set) -> int:
    """Keep the live rows of partitions (communes) this delivery does not contain."""
    if not layer.partition or not exists(conn, layer):
        return 0
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in copy_columns(layer))
    part = sql.Identifier(layer.partition)
    cur = conn.execute(
        sql.SQL("insert into {s} ({c}) select {c} from {d} where {p} is null or not ({p}::text = any(%s))").format(
            s=sql.Identifier("staging", staging), d=sql.Identifier("data", layer.table), c=cols, p=part
        ),
        ([str(v) for v in delivered],),
    )
    return cur.rowcount


def swap(
    conn: psycopg.Connection, layer: Layer, staging: str, lineage_id: int, srid: int | None, version: Version | None
) -> int:
    """Replace data.<layer> by staging.<staging>; returns the published row count."""
    live = sql.Identifier("data", layer.table)
    if exists(conn, layer):
        conn.execute(sql.SQL("lock table {} in access exclusive mode").format(live))
        load_history.record(conn, layer, staging, lineage_id)  # what this delivery closed and opened
        conn.execute(sql.SQL("drop table {}").format(live))
    conn.execute(sql.SQL("alter table {} set schema data").format(sql.Identifier("staging", staging)))
    conn.execute(
        sql.SQL("alter table {} rename to {}").format(sql.Identifier("data", staging), sql.Identifier(layer.table))
    )
    months = partitions.publish_children(conn, layer, staging)  # a layer of readings: its months follow it
    for (index_name,) in conn.execute(
        "select indexname from pg_indexes where schemaname = 'data' and tablename = any(%s)", ([layer.table, *months],)
    ).fetchall():
        stable = index_name.replace(staging, layer.table, 1)
        if stable != index_name:
            conn.execute(
                sql.SQL("alter index {} rename to {}").format(
                    sql.Identifier("data", index_name), sql.Identifier(stable)
                )
            )
    if all(roles.exists(conn, r) for r in roles.READERS):  # a database prepared by `bando db up`
        grant_layer(conn, layer)
    # the row count and, for a map layer, the extent the API's tile limits and style bounds follow
    extent = sql.SQL(", st_extent(geom)" if layer.geometry else ", null::box2d")
    row = conn.execute(sql.SQL("select count(*){} from {}").format(extent, live)).fetchone()
    count, bounds = (int(row[0]), row[1]) if row else (0, None)
    record_state(conn, layer.id, lineage_id, srid, count, bounds)
    if version is not None and not version.draft:
        conn.execute(
            "update bando.layer_versions set valid_to = %s where layer = %s and version_id <> %s"
            " and valid_to is null and (valid_from is null or valid_from < %s)",
            (version.valid_from, layer.id, version.id, version.valid_from),
        )
    if version is not None:
        conn.execute(
            "insert into bando.layer_versions (layer, version_id, decision, decision_date, authority,"
            " valid_from, valid_to, draft, lineage_id)"
            " values (%(layer)s, %(id)s, %(decision)s, %(decision_date)s, %(authority)s,"
            " case when %(draft)s then current_date else %(valid_from)s::date end,"
            " case when %(draft)s then current_date end, %(draft)s, %(lineage)s) on conflict (layer, version_id)"
            " do update set decision = excluded.decision, decision_date = excluded.decision_date,"
            " authority = excluded.authority, valid_from = excluded.valid_from, lineage_id = excluded.lineage_id,"
            " draft = excluded.draft, valid_to = case when excluded.draft then excluded.valid_to"
            " when bando.layer_versions.draft then null else bando.layer_versions.valid_to end",
            {
                "layer": layer.id,
                "id": version.id,
                "decision": version.decision,
                "decision_date": version.decision_date,
                "authority": version.authority,
                "valid_from": version.valid_from,
                "draft": version.draft,
                "lineage": lineage_id,
            },
        )
    return int(count)


def record_state(
    conn: psycopg.Connection,
    layer_id: str,
    lineage_id: int,
    srid: int | None,
    row_count: int,
    bounds: str | None = None,
) -> None:
    """What is published now, and since when: one row per layer, written in the publishing transaction.
    ``bounds`` is the published extent (a PostGIS ``box2d``, in the storage CRS); None when empty."""
    conn.execute(
        "insert into bando.layer_state (layer, lineage_id, srid, row_count, bounds) values (%s, %s, %s, %s, %s)"
        " on conflict (layer) do update set lineage_id = excluded.lineage_id, srid = excluded.srid,"
        " row_count = excluded.row_count, bounds = excluded.bounds, published_at = now()",
        (layer_id, lineage_id, srid, row_count, bounds),
    )
