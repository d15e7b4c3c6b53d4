"""Partitioned, parallel staging on Dask: each worker reads, validates and COPYs its own piece.

A delivery is cut into pieces — a file each, and a large file into row ranges — and
``dask.distributed`` runs them on a ``LocalCluster`` (``BANDO_LOAD_WORKERS``) or on
a cluster of machines (``BANDO_DASK_SCHEDULER``). Workers COPY into one staging table
that must therefore be committed first; each piece is one transaction of its own,
so a worker that dies leaves nothing of its piece. A piece is never retried
(``allowed-failures: 0``): a worker that died after its commit but before it
reported would otherwise load its rows twice. The set checks and the publish stay
in the load's one transaction; the staging table is dropped whatever happens, and
one left by a killed load is swept by the next load of the layer.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pyarrow.compute as pc
from psycopg import sql

from bando.layers import tables
from bando.layers.model import Layer
from bando.pipelines.attributes import is_text
from bando.pipelines.lineage import Lineage
from bando.pipelines.normalise import Normaliser, normalised
from bando.pipelines.publish import Version
from bando.pipelines.report import Tally
from bando.pipelines.rows import BinaryRows
from bando.pipelines.sources import Source, SourceSpec, batches, open_source
from bando.pipelines.text import decoder_for

MIN_PIECE = 50_000  # rows: smaller pieces cost more in scheduling than they gain


class WorkerLost(Exception):
    """A Dask worker died (or the cluster went away) while staging a piece: the load fails whole."""


@dataclass
class Piece:
    """Rows [skip, skip + count) of one file; ``first_index`` numbers its first row in the delivery."""

    name: str
    spec: SourceSpec
    first_index: int
    skip: int
    count: int | None
    encoding: str | None = None  # decided once per file, so every piece decodes alike
    note: str | None = None


@dataclass
class Job:
    """What every piece of one load shares."""

    layer: Layer
    url: str
    srid: int | None
    extent: tuple[float, float, float, float] | None
    staging: str
    base: int
    version: Version | None
    lineage_id: int
    files: list[tuple[int, str]]
    batch_size: int


@dataclass
class Staged:
    """What a piece did: rows read, findings (as a tally), partitions delivered."""

    name: str
    read: int
    repaired: int
    tally: Tally
    delivered: set = field(default_factory=set)
    encoding: str | None = None
    note: str | None = None


def pieces(opened: list[tuple[str, Source]], first: list[int], workers: int) -> list[Piece]:
    """Every file a piece; a file larger than its share of the delivery cut into row ranges."""
    total = sum(s.feature_count or 0 for _, s in opened)
    size = max(MIN_PIECE, math.ceil(total / (2 * workers)))
    out: list[Piece] = []
    for (name, source), start in zip(opened, first, strict=True):
        n = source.feature_count
        if not n or n <= size or (source.driver == "CSV" and source.read_encoding):
            out.append(Piece(name, source.spec, start, 0, None))
            continue
        encoding, note = _decide(source)
        for skip in range(0, n, size):
            out.append(Piece(name, source.spec, start + skip, skip, min(size, n - skip), encoding, note))
    return out


def _decide(source: Source) -> tuple[str | None, str | None]:
    """The file's text encoding from its first rows, so that every piece of it decodes alike."""
    decoder = decoder_for(source, source.spec.encoding)
    for table, _ in batches(source, 2000, 0, 2000):
        text = [c for c in table.column_names if c in source.columns and is_text(table.column(c))]
        decoder.observe(v for c in text for v in table.column(c).to_pylist() if v)
    return decoder.encoding, decoder.note


def stage(piece: Piece, job: Job) -> Staged:
    """Run on a Dask worker: read, validate and COPY one piece in a transaction of its own."""
    source = open_source(piece.spec)
    decoder = decoder_for(source, piece.spec.encoding)
    if piece.encoding is not None:
        decoder.encoding, decoder.note = piece.encoding, piece.note
    normaliser = Normaliser(job.layer, source, job.srid or 4326, job.extent, decoder)
    lineage = Lineage(job.url, job.layer.id)
    lineage.id, lineage.files = job.lineage_id, job.files
    staged = Staged(piece.name, 0, 0, Tally())
    rows = BinaryRows(job.layer, job.base, job.version)
    try:
        with psycopg.connect(job.url) as conn, conn.cursor() as cur:
            with rows.copy(cur, sql.Identifier("staging", job.staging)) as send:
                pieces = batches(source, job.batch_size, piece.skip, piece.count)
                for rows_read, batch in normalised(normaliser, pieces, piece.first_index):
                    staged.read += rows_read
                    staged.tally.add(batch.issues)
                    if batch.issues:
                        lineage.write_rejects(batch.issues, batch.rejected, batch.geometry_wkt)
                    staged.repaired += batch.repaired
                    if batch.table.num_rows:
                        send(batch.table)
                        if job.layer.partition:
                            column = batch.table.column(job.layer.partition)
                            staged.delivered.update(pc.unique(column).drop_null().to_pylist())
            conn.commit()
    finally:
        lineage.close()
    staged.encoding, staged.note = decoder.label, decoder.note
    return staged


@contextmanager
def client(scheduler: str, workers: int) -> Iterator[Any]:
    """A Dask client: on the given scheduler, or on a LocalCluster of ``workers`` processes."""
    import dask
    from dask.distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        if scheduler:
            with Client(scheduler) as c:
                yield c
            return
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as c,
        ):
            yield c


def run(
    job: Job, todo: list[Piece], scheduler: str, workers: int, progress: Callable[[int], None] | None
) -> list[Staged]:
    """Stage every piece in parallel; results in the pieces' order; the first failure stops the load."""
    from dask.distributed import as_completed
    from distributed.scheduler import KilledWorker

    with client(scheduler, workers) as c:
        futures = [c.submit(stage, p, job, pure=False) for p in todo]
        position = {f.key: n for n, f in enumerate(futures)}
        done: list[Staged | None] = [None] * len(todo)
        read = 0
        try:
            for future in as_completed(futures):
                staged = future.result()  # a worker's death or error raises here
                done[position[future.key]] = staged
                read += staged.read
                if progress:
                    progress(read)
        except (KilledWorker, OSError) as exc:
            c.cancel(futures)
            piece = todo[position[future.key]].name if isinstance(exc, KilledWorker) else "a piece"
            raise WorkerLost(f"a Dask worker stopped while staging {piece}") from None
        except BaseException:
            c.cancel(futures)
            raise
    return [s for s in done if s is not None]


def create_staging(url: str, layer: Layer, staging: str, srid: int | None) -> None:
    """The shared staging table, committed so that every worker's connection sees it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(tables.create_table(layer, "staging", staging, srid))


def drop_staging(url: str, staging: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("staging", staging)))


def sweep(conn: psycopg.Connection, layer: Layer) -> list[str]:
    """Drop staging tables left by killed parallel loads of this layer (the caller holds its load lock)."""
    pattern = re.compile(rf"^{re.escape(layer.table)}_\d+$")
    names = [
        n
        for (n,) in conn.execute("select tablename from pg_tables where schemaname = 'staging'").fetchall()
        if pattern.match(n)
    ]
    for n in names:
        conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier("staging", n)))
    return names
