"""``planning-report``: what is planned for a parcel (or a drawn area), in one round trip.

A citizen names a parcel by commune + map sheet + parcel number, or clicks a point, or
draws an area; the report says what the parcel is (public cadastral facts only), what
it is used for now, what the land-use plan and the 1/2000 construction plan intend for
it (with m² and share of the parcel per zone or plot, and the plot indicators), how much
of it lies inside the red lines of a planned road (with that part as GeoJSON), which
plan version and approval decision each answer comes from, and the date of the data.

The SQL lives in ``planning_report.sql`` (read once at import); it is composed once per
process from the catalogue — public field lists, code fields, the TM-3 SRID — and runs
as one statement with every request value a parameter. Inputs are validated here,
strictly, before anything reaches the database.

Errors: pygeoapi 0.24 runs a synchronous process inside its manager, which turns any
exception into a *failed job*, answered with HTTP 400 and ``{"code":
"InvalidParameterValue", "description": "Error executing process: <message>"}``. So
every refusal here — bad input, unknown version — is a 400 with a bilingual message, and
no exception text other than ours ever reaches the client; an unknown parcel (or no
parcel at a point) is noted for the seam, which answers it 404 with the same message.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import shapely
from psycopg import sql
from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from bando.api_config.logs import described
from bando.api_config.processes import LANG_INPUT
from bando.api_config.pygeoapi_seam.handlers import note_not_found, note_unavailable
from bando.api_config.runtime import get_runtime
from bando.crs import CRS84_URI, vn2000_srids
from bando.db import scalar
from bando.errors import DB_UNAVAILABLE, BadInput, BandoError, TooExpensive
from bando.layers.model import Layer
from bando.layers.tables import PG_TYPES

LOG = logging.getLogger("bando.api")

SQL_TEXT = Path(__file__).with_suffix(".sql").read_text(encoding="utf-8")

MAX_RINGS = 50
MAX_AREA_M2 = 4_000_000.0  # 400 ha: a neighbourhood, not a province
MIN_PIECE_M2 = 0.1  # smaller overlaps are digitising noise (plans are drawn coarser than the cadastre)
MAX_PROJECTED = 1.0e7  # |easting|, |northing| in metres
PRESENCE_TTL_S = 300.0  # how long a composed statement trusts which layers exist
REPORT_LAYERS = ("parcels", "land_use_status", "land_use_plan", "planning_plots", "red_lines")
INPUTS = {"maXa", "soHieuToBanDo", "soThuTuThua", "point", "polygon", "crs", "version", "lang"}
_MAXA = re.compile(r"^[0-9]{1,10}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_EPSG = re.compile(
    r"^(?:EPSG:{1,2}|urn:ogc:def:crs:EPSG:[0-9.]*:|http://www\.opengis\.net/def/crs/EPSG/0/)([0-9]{4,5})$"
)

DISCLAIMER = {
    "vi": (
        "Thông tin chỉ mang tính tham khảo, được tổng hợp tự động từ cơ sở dữ liệu không gian của tỉnh "
        "tại ngày dữ liệu nêu trên. Hồ sơ quy hoạch và các quyết định phê duyệt do cơ quan có thẩm quyền "
        "ban hành là căn cứ pháp lý; khi có khác biệt, hồ sơ quy hoạch được phê duyệt có giá trị."
    ),
    "en": (
        "For reference only: compiled automatically from the province's spatial database as of the data "
        "dates shown. The approved planning documents and decisions issued by the competent authorities "
        "are the legal basis and prevail over this report wherever they differ."
    ),
}
RED_LINE_RULE = {
    "vi": (
        "Phần thửa đất nằm trong chỉ giới đường đỏ là phần nằm giữa hai đường chỉ giới của cùng một tuyến "
        "đường (cách mỗi đường không quá lộ giới); tuyến chỉ có một đường chỉ giới được coi là tim đường, "
        "với dải đất rộng bằng lộ giới."
    ),
    "en": (
        "The part inside the red lines is the strip between the two red lines of the same road (within the "
        "right-of-way width of each); a road drawn with a single red line is taken as its axis, with a strip "
        "as wide as the right-of-way."
    ),
}
LABELS = {  # keys the report adds; catalogue fields take their titles from layers/*.yml
    "landUseName": ("Tên loại đất", "Land-use name"),
    "colour": ("Màu bản đồ", "Map colour"),
    "geometryAreaM2": ("Diện tích hình học (m², mặt phẳng VN-2000 TM-3)", "Geometric area (m², VN-2000 TM-3 plane)"),
    "areaM2": ("Diện tích (m²)", "Area (m²)"),
    "percent": ("Tỷ lệ so với thửa đất (%)", "Share of the parcel (%)"),
    "coveredPercent": ("Tỷ lệ được bao phủ (%)", "Share covered (%)"),
    "version": ("Phiên bản", "Version"),
    "decision": ("Số quyết định phê duyệt", "Approval decision"),
    "decisionDate": ("Ngày quyết định", "Decision date"),
    "authority": ("Cơ quan phê duyệt", "Approving authority"),
    "validFrom": ("Có hiệu lực từ", "Valid from"),
    "validTo": ("Hết hiệu lực", "Valid to"),
    "inForce": ("Đang có hiệu lực", "In force"),
    "dataDate": ("Ngày cập nhật dữ liệu", "Data date"),
    "road": ("Tuyến đường", "Road"),
    "width": ("Lộ giới (m)", "Right-of-way width (m)"),
    "note": ("Ghi chú", "Note"),
    "rule": ("Cách xác định", "Rule"),
    "currentLandUse": ("Hiện trạng sử dụng đất", "Current land use"),
    "plannedLandUse": ("Quy hoạch sử dụng đất", "Planned land use"),
    "construction": ("Quy hoạch xây dựng (ô quy hoạch)", "Construction planning (plots)"),
    "redLines": ("Chỉ giới đường đỏ (phần đất dành cho đường)", "Red lines (land reserved for roads)"),
    "parcel": ("Thửa đất", "Parcel"),
    "disclaimer": ("Lưu ý", "Notice"),
}

PROCESS_METADATA: dict[str, Any] = {
    "version": "1.0.0",
    "id": "planning-report",
    "title": {"vi": "Thông tin quy hoạch thửa đất", "en": "Planning report for a parcel"},
    "description": {
        "vi": "Cho một thửa đất (mã xã, số tờ, số thửa), một điểm hoặc một vùng: thông tin công khai của thửa, "
        "hiện trạng và quy hoạch sử dụng đất theo từng vùng (m², %), ô quy hoạch xây dựng và các chỉ tiêu, "
        "phần diện tích nằm trong chỉ giới đường đỏ, kèm phiên bản và quyết định phê duyệt.",
        "en": "For a parcel (commune, map sheet, parcel number), a point or an area: the parcel's public facts, "
        "current and planned land use per zone (m², %), the construction-planning plots and their "
        "indicators, the area inside road red lines, with the plan version and approval decision of each.",
    },
    "jobControlOptions": ["sync-execute"],
    "keywords": ["quy hoạch", "thửa đất", "công khai quy hoạch", "planning", "parcel", "red line"],
    "links": [],
    "inputs": {
        "maXa": {
            "title": "Mã xã / commune code",
            "description": 'e.g. "12049"',
            "schema": {"type": "string", "pattern": "^[0-9]{1,10}$"},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "soHieuToBanDo": {
            "title": "Số hiệu tờ bản đồ / map sheet",
            "schema": {"type": "integer", "minimum": 1},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "soThuTuThua": {
            "title": "Số thứ tự thửa / parcel number",
            "schema": {"type": "integer", "minimum": 1},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "point": {
            "title": "Điểm / point [x, y]",
            "description": "[longitude, latitude] or [easting, northing]",
            "schema": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "polygon": {
            "title": "Vùng / area (GeoJSON Polygon)",
            "description": "GeoJSON Polygon, at most {max_vertices} vertices and "  # the setting, see __init__
            f"{MAX_AREA_M2 / 10_000:g} ha",
            "schema": {
                "type": "object",
                "required": ["type", "coordinates"],
                "properties": {"type": {"type": "string", "enum": ["Polygon"]}, "coordinates": {"type": "array"}},
            },
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "crs": {
            "title": "Hệ toạ độ của điểm/vùng / CRS of point or polygon",
            "description": f"{CRS84_URI} (default), EPSG:4326 (longitude first; as an OGC URI, latitude first, as in the Features API) or a VN-2000 code (the province's TM-3 EPSG code …)",
            "schema": {"type": "string"},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "version": {
            "title": "Phiên bản quy hoạch / plan version",
            "description": "default: the version in force",
            "schema": {"type": "string"},
            "minOccurs": 0,
            "maxOccurs": 1,
        },
        "lang": LANG_INPUT,
    },
    "outputs": {
        "report": {
            "title": "Báo cáo quy hoạch / planning report",
            "schema": {"type": "object", "contentMediaType": "application/json"},
        },
    },
    "example": {"inputs": {"maXa": "12019", "soHieuToBanDo": 3, "soThuTuThua": 120, "lang": "vi"}},
}


class ReportError(Exception):
    """A refusal for the client: Vietnamese first, then English."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(f"{vi} / {en}")


class NoSuchParcel(ReportError):
    """The parcel asked for does not exist: 404, not a bad request."""


# -- inputs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    mode: str  # parcel | point | area
    lang: str = "vi"
    version: str | None = None
    maxa: str | None = None
    sheet: int | None = None
    num: int | None = None
    wkb: bytes | None = None
    srid: int | None = None
    crs: str | None = None
    point: tuple[float, float] | None = None

    def params(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "maxa": self.maxa,
            "sheet": self.sheet,
            "num": self.num,
            "wkb": self.wkb,
            "in_srid": self.srid,
            "version": self.version,
            "lang": self.lang,
            "max_area": MAX_AREA_M2,
            "min_piece": MIN_PIECE_M2,
        }

    def echo(self) -> dict[str, Any]:
        if self.mode == "parcel":
            return {"kind": "parcel", "maXa": self.maxa, "soHieuToBanDo": self.sheet, "soThuTuThua": self.num}
        if self.mode == "point":
            return {"kind": "point", "point": list(self.point or ()), "crs": self.crs}
        return {"kind": "area", "crs": self.crs}


def _int_in(value: Any, name: str, low: int, high: int) -> int:
    if type(value) is not int:  # rejects "5", 5.0, True
        raise ReportError(f"{name} phải là số nguyên", f"{name} must be an integer")
    if not low <= value <= high:
        raise ReportError(f"{name} phải trong khoảng {low}–{high}", f"{name} must be between {low} and {high}")
    return value


def _domain(layer: Layer, name: str, default: tuple[int, int]) -> tuple[int, int]:
    dom = layer.field(name).domain
    low = int(dom.min) if dom and dom.min is not None else default[0]
    high = int(dom.max) if dom and dom.max is not None else default[1]
    return low, high


def _crs(value: Any) -> tuple[int, bool, str]:
    """(srid, geographic, canonical name) of an accepted input CRS."""
    if value is None:
        return 4326, True, CRS84_URI
    if not isinstance(value, str) or len(value) > 80:
        raise ReportError("crs phải là một chuỗi", "crs must be a string")
    if value in (CRS84_URI, "OGC:CRS84", "CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84"):
        return 4326, True, CRS84_URI
    m = _EPSG.match(value)
    srid = int(m.group(1)) if m else None
    if srid == 4326:
        return 4326, True, "EPSG:4326"
    if srid is not None and srid in vn2000_srids():
        return srid, srid == 4756, f"EPSG:{srid}"
    raise ReportError(
        "hệ toạ độ không được hỗ trợ; dùng CRS84, EPSG:4326 hoặc một mã VN-2000 (TM-3 của tỉnh)",
        "unsupported crs; use CRS84, EPSG:4326 or a VN-2000 code such as the province's TM-3",
    )


def _lat_first(crs: Any) -> bool:
    """An OGC URI or URN of EPSG:4326 or 4756 means latitude first, as in the Features API's
    ``crs``; the short ``EPSG:4326`` and CRS84 stay [longitude, latitude]."""
    if not isinstance(crs, str) or crs.upper().startswith("EPSG:"):
        return False
    m = _EPSG.match(crs)
    return m is not None and int(m.group(1)) in (4326, 4756)


def _position(value: Any, geographic: bool, lat_first: bool = False) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise ReportError("toạ độ phải là [x, y]", "a position must be [x, y]")
    if lat_first:
        value = [value[1], value[0]]
    if any(type(v) not in (int, float) for v in value):
        raise ReportError("toạ độ phải là số", "coordinates must be numbers")
    x, y = float(value[0]), float(value[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ReportError("toạ độ phải là số hữu hạn", "coordinates must be finite numbers")
    if geographic and not (-180 <= x <= 180 and -90 <= y <= 90):
        raise ReportError(
            "kinh độ/vĩ độ ngoài phạm vi ([kinh độ, vĩ độ])",
            "longitude/latitude out of range (order is [longitude, latitude])",
        )
    if not geographic and not (abs(x) <= MAX_PROJECTED and abs(y) <= MAX_PROJECTED):
        raise ReportError("toạ độ phẳng ngoài phạm vi", "projected coordinates out of range")
    return x, y


def _polygon(value: Any, geographic: bool, lat_first: bool = False) -> shapely.Polygon:
    if not isinstance(value, dict) or value.get("type") != "Polygon" or not isinstance(value.get("coordinates"), list):
        raise ReportError("polygon phải là một GeoJSON Polygon", "polygon must be a GeoJSON Polygon")
    rings = value["coordinates"]
    if not rings or len(rings) > MAX_RINGS or any(not isinstance(r, list) for r in rings):
        raise ReportError(f"polygon phải có từ 1 đến {MAX_RINGS} vòng", f"polygon must have 1 to {MAX_RINGS} rings")
    cap = get_runtime().settings.max_vertices  # a drawn area; a cadastral parcel has tens
    if sum(len(r) for r in rings) > cap:
        raise ReportError(
            f"polygon có quá nhiều đỉnh (tối đa {cap})",
            f"polygon has too many vertices (at most {cap})",
        )
    coords = [[_position(p, geographic, lat_first) for p in ring] for ring in rings]
    for ring in coords:
        if len(ring) < 4 or ring[0] != ring[-1]:
            raise ReportError(
                "mỗi vòng của polygon phải khép kín và có ít nhất 4 điểm",
                "each polygon ring must be closed and have at least 4 positions",
            )
    poly = shapely.Polygon(coords[0], coords[1:])
    if not poly.is_valid:
        reason = shapely.is_valid_reason(poly).split("[")[0].strip()
        raise ReportError(f"polygon không hợp lệ ({reason})", f"polygon is not valid ({reason})")
    if poly.area == 0:
        raise ReportError("polygon có diện tích bằng 0", "polygon has no area")
    return poly


def parse(data: Any) -> Request:
    """The inputs as a Request, or a ReportError naming what is wrong."""
    if not isinstance(data, dict):
        raise ReportError("inputs phải là một đối tượng JSON", "inputs must be a JSON object")
    unknown = sorted(str(k)[:40] for k in data if k not in INPUTS)
    if unknown:
        raise ReportError(
            f"tham số không được hỗ trợ: {', '.join(unknown[:5])}", f"unsupported input(s): {', '.join(unknown[:5])}"
        )
    lang = data.get("lang", "vi")
    if lang not in ("vi", "en"):
        raise ReportError('lang phải là "vi" hoặc "en"', 'lang must be "vi" or "en"')
    version = data.get("version")
    if version is not None and (not isinstance(version, str) or not _VERSION.match(version)):
        raise ReportError(
            "version phải là mã phiên bản quy hoạch (chữ, số, . _ : -)",
            "version must be a plan version id (letters, digits, . _ : -)",
        )
    key = [k for k in ("maXa", "soHieuToBanDo", "soThuTuThua") if k in data]
    modes = (["parcel"] if key else []) + [k for k in ("point", "polygon") if k in data]
    if len(modes) != 1:
        raise ReportError(
            "cần đúng một trong: khoá thửa (maXa, soHieuToBanDo, soThuTuThua), point hoặc polygon",
            "give exactly one of: a parcel key (maXa, soHieuToBanDo, soThuTuThua), point or polygon",
        )
    if modes == ["parcel"]:
        if len(key) != 3:
            raise ReportError(
                "khoá thửa cần đủ maXa, soHieuToBanDo và soThuTuThua",
                "a parcel key needs maXa, soHieuToBanDo and soThuTuThua",
            )
        if "crs" in data:
            raise ReportError("crs chỉ dùng với point hoặc polygon", "crs applies to point or polygon only")
        maxa = data["maXa"]
        if not isinstance(maxa, str) or not _MAXA.match(maxa):
            raise ReportError(
                'maXa phải là chuỗi chữ số, ví dụ "12049"', 'maXa must be a string of digits, e.g. "12049"'
            )
        parcels = get_runtime().layer("parcels")
        sheet = _int_in(data["soHieuToBanDo"], "soHieuToBanDo", *_domain(parcels, "soHieuToBanDo", (1, 9999)))
        num = _int_in(data["soThuTuThua"], "soThuTuThua", *_domain(parcels, "soThuTuThua", (1, 99999)))
        return Request("parcel", lang, version, maxa=maxa, sheet=sheet, num=num)
    srid, geographic, name = _crs(data.get("crs"))
    lat_first = _lat_first(data.get("crs"))
    if modes == ["point"]:
        x, y = _position(data["point"], geographic, lat_first)
        return Request(
            "point", lang, version, wkb=shapely.to_wkb(shapely.Point(x, y)), srid=srid, crs=name, point=(x, y)
        )
    poly = _polygon(data["polygon"], geographic, lat_first)
    return Request("area", lang, version, wkb=shapely.to_wkb(poly), srid=srid, crs=name)


# -- the statement -------------------------------------------------------------------


def _statement_text() -> str:
    """The report statement of the SQL file, without its full-line comments."""
    body = SQL_TEXT.split("-- name: report", 1)[1]
    return "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("--"))


STATEMENT_TEXT = _statement_text()


def _props(layer: Layer, alias: str) -> sql.Composable:
    """``'name', alias."name", …`` for the layer's public fields (never a personal one)."""
    return sql.SQL(", ").join(
        sql.SQL("{}, {}.{}").format(sql.Literal(f.name), sql.Identifier(alias), sql.Identifier(f.name))
        for f in layer.public_fields
    )


def _empty_table(layer: Layer, srid: int) -> sql.Composable:
    """A relation with the layer's columns and no rows: the stand-in for an unpublished layer."""
    cols: list[sql.Composable] = [sql.SQL("null::bigint as fid")]
    cols += [sql.SQL("null::{} as {}").format(sql.SQL(PG_TYPES[f.type]), sql.Identifier(f.name)) for f in layer.fields]
    if layer.versioned:
        cols += [
            sql.SQL("null::text as version_id"),
            sql.SQL("null::date as valid_from"),
            sql.SQL("null::date as valid_to"),
        ]
    cols.append(sql.SQL("null::geometry(Geometry, {}) as geom").format(sql.Literal(srid)))
    return sql.SQL("(select {} where false)").format(sql.SQL(", ").join(cols))


def compose(present: set[str]) -> sql.Composed:
    runtime = get_runtime()
    layers = {lid: runtime.layer(lid) for lid in REPORT_LAYERS}
    srid = runtime.srid(layers["parcels"])
    red_width = layers["red_lines"].field("loGioi").domain
    reach = 3 * (red_width.max if red_width and red_width.max else 200) + 1
    tables = {
        lid: sql.Identifier("data", layers[lid].table) if lid in present else _empty_table(layers[lid], srid)
        for lid in REPORT_LAYERS
    }
    versioned = [lid for lid in REPORT_LAYERS if layers[lid].versioned]
    return sql.SQL(STATEMENT_TEXT).format(
        srid=sql.Literal(srid),
        parcels=tables["parcels"],
        land_use_status=tables["land_use_status"],
        land_use_plan=tables["land_use_plan"],
        planning_plots=tables["planning_plots"],
        red_lines=tables["red_lines"],
        parcel_props=_props(layers["parcels"], "p"),
        plan_props=_props(layers["land_use_plan"], "z"),
        plot_props=_props(layers["planning_plots"], "z"),
        parcel_code=sql.Identifier(layers["parcels"].style.by or "loaiDat"),
        status_code=sql.Identifier(layers["land_use_status"].style.by or "loaiDat"),
        plan_code=sql.Identifier(layers["land_use_plan"].style.by or "loaiDatQH"),
        plot_code=sql.Identifier(layers["planning_plots"].style.by or "chucNang"),
        plan_layer=sql.Literal("land_use_plan"),
        plot_layer=sql.Literal("planning_plots"),
        red_layer=sql.Literal("red_lines"),
        red_reach=sql.Literal(float(reach)),
        versioned_layers=sql.SQL(", ").join(map(sql.Literal, versioned)),
        report_layers=sql.SQL(", ").join(map(sql.Literal, REPORT_LAYERS)),
    )


class _Statement:
    """The composed statement, recomposed when the set of published layers may have changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._text: bytes | None = None
        self._at = 0.0
        self.missing: tuple[str, ...] = ()

    def get(self, conn: psycopg.Connection, refresh: bool = False) -> bytes:
        with self._lock:
            if refresh or self._text is None or time.monotonic() - self._at > PRESENCE_TTL_S:
                names = [f"data.{get_runtime().layer(lid).table}" for lid in REPORT_LAYERS]
                flags = scalar(
                    conn,
                    "select array_agg(to_regclass(n) is not null order by i)"
                    " from unnest(%s::text[]) with ordinality u(n, i)",
                    (names,),
                )
                present = {lid for lid, ok in zip(REPORT_LAYERS, flags) if ok}
                self.missing = tuple(lid for lid in REPORT_LAYERS if lid not in present)
                self._text = compose(present).as_bytes(conn)
                self._at = time.monotonic()
            return self._text


STATEMENT = _Statement()


def run(req: Request, view: str = "public") -> dict[str, Any]:
    """Execute the report statement; returns the decoded JSON document."""
    try:
        try:
            text = _execute(req, view, refresh=False)
        except psycopg.errors.UndefinedTable:  # a layer vanished since composing
            text = _execute(req, view, refresh=True)
    except TooExpensive as exc:
        raise ReportError(
            "báo cáo chạy quá lâu nên đã bị dừng; hãy vẽ vùng nhỏ hơn",
            f"the report took too long and was stopped; draw a smaller area ({str(exc).split('/')[0].strip()})",
        ) from None
    except (psycopg.errors.DataException, psycopg.errors.InternalError_) as exc:
        LOG.info("planning-report rejected %s input: %s", req.mode, type(exc).__name__)
        raise ReportError(
            "không tính được báo cáo cho hình học này", "the report cannot be computed for this geometry"
        ) from None
    except BadInput as exc:  # e.g. a geometry too complex for the database
        raise ReportError("yêu cầu quá phức tạp", str(exc)) from None
    except (psycopg.OperationalError, BandoError):
        note_unavailable()  # answered 503, not as a failed job
        raise ReportError("cơ sở dữ liệu chưa sẵn sàng; hãy thử lại sau giây lát", DB_UNAVAILABLE) from None
    return json.loads(text)


def _execute(req: Request, view: str, refresh: bool) -> str:
    with get_runtime().connection(view) as conn:
        return str(scalar(conn, STATEMENT.get(conn, refresh=refresh), req.params()))


# -- the report ----------------------------------------------------------------------


def _labels(lang: str) -> dict[str, str]:
    i = 0 if lang == "vi" else 1
    out: dict[str, str] = {}
    for lid in REPORT_LAYERS:
        for f in get_runtime().layer(lid).public_fields:
            out.setdefault(f.name, f.title.vi if lang == "vi" else f.title.en)
    return out | {k: v[i] for k, v in LABELS.items()}


_LABELS: dict[str, dict[str, str]] = {}  # lang -> labels, built once


def labels(lang: str) -> dict[str, str]:
    if lang not in _LABELS:
        _LABELS[lang] = _labels(lang)
    return _LABELS[lang]


def _section(doc: dict[str, Any], key: str, layer_id: str, lang: str) -> dict[str, Any] | None:
    body = doc.get(key)
    if body is None:
        return None
    layer = get_runtime().layer(layer_id)
    published = (doc.get("published") or {}).get(layer_id)
    section = {
        "layer": layer_id,
        "title": layer.title.vi if lang == "vi" else layer.title.en,
        "dataDate": published,
        "published": layer_id not in STATEMENT.missing,
    }
    if layer.metadata.date:
        section["sourceDate"] = layer.metadata.date
    if layer.versioned:
        section["versions"] = [v for v in doc.get("versions") or [] if v["layer"] == layer_id]
    return section | body


def build_report(req: Request, doc: dict[str, Any]) -> dict[str, Any]:
    lang = req.lang
    if not doc["versionKnown"]:
        known = ", ".join(sorted(doc["knownVersions"])[:20]) or "—"
        raise ReportError(
            f"không có phiên bản quy hoạch {req.version!r} (có: {known})",
            f"no plan version {req.version!r} (known: {known})",
        )
    if not doc["found"]:
        if req.mode == "parcel":
            raise NoSuchParcel(
                f"không tìm thấy thửa đất số {req.num}, tờ bản đồ số {req.sheet}, mã xã {req.maxa}",
                f"parcel not found: commune {req.maxa}, map sheet {req.sheet}, parcel {req.num}",
            )
        if req.mode == "point":
            raise ReportError(
                "không tìm thấy thửa đất nào tại điểm này (toạ độ theo thứ tự [x, y] = [kinh độ, vĩ độ])",
                "parcel not found: no parcel at this point (order is [x, y] = [longitude, latitude])",
            )
        if (doc.get("inputAreaM2") or 0) > MAX_AREA_M2:
            raise ReportError(
                f"vùng quá lớn (tối đa {MAX_AREA_M2 / 10_000:g} ha)",
                f"the area is too large (at most {MAX_AREA_M2 / 10_000:g} ha)",
            )
        raise ReportError("vùng không hợp lệ", "the area is not valid")
    subject = "parcel" if req.mode in ("parcel", "point") else "area"
    red = _section(doc, "redLines", "red_lines", lang)
    if red is not None:
        red["ruleText"] = RED_LINE_RULE[lang]
    return {
        "type": "PlanningReport",
        "lang": lang,
        "title": PROCESS_METADATA["title"][lang],
        "query": req.echo() | ({"version": req.version} if req.version else {}),
        "subject": {"kind": subject, "areaM2": doc["areaM2"]},
        "parcel": doc["parcel"] if subject == "parcel" else None,
        "currentLandUse": _section(doc, "currentLandUse", "land_use_status", lang),
        "plannedLandUse": _section(doc, "plannedLandUse", "land_use_plan", lang),
        "construction": _section(doc, "construction", "planning_plots", lang),
        "redLines": red,
        "dataDates": doc.get("published") or {},
        "labels": labels(lang),
        "disclaimer": DISCLAIMER[lang],
    }


class PlanningReportProcessor(BaseProcessor):
    def __init__(self, processor_def: dict[str, Any]) -> None:
        # pygeoapi's OpenAPI builder pops keys from the metadata: give it a copy
        metadata = copy.deepcopy(PROCESS_METADATA)
        polygon = metadata["inputs"]["polygon"]
        polygon["description"] = polygon["description"].format(max_vertices=get_runtime().settings.max_vertices)
        super().__init__(processor_def, metadata)
        self.view = str(processor_def.get("view", "public"))

    def execute(self, data: dict[str, Any], outputs: Any = None) -> tuple[str, dict[str, Any]]:
        try:
            req = parse(data)
            return "application/json", build_report(req, run(req, self.view))
        except ReportError as exc:
            if isinstance(exc, NoSuchParcel):
                note_not_found()
            raise ProcessorExecuteError(user_msg=str(exc)) from None
        except Exception as exc:  # never a traceback, SQL text or path to the client
            LOG.error("planning-report failed: %s", described(exc))
            raise ProcessorExecuteError(user_msg="không lập được báo cáo / the report could not be produced") from None

    def __repr__(self) -> str:
        return "<PlanningReportProcessor>"
