"""Rows as PostgreSQL's COPY receives them: CSV in the staging table's column order."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from bando.layers.model import Layer
from bando.pipelines.publish import Version


def copy_csv(batch: pa.Table, layer: Layer, base: int, version: Version | None) -> bytes:
    """One batch as CSV for COPY, columns in :func:`tables.copy_columns` order."""
    n = batch.num_rows
    out: dict[str, pa.Array] = {"fid": pc.add(batch.column("_index"), base + 1)}
    for f in layer.fields:
        out[f.name] = batch.column(f.name)
    if layer.versioned:
        assert version is not None
        out["version_id"] = pa.array([version.id] * n, type=pa.string())
        out["valid_from"] = pa.array([version.valid_from] * n, type=pa.date32())
        out["valid_to"] = pa.nulls(n, type=pa.date32())
    if layer.geometry:
        out["geom"] = batch.column("geom")
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(out), buf, pacsv.WriteOptions(include_header=False))
    return buf.getvalue()
