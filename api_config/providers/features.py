"""bando's OGC API Features provider for pygeoapi: psycopg 3, a shared pool, one query a page.

pygeoapi builds a provider object per request, so construction only looks things up
(:mod:`bando.api_config.runtime`); the work is one SQL statement built by
:class:`bando.api_config.features_sql.FeatureQuery`, with every request value a parameter.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime
from typing import Any

import psycopg
from pygeoapi.provider.base import BaseProvider, ProviderItemNotFoundError

from bando.api_config.cql import costly, mentions, to_sql
from bando.api_config.features_sql import COUNT_CAP, FeatureQuery, axis_flip, srid_of
from bando.api_config.pygeoapi_seam.handlers import to_provider_error
from bando.api_config.runtime import get_runtime
from bando.errors import BadInput, BandoError
from bando.layers.tables import VERSION_COLUMNS

LOG = logging.getLogger("bando.api")
JSON_TYPES = {
    "text": ("string", None),
    "integer": ("integer", None),
    "real": ("number", None),
    "date": ("string", "date"),
    "datetime": ("string", "date-time"),
    "boolean": ("boolean", None),
}
MAX_OFFSET = 1_000_000
#: A filter comparing a field with a value of another type ("dienTich > 'abc'", "loaiDat > 5"):
#: PostgreSQL refuses it as data (class 22, e.g. invalid text) or as an undefined operator.
TYPE_ERRORS = (
    psycopg.errors.UndefinedFunction,
    psycopg.errors.DatatypeMismatch,
    psycopg.errors.AmbiguousFunction,
    psycopg.errors.IndeterminateDatatype,
    psycopg.errors.CannotCoerce,
)


class BandoFeatureProvider(BaseProvider):
    _fields: dict[str, Any]  # filled by get_fields(); pygeoapi declares it untyped

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        runtime = get_runtime()
        self.layer = runtime.layer(provider_def["data"]["layer"])
        self.view = provider_def["data"].get("view", "public")
        self.layer_fields = runtime.fields(self.layer, self.view)
        self.srid = runtime.srid(self.layer) if self.layer.geometry else None
        self.get_fields()

    def get_fields(self) -> dict[str, dict[str, str]]:
        if not self._fields:
            out = {}
            for f in self.layer_fields:
                kind, fmt = JSON_TYPES[f.type]
                out[f.name] = {"type": kind, "title": f.title.vi} | ({"format": fmt} if fmt else {})
            if self.layer.versioned:
                out |= {
                    "version_id": {"type": "string", "title": "Phiên bản"},
                    "valid_from": {"type": "string", "format": "date"},
                    "valid_to": {"type": "string", "format": "date"},
                }
            self._fields = out
        return self._fields

    # -- helpers ----------------------------------------------------------------

    def _query(self) -> FeatureQuery:
        return FeatureQuery(self.layer, self.layer_fields, self.srid)

    def _target(self, crs_transform_spec: Any) -> tuple[int, bool]:
        uri = getattr(crs_transform_spec, "target_crs_uri", None) if crs_transform_spec else None
        if uri is None:  # no transform: output in storage CRS (CRS84 for lon/lat layers)
            return self.srid or 4326, False
        srid = srid_of(uri, self.srid or 4326)
        return srid, axis_flip(uri, srid)

    def _run(self, statement: Any, params: list[Any]) -> Any:
        try:
            with get_runtime().connection(self.view) as conn:
                row = conn.execute(statement, params).fetchone()
        except (psycopg.DataError, *TYPE_ERRORS, psycopg.errors.InternalError_) as exc:
            LOG.info("rejected query on %s: %s", self.layer.id, type(exc).__name__)
            raise to_provider_error(BadInput("the query could not be evaluated (check values and geometry)")) from None
        except BandoError as exc:  # too expensive (400) or the database unreachable (503): see the runtime
            raise to_provider_error(exc) from None
        return row[0] if row else None

    def _datetime(self, q: FeatureQuery, datetime_: str | None, filterq: Any, properties: list) -> None:
        """A versioned layer answers with the version in force today unless the request says
        which versions it wants: by ``datetime``, or by naming a version field in a filter or a
        property parameter (``version_id=…``, ``valid_from < DATE(…)``)."""
        start, end = _interval(datetime_) if datetime_ else (None, None)
        if self.layer.versioned:
            named = {name for name, _ in properties}.intersection(VERSION_COLUMNS)
            mentions_version = bool(named) or (
                filterq is not None and any(mentions(filterq, f) for f in VERSION_COLUMNS)
            )
            if datetime_:
                q.valid_at(start, end)
            elif not mentions_version:
                q.current_only()
        elif self.layer.time_field and datetime_:
            q.time_between(start, end)
        elif datetime_ and start is not None and start == end:  # edited layers: as they were then
            q.as_of(start)

    # -- pygeoapi interface -----------------------------------------------------

    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list | None = None,
        datetime_: str | None = None,
        properties: list | None = None,
        sortby: list | None = None,
        select_properties: list | None = None,
        skip_geometry: bool = False,
        q: str | None = None,
        filterq: Any = None,
        crs_transform_spec: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        try:
            if offset > MAX_OFFSET:
                raise BadInput(f"offset may not exceed {MAX_OFFSET}; narrow the query with bbox or filter")
            query = self._query()
            if bbox:
                query.bbox([float(b) for b in bbox])
            self._datetime(query, datetime_, filterq, properties or [])
            for name, value in properties or []:
                query.equals(name, value)
            if filterq is not None:
                geometry = None if self.srid is None else _geom()
                cap = get_runtime().settings.max_vertices
                fragment, params = to_sql(filterq, query.field_map(), geometry, self.srid, cap)
                query.add(fragment, params)
                query.costly = costly(filterq)
            target, flip = self._target(crs_transform_spec)
        except BandoError as exc:
            raise to_provider_error(exc) from None
        features: list[dict] = []
        if resulttype != "hits":
            text = self._run(
                *query.page(
                    limit=limit,
                    offset=offset,
                    sortby=sortby or [],
                    selected=select_properties or None,
                    skip_geometry=skip_geometry,
                    target_srid=target,
                    flip=flip,
                )
            )
            features = json.loads(text)
        out: dict[str, Any] = {"type": "FeatureCollection", "features": features, "numberReturned": len(features)}
        matched = _matched_without_counting(resulttype, offset, limit, len(features))
        if matched is None and (resulttype == "hits" or (offset == 0 and not query.costly)):
            # numberMatched is optional: count only when asked for (hits) or cheap to know
            count = self._run(*query.count())
            matched = count if count is not None and count <= COUNT_CAP else None
        if matched is not None:
            out["numberMatched"] = matched
        return out

    def get(self, identifier: str, crs_transform_spec: Any = None, **kwargs: Any) -> dict[str, Any]:
        fid = feature_id(identifier)
        if fid is None:
            raise ProviderItemNotFoundError(user_msg=f"no feature with id {str(identifier)[:40]!r}")
        try:
            target, flip = self._target(crs_transform_spec)
        except BandoError as exc:
            raise to_provider_error(exc) from None
        text = self._run(*self._query().one(fid, target, flip))
        if text is None:
            raise ProviderItemNotFoundError(user_msg=f"no feature with id {fid}")
        return json.loads(text)


_FID = re.compile(r"[1-9][0-9]{0,18}")


def feature_id(identifier: Any) -> int | None:
    """A feature id as written in a URL: ASCII digits only (``int()`` would also take ``1_0``,
    ``" 7"`` or fullwidth digits), positive and within bigint."""
    text = str(identifier)
    return int(text) if _FID.fullmatch(text) and int(text) < 2**62 else None


def _matched_without_counting(resulttype: str, offset: int, limit: int, returned: int) -> int | None:
    """numberMatched known from the page alone: a page that is not full ends the matches."""
    if resulttype == "hits" or returned >= limit or (returned == 0 and offset > 0):
        return None
    return offset + returned


def _geom():
    from psycopg import sql

    return sql.Identifier("geom")


def _interval(value: str) -> tuple[Any, Any]:
    """An OGC datetime ('2025-01-01', 'a/b', '../b', 'a/..') as (start, end)."""
    parts = value.split("/")
    if len(parts) > 2:
        raise BadInput("datetime must be an instant or an interval 'start/end'")
    parsed = [_instant(p) for p in parts]
    return (parsed[0], parsed[0]) if len(parsed) == 1 else (parsed[0], parsed[1])


def _instant(text: str) -> date | datetime | None:
    text = text.strip()
    if text in ("", ".."):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text else date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{text[:40]!r} is not an RFC 3339 date or date-time") from None
