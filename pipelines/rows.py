"""Rows as PostgreSQL's COPY receives them: binary, in the staging table's column order.

The binary format spares the server the parsing of text (numbers, dates, hex
geometry): COPY of a million parcels takes half the server time of CSV. Arrow batches
are encoded by pgpq (``ArrowToPostgresBinaryEncoder``); the geometry goes as EWKB, which
PostGIS's binary input reads as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from bando.layers import tables
from bando.layers.model import Layer
from bando.pipelines.attributes import ARROW_TYPES
from bando.pipelines.publish import Version

#: the Arrow types of the columns a layer's table adds to its fields
TABLE_TYPES = {"fid": pa.int64(), "version_id": pa.string(), "valid_from": pa.date32(), "valid_to": pa.date32()}


def arrow_schema(layer: Layer, columns: list[str]) -> pa.Schema:
    """Arrow types of some of a layer table's columns (its fields, ``fid``, the version columns)."""
    types = {f.name: ARROW_TYPES[f.type] for f in layer.fields} | TABLE_TYPES
    return pa.schema([(c, types[c]) for c in columns])


class BinaryRows:
    """One COPY stream of a layer's rows: the statement, its header, each batch, its trailer."""

    def __init__(self, layer: Layer, base: int, version: Version | None) -> None:
        self.layer, self.base, self.version = layer, base, version
        columns = tables.copy_columns(layer)
        self.schema = arrow_schema(layer, [c for c in columns if c != "geom"])
        if layer.geometry:
            self.schema = self.schema.append(pa.field("geom", pa.large_binary()))
        self.encoder = ArrowToPostgresBinaryEncoder(self.schema)

    @contextmanager
    def copy(self, cursor: psycopg.Cursor, table: sql.Composable) -> Iterator[Callable[[pa.Table], None]]:
        """A binary COPY into ``table``: yields the function that sends one normalised batch.

        A sender thread writes while the caller reads and validates the next batch, so
        PostgreSQL ingests meanwhile; its queue is short (:class:`Sender`)."""
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in self.schema.names)
        statement = sql.SQL("copy {} ({}) from stdin (format binary)").format(table, columns)
        with cursor.copy(statement, writer=Sender(cursor)) as cp:
            cp.write(self.encoder.write_header())
            yield lambda batch: cp.write(self.rows(batch))
            cp.write(self.encoder.finish())

    def rows(self, batch: pa.Table) -> bytes:
        """A normalised batch (its ``_index`` numbers the rows) as binary COPY rows."""
        n = batch.num_rows
        out: dict[str, pa.Array] = {"fid": pc.add(batch.column("_index"), self.base + 1)}
        for f in self.layer.fields:
            out[f.name] = batch.column(f.name)
        if self.layer.versioned:
            assert self.version is not None
            out["version_id"] = pa.array([self.version.id] * n, type=pa.string())
            out["valid_from"] = pa.array([self.version.valid_from] * n, type=pa.date32())
            out["valid_to"] = pa.nulls(n, type=pa.date32())
        if self.layer.geometry:
            out["geom"] = batch.column("geom")
        table = pa.table(out).cast(self.schema)
        return b"".join(self.encoder.write_batch(b) for b in table.to_batches())


class Sender(QueuedLibpqWriter):
    """psycopg's COPY writer that sends from a thread of its own while the load reads on, with
    8 MB of queue instead of 128 (64 chunks of 128 KB): PostgreSQL is never far behind when the
    reading ends, and the queue adds little to the load's memory."""

    def __init__(self, cursor: psycopg.Cursor) -> None:
        super().__init__(cursor)
        self._queue = type(self._queue)(maxsize=64)
