"""Rules over the whole layer, on the staging table once every row is in.

Unique keys need every row at once: PostgreSQL answers them in one sorted pass.
Overlaps are found by GEOS in this process (:mod:`bando.pipelines.overlaps`), reading
the staging table once in its physical order and checking each partition (commune)
as soon as its last row has been read, on two threads (shapely releases the GIL). The
later row (higher source index) of a clash is the one rejected, and the reason names
the row it clashed with.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import psycopg
import pyarrow as pa
import shapely
from psycopg import sql

from bando.layers.model import Layer
from bando.pipelines.normalise import Issue
from bando.pipelines.overlaps import Borders, Pair, Part, across, within

FETCH = 20_000  # rows per round trip of the streaming read
THREADS = 2


def run(
    conn: psycopg.Connection,
    layer: Layer,
    table: sql.Composable,
    base: int,
    version_id: str | None,
    row_name: Callable[[int], str] = lambda index: f"source row {index}",
) -> tuple[list[Issue], dict[int, dict], dict[int, str]]:
    """Find clashes, delete rejected rows from staging; return issues and their records."""
    issues: list[Issue] = []
    reject_fids: set[int] = set()

    def scope(alias: str | None = None) -> sql.Composable:
        if not version_id:
            return sql.SQL("true")
        col = sql.Identifier(alias, "version_id") if alias else sql.Identifier("version_id")
        return sql.SQL("{} = {}").format(col, sql.Literal(version_id))

    if layer.key:
        key = sql.SQL(", ").join(sql.Identifier(k) for k in layer.key)
        rows = conn.execute(
            sql.SQL(
                "select fid, first, key from (select fid, first_value(fid) over w as first,"
                " row_number() over w as rn, concat_ws(' / ', {key}) as key from {t} where {scope}"
                " window w as (partition by {key} order by fid)) d where rn > 1"
            ).format(key=key, t=table, scope=scope())
        ).fetchall()
        for fid, first, keytext in rows:
            reject_fids.add(fid)
            issues.append(
                Issue(
                    fid - base - 1,
                    "key.duplicate",
                    "error",
                    f"key {'+'.join(layer.key)} = {keytext} repeats {row_name(first - base - 1)}",
                )
            )
    if layer.geometry and layer.geometry.endswith("Polygon") and layer.rules.overlaps != "off":
        severity = layer.rules.overlaps
        for a, b, area in sorted(find_overlaps(conn, layer, table, base, scope())):
            if area <= layer.rules.overlap_tolerance or a in reject_fids or b in reject_fids:
                continue
            if severity == "error":
                reject_fids.add(b)
            issues.append(
                Issue(b - base - 1, "geometry.overlap", severity, f"overlaps {row_name(a - base - 1)} by {area:.2f} m²")
            )
    records: dict[int, dict] = {}
    wkt: dict[int, str] = {}
    if reject_fids:
        cols = sql.SQL(", ").join(sql.Identifier(f.name) for f in layer.fields)
        got = conn.execute(
            sql.SQL(
                "delete from {t} where fid = any(%s) returning fid, json_build_array({cols})::text, st_astext(geom)"
                if layer.geometry
                else "delete from {t} where fid = any(%s) returning fid, json_build_array({cols})::text, null"
            ).format(t=table, cols=cols),
            (sorted(reject_fids),),
        ).fetchall()
        names = [f.name for f in layer.fields]
        for fid, values, geom in got:
            records[fid - base - 1] = dict(zip(names, json.loads(values), strict=True))
            if geom:
                wkt[fid - base - 1] = geom
    return issues, records, wkt


def find_overlaps(
    conn: psycopg.Connection, layer: Layer, table: sql.Composable, base: int, scope: sql.Composable
) -> list[Pair]:
    """Every overlapping pair above the tolerance with at least one row newer than ``base``."""
    tol = layer.rules.overlap_tolerance
    part = sql.Identifier(layer.partition) if layer.partition else sql.SQL("null")
    stats = conn.execute(
        sql.SQL(
            "select k, n, top, st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from (select {p}::text as k,"
            " count(*) as n, max(fid) as top, st_extent(geom) as e from {t} where {scope} and geom is not null"
            " group by 1) s"
        ).format(p=part, t=table, scope=scope)
    ).fetchall()
    extents = {k: (x0, y0, x1, y1) for k, _, _, x0, y0, x1, y1 in stats}
    new = {k for k, _, top, *_ in stats if top > base}
    wanted = _with_neighbours(extents, new)
    counts = {k: n for k, n, *_ in stats if k in wanted}
    borders = Borders({k: extents[k] for k in wanted}, base, tol)
    found: list[Pair] = []
    pending: deque[Future] = deque()  # each partition: its own pairs and its band, in reading order
    crossing: list[Future] = []  # band against band, as soon as both are known
    with ThreadPoolExecutor(THREADS) as pool:

        def merge(future: Future) -> None:
            pairs, band = future.result()
            found.extend(pairs)
            crossing.extend(pool.submit(across, a, b, base, tol) for a, b in borders.add(band))

        for p in _partitions(conn, table, part, scope, counts):
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
    conn: psycopg.Connection, table: sql.Composable, part: sql.Composable, scope: sql.Composable, counts: dict
) -> Iterator[Part]:
    """Stream (key, fid, geometry) in physical order; yield each partition once its last row is read."""
    keys = [k for k in counts if k is not None]
    chunks: dict[Hashable, list[tuple[list[int], list[bytes]]]] = {}
    seen: dict[Hashable, int] = {}
    query = sql.SQL(
        "select {p}::text, fid, geom from {t} where {scope} and geom is not null"
        " and ({p}::text = any(%s) or ({p} is null and %s))"
    ).format(p=part, t=table, scope=scope)
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
                    yield Part(
                        k,
                        np.fromiter((f for c in parts for f in c[0]), dtype=np.int64),
                        pa.array([g for c in parts for g in c[1]], pa.binary()),
                    )
