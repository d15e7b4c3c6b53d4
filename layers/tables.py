"""Table definitions derived from the catalogue: one place knows a layer's columns.

Published layers live in schema ``data``; a load builds ``staging.<layer>_<lineage>``
inside its own transaction and swaps it in (see :mod:`bando.pipelines.publish`). A layer of
readings is partitioned by month on its time field (:mod:`bando.pipelines.partitions`), and
PostgreSQL wants the partition column in its primary key: ``(fid, time)``. Ids stay unique all
the same, because every writer allocates them above the highest the layer has had.
"""

from __future__ import annotations

from psycopg import sql

from bando.layers.model import Layer

PG_TYPES = {
    "text": "text",
    "integer": "bigint",
    "real": "double precision",
    "date": "date",
    "datetime": "timestamptz",
    "boolean": "boolean",
}
VERSION_COLUMNS = ("version_id", "valid_from", "valid_to")


def field_columns(layer: Layer) -> list[str]:
    return [f.name for f in layer.fields]


def copy_columns(layer: Layer) -> list[str]:
    """Columns a load writes with COPY, in order."""
    cols = ["fid", *field_columns(layer)]
    if layer.versioned:
        cols += list(VERSION_COLUMNS)
    if layer.geometry:
        cols.append("geom")
    return cols


def create_table(layer: Layer, schema: str, name: str, srid: int | None) -> sql.Composed:
    defs: list[sql.Composable] = [sql.SQL("fid bigint not null")]
    defs += [sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(PG_TYPES[f.type])) for f in layer.fields]
    if layer.versioned:
        defs += [sql.SQL("version_id text not null"), sql.SQL("valid_from date"), sql.SQL("valid_to date")]
    if layer.geometry:
        defs.append(sql.SQL("geom geometry({}, {}) not null").format(sql.SQL(layer.geometry), sql.Literal(srid)))
    return sql.SQL("create table {}.{} ({})").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(defs)
    )


def index_statements(layer: Layer, schema: str, name: str) -> list[sql.Composed]:
    table = sql.Identifier(schema, name)
    pk = [sql.Identifier("fid")] + ([sql.Identifier(layer.time_field)] if layer.monthly and layer.time_field else [])
    stmts = [sql.SQL("alter table {} add primary key ({})").format(table, sql.SQL(", ").join(pk))]
    if layer.geometry:
        stmts.append(sql.SQL("create index on {} using gist (geom)").format(table))
    if layer.key:
        key = [sql.Identifier(k) for k in layer.key]
        if layer.versioned:
            key.append(sql.Identifier("version_id"))
        stmts.append(sql.SQL("create unique index on {} ({})").format(table, sql.SQL(", ").join(key)))
    if layer.versioned:
        stmts.append(sql.SQL("create index on {} (version_id)").format(table))
    if layer.time_field:
        stmts.append(sql.SQL("create index on {} ({})").format(table, sql.Identifier(layer.time_field)))
    return stmts
