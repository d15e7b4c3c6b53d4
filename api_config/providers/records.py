"""OGC API Records for the layer catalogue: one record per ``layers/<id>.yml``.

Everything a record says comes from the catalogue entry (titles, description,
keywords, theme, contact, licence, fields) or from what is published now
(``bando.layer_state``: when, how many rows, which CRS; ``bando.layer_versions``:
the decision in force; the extent). Nothing is typed twice. The public view lists
public fields only, so no restricted or personal field name appears in it.

One SQL statement reads the state of every layer; the catalogue is small, so
filtering (q, bbox, datetime, properties), sorting and paging happen in Python.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import psycopg
from pygeoapi.provider.base import BaseProvider, ProviderItemNotFoundError

from bando.api_config.downloads import links as download_links
from bando.api_config.pygeoapi_seam.handlers import to_provider_error
from bando.api_config.runtime import Runtime, get_runtime
from bando.crs import transformer
from bando.encodings import unaccented
from bando.errors import BadInput, BandoError, Unavailable
from bando.layers.model import THEMES, Layer

LOG = logging.getLogger("bando.api")
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0"
RECORD_CORE = "http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"
THEME_SCHEME = "urn:bando:theme"
LICENSES = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}
FORMATS = {
    "geojson": {"name": "GeoJSON", "mediaType": "application/geo+json"},
    "mvt": {"name": "Mapbox Vector Tiles", "mediaType": "application/vnd.mapbox-vector-tile"},
    "geotiff": {"name": "GeoTIFF", "mediaType": "image/tiff; application=geotiff"},
    "covjson": {"name": "CoverageJSON", "mediaType": "application/prs.coverage+json"},
}
SORTABLE = ("title", "updated")

STATE_SQL = """
select s.layer, s.published_at, s.row_count, s.srid, s.bounds::text,
       r.srid, r.bounds,
       v.version_id, v.decision, v.decision_date, v.authority, v.valid_from,
       least(s.published_at, (select min(l.started_at) from bando.lineage l
         where l.layer = s.layer and l.outcome = 'published')),
       (select json_agg(json_build_object('name', d.name, 'mediaType', d.media_type, 'sizeBytes', d.size_bytes,
                        'sha256', d.sha256, 'href', '/documents/' || d.sha256) order by d.name)
          from bando.plan_documents d where d.layer = v.layer and d.version_id = v.version_id),
       (select json_agg(json_build_object('version_id', x.version_id, 'status', 'draft', 'published', x.valid_from)
                        order by x.version_id)
          from bando.layer_versions x where x.layer = s.layer and x.draft)
from bando.layer_state s
left join bando.rasters r on r.layer = s.layer and r.version_id = 'current'
left join lateral (select * from bando.layer_versions x where x.layer = s.layer and x.valid_to is null
                   order by x.valid_from desc nulls last limit 1) v on true
"""


@dataclass(frozen=True)
class State:
    """What is published now for one layer."""

    published_at: datetime
    created: datetime | None
    row_count: int
    srid: int | None
    bbox: list[float] | None  # CRS84
    version: dict[str, Any] | None  # the version in force
    drafts: list[dict[str, Any]]  # versions on view for comment, not in force (status "draft")


def fold(text: str) -> str:
    """Lower case without diacritics, so 'ngap lut' finds 'ngập lụt' and 'Đất' finds 'dat'."""
    return unaccented(text)


def _box(x0: float, y0: float, x1: float, y1: float, srid: int) -> list[float]:
    if srid != 4326:
        x0, y0, x1, y1 = transformer(srid, 4326).transform_bounds(x0, y0, x1, y1, densify_pts=21)
    return [round(v, 6) for v in (x0, y0, x1, y1)]


def read_states(runtime: Runtime, view: str = "public") -> dict[str, State]:
    """The published state of every layer, in one statement (extents as each publish recorded them)."""
    try:
        with runtime.connection(view) as conn:
            rows = conn.execute(STATE_SQL).fetchall()
    except psycopg.Error as exc:
        LOG.warning("catalogue records: could not read layer state: %s", type(exc).__name__)
        raise Unavailable() from None
    states = {}
    for (
        layer,
        published_at,
        count,
        srid,
        box,
        r_srid,
        r_bounds,
        version_id,
        decision,
        decision_date,
        authority,
        valid_from,
        created,
        documents,
        drafts,
    ) in rows:
        bbox = None
        if r_bounds:
            x0, y0, x1, y1 = r_bounds
            bbox = _box(x0, y0, x1, y1, int(r_srid))
        elif box is not None and srid:
            bbox = _parse_box(box, srid)
        version = None
        if version_id is not None:
            version = {
                "version_id": version_id,
                "decision": decision,
                "authority": authority,
                "decision_date": _iso(decision_date),
                "valid_from": _iso(valid_from),
                "documents": documents or [],
            }
        states[layer] = State(published_at, created, int(count), r_srid or srid, bbox, version, drafts or [])
    return states


def _parse_box(text: str, srid: int) -> list[float] | None:
    """A PostGIS ``BOX(x0 y0,x1 y1)`` as text."""
    try:
        lo, hi = str(text)[4:-1].split(",")
        (x0, y0), (x1, y1) = (map(float, lo.split())), (map(float, hi.split()))
    except ValueError:
        return None
    return _box(x0, y0, x1, y1, srid)


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value.isoformat()


class BandoRecordProvider(BaseProvider):
    _fields: dict[str, Any]  # filled by get_fields(); pygeoapi declares it untyped

    """pygeoapi ``record`` provider over the catalogue; cheap to construct (per request)."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.runtime = get_runtime()
        self.view = provider_def["data"].get("view", "public")
        self.base_url = str(provider_def["data"].get("base_url", "")).rstrip("/")
        self.get_fields()

    def get_fields(self) -> dict[str, Any]:
        if not self._fields:
            text = {"type": "string"}
            self._fields = {
                "type": dict(text),
                "title": dict(text),
                "description": dict(text),
                "theme": dict(text),
                "kind": dict(text),
                "keywords": {"type": "array", "items": {"type": "string"}},
                "license": dict(text),
                "storage_crs": dict(text),
                "row_count": {"type": "integer"},
                "updated": {"type": "string", "format": "date-time"},
            }
        return self._fields

    # -- building one record ------------------------------------------------------

    def _fields_of(self, layer: Layer) -> list[dict[str, Any]]:
        out = []
        for f in self.runtime.fields(layer, self.view):
            entry: dict[str, Any] = {"name": f.name, "type": f.type, "title": f.title.vi, "title_en": f.title.en}
            if f.unit:
                entry["unit"] = f.unit
            if f.name in layer.key:
                entry["key"] = True
            if self.view == "internal" and not f.public:
                entry |= {"public": False, "personal": f.personal}
            out.append(entry)
        return out

    def _links(self, layer: Layer) -> list[dict[str, Any]]:
        base = f"{self.base_url}/collections/{layer.id}"
        links = [{"rel": "describes", "type": "application/json", "title": layer.title.vi, "href": base}]
        if layer.kind == "raster":
            links += [
                {
                    "rel": f"{OGC_REL}/coverage",
                    "type": FORMATS["geotiff"]["mediaType"],
                    "title": "GeoTIFF",
                    "href": f"{base}/coverage?f=GTiff",
                },
                {
                    "rel": f"{OGC_REL}/coverage",
                    "type": FORMATS["covjson"]["mediaType"],
                    "title": "CoverageJSON",
                    "href": f"{base}/coverage?f=json",
                },
            ]
        else:
            links.append(
                {"rel": "items", "type": "application/geo+json", "title": layer.title.vi, "href": f"{base}/items"}
            )
        if layer.geometry and layer.tiles:
            links.append(
                {
                    "rel": f"{OGC_REL}/tilesets-vector",
                    "type": "application/json",
                    "title": layer.title.vi,
                    "href": f"{base}/tiles",
                }
            )
        if layer.parent:
            links.append(
                {
                    "rel": "related",
                    "type": "application/json",
                    "title": layer.parent,
                    "href": f"{self.base_url}/collections/{layer.parent}",
                }
            )
        if self.view == "public":
            links += download_links(self.runtime.settings, layer.id, base)
        if layer.metadata.license in LICENSES:
            links.append(
                {
                    "rel": "license",
                    "type": "text/html",
                    "title": layer.metadata.license,
                    "href": LICENSES[layer.metadata.license],
                }
            )
        return links

    def _formats(self, layer: Layer) -> list[dict[str, str]]:
        if layer.kind == "raster":
            return [FORMATS["geotiff"], FORMATS["covjson"]]
        return [FORMATS["geojson"], *([FORMATS["mvt"]] if layer.geometry and layer.tiles else [])]

    def record(self, layer: Layer, state: State | None, lang: str = "vi") -> dict[str, Any]:
        meta = layer.metadata
        title = layer.title.en if lang == "en" else layer.title.vi
        description = layer.description.en if lang == "en" else layer.description.vi
        x0, y0, x1, y1 = state.bbox if state and state.bbox else list(self.runtime.province.bbox_lonlat)
        theme = THEMES[layer.theme]
        contact: dict[str, Any] = {"organization": meta.contact.organisation, "roles": ["pointOfContact"]}
        if meta.contact.email:
            contact["emails"] = [{"value": meta.contact.email}]
        if meta.contact.phone:
            contact["phones"] = [{"value": meta.contact.phone}]
        if layer.geometry or layer.kind == "raster":
            srid = state.srid if state and state.srid else self.runtime.srid(layer)
            storage_crs = f"http://www.opengis.net/def/crs/EPSG/0/{srid}"
        else:
            storage_crs = None
        version = state.version if state else None
        properties: dict[str, Any] = {
            "type": "dataset",
            "title": title,
            "description": description,
            "title_en": layer.title.en,
            "description_en": layer.description.en,
            "language": {"code": lang},
            "languages": [{"code": "vi"}, {"code": "en"}],
            "keywords": list(meta.keywords) or [layer.theme],
            "theme": layer.theme,
            "themes": [
                {
                    "scheme": THEME_SCHEME,
                    "concepts": [{"id": layer.theme, "title": theme.en if lang == "en" else theme.vi}],
                }
            ],
            "kind": layer.kind,
            "geometry_type": layer.geometry,
            "contacts": [contact],
            "license": meta.license,
            "formats": self._formats(layer),
            "source_decision": meta.source_decision,
            "decision": version,
            "drafts": state.drafts if state else [],
            "data_date": meta.date,
            "created": _iso(state.created) if state else None,
            "updated": _iso(state.published_at) if state else None,
            "update_frequency": meta.update_frequency,
            "published": state is not None,
            "row_count": state.row_count if state else None,
            "storage_crs": storage_crs,
            "fields": self._fields_of(layer),
        }
        record_time: dict[str, Any] | None = None
        if version and version.get("valid_from"):
            record_time = {"interval": [version["valid_from"], ".."]}
        elif meta.date:
            record_time = {"date": meta.date}
        return {
            "id": layer.id,
            "type": "Feature",
            "conformsTo": [RECORD_CORE],
            "time": record_time,
            "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]},
            "properties": properties,
            "links": self._links(layer),
        }

    # -- pygeoapi interface -----------------------------------------------------------

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
        language: Any = None,
        filterq: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        try:
            if filterq is not None:
                raise BadInput("filter is not supported on the catalogue; use q, bbox, datetime or property=value")
            lang = _lang(language)
            states = read_states(self.runtime, self.view)
            records = [self.record(layer, states.get(layer.id), lang) for layer in self.runtime.catalogue]
            records = [r for r in records if _matches(r, q, bbox, datetime_, properties or [])]
            for spec in reversed(sortby or []):
                records = _sorted(records, spec["property"], spec["order"] == "-")
        except BandoError as exc:
            raise to_provider_error(exc) from None
        out: dict[str, Any] = {"type": "FeatureCollection", "features": [], "numberMatched": len(records)}
        if resulttype != "hits":
            page = records[offset : offset + max(limit, 0)]
            out["features"] = [_select(r, select_properties, skip_geometry) for r in page]
        out["numberReturned"] = len(out["features"])
        return out

    def get(self, identifier: str, language: Any = None, **kwargs: Any) -> dict[str, Any]:
        layer = self.runtime.catalogue.layers.get(str(identifier))
        if layer is None:
            raise ProviderItemNotFoundError(user_msg=f"no layer {str(identifier)[:60]!r} in the catalogue")
        try:
            return self.record(layer, read_states(self.runtime, self.view).get(layer.id), _lang(language))
        except BandoError as exc:
            raise to_provider_error(exc) from None


# -- filtering, sorting, selecting ---------------------------------------------------


def _lang(language: Any) -> str:
    code = getattr(language, "language", language) or "vi"
    return "en" if str(code).lower().startswith("en") else "vi"


def _matches(record: dict, q: str | None, bbox: list | None, datetime_: str | None, properties: list) -> bool:
    p = record["properties"]
    if q and not _text_matches(record, q):
        return False
    if bbox and not _bbox_intersects(record["geometry"]["coordinates"][0], bbox):
        return False
    if datetime_ and not _time_matches(p["updated"], datetime_):
        return False
    for name, value in properties:
        have = p.get(name)
        if isinstance(have, list):
            if fold(str(value)) not in {fold(str(v)) for v in have}:
                return False
        elif have is None or fold(str(have)) != fold(str(value)):
            return False
    return True


def _text_matches(record: dict, q: str) -> bool:
    """OGC API Records ``q``: comma-separated alternatives; the words of one must all appear."""
    p = record["properties"]
    haystack = fold(
        " ".join(
            [record["id"], p["title"], p["description"], p["title_en"], p["description_en"], p["theme"], *p["keywords"]]
        )
    )
    alternatives = [fold(term).split() for term in q.split(",")]
    alternatives = [words for words in alternatives if words]
    return not alternatives or any(all(w in haystack for w in words) for words in alternatives)


def _bbox_intersects(ring: list, bbox: list) -> bool:
    if len(bbox) == 6:
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    if len(bbox) != 4 or any(b != b or abs(b) > 1e9 for b in bbox):
        raise BadInput("bbox must be four finite numbers: minx,miny,maxx,maxy")
    x0, y0, x1, y1 = ring[0][0], ring[0][1], ring[2][0], ring[2][1]
    return x0 <= bbox[2] and bbox[0] <= x1 and y0 <= bbox[3] and bbox[1] <= y1


def _instant(text: str, end: bool) -> datetime | None:
    text = text.strip()
    if text in ("", ".."):
        return None
    try:
        if "T" not in text and len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time.max if end else time.min)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{text[:40]!r} is not an RFC 3339 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time_matches(updated: str | None, datetime_: str) -> bool:
    """``datetime`` selects records by ``updated`` (when the layer was last published)."""
    parts = datetime_.split("/")
    if len(parts) > 2:
        raise BadInput("datetime must be an instant or an interval 'start/end'")
    start, end = _instant(parts[0], False), _instant(parts[-1], True)
    if updated is None:
        return False
    moment = datetime.fromisoformat(updated.replace("Z", "+00:00"))
    return (start is None or moment >= start) and (end is None or moment <= end)


def _sorted(records: list[dict], prop: str, descending: bool) -> list[dict]:
    if prop not in SORTABLE:
        raise BadInput(f"the catalogue sorts by {' or '.join(SORTABLE)}, not {prop[:40]!r}")
    present = [r for r in records if r["properties"].get(prop) is not None]
    missing = [r for r in records if r["properties"].get(prop) is None]

    def key(r: dict) -> Any:
        return (fold(r["properties"]["title"]), r["id"]) if prop == "title" else r["properties"]["updated"]

    return sorted(present, key=key, reverse=descending) + missing  # never-published layers last either way


def _select(record: dict, select_properties: list | None, skip_geometry: bool) -> dict:
    if not select_properties and not skip_geometry:
        return record
    out = dict(record)
    if select_properties:
        out["properties"] = {k: v for k, v in record["properties"].items() if k in select_properties}
    if skip_geometry:
        out["geometry"] = None
    return out
