"""``bando load``: extract → normalise → validate → COPY to staging → publish, accounted for.

The whole build and the swap run in ONE transaction on the work connection, so a
crash anywhere leaves the published layer as it was and no staging table behind
(PostgreSQL also skips WAL for a table created and filled in the same transaction
where ``wal_level = minimal``). Lineage and rejects go through a second connection
that commits as it goes, so they outlive a refused or killed run.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import psycopg
import pyarrow.compute as pc
from psycopg import sql

from bando import db
from bando.errors import BadInput, LoadRefused
from bando.layers import catalogue as catalogue_mod
from bando.layers import tables
from bando.layers.model import Layer
from bando.pipelines import delivery, opendata, parallel, partitions, publish, setchecks
from bando.pipelines.accounting import accounted
from bando.pipelines.cad.load import is_drawing, open_drawing
from bando.pipelines.lineage import Lineage
from bando.pipelines.normalise import Issue, Normaliser, normalised
from bando.pipelines.overlaps import Pair
from bando.pipelines.publish import Version
from bando.pipelines.report import FileResult, LoadResult, Tally
from bando.pipelines.rows import BinaryRows
from bando.pipelines.sources import FileRefused, Source, SourceSpec, batches, open_source
from bando.pipelines.spill import Spill
from bando.pipelines.text import decoder_for
from bando.province import Province
from bando.province import configured as configured_province
from bando.settings import Settings, get_settings

Progress = Callable[[int, int | None], None]
PhaseListener = Callable[[str, float | None], None]


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
    workers: int | None = None  # Dask workers (None: BANDO_LOAD_WORKERS; 1: in this process)
    scheduler: str | None = None  # a Dask scheduler's address (None: BANDO_DASK_SCHEDULER)
    downloads: bool = True  # write the open-data files once published (else `bando downloads` later)


ENCODINGS = ("auto", "utf-8", "tcvn3", "vni", "cp1258")


def run_load(
    layer_id: str,
    source: Path,
    options: LoadOptions | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    phases: PhaseListener | None = None,
) -> LoadResult:
    """Load one delivery (a file, a folder or a zip of files); ``progress`` hears rows, ``phases`` steps."""
    opts = options or LoadOptions()
    s = settings or get_settings()
    opts = replace(
        opts,
        workers=opts.workers or s.load_workers,
        scheduler=s.dask_scheduler if opts.scheduler is None else opts.scheduler,
    )
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
            listener=phases,
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
    result = accounted(
        layer.id,
        source,
        url=url,
        settings=s,
        province=province,
        catalogue_version=cat.version,
        version_id=version_id,
        force=opts.force,
        dry_run=opts.dry_run,
        listener=phases,
        build=lambda lineage, result: _build(
            layer, source, opts, url, srid, province, lineage, result, progress, s.home / "unpacked"
        ),
    )
    if opts.downloads and result.outcome == "published":  # the layer is live already; files follow
        with result.phase("open-data downloads"):
            opendata.export_after_publish(layer, url, s, province)
    return result


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
    scratch: Path,
) -> None:
    if not delivery.is_bundle(path):
        _build_files(layer, [path], path.parent, opts, url, srid, province, lineage, result, progress, scratch)
        return
    with delivery.unpacked(path, scratch) as folder:
        files, ignored = delivery.data_files(folder)
        if ignored:
            lineage.update(message=f"ignored {len(ignored)} file(s) bando does not read: {', '.join(ignored[:5])}")
        _build_files(layer, files, folder, opts, url, srid, province, lineage, result, progress, scratch)


def _open(
    layer: Layer, files: list[Path], folder: Path, opts: LoadOptions, lineage: Lineage, result: LoadResult
) -> list[tuple[str, Source]]:
    """Open every file before reading a row: a file-level defect refuses the whole delivery."""
    opened = []
    for f in files:
        spec = SourceSpec(f, opts.source_layer, opts.crs, opts.encoding, opts.x_column, opts.y_column)
        name = str(f.relative_to(folder))
        source = open_drawing(layer, spec, opts.profile, lineage, result) if is_drawing(f) else open_source(spec)
        if layer.geometry and not source.is_spatial:
            raise FileRefused(
                "geometry.missing", f"{name} has no geometry but layer {layer.id!r} is a {layer.geometry} layer"
            )
        opened.append((name, source))
    return opened


def _build_files(
    layer: Layer,
    files: list[Path],
    folder: Path,
    opts: LoadOptions,
    url: str,
    srid: int | None,
    province: Province,
    lineage: Lineage,
    result: LoadResult,
    progress: Progress | None,
    scratch: Path,
) -> None:
    opened = _open(layer, files, folder, opts, lineage, result)
    total = sum(s.feature_count or 0 for _, s in opened) if all(s.feature_count for _, s in opened) else None
    extent = province.bbox_in(srid) if (srid and layer.rules.extent == "province") else None
    staging = f"{layer.table}_{result.lineage_id}"
    tally = Tally()
    spread = (
        bool(opts.scheduler or (opts.workers or 1) > 1)
        and total is not None
        and not any(s.prebuilt is not None for _, s in opened)  # drawings are built here, in memory
    )
    # the overlap check's own copy of the delivered rows (workers of a spread load COPY theirs)
    spill = Spill(scratch) if setchecks.checks_overlaps(layer) and not spread else None
    try:
        with psycopg.connect(url) as conn:  # one transaction: everything or nothing
            if spread:
                parallel.sweep(conn, layer)
                conn.commit()
                parallel.create_staging(url, layer, staging, srid)
            conn.execute("set local statement_timeout = 0")
            conn.execute("set local jit = off")  # its compile time is wasted on index builds and sorts
            base = publish.next_fid_base(conn, layer, opts.version)
            checks = SetChecks(conn, url, layer, staging, base, opts.version.id if opts.version else None, spill)
            if spread:
                job = parallel.Job(
                    layer, url, srid, extent, staging, base, opts.version, result.lineage_id or 0, [], opts.batch_size
                )
                with result.phase("read, validate, copy"):
                    read, delivered = _read_spread(job, opened, opts, lineage, result, tally, progress, total)
            else:
                conn.execute(tables.create_table(layer, "staging", staging, srid))
                with result.phase("read, validate, copy"):
                    read, delivered = _read_here(checks, opened, opts, srid, extent, lineage, result, tally, progress)
            _check_and_publish(checks, opts, srid, read, delivered, lineage, result, tally)
    finally:
        if spill is not None:
            spill.close()
        if spread:
            parallel.drop_staging(url, staging)  # already gone when published (renamed into data)


def _read_here(
    checks: SetChecks,
    opened: list[tuple[str, Source]],
    opts: LoadOptions,
    srid: int | None,
    extent: tuple[float, float, float, float] | None,
    lineage: Lineage,
    result: LoadResult,
    tally: Tally,
    progress: Progress | None,
) -> tuple[int, set]:
    """Read every file in this process, COPYing into staging in the load's own transaction
    (and keeping the overlap check's copy of the rows)."""
    layer, base, spill = checks.layer, checks.base, checks.spill
    total = sum(s.feature_count or 0 for _, s in opened) if all(s.feature_count for _, s in opened) else None
    rows = BinaryRows(layer, base, opts.version)
    read = 0
    delivered: set = set()  # partition values (communes) this delivery covers
    with checks.conn.cursor() as cur, rows.copy(cur, checks.table) as send:
        for name, source in opened:
            fr = FileResult(name, read, crs=_crs_text(source))
            result.files.append(fr)
            lineage.files.append((read, name))
            decoder = decoder_for(source, opts.encoding)
            normaliser = Normaliser(layer, source, srid or 4326, extent, decoder)
            for rows_read, batch in normalised(normaliser, batches(source, opts.batch_size), read):
                read += rows_read
                tally.add(batch.issues)
                if batch.issues:
                    lineage.write_rejects(batch.issues, batch.rejected, batch.geometry_wkt)
                result.rows_repaired += batch.repaired
                if batch.table.num_rows:
                    send(batch.table)
                    keys = batch.table.column(layer.partition) if layer.partition else None
                    if keys is not None:
                        delivered.update(pc.unique(keys).drop_null().to_pylist())
                    if spill is not None and batch.bounds is not None:
                        fids = batch.table.column("_index").to_numpy() + base + 1
                        spill.add(keys, fids, batch.table.column("geom").combine_chunks(), batch.bounds)
                if progress:
                    progress(read, total)
            fr.rows_read = read - fr.first_index
            fr.encoding, fr.encoding_note = decoder.label, decoder.note
    return read, delivered


def _read_spread(
    job: parallel.Job,
    opened: list[tuple[str, Source]],
    opts: LoadOptions,
    lineage: Lineage,
    result: LoadResult,
    tally: Tally,
    progress: Progress | None,
    total: int | None,
) -> tuple[int, set]:
    """Read the pieces of the delivery on Dask workers, each COPYing into the committed staging table."""
    first, start = [], 0
    for name, source in opened:
        first.append(start)
        result.files.append(FileResult(name, start, crs=_crs_text(source)))
        lineage.files.append((start, name))
        start += source.feature_count or 0
    job.files = list(lineage.files)
    todo = parallel.pieces(opened, first, opts.workers or 1)
    staged = parallel.run(
        job, todo, opts.scheduler or "", opts.workers or 1, (lambda n: progress(n, total)) if progress else None
    )
    delivered: set = set()
    by_file = {f.name: f for f in result.files}
    for piece in staged:
        tally.merge(piece.tally)
        delivered |= piece.delivered
        result.rows_repaired += piece.repaired
        fr = by_file[piece.name]
        fr.rows_read += piece.read
        fr.encoding, fr.encoding_note = piece.encoding, piece.note
    return sum(p.read for p in staged), delivered


@dataclass
class SetChecks:
    """What the set checks of one load work on: its connection and staging table, and its rows' spill."""

    conn: psycopg.Connection
    url: str
    layer: Layer
    staging: str
    base: int
    version_id: str | None
    spill: Spill | None
    indexed: int = 0  # how many of the layer's index statements have run
    analyzed: bool = False

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier("staging", self.staging)

    @cached_property
    def statements(self) -> list[sql.Composed]:
        """The staging table's index statements: primary key and spatial index first."""
        return tables.index_statements(self.layer, "staging", self.staging)

    def run(self, kept: bool, row_name: Callable[[int], str]) -> tuple[list[Issue], set[int]]:
        """Keys and overlaps while PostgreSQL builds the indexes: the load's connection (on a thread)
        builds the primary key and spatial index, then the other indexes (unless the table will be
        rebuilt by month): when the key's unique index builds, no key repeats (its fields are
        required, so never null); when it fails, a query names the repeated rows, which are
        deleted before the index is built again; a table complete with its indexes is analysed
        there too (a few rows deleted for overlaps later do not change its statistics). Overlaps
        are found here meanwhile, from the spill and the published rows of bordering kept
        partitions. Returns the issues and the rejected fids; ``indexed`` and ``analyzed`` say
        what is left to do."""
        statements, conn, layer = self.statements, self.conn, self.layer

        def rest() -> None:
            for stmt in statements[2:]:
                conn.execute(stmt)
            self.indexed = len(statements)
            if not layer.versioned:  # a versioned layer's other versions join after the checks
                conn.execute(sql.SQL("analyze {}").format(self.table))
                self.analyzed = True

        def server() -> tuple[list[Issue], set[int]]:
            for stmt in statements[:2]:
                conn.execute(stmt)
            self.indexed = 2
            if not layer.monthly and all(layer.field(k).required for k in layer.key):
                try:  # the unique index proves there is no repeated key; the query is only run when it fails
                    with conn.transaction():
                        rest()
                    return [], set()
                except psycopg.errors.UniqueViolation:
                    self.indexed, self.analyzed = 2, False
            issues, rejected = setchecks.duplicate_keys(conn, layer, self.table, self.base, self.version_id, row_name)
            if not rejected and not layer.monthly:
                rest()
            return issues, rejected

        pairs: list[Pair] = []
        if self.spill is None:  # a spread load: its rows are in staging only, locked by the index build
            issues, rejected = server()
            if setchecks.checks_overlaps(layer):
                where = setchecks.scope(self.version_id)
                pairs = setchecks.find_overlaps(conn, layer, self.table, self.base, where)
        else:
            with ThreadPoolExecutor(1) as pool:
                job = pool.submit(server)
                try:  # a spill is kept only where overlaps are checked
                    with psycopg.connect(self.url) as side:
                        pairs = setchecks.delivered_overlaps(side, layer, self.spill, self.base, self.version_id, kept)
                except BaseException:
                    conn.cancel()  # stop the index build at once
                    raise
                issues, rejected = job.result()
        issues += setchecks.overlap_issues(layer, pairs, self.base, rejected, row_name)
        return issues, rejected


def _check_and_publish(
    checks: SetChecks,
    opts: LoadOptions,
    srid: int | None,
    read: int,
    delivered: set,
    lineage: Lineage,
    result: LoadResult,
    tally: Tally,
) -> None:
    """Set checks, indexes and the swap, in the load's transaction; refuses above the reject limit."""
    conn, layer, staging, base = checks.conn, checks.layer, checks.staging, checks.base
    result.rows_read = read
    _summarise_files(result)
    lineage.update(
        rows_read=read,
        encoding=result.encoding,
        encoding_note=result.encoding_note,
        source_crs=result.crs,
        files=[asdict(f) for f in result.files],
    )
    with result.phase("keep other partitions"):
        kept = publish.carry_other_partitions(conn, layer, staging, delivered)
    with result.phase("keys, overlaps and indexes"):
        set_issues, rejected = checks.run(kept > 0, _row_name(result.files))
        set_records, set_wkt = setchecks.delete_rejected(conn, layer, checks.table, base, rejected)
    if set_issues:
        tally.add(set_issues)
        lineage.write_rejects(set_issues, set_records, set_wkt)
    result.rows_rejected = len(tally.rejected_rows)
    result.rows_warned = len(tally.warned_rows - tally.rejected_rows)
    result.rows_loaded = read - result.rows_rejected
    result.rules = tally.summaries()
    _file_counts(result, tally.rejected_rows)
    lineage.update(files=[asdict(f) for f in result.files])
    if read == 0:
        raise FileRefused("file.no_features", f"{Path(result.source).name} holds no features")
    ratio = result.rows_rejected / read
    if ratio > layer.rules.max_reject_ratio:
        raise LoadRefused(
            f"{result.rows_rejected} of {read} rows ({ratio:.1%}) were rejected, above the layer's "
            f"limit of {layer.rules.max_reject_ratio:.0%}; nothing was published. "
            f"See `bando rejects {layer.id}` and fix the source."
        )
    if layer.monthly:
        with result.phase("partition by month"):
            partitions.partition_staging(conn, layer, staging)
    with result.phase("other indexes, analyze"):
        for stmt in checks.statements[checks.indexed :]:
            conn.execute(stmt)
        if opts.version:
            publish.carry_other_versions(conn, layer, staging, opts.version)
        if not checks.analyzed:
            conn.execute(sql.SQL("analyze {}").format(checks.table))
    if opts.dry_run:
        conn.rollback()
        result.outcome = "dry-run"
        result.message = f"dry run: {result.rows_loaded} rows would be published; nothing was changed"
        return
    with result.phase("publish"):
        publish.swap(conn, layer, staging, result.lineage_id, srid, opts.version)  # type: ignore[arg-type]
        conn.commit()
    result.outcome = "published"
    result.message = f"published {result.rows_loaded} rows to data.{layer.table}"
    if len(result.files) > 1:
        result.message += f" from {len(result.files)} files"
    if kept:
        result.message += f" (kept {kept} rows of {layer.partition} values this delivery does not cover)"


def _crs_text(source: Source) -> str | None:
    crs = source.crs.to_string() if source.crs else None
    if source.crs_note and crs:
        crs += f" ({source.crs_note})"
    return crs


def _summarise_files(result: LoadResult) -> None:
    """The delivery's CRS and encoding: the files' own when they agree, else how many of each."""
    for attr in ("crs", "encoding"):
        values = Counter(getattr(f, attr) for f in result.files)
        if len(values) == 1:
            setattr(result, attr, next(iter(values)))
        else:
            setattr(result, attr, "mixed: " + ", ".join(f"{n} × {v or '—'}" for v, n in values.most_common()))
    notes = {f.encoding_note for f in result.files if f.encoding_note}
    if len(notes) <= 1 and not (result.encoding or "").startswith("mixed"):
        result.encoding_note = next(iter(notes), None)
    else:
        result.encoding_note = f"each file's encoding detected on its own ({result.encoding})"


def _file_counts(result: LoadResult, rejected: set[int]) -> None:
    starts = np.array([f.first_index for f in result.files], dtype=np.int64)
    per_file = np.bincount(
        np.searchsorted(starts, np.fromiter(rejected, dtype=np.int64, count=len(rejected)), side="right") - 1,
        minlength=len(starts),
    )
    for f, n in zip(result.files, per_file, strict=True):
        f.rows_rejected = int(n)
        f.rows_loaded = f.rows_read - f.rows_rejected


def _row_name(files: list[FileResult]) -> Callable[[int], str]:
    """How a finding names another row: 'source row N' for one file, 'row N of FILE' for many."""
    if len(files) <= 1:
        return lambda index: f"source row {index}"
    starts = [f.first_index for f in files]

    def name(index: int) -> str:
        f = files[bisect_right(starts, index) - 1]
        return f"row {index - f.first_index} of {f.name}"

    return name
