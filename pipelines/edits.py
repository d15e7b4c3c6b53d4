"""The load's rules applied to features sent one by one (OGC API Features Part 4 writes).

An edit is held to exactly what a load checks, with the same rule codes: the row rules run
through the load's own :class:`~bando.pipelines.normalise.Normaliser` (types, domains and codes,
required fields, geometry validity and type, extent, area tolerance) on a one-batch "source"
made of the request's features; the set rules (unique key, overlaps) run in SQL against the
published table, like :mod:`bando.pipelines.setchecks` does on staging. The internal API gets
these functions from the composition root (``bando.cli.server``), never by importing pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import shapely
from psycopg import sql
from pyproj import CRS

from bando.layers.model import Layer
from bando.pipelines import setchecks
from bando.pipelines.geometry import hex_strings
from bando.pipelines.normalise import Issue, Normaliser
from bando.pipelines.sources import FileRefused, Source, SourceSpec
from bando.pipelines.text import TextDecoder

GEOMETRY = "_geometry"


@dataclass
class Checked:
    """The features as the table stores them (field values and ``geom`` as hex EWKB), and the findings."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]


def _column(values: list[Any]) -> pa.Array:
    """One property as an Arrow column; mixed JSON types go through text, as a CSV column would."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _geometry(feature: dict[str, Any]) -> bytes | None:
    geometry = feature.get("geometry")
    if not geometry:
        return None
    try:
        parsed = shapely.geometry.shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException):
        return None  # reported as geometry.missing, the load's rule for unreadable geometry
    return bytes(shapely.to_wkb(parsed))


def check_rows(
    layer: Layer,
    properties: list[dict[str, Any]],
    geometries: list[dict[str, Any] | None],
    crs: CRS | None,
    srid: int,
    extent: tuple[float, float, float, float] | None,
) -> Checked:
    """The row rules of a load, on the request's features; a whole-request refusal raises FileRefused."""
    names = [f.name for f in layer.fields]
    unknown = sorted({k for p in properties for k in p} - set(names))
    if unknown:
        raise FileRefused("field.unknown", f"{', '.join(unknown[:5])}: not a field of layer {layer.id!r}")
    columns = {n: _column([p.get(n) for p in properties]) for n in names if any(n in p for p in properties)}
    if layer.geometry:
        columns[GEOMETRY] = pa.array([_geometry({"geometry": g}) for g in geometries], type=pa.binary())
    table = pa.table(columns) if columns else pa.table({"_empty": pa.nulls(len(properties))})
    spec = SourceSpec(Path("request"), None, None, "utf-8", None, None)
    geometry_type = layer.geometry if layer.geometry else None
    source = Source(
        spec,
        "GeoJSON",
        None,
        crs,
        "declared",
        len(properties),
        [c for c in columns if c != GEOMETRY],
        geometry_type,
        None,
    )
    normaliser = Normaliser(layer, source, srid, extent, TextDecoder("utf-8", read_as_bytes=False))
    batch = normaliser.process(table, GEOMETRY if layer.geometry else None, 0)
    out = Checked(issues=list(batch.issues))
    if not out.errors:
        rows = batch.table.select(names)
        if layer.geometry:  # hex EWKB: what the edit statements' text COPY and ::geometry read
            rows = rows.append_column("geom", hex_strings(batch.table.column("geom").combine_chunks()))
        out.rows = rows.to_pylist()
    return out


def check_set(conn: psycopg.Connection, layer: Layer, fids: list[int]) -> list[Issue]:
    """Unique key and overlaps of the written features against the whole published table
    (the written rows are already in it, inside the edit's transaction)."""
    table = sql.Identifier("data", layer.table)
    issues: list[Issue] = []
    position = {fid: k for k, fid in enumerate(fids)}
    if layer.key:
        same = sql.SQL(" and ").join(sql.SQL("o.{k} = n.{k}").format(k=sql.Identifier(k)) for k in layer.key)
        shown = sql.SQL(", ").join(sql.SQL("n.{}").format(sql.Identifier(k)) for k in layer.key)
        for fid, other, key in conn.execute(
            sql.SQL(
                "select n.fid, o.fid, concat_ws(' / ', {shown}) from {t} n join {t} o on {same} and o.fid <> n.fid"
                " where n.fid = any(%s) order by n.fid, o.fid"
            ).format(t=table, same=same, shown=shown),
            (fids,),
        ).fetchall():
            issues.append(
                Issue(
                    position[fid],
                    "key.duplicate",
                    "error",
                    f"key {'+'.join(layer.key)} = {key} is already feature {other}",
                )
            )
    if setchecks.checks_overlaps(layer):
        for fid, other, area in conn.execute(
            sql.SQL(
                "select n.fid, o.fid, st_area(st_intersection(n.geom, o.geom)) from {t} n join {t} o"
                " on o.geom && n.geom and o.fid <> n.fid where n.fid = any(%s)"
                " and st_relate(n.geom, o.geom, '2********') order by n.fid, o.fid"
            ).format(t=table),
            (fids,),
        ).fetchall():
            if area > layer.rules.overlap_tolerance:
                issues.append(
                    Issue(
                        position[fid],
                        "geometry.overlap",
                        layer.rules.overlaps,
                        f"overlaps feature {other} by {area:.2f} m²",
                    )
                )
    return issues
