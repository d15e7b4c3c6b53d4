"""Rules over the whole layer, answered by PostGIS on the indexed staging table.

Unique keys and overlaps need every row at once; in SQL they cost one pass over the
GiST index instead of holding a million keys or geometries in Python memory. The
later row (higher source index) of a clash is the one rejected, and the reason names
the row it clashed with.
"""

from __future__ import annotations

import json

import psycopg
from psycopg import sql

from bando.layers.model import Layer
from bando.pipelines.normalise import Issue


def run(
    conn: psycopg.Connection, layer: Layer, table: sql.Composable, base: int, version_id: str | None
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
                    f"key {'+'.join(layer.key)} = {keytext} repeats source row {first - base - 1}",
                )
            )
    if layer.geometry and layer.geometry.endswith("Polygon") and layer.rules.overlaps != "off":
        # Only overlaps above the tolerance come back: digitising noise between neighbours can
        # be a million pairs, which must not be held in memory.
        rows = conn.execute(
            sql.SQL(
                "select * from (select a.fid as a, b.fid as b, st_area(st_intersection(a.geom, b.geom)) as area"
                " from {t} a join {t} b on a.geom && b.geom and a.fid < b.fid"
                " where {scope_a} and {scope_b} and (a.fid > %s or b.fid > %s) and st_relate(a.geom, b.geom, '2********')"
                " offset 0) o where area > %s order by a, b"  # offset 0: area only for pairs relate kept
            ).format(t=table, scope_a=scope("a"), scope_b=scope("b")),
            (base, base, layer.rules.overlap_tolerance),
        ).fetchall()
        severity = layer.rules.overlaps
        for a, b, area in rows:
            if area <= layer.rules.overlap_tolerance or a in reject_fids or b in reject_fids:
                continue
            if severity == "error":
                reject_fids.add(b)
            issues.append(
                Issue(
                    b - base - 1, "geometry.overlap", severity, f"overlaps source row {a - base - 1} by {area:.2f} m²"
                )
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
