"""Normalise and validate one batch: names, text, types, geometry, row-level rules.

Everything here is vectorised (pandas, shapely 2) so a million parcels stay fast;
rules that need the whole layer (unique keys, overlaps) run later in SQL on the
staging table (:mod:`pipelines.setchecks`). Each finding is an :class:`Issue` with a
stable rule code; an ``error`` rejects the row, a ``warning`` or ``note`` keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS

from bando.codes import land_use_codes, legacy_codes
from bando.crs import transformer
from layers.model import Layer, LayerField
from pipelines.sources import FileRefused, Source
from pipelines.text import TextDecoder

FAMILY = {"Point": "Point", "MultiPoint": "Point", "LineString": "LineString",
          "MultiLineString": "LineString", "Polygon": "Polygon", "MultiPolygon": "Polygon"}  # fmt: skip
MULTI = {"Point": shapely.multipoints, "LineString": shapely.multilinestrings,
         "Polygon": shapely.multipolygons}  # fmt: skip
TYPE_ID = {"Point": (0, 4), "LineString": (1, 5), "Polygon": (3, 6)}  # shapely ids: single, multi
TZ = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class Issue:
    index: int  # row number in the source, from 0
    rule: str
    severity: str  # error | warning | note
    reason: str


@dataclass
class Batch:
    """The rows of one batch that passed, ready for COPY, and what was found."""

    frame: pd.DataFrame  # canonical columns + "_index" (+ "geom" as hex EWKB)
    issues: list[Issue]
    rejected: dict[int, dict]  # source index -> original record, for the rejects table
    geometry_wkt: dict[int, str] = field(default_factory=dict)
    repaired: int = 0


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

    def __init__(self, layer: Layer, source: Source, storage_srid: int,
                 extent: tuple[float, float, float, float] | None, decoder: TextDecoder) -> None:  # fmt: skip
        self.layer = layer
        self.source = source
        self.srid = storage_srid
        self.extent = extent
        self.decoder = decoder
        self.mapping = map_fields(layer, source.columns)
        self.unmapped = [c for c in source.columns if c not in self.mapping]
        self.transform = None
        if layer.geometry and source.crs is not None:
            target = CRS.from_epsg(storage_srid)
            if not source.crs.equals(target, ignore_axis_order=True):
                t = transformer(source.crs, target)
                self.transform = lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))

    # -- entry point -------------------------------------------------------------

    def process(self, table: pa.Table, geometry_name: str | None, start: int) -> Batch:
        raw = table.to_pandas(types_mapper=None)
        index = np.arange(start, start + len(raw))
        raw.index = index
        text_cols = [c for c in self.mapping if raw[c].dtype == object or pd.api.types.is_string_dtype(raw[c])]
        if not self.decoder.decided:
            self.decoder.observe(v for c in text_cols for v in raw[c].dropna().astype(str).head(500))
        for col in text_cols:
            raw[col] = self.decoder.decode_series(raw[col].astype("string"))
        issues: list[Issue] = []
        out = pd.DataFrame(index=index)
        for src, name in self.mapping.items():
            out[name] = self._coerce(raw[src], self.layer.field(name), issues)
        for f in self.layer.fields:
            if f.name not in out:
                out[f.name] = pd.Series([None] * len(out), index=index, dtype=object)
        self._required_and_domains(out, issues)
        geometry_wkt: dict[int, str] = {}
        repaired = 0
        if self.layer.geometry:
            geoms = shapely.from_wkb(raw[geometry_name].to_numpy(), on_invalid="ignore") if geometry_name in raw else np.full(len(raw), None)
            geoms, repaired = self._geometry(geoms, index, out, issues)
            bad = {i.index for i in issues if i.severity == "error"}
            for i in bad:
                g = raw.at[i, geometry_name] if geometry_name in raw else None
                if isinstance(g, (bytes, bytearray)):
                    parsed = shapely.from_wkb(g, on_invalid="ignore")
                    geometry_wkt[i] = shapely.to_wkt(parsed, rounding_precision=3) if parsed is not None else ""
            out["geom"] = shapely.to_wkb(shapely.set_srid(geoms, self.srid), hex=True, include_srid=True)
        bad = {i.index for i in issues if i.severity == "error"}
        rejected = {}
        if bad:
            keep = [c for c in raw.columns if c != geometry_name]
            for i in sorted(bad):
                rejected[i] = {k: _jsonable(v) for k, v in raw.loc[i, keep].items()}
        out["_index"] = index
        good = out[~out.index.isin(list(bad))] if bad else out
        return Batch(good, issues, rejected, geometry_wkt, repaired)

    # -- attributes --------------------------------------------------------------

    def _coerce(self, col: pd.Series, f: LayerField, issues: list[Issue]) -> pd.Series:
        if f.type == "text":
            s = col.astype("string").str.strip()
            return s.where(s.notna() & (s != ""), None).astype(object)
        present = col.notna() & (col.astype(str).str.strip() != "")
        if f.type in ("integer", "real"):
            as_text = col.astype(str).str.strip().str.replace(",", ".", regex=False)
            num = pd.to_numeric(col if col.dtype.kind in "iuf" else as_text, errors="coerce")
            bad = present & num.isna()
            if f.type == "integer":
                bad |= present & num.notna() & (num % 1 != 0)
            self._flag(bad, col, f, "type.invalid", f"{f.type}", issues)
            num = num.where(~bad)
            return num.round().astype("Int64") if f.type == "integer" else num.astype("Float64")
        if f.type == "boolean":
            mapping = {"true": True, "1": True, "yes": True, "có": True, "false": False, "0": False, "no": False, "không": False}
            val = col.astype(str).str.strip().str.lower().map(mapping)
            self._flag(present & val.isna(), col, f, "type.invalid", "boolean", issues)
            return val.astype("boolean")
        parsed = pd.to_datetime(col.where(present), errors="coerce", format="mixed", dayfirst=False)
        bad = present & parsed.isna()
        self._flag(bad, col, f, "type.invalid", "date" if f.type == "date" else "date-time", issues)
        if f.type == "date":
            return parsed.dt.date.where(parsed.notna(), None)
        if parsed.dt.tz is None:
            parsed = parsed.dt.tz_localize(TZ)
        return parsed

    def _flag(self, mask: pd.Series, col: pd.Series, f: LayerField, rule: str, what: str,
              issues: list[Issue]) -> None:  # fmt: skip
        for i in mask[mask].index:
            issues.append(Issue(int(i), rule, "error", f"{f.name} = {str(col[i])[:60]!r} is not a valid {what}"))

    def _required_and_domains(self, out: pd.DataFrame, issues: list[Issue]) -> None:
        for f in self.layer.fields:
            s = out[f.name]
            if f.required:
                for i in s[s.isna()].index:
                    issues.append(Issue(int(i), "required.missing", "error", f"{f.name} is required but empty"))
            d = f.domain
            if d is None:
                continue
            if d.codes == "land_use":
                out[f.name] = self._land_use(s, f, issues)
            if d.values:
                allowed = {str(v) for v in d.values}
                # Spelling of a listed value is normalised ("gang" -> "Gang"); others are refused.
                canonical = {v.casefold(): v for v in allowed}
                s = s.map(lambda v: canonical.get(str(v).casefold(), v) if v is not None and not isinstance(v, float) else v)
                out[f.name] = s
                bad = s.notna() & ~s.astype(str).isin(allowed)
                for i in bad[bad].index:
                    issues.append(Issue(int(i), "domain.invalid_value", "error",
                                        f"{f.name} = {s[i]!r} is not one of {', '.join(sorted(allowed))}"))  # fmt: skip
            if d.min is not None or d.max is not None:
                num = pd.to_numeric(s, errors="coerce")
                low = num < d.min if d.min is not None else False
                high = num > d.max if d.max is not None else False
                bad = num.notna() & (low | high)
                for i in bad[bad].index:
                    issues.append(Issue(int(i), "domain.out_of_range", "error",
                                        f"{f.name} = {s[i]} is outside [{d.min}, {d.max}]"))  # fmt: skip

    def _land_use(self, s: pd.Series, f: LayerField, issues: list[Issue]) -> pd.Series:
        codes, legacy = land_use_codes(), legacy_codes()
        upper = s.astype("string").str.strip().str.upper().astype(object).where(s.notna(), None)
        is_legacy = upper.isin(list(legacy))
        for i in is_legacy[is_legacy].index:
            old = upper[i]
            issues.append(Issue(int(i), "domain.legacy_code", "note",
                                f"{f.name}: legacy code {old} recorded as {legacy[old].code} ({legacy[old].note})"))  # fmt: skip
        mapped = upper.where(~is_legacy, upper.map(lambda v: legacy[v].code if v in legacy else v))
        unknown = mapped.notna() & ~mapped.isin(list(codes))
        for i in unknown[unknown].index:
            issues.append(Issue(int(i), "domain.unknown_code", "error",
                                f"{f.name} = {s[i]!r} is not a land-use code of Thông tư 08/2024 nor a known legacy code"))  # fmt: skip
        return mapped

    # -- geometry ------------------------------------------------------------------

    def _geometry(self, geoms: np.ndarray, index: np.ndarray, out: pd.DataFrame,
                  issues: list[Issue]) -> tuple[np.ndarray, int]:  # fmt: skip
        family = FAMILY[self.layer.geometry]  # type: ignore[index]
        error = np.zeros(len(geoms), dtype=bool)

        def flag(mask: np.ndarray, rule: str, reason) -> None:  # type: ignore[no-untyped-def]
            for k in np.flatnonzero(mask & ~error):
                issues.append(Issue(int(index[k]), rule, "error", reason(k) if callable(reason) else reason))
            error[mask] = True

        missing = shapely.is_missing(geoms)
        flag(missing, "geometry.missing", "the feature has no geometry (or unreadable WKB)")
        flag(~missing & shapely.is_empty(geoms), "geometry.empty", "the geometry is empty")
        if shapely.has_z(geoms[~error]).any():
            geoms = shapely.force_2d(geoms)
        tid = shapely.get_type_id(geoms)
        single, multi = TYPE_ID[family]
        wrong = ~error & (tid != single) & (tid != multi)
        flag(wrong, "geometry.mixed_types",
             lambda k: f"a {geoms[k].geom_type} where the layer holds {self.layer.geometry}")
        geoms = geoms.copy()
        geoms[error] = None
        if self.layer.geometry.startswith("Multi"):  # type: ignore[union-attr]
            singles = np.flatnonzero(tid == single)
            if len(singles):
                geoms[singles] = MULTI[family](geoms[singles], indices=np.arange(len(singles)))
        if self.transform is not None:
            geoms = shapely.transform(geoms, self.transform)
        repaired = 0
        if family != "Point":
            valid = shapely.is_valid(geoms)
            invalid = ~error & ~valid & ~shapely.is_missing(geoms)
            if invalid.any():
                if self.layer.rules.geometry_repair:
                    for k in np.flatnonzero(invalid):
                        fixed = self._repair(geoms[k])
                        if fixed is None:
                            flag(np.eye(1, len(geoms), k, dtype=bool)[0], "geometry.invalid",
                                 f"invalid geometry ({shapely.is_valid_reason(geoms[k])}) that cannot be repaired")  # fmt: skip
                            continue
                        issues.append(Issue(int(index[k]), "geometry.repaired", "warning",
                                            f"repaired with make_valid: {shapely.is_valid_reason(geoms[k])}"))  # fmt: skip
                        geoms[k] = fixed
                        repaired += 1
                else:
                    flag(invalid, "geometry.invalid", lambda k: f"invalid geometry: {shapely.is_valid_reason(geoms[k])}")
        ok = ~error & ~shapely.is_missing(geoms)
        if self.extent is not None and ok.any():
            x0, y0, x1, y1 = self.extent
            b = shapely.bounds(geoms)
            outside = ok & ((b[:, 2] < x0) | (b[:, 0] > x1) | (b[:, 3] < y0) | (b[:, 1] > y1))
            if outside.all() and len(geoms) > 0:
                raise FileRefused(
                    "extent.outside",
                    f"no feature lies in the province ({self.source.crs_origin} CRS "
                    f"{self.source.crs.to_string() if self.source.crs else '?'}): is the declared CRS wrong? "
                    f"first feature's bounds {np.round(b[0], 1).tolist()}",
                )
            flag(outside, "extent.outside", "the geometry lies outside the province (wrong CRS or coordinates?)")
        if family == "Polygon":
            areas = shapely.area(geoms)
            rules = self.layer.rules
            if rules.sliver_min_area > 0:
                flag(ok & ~error & (areas < rules.sliver_min_area), "geometry.sliver",
                     lambda k: f"sliver polygon of {areas[k]:.3f} m² (below {rules.sliver_min_area} m²)")  # fmt: skip
            if rules.area_field:
                declared = pd.to_numeric(out[rules.area_field], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                with np.errstate(divide="ignore", invalid="ignore"):
                    rel = np.abs(areas - declared) / np.maximum(declared, 1e-9)
                off = ~error & ~np.isnan(declared) & (rel > rules.area_tolerance)
                for k in np.flatnonzero(off):
                    issues.append(Issue(int(index[k]), "area.mismatch", "warning",
                                        f"{rules.area_field} = {declared[k]:.1f} m² but the geometry measures "
                                        f"{areas[k]:.1f} m² in the TM-3 plane ({rel[k]:.0%} apart)"))  # fmt: skip
        geoms[error] = None
        return geoms, repaired

    def _repair(self, geom: shapely.Geometry) -> shapely.Geometry | None:
        fixed = shapely.make_valid(geom)
        family = FAMILY[self.layer.geometry]  # type: ignore[index]
        parts = [p for p in shapely.get_parts(fixed) if FAMILY.get(p.geom_type) == family]
        parts = [q for p in parts for q in (shapely.get_parts(p) if p.geom_type.startswith("Multi") else [p])]
        if not parts:
            return None
        merged = MULTI[family](parts) if self.layer.geometry.startswith("Multi") else parts[0]  # type: ignore[union-attr]
        return merged if shapely.is_valid(merged) and not shapely.is_empty(merged) else None


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (str, int, float, bool)):
        return None if isinstance(value, float) and np.isnan(value) else value
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)
