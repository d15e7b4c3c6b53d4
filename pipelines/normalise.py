"""Normalise and validate one batch: names, text, types, geometry, row-level rules.

Everything here is vectorised (Arrow compute for attributes, shapely 2 for
geometry; see :mod:`bando.pipelines.attributes` and :mod:`bando.pipelines.geometry`) so a million
parcels stay fast; rules that need the whole layer (unique keys, overlaps) run later
in SQL on the staging table (:mod:`bando.pipelines.setchecks`). Each finding is an
:class:`Issue` with a stable rule code; an ``error`` rejects the row, a ``warning`` or
``note`` keeps it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS

from bando.crs import transformer
from bando.layers.model import Layer
from bando.pipelines.attributes import ARROW_TYPES, check_domain, coerce, is_text
from bando.pipelines.geometry import TYPE_ID, GeometryChecker, ewkb
from bando.pipelines.sources import FileRefused, Source
from bando.pipelines.text import TextDecoder


@dataclass(frozen=True)
class Issue:
    index: int  # row number in the source, from 0
    rule: str
    severity: str  # error | warning | note
    reason: str


@dataclass
class Batch:
    """The rows of one batch that passed, ready for COPY, and what was found."""

    table: pa.Table  # canonical columns + "_index" (+ "geom" as EWKB)
    issues: list[Issue]
    rejected: dict[int, dict]  # source index -> original record, for the rejects table
    geometry_wkt: dict[int, str] = field(default_factory=dict)
    repaired: int = 0
    bounds: np.ndarray | None = None  # (rows of ``table``) × (x0, y0, x1, y1) in the storage CRS; polygons at least


def map_fields(layer: Layer, columns: list[str]) -> dict[str, str]:
    """source column -> canonical field name, matching names and aliases case-insensitively."""
    lookup = {a.lower(): f.name for f in layer.fields for a in (f.name, *f.aliases)}
    mapping: dict[str, str] = {}
    for col in columns:
        canonical = lookup.get(col.lower())
        if canonical and canonical not in mapping.values():
            mapping[col] = canonical
    missing = [f for f in layer.fields if f.required and f.name not in mapping.values()]
    if missing:
        names = "; ".join(f"{f.name} (or {', '.join(f.aliases[:4])})" for f in missing)
        raise FileRefused(
            "required.missing_column",
            f"the source has no column for required field(s) {names}; its columns are: {', '.join(columns)}",
        )
    return mapping


class Normaliser:
    """Turns source batches into canonical, validated rows for one layer."""

    def __init__(
        self,
        layer: Layer,
        source: Source,
        storage_srid: int,
        extent: tuple[float, float, float, float] | None,
        decoder: TextDecoder,
    ) -> None:
        self.layer = layer
        self.source = source
        self.srid = storage_srid
        self.decoder = decoder
        self.mapping = map_fields(layer, source.columns)
        self.unmapped = [c for c in source.columns if c not in self.mapping]
        transform = None
        if layer.geometry and source.crs is not None:
            target = CRS.from_epsg(storage_srid)
            if not source.crs.equals(target, ignore_axis_order=True):
                t = transformer(source.crs, target)
                transform = lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))  # noqa: E731
        self.geometry = None
        if layer.geometry:
            crs_text = f"{source.crs_origin} CRS {source.crs.to_string() if source.crs else '?'}"
            self.geometry = GeometryChecker(layer, transform, extent, crs_text)

    def process(self, table: pa.Table, geometry_name: str | None, start: int) -> Batch:
        n = table.num_rows
        issues: list[Issue] = []
        error = np.zeros(n, dtype=bool)

        def flag(mask: np.ndarray, rule: str, severity: str, reason: Callable[[int], str]) -> None:
            mask = np.asarray(mask, dtype=bool)
            if severity == "error":
                mask = mask & ~error
            for k in np.flatnonzero(mask):
                issues.append(Issue(start + int(k), rule, severity, reason(int(k))))
            if severity == "error":
                error[mask] = True

        columns: dict[str, pa.Array] = {}
        self.prepare(table)
        for src, name in self.mapping.items():
            arr = table.column(src).combine_chunks()
            if is_text(arr):
                arr = self.decoder.decode_arrow(arr)
            columns[name] = coerce(arr, self.layer.field(name), flag)
        for f in self.layer.fields:
            if f.name not in columns:
                columns[f.name] = pa.nulls(n, ARROW_TYPES[f.type])
        for f in self.layer.fields:
            columns[f.name] = check_domain(columns[f.name], f, flag)
        repaired, wkt, bounds = 0, {}, None
        if self.geometry is not None:
            column = (
                table.column(geometry_name).combine_chunks()
                if geometry_name in table.column_names
                else pa.nulls(n, pa.binary())
            )
            source_wkb = column.to_numpy(zero_copy_only=False)
            geoms = shapely.from_wkb(source_wkb, on_invalid="ignore")
            checked = self.geometry.check(geoms, flag, error)
            repaired, bounds = checked.repaired, checked.bounds
            self._area_mismatch(columns, checked.areas, error, flag)
            multi_id = TYPE_ID[self.geometry.family][1] if self.geometry.multi else None
            columns["geom"] = ewkb(column, checked.geoms, checked.unchanged, self.srid, multi_id)
            wkt = self._original_wkt(source_wkb, error, start)
        rejected = self._rejected(table, geometry_name, error, start)
        columns["_index"] = pa.array(np.arange(start, start + n))
        out = pa.table(columns)
        if error.any():
            out = out.filter(pa.array(~error))
            bounds = bounds[~error] if bounds is not None else None
        return Batch(out, issues, rejected, wkt, repaired, bounds)

    def prepare(self, table: pa.Table) -> None:
        """Decide the text encoding from a batch, if not yet decided (before batches go to threads)."""
        if self.decoder.decided:
            return
        sample: list[str] = []
        for src in self.mapping:
            col = table.column(src)
            if is_text(col):
                sample += [v for v in col.slice(0, 500).to_pylist() if v]
        self.decoder.observe(sample)

    def _area_mismatch(
        self, columns: dict[str, pa.Array], areas: np.ndarray | None, error: np.ndarray, flag: Callable
    ) -> None:
        rules = self.layer.rules
        if not rules.area_field or areas is None:
            return
        declared = pc.cast(columns[rules.area_field], pa.float64()).to_numpy(zero_copy_only=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(areas - declared) / np.maximum(declared, 1e-9)
        off = ~error & ~np.isnan(declared) & (rel > rules.area_tolerance)
        flag(
            off,
            "area.mismatch",
            "warning",
            lambda k: (
                f"{rules.area_field} = {declared[k]:.1f} m² but the geometry measures {areas[k]:.1f} m² "
                f"in the TM-3 plane ({rel[k]:.0%} apart)"
            ),
        )

    @staticmethod
    def _original_wkt(source_wkb: np.ndarray, error: np.ndarray, start: int) -> dict[int, str]:
        out = {}
        for k in np.flatnonzero(error):
            w = source_wkb[k]
            parsed = shapely.from_wkb(w, on_invalid="ignore") if w else None
            out[start + int(k)] = shapely.to_wkt(parsed, rounding_precision=3) if parsed is not None else ""
        return out

    def _rejected(self, table: pa.Table, geometry_name: str | None, error: np.ndarray, start: int) -> dict[int, dict]:
        if not error.any():
            return {}
        keep = [c for c in table.column_names if c != geometry_name]
        rows = table.select(keep).take(pa.array(np.flatnonzero(error))).to_pylist()
        decode = self.decoder.decode
        return {
            start + int(k): {c: (decode(v) if isinstance(v, str) else _jsonable(v)) for c, v in row.items()}
            for k, row in zip(np.flatnonzero(error), rows, strict=True)
        }


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)


THREADS = 2  # batches normalised side by side


def normalised(
    normaliser: Normaliser, tables: Iterable[tuple[pa.Table, str | None]], start: int
) -> Iterator[tuple[int, Batch]]:
    """(rows read, normalised batch) for each source batch, in order, two batches being normalised
    on threads while the caller sends the one before: GEOS, Arrow and the compiled loops release
    the GIL, so a load uses both cores while PostgreSQL ingests."""
    with ThreadPoolExecutor(THREADS) as pool:
        pending: deque[tuple[int, Future[Batch]]] = deque()
        read = start
        for table, geometry_name in tables:
            normaliser.prepare(table)  # decided here, once, before threads read it
            pending.append((table.num_rows, pool.submit(normaliser.process, table, geometry_name, read)))
            read += table.num_rows
            if len(pending) > THREADS:
                n, job = pending.popleft()
                yield n, job.result()
        while pending:
            n, job = pending.popleft()
            yield n, job.result()
