"""``search``: places by name for the site's search box — communes (also by their pre-2025
names), every layer the catalogue marks searchable (roads, hamlets, plan zones and plots by
code: a layer's ``search`` block), and a parcel by commune + sheet + parcel number.

Names are matched without diacritics or case against the in-memory gazetteer
(:mod:`bando.api_config.gazetteer`); only a parcel query reaches the parcels, through
their key index, so an answer costs about the same on a million parcels as on a
thousand. Results carry a WGS 84 bbox (and for a parcel its key) so a client can zoom
and ask ``planning-report``; nothing but public fields is read (the public role could
not read more). Refusals are bilingual 400s like the report's.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import psycopg
from psycopg import sql
from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from bando.api_config.gazetteer import Gazetteer, ParcelQuery, Place, SearchedLayer, fold, parcel_query
from bando.api_config.logs import described
from bando.api_config.processes import LANG_INPUT
from bando.api_config.pygeoapi_seam.handlers import note_unavailable
from bando.api_config.runtime import get_runtime
from bando.errors import BandoError, TooExpensive

LOG = logging.getLogger("bando.api")
MAX_QUERY = 100
MAX_LIMIT = 20
#: Layers the search reads besides the catalogue's searchable ones: commune names and the parcels' key.
BASE_LAYERS = ("communes", "parcels")

PROCESS_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "search",
    "title": {"vi": "Tìm địa danh, tuyến đường, thửa đất", "en": "Search places, roads and parcels"},
    "description": {
        "vi": "Tìm theo tên, không phân biệt dấu và chữ hoa: xã/phường (kể cả tên trước 1/7/2025), tuyến đường, "
        "thôn, tổ dân phố, mã vùng và ô quy hoạch; thửa đất theo tên xã (mới hoặc cũ) + số tờ + số thửa, ví dụ "
        '"Vĩnh Khúc tờ 12 thửa 45".',
        "en": "Search by name, ignoring diacritics and case: communes (also by their pre-2025 names), roads, "
        "hamlets, plan zones and plots by code; a parcel by commune (today's or former) + sheet + parcel number, "
        'e.g. "Vinh Khuc 12/45".',
    },
    "jobControlOptions": ["sync-execute"],
    "keywords": ["tìm kiếm", "địa danh", "search", "gazetteer"],
    "links": [],
    "inputs": {
        "q": {
            "title": "Từ khoá / query",
            "description": f"1–{MAX_QUERY} characters",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY},
            "minOccurs": 1,
            "maxOccurs": 1,
        },
        "limit": {
            "title": "Số kết quả tối đa / most results",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 8},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "lang": LANG_INPUT,
    },
    "outputs": {
        "results": {
            "title": "Kết quả / results",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        }
    },
    "example": {"inputs": {"q": "van giang"}},
}

#: The search's own kinds; a searchable layer's kind is labelled by its catalogue entry.
KIND_LABELS = {
    "parcel": ("Thửa đất", "Parcel"),
    "commune": ("Xã, phường", "Commune"),
    "formerCommune": ("Xã, phường trước 1/7/2025", "Commune before 1 July 2025"),
}


class SearchError(Exception):
    def __init__(self, vi: str, en: str) -> None:
        super().__init__(f"{vi} / {en}")


def parse(data: Any) -> tuple[str, int, str]:
    if not isinstance(data, dict):
        raise SearchError("dữ liệu vào phải là một đối tượng JSON", "inputs must be a JSON object")
    unknown = set(data) - {"q", "limit", "lang"}
    if unknown:
        raise SearchError(f"tham số không hỗ trợ: {sorted(unknown)[:3]}", f"unsupported inputs: {sorted(unknown)[:3]}")
    q = data.get("q")
    if not isinstance(q, str) or not q.strip() or len(q) > MAX_QUERY:
        raise SearchError(f"q phải là chuỗi 1–{MAX_QUERY} ký tự", f"q must be a string of 1–{MAX_QUERY} characters")
    limit = data.get("limit", 8)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise SearchError(f"limit phải là số nguyên 1–{MAX_LIMIT}", f"limit must be an integer 1–{MAX_LIMIT}")
    lang = data.get("lang", "vi")
    if lang not in ("vi", "en"):
        raise SearchError("lang phải là vi hoặc en", "lang must be vi or en")
    return q.strip(), limit, lang


_GAZETTEER: Gazetteer | None = None


def gazetteer() -> Gazetteer:
    global _GAZETTEER
    if _GAZETTEER is None:
        runtime = get_runtime()
        catalogue = runtime.catalogue
        tables = {lid: catalogue.get(lid).table for lid in BASE_LAYERS if lid in catalogue.layers}
        searched = [SearchedLayer(layer.id, layer.table, layer.search) for layer in catalogue if layer.search]
        _GAZETTEER = Gazetteer(tables, runtime.province.code, searched)
    return _GAZETTEER


def find_parcels(
    conn: psycopg.Connection, table: str, codes: list[str], sheet: int, number: int
) -> list[dict[str, Any]]:
    """The parcels with this sheet and number in any of the commune codes: one key-index lookup."""
    query = sql.SQL(
        'select "maXa", "soHieuToBanDo", "soThuTuThua", st_xmin(b), st_ymin(b), st_xmax(b), st_ymax(b) from ('
        ' select "maXa", "soHieuToBanDo", "soThuTuThua", st_transform(st_envelope(geom), 4326) b'
        ' from data.{t} where "maXa" = any(%s) and "soHieuToBanDo" = %s and "soThuTuThua" = %s) s'
    ).format(t=sql.Identifier(table))
    rows = conn.execute(query, (codes, sheet, number)).fetchall()
    return [
        {
            "kind": "parcel",
            "maXa": r[0],
            "soHieuToBanDo": r[1],
            "soThuTuThua": r[2],
            "bbox": [round(v, 6) for v in r[3:]],
        }
        for r in rows
    ]


def labelled(doc: dict[str, Any], lang: str, labels: dict[str, tuple[str, str]]) -> dict[str, Any]:
    i = 0 if lang == "vi" else 1
    return doc | {"kindLabel": (KIND_LABELS.get(doc["kind"]) or labels[doc["kind"]])[i]}


def run(q: str, limit: int, lang: str) -> dict[str, Any]:
    g = gazetteer()
    pq = parcel_query(fold(q))
    asks_parcel = pq is not None and "parcels" in g.tables
    results: list[dict[str, Any]] = []
    if asks_parcel or g.due():  # a name search needs no connection between refreshes
        with get_runtime().connection("public") as conn:
            g.refresh(conn)
            if pq is not None and asks_parcel:
                results = parcels_named(conn, g, pq)
    results += [p.doc for p in g.search(q, limit)]
    return {
        "type": "SearchResults",
        "query": q,
        "parcelQuery": None if pq is None else {"sheet": pq.sheet, "parcel": pq.number},
        "results": [labelled(r, lang, g.labels) for r in results[:limit]],
    }


def parcels_named(conn: psycopg.Connection, g: Gazetteer, pq: ParcelQuery) -> list[dict[str, Any]]:
    """Parcels with this sheet and number in the communes the words name (today's or former), in one lookup."""
    communes: list[Place] = g.communes_named(pq.place)
    codes = sorted({c for commune in communes for c in commune.codes})
    if not codes:
        return []
    out = []
    for hit in find_parcels(conn, g.tables["parcels"], codes, pq.sheet, pq.number):
        name = g.communes.get(hit["maXa"], (hit["maXa"], None))[0]
        via = next((c.doc["name"] for c in communes if c.kind == "formerCommune" and hit["maXa"] in c.codes), None)
        out.append(hit | {"name": name, **({"formerName": via} if via else {})})
    return out


class SearchProcessor(BaseProcessor):
    def __init__(self, processor_def: dict[str, Any]) -> None:
        super().__init__(processor_def, copy.deepcopy(PROCESS_METADATA))

    def execute(self, data: dict[str, Any], outputs: Any = None) -> tuple[str, dict[str, Any]]:
        try:
            return "application/json", run(*parse(data))
        except SearchError as exc:
            raise ProcessorExecuteError(user_msg=str(exc)) from None
        except TooExpensive:
            raise ProcessorExecuteError(user_msg="tìm kiếm quá lâu / the search took too long") from None
        except (psycopg.OperationalError, BandoError):
            note_unavailable()
            raise ProcessorExecuteError(user_msg="cơ sở dữ liệu chưa sẵn sàng / the database is unavailable") from None
        except Exception as exc:  # never a traceback, SQL text or path to the client
            LOG.error("search failed: %s", described(exc))
            raise ProcessorExecuteError(user_msg="không tìm được / the search could not be done") from None

    def __repr__(self) -> str:
        return "<SearchProcessor>"
