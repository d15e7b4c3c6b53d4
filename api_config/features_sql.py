"""SQL for OGC API Features requests on one layer and view; PostGIS writes the GeoJSON.

One query answers a page: PostGIS filters with the GiST index, transforms to the
requested CRS (the pinned VN-2000 rows make ``st_transform`` official), and builds
the features' JSON itself, so Python only decodes one string per page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from psycopg import sql

from bando.errors import BadInput
from bando.layers.model import Layer, LayerField

LATLON_FIRST = {4326, 4756}  # EPSG axis order: latitude first
COUNT_CAP = 100_000
ICT = timezone(
    timedelta(hours=7)
)  # Vietnam time, for dates given without a time  # numberMatched is exact up to this many matches, omitted beyond


def srid_of(uri: str | None, default: int) -> int:
    """EPSG code of a CRS URI; CRS84 is 4326 in lon/lat order (see :func:`axis_flip`)."""
    if not uri:
        return default
    if uri.endswith(("/CRS84", "CRS84h")):
        return 4326
    m = re.search(r"EPSG/0/(\d+)$|EPSG:+(\d+)$", uri)
    if not m:
        raise BadInput(f"unsupported CRS {uri[:80]!r}")
    return int(m.group(1) or m.group(2))


def axis_flip(uri: str | None, srid: int) -> bool:
    return srid in LATLON_FIRST and not (uri or "").endswith(("CRS84", "CRS84h"))


@dataclass
class FeatureQuery:
    layer: Layer
    fields: tuple[LayerField, ...]
    storage_srid: int | None
    where: list[sql.Composable] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    costly: bool = False  # a predicate the index cannot narrow: numberMatched is not worth a count
    from_params: list[Any] = field(default_factory=list)
    _as_of: bool = False

    @property
    def table(self) -> sql.Composable:
        live = sql.Identifier("data", self.layer.table)
        if not self._as_of:
            return live
        # Features never edited since their load are as the table has them; the others as their
        # history row valid at that instant says (none: created later or deleted before).
        public = tuple(self.fields) == tuple(self.layer.public_fields)  # the public API may read only that copy
        cols = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(f.name)) for f in self.fields)
        geom = sql.SQL(", h.geom") if self.layer.geometry else sql.SQL("")
        live_cols = sql.SQL(", ").join(sql.Identifier(f.name) for f in self.fields)
        live_geom = sql.SQL(", geom") if self.layer.geometry else sql.SQL("")
        return sql.SQL(
            "(select fid, {live_cols}{live_geom} from {live} c where not exists (select 1 from bando.feature_history h"
            " where h.layer = %s and h.fid = c.fid) union all select h.fid, {cols}{geom} from bando.feature_history h,"
            " jsonb_populate_record(null::{live}, h.{props}) r where h.layer = %s"
            " and (h.valid_from is null or h.valid_from <= %s) and (h.valid_to is null or h.valid_to > %s)) as t"
        ).format(
            live=live,
            live_cols=live_cols,
            live_geom=live_geom,
            cols=cols,
            geom=geom,
            props=sql.Identifier("public" if public else "properties"),
        )

    def field_map(self) -> dict[str, sql.Composable]:
        names: dict[str, sql.Composable] = {f.name: sql.Identifier(f.name) for f in self.fields}
        if self.layer.versioned:
            names |= {c: sql.Identifier(c) for c in ("version_id", "valid_from", "valid_to")}
        return names

    def add(self, fragment: sql.Composable, params: list[Any] | tuple = ()) -> None:
        self.where.append(fragment)
        self.params.extend(params)

    def bbox(self, bbox: list[float]) -> None:
        if self.layer.geometry is None:
            raise BadInput(f"{self.layer.id} has no geometry; bbox does not apply to it")
        if len(bbox) == 6:
            bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
        if len(bbox) != 4 or any(b != b or abs(b) > 1e9 for b in bbox):
            raise BadInput("bbox must be four finite numbers")
        self.add(sql.SQL("geom && st_makeenvelope(%s, %s, %s, %s, %s)"), [*bbox, self.storage_srid])

    def equals(self, name: str, value: str) -> None:
        self.add(sql.SQL("{}::text = %s").format(sql.Identifier(name)), [value])

    def valid_at(self, start: date | datetime | None, end: date | datetime | None) -> None:
        """Versioned layers: the versions in force at an instant or during an interval (never a
        draft, whose interval is empty)."""
        self.add(
            sql.SQL(
                "(valid_from is null or valid_from <= %s) and (valid_to is null or valid_to > %s)"
                " and (valid_to is null or valid_from is null or valid_to > valid_from)"
            ),
            [date.max if end is None else end, date.min if start is None else start],
        )

    def as_of(self, instant: date | datetime) -> None:
        """Layers edited through the internal API: the features as they were at an instant
        (a date means the end of that day, Vietnam time)."""
        try:
            if not isinstance(instant, datetime):
                instant = datetime.combine(instant + timedelta(days=1), time.min, tzinfo=ICT)
            elif instant.tzinfo is None:
                instant = instant.replace(tzinfo=ICT)
        except OverflowError:
            raise BadInput("datetime is out of range") from None
        self._as_of = True
        self.from_params = [self.layer.id, self.layer.id, instant, instant]

    def current_only(self) -> None:
        self.add(sql.SQL("valid_to is null"))

    def time_between(self, start: Any, end: Any) -> None:
        col = sql.Identifier(self.layer.time_field)  # type: ignore[arg-type]
        if start is not None:
            self.add(sql.SQL("{} >= %s").format(col), [start])
        if end is not None:
            self.add(sql.SQL("{} <= %s").format(col), [end])

    def _where(self) -> sql.Composable:
        return sql.SQL(" and ").join(self.where) if self.where else sql.SQL("true")

    def _properties(self, selected: list[str] | None) -> sql.Composable:
        names = [f.name for f in self.fields]
        if self.layer.versioned:
            names += ["version_id", "valid_from", "valid_to"]
        if selected:
            names = [n for n in names if n in selected]
        if not names:
            return sql.SQL("'{}'::json")
        pairs = sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(n), sql.Identifier(n)) for n in names)
        return sql.SQL("json_build_object({})").format(pairs)

    def _geometry(self, target_srid: int, flip: bool, precision: int) -> sql.Composable:
        expr: sql.Composable = sql.SQL("geom")
        if target_srid != self.storage_srid:
            expr = sql.SQL("st_transform(geom, {})").format(sql.Literal(target_srid))
        if flip:
            expr = sql.SQL("st_flipcoordinates({})").format(expr)
        return sql.SQL("st_asgeojson({}, {}, 0)::json").format(expr, sql.Literal(precision))

    def page(
        self,
        *,
        limit: int,
        offset: int,
        sortby: list[dict],
        selected: list[str] | None,
        skip_geometry: bool,
        target_srid: int,
        flip: bool,
    ) -> tuple[sql.Composable, list[Any]]:
        order: list[sql.Composable] = [
            sql.SQL("{} {}").format(sql.Identifier(s["property"]), sql.SQL("desc" if s["order"] == "-" else "asc"))
            for s in sortby
        ]
        order.append(sql.SQL("fid"))
        geometry = (
            sql.SQL("null")
            if skip_geometry or self.layer.geometry is None
            else self._geometry(target_srid, flip, 8 if target_srid in (4326, 4756) else 3)
        )
        query = sql.SQL(
            "select coalesce(json_agg(json_build_object('type', 'Feature', 'id', fid, 'geometry', g,"
            " 'properties', p)), '[]')::text from (select fid, {geometry} as g, {props} as p from {table}"
            " where {where} order by {order} limit %s offset %s) f"
        ).format(
            geometry=geometry,
            props=self._properties(selected),
            table=self.table,
            where=self._where(),
            order=sql.SQL(", ").join(order),
        )
        return query, [*self.from_params, *self.params, limit, offset]

    def count(self) -> tuple[sql.Composable, list[Any]]:
        query = sql.SQL("select count(*) from (select 1 from {} where {} limit %s) c").format(self.table, self._where())
        return query, [*self.from_params, *self.params, COUNT_CAP + 1]

    def one(self, fid: int, target_srid: int, flip: bool) -> tuple[sql.Composable, list[Any]]:
        geometry = (
            sql.SQL("null")
            if self.layer.geometry is None
            else self._geometry(target_srid, flip, 8 if target_srid in (4326, 4756) else 3)
        )
        query = sql.SQL(
            "select json_build_object('type', 'Feature', 'id', fid, 'geometry', {g}, 'properties', {p})::text"
            " from {t} where fid = %s"
        ).format(g=geometry, p=self._properties(None), t=self.table)
        return query, [fid]
