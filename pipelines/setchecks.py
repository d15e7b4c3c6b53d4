"""Rules over the whole layer, on the staging table once every row is in.

Unique keys need every row at once: PostgreSQL answers them in one sorted pass.
Overlaps are found by GEOS in this process (:mod:`bando.pipelines.overlaps`), each
partition (commune) as soon as its last row is known, on two threads (the compiled
bound and shapely release the GIL). A load hands them its own copy of the delivered
rows (:mod:`bando.pipelines.spill`) so PostgreSQL can build the indexes meanwhile;
kept partitions that border the delivered ones are read from the published table.
The later row (higher source index) of a clash is the one rejected, and the reason
names the row it clashed with.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain

import numpy as np
import psycopg
import pyarrow as pa
import shapely
from psycopg import sql

from bando.layers.model import Layer
from bando.pipelines.normalise import Issue
from bando.pipelines.overlaps import Borders, Pair, Part, across, within
from bando.pipelines.spill import Box, Spill

FETCH = 20_000  # rows per round trip of the streaming read
THREADS = 2
RowName = Callable[[int], str]


@dataclass
class Rows:
    """Where partitions' rows come from: each one's row count, highest fid and extent, and the rows."""

    stats: dict[Hashable, tuple[int, int, Box]]
    parts: Callable[[set[Hashable]], Iterator[tuple[Hashable, np.ndarray, pa.Array]]]


def checks_overlaps(layer: Layer) -> bool:
    return bool(layer.geometry and layer.geometry.endswith("Polygon") and layer.rules.overlaps != "off")


def scope(version_id: str | None, alias: str | None = None) -> sql.Composable:
    """The rows a check covers: a versioned layer's delivered version, else all."""
    if not version_id:
        return sql.SQL("true")
    col = sql.Identifier(alias, "version_id") if alias else sql.Identifier("version_id")
    return sql.SQL("{} = {}").format(col, sql.Literal(version_id))


def duplicate_keys(
    conn: psycopg.Connection, layer: Layer, table: sql.Composable, base: int, version_id: str | None, row_name: RowName
) -> tuple[list[Issue], set[int]]:
    """Rows repeating an earlier row's key: their issues and fids."""
    issues: list[Issue] = []
    rejected: set[int] = set()
    if not layer.key:
        return issues, rejected
    key = sql.SQL(", ").join(sql.Identifier(k) for k in layer.key)
    rows = conn.execute(
        sql.SQL(
            "select fid, first, key from (select fid, first_value(fid) over w as first,"
            " row_number() over w as rn, concat_ws(' / ', {key}) as key from {t} where {scope}"
            " window w as (partition by {key} order by fid)) d where rn > 1"
        ).format(key=key, t=table, scope=scope(version_id))
    ).fetchall()
    for fid, first, keytext in rows:
        rejected.add(fid)
        reason = f"key {'+'.join(layer.key)} = {keytext} repeats {row_name(first - base - 1)}"
        issues.append(Issue(fid - base - 1, "key.duplicate", "error", reason))
    return issues, rejected


def overlap_issues(layer: Layer, pairs: list[Pair], base: int, rejected: set[int], row_name: RowName) -> list[Issue]:
    """An issue for the later row of each pair above the tolerance; errors add to ``rejected``."""
    issues: list[Issue] = []
    severity = layer.rules.overlaps
    for a, b, area in sorted(pairs):
        if area <= layer.rules.overlap_tolerance or a in rejected or b in rejected:
            continue
        if severity == "error":
            rejected.add(b)
        issues.append(
            Issue(b - base - 1, "geometry.overlap", severity, f"overlaps {row_name(a - base - 1)} by {area:.2f} m²")
        )
    return issues


def delete_rejected(
    conn: psycopg.Connection, layer: Layer, table: sql.Composable, base: int, rejected: set[int]
) -> tuple[dict[int, dict], dict[int, str]]:
    """Delete the rejected rows from staging; their records and WKT, by source index, for the rejects table."""
    records: dict[int, dict] = {}
    wkt: dict[int, str] = {}
    if not rejected:
        return records, wkt
    cols = sql.SQL(", ").join(sql.Identifier(f.name) for f in layer.fields)
    got = conn.execute(
        sql.SQL(
            "delete from {t} where fid = any(%s) returning fid, json_build_array({cols})::text, st_astext(geom)"
            if layer.geometry
            else "delete from {t} where fid = any(%s) returning fid, json_build_array({cols})::text, null"
        ).format(t=table, cols=cols),
        (sorted(rejected),),
    ).fetchall()
    names = [f.name for f in layer.fields]
    for fid, values, geom in got:
        records[fid - base - 1] = dict(zip(names, json.loads(values), strict=True))
        if geom:
            wkt[fid - base - 1] = geom
    return records, wkt


def find_overlaps(
    conn: psycopg.Connection, layer: Layer, table: sql.Composable, base: int, where: sql.Composable
) -> list[Pair]:
    """Every overlapping pair above the tolerance in a table, with at least one row newer than ``base``."""
    return overlaps_among([table_rows(conn, table, layer.partition, where)], base, layer.rules.overlap_tolerance)


def delivered_overlaps(
    side: psycopg.Connection, layer: Layer, spill: Spill, base: int, version_id: str | None, kept: bool
) -> list[Pair]:
    """Overlaps of a delivery (its spill) with itself and with the kept partitions that border
    it, read from the published table. ``side`` is not the load's connection, which is busy
    building indexes meanwhile (and holds staging locked)."""
    where = scope(version_id)
    new = Rows(spill.stats, spill.parts)
    sources = [new]
    if kept:
        live = table_rows(side, sql.Identifier("data", layer.table), layer.partition, where)
        live.stats = {k: v for k, v in live.stats.items() if k not in new.stats}
        sources.append(live)
    return overlaps_among(sources, base, layer.rules.overlap_tolerance)


def table_rows(conn: psycopg.Connection, table: sql.Composable, partition: str | None, where: sql.Composable) -> Rows:
    """A table's partitions: counted in one query, streamed in physical order when asked for."""
    part = sql.Identifier(partition) if partition else sql.SQL("null")
    stats = conn.execute(
        sql.SQL(
            "select k, n, top, st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from (select {p}::text as k,"
            " count(*) as n, max(fid) as top, st_extent(geom) as e from {t} where {where} and geom is not null"
            " group by 1) s"
        ).format(p=part, t=table, where=where)
    ).fetchall()
    found = {k: (n, top, (x0, y0, x1, y1)) for k, n, top, x0, y0, x1, y1 in stats}
    return Rows(found, lambda wanted: _partitions(conn, table, part, where, {k: found[k][0] for k in wanted}))


def overlaps_among(sources: list[Rows], base: int, tol: float) -> list[Pair]:
    """Pairs within the partitions holding new rows, and across to any partition whose extent meets theirs."""
    stats = {k: v for s in sources for k, v in s.stats.items()}
    extents = {k: box for k, (_, _, box) in stats.items()}
    new = {k for k, (_, top, _) in stats.items() if top > base}
    wanted = _with_neighbours(extents, new)
    parts = chain.from_iterable(s.parts(wanted & s.stats.keys()) for s in sources)
    return search((Part(k, fids, wkb) for k, fids, wkb in parts), {k: extents[k] for k in wanted}, base, tol)


def search(parts: Iterable[Part], extents: dict[Hashable, Box], base: int, tol: float) -> list[Pair]:
    """Each partition's own pairs and its border band against its neighbours' bands, on the pool's threads."""
    borders = Borders(extents, base, tol)
    found: list[Pair] = []
    pending: deque[Future] = deque()  # each partition: its own pairs and its band, in reading order
    crossing: list[Future] = []  # band against band, as soon as both are known
    with ThreadPoolExecutor(THREADS) as pool:

        def merge(future: Future) -> None:
            pairs, band = future.result()
            found.extend(pairs)
            crossing.extend(pool.submit(across, a, b, base, tol) for a, b in borders.add(band))

        for p in parts:
            pending.append(pool.submit(_one, p, borders, base, tol))
            while len(pending) > 2 * THREADS:
                merge(pending.popleft())
        while pending:
            merge(pending.popleft())
        for f in crossing:
            found.extend(f.result())
    return found


def _one(p: Part, borders: Borders, base: int, tol: float) -> tuple[list[Pair], Part]:
    return within(p, base, tol), borders.band(p)


def _with_neighbours(extents: dict, new: set) -> set:
    """The delivered partitions and the kept ones whose extent reaches one of them."""
    if not new or len(new) == len(extents):
        return set(new)
    keys = list(extents)
    boxes = shapely.box(*np.array([extents[k] for k in keys], dtype=float).T)
    fresh = [n for n, k in enumerate(keys) if k in new]
    _, hit = shapely.STRtree(boxes).query(boxes[fresh])
    return set(new) | {keys[n] for n in hit}


def _partitions(
    conn: psycopg.Connection, table: sql.Composable, part: sql.Composable, where: sql.Composable, counts: dict
) -> Iterator[tuple[Hashable, np.ndarray, pa.Array]]:
    """Stream (key, fid, geometry) in physical order; yield each partition once its last row is read."""
    if not counts:
        return
    keys = [k for k in counts if k is not None]
    chunks: dict[Hashable, list[tuple[list[int], list[bytes]]]] = {}
    seen: dict[Hashable, int] = {}
    query = sql.SQL(
        "select {p}::text, fid, geom from {t} where {where} and geom is not null"
        " and ({p}::text = any(%s) or ({p} is null and %s))"
    ).format(p=part, t=table, where=where)
    with conn.cursor(name="bando_overlaps", binary=True) as cur:
        cur.itersize = FETCH
        cur.execute(query, (keys, None in counts))
        while rows := cur.fetchmany(FETCH):
            block: dict[Hashable, tuple[list[int], list[bytes]]] = {}
            for k, fid, geom in rows:
                got = block.get(k)
                if got is None:
                    got = block[k] = ([], [])
                got[0].append(fid)
                got[1].append(geom)
            for k, (fids, geoms) in block.items():
                chunks.setdefault(k, []).append((fids, geoms))
                seen[k] = seen.get(k, 0) + len(fids)
                if seen[k] == counts[k]:
                    parts = chunks.pop(k)
                    yield (
                        k,
                        np.fromiter((f for c in parts for f in c[0]), dtype=np.int64),
                        pa.array([g for c in parts for g in c[1]], pa.large_binary()),
                    )
