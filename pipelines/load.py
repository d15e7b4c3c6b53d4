"""``bando load``: extract → normalise → validate → COPY to staging → publish, accounted for.

The whole build and the swap run in ONE transaction on the work connection, so a
crash anywhere leaves the published layer as it was and no staging table behind
(PostgreSQL also skips WAL for a table created and filled in the same transaction
where ``wal_level = minimal``). Lineage and rejects go through a second connection
that commits as it goes, so they outlive a refused or killed run.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.copy import LibpqWriter

from bando import db
from bando.errors import BadInput, LoadRefused
from bando.layers import catalogue as catalogue_mod
from bando.layers import tables
from bando.layers.model import Layer
from bando.pipelines import opendata, publish, setchecks
from bando.pipelines.accounting import accounted
from bando.pipelines.cad.load import is_drawing, open_drawing
from bando.pipelines.lineage import Lineage
from bando.pipelines.normalise import Normaliser
from bando.pipelines.publish import Version
from bando.pipelines.report import LoadResult, Tally
from bando.pipelines.sources import FileRefused, SourceSpec, batches, open_source
from bando.pipelines.text import TextDecoder
from bando.province import Province
from bando.province import configured as configured_province
from bando.settings import Settings, get_settings

Progress = Callable[[int, int | None], None]


@dataclass
class LoadOptions:
    crs: str | None = None
    encoding: str = "auto"
    source_layer: str | None = None
    x_column: str | None = None
    y_column: str | None = None
    profile: str | None = None  # the layer's CAD profile for a DGN/DXF drawing
    dry_run: bool = False
    force: bool = False
    version: Version | None = None
    batch_size: int = 50_000


ENCODINGS = ("auto", "utf-8", "tcvn3", "vni", "cp1258")


def run_load(
    layer_id: str,
    source: Path,
    options: LoadOptions | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    opts = options or LoadOptions()
    s = settings or get_settings()
    cat = catalogue_mod.load(s.layers_dir)
    layer = cat.get(layer_id)
    if opts.encoding not in ENCODINGS:
        raise BadInput(f"--encoding must be one of {', '.join(ENCODINGS)}, not {opts.encoding!r}")
    url = db.database_url(s)
    province = configured_province(s)
    if layer.kind == "raster":
        from bando.pipelines.raster import convert_and_publish

        return accounted(
            layer.id,
            source,
            url=url,
            settings=s,
            province=province,
            catalogue_version=cat.version,
            version_id=None,
            force=opts.force,
            dry_run=opts.dry_run,
            build=lambda _, result: convert_and_publish(layer, source, opts, s, url, province, result),
        )
    if layer.versioned and opts.version is None:
        raise BadInput(
            f"layer {layer.id!r} keeps every approved version: give --version-id and the approval "
            "decision (--decision, --decision-date, --authority, --valid-from)"
        )
    if not layer.versioned and opts.version is not None:
        raise BadInput(f"layer {layer.id!r} is not versioned; drop --version-id")
    srid = province.storage_srid(layer.storage_crs) if layer.geometry else None
    version_id = opts.version.id if opts.version else None
    return accounted(
        layer.id,
        source,
        url=url,
        settings=s,
        province=province,
        catalogue_version=cat.version,
        version_id=version_id,
        force=opts.force,
        dry_run=opts.dry_run,
        build=lambda lineage, result: _build(layer, source, opts, url, srid, province, lineage, result, progress),
    )


def _build(
    layer: Layer,
    path: Path,
    opts: LoadOptions,
    url: str,
    srid: int | None,
    province: Province,
    lineage: Lineage,
    result: LoadResult,
    progress: Progress | None,
) -> None:
    spec = SourceSpec(path, opts.source_layer, opts.crs, opts.encoding, opts.x_column, opts.y_column)
    source = open_drawing(layer, spec, opts.profile, lineage, result) if is_drawing(path) else open_source(spec)
    if layer.geometry and not source.is_spatial:
        raise FileRefused(
            "geometry.missing", f"{path.name} has no geometry but layer {layer.id!r} is a {layer.geometry} layer"
        )
    result.crs = source.crs.to_string() if source.crs else None
    if source.crs_note and result.crs:
        result.crs += f" ({source.crs_note})"
    declared = opts.encoding if opts.encoding != "auto" else source.text_encoding
    decoder = TextDecoder(declared, read_as_bytes=source.read_encoding is not None)
    if declared != opts.encoding:
        decoder.note = f"charset {source.charset} declared by the file"
    extent = province.bbox_in(srid) if (srid and layer.rules.extent == "province") else None
    normaliser = Normaliser(layer, source, srid or 4326, extent, decoder)
    staging = f"{layer.table}_{result.lineage_id}"
    staging_ident = sql.Identifier("staging", staging)
    tally = Tally()
    columns = tables.copy_columns(layer)
    with psycopg.connect(url) as conn:  # one transaction: everything or nothing
        conn.execute("set local statement_timeout = 0")
        # Set checks are large self-joins: use both cores, and skip JIT (its compile time is
        # wasted on a query dominated by GEOS calls).
        conn.execute("set local jit = off")
        conn.execute("set local max_parallel_workers_per_gather = 2")
        conn.execute(tables.create_table(layer, "staging", staging, srid))
        base = publish.next_fid_base(conn, layer, opts.version)
        copy_sql = sql.SQL("copy {} ({}) from stdin (format csv)").format(
            staging_ident, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        read = 0
        delivered: set = set()  # partition values (communes) this delivery covers
        # A synchronous writer: psycopg's default queues every batch for a sender thread, so
        # memory would grow with the file whenever PostgreSQL ingests slower than we read.
        with (
            result.phase("read, validate, copy"),
            conn.cursor() as cur,
            cur.copy(copy_sql, writer=LibpqWriter(cur)) as cp,
        ):
            for table, geometry_name in batches(source, opts.batch_size):
                batch = normaliser.process(table, geometry_name, read)
                read += table.num_rows
                tally.add(batch.issues)
                if batch.issues:
                    lineage.write_rejects(batch.issues, batch.rejected, batch.geometry_wkt)
                result.rows_repaired += batch.repaired
                if batch.table.num_rows:
                    cp.write(_csv(batch.table, layer, base, opts.version))
                    if layer.partition:
                        delivered.update(pc.unique(batch.table.column(layer.partition)).drop_null().to_pylist())
                if progress:
                    progress(read, source.feature_count)
        result.rows_read = read
        result.encoding, result.encoding_note = decoder.label, decoder.note
        lineage.update(rows_read=read, encoding=decoder.label, encoding_note=decoder.note, source_crs=result.crs)
        with result.phase("keep other partitions"):
            kept = publish.carry_other_partitions(conn, layer, staging, delivered)
        with result.phase("primary key and spatial index"):
            for stmt in tables.index_statements(layer, "staging", staging)[:2]:  # needed by the checks
                conn.execute(stmt)
        with result.phase("keys and overlaps"):
            conn.execute(sql.SQL("analyze {}").format(staging_ident))  # the planner needs stats for the self-join
            set_issues, set_records, set_wkt = setchecks.run(
                conn, layer, staging_ident, base, opts.version.id if opts.version else None
            )
        if set_issues:
            tally.add(set_issues)
            lineage.write_rejects(set_issues, set_records, set_wkt)
        result.rows_rejected = len(tally.rejected_rows)
        result.rows_warned = len(tally.warned_rows - tally.rejected_rows)
        result.rows_loaded = read - result.rows_rejected
        result.rules = tally.summaries()
        if read == 0:
            raise FileRefused("file.no_features", f"{path.name} holds no features")
        ratio = result.rows_rejected / read
        if ratio > layer.rules.max_reject_ratio:
            raise LoadRefused(
                f"{result.rows_rejected} of {read} rows ({ratio:.1%}) were rejected, above the layer's "
                f"limit of {layer.rules.max_reject_ratio:.0%}; nothing was published. "
                f"See `bando rejects {layer.id}` and fix the source."
            )
        with result.phase("other indexes, analyze"):
            for stmt in tables.index_statements(layer, "staging", staging)[2:]:
                conn.execute(stmt)
            if opts.version:
                publish.carry_other_versions(conn, layer, staging, opts.version)
            conn.execute(sql.SQL("analyze {}").format(staging_ident))
        if opts.dry_run:
            conn.rollback()
            result.outcome = "dry-run"
            result.message = f"dry run: {result.rows_loaded} rows would be published; nothing was changed"
            return
        with result.phase("publish"):
            publish.swap(conn, layer, staging, result.lineage_id, srid, opts.version)  # type: ignore[arg-type]
            conn.commit()
        opendata.export_after_publish(layer, url, get_settings(), province)
    result.outcome = "published"
    result.message = f"published {result.rows_loaded} rows to data.{layer.table}"
    if kept:
        result.message += f" (kept {kept} rows of {layer.partition} values this delivery does not cover)"


def _csv(batch: pa.Table, layer: Layer, base: int, version: Version | None) -> bytes:
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
