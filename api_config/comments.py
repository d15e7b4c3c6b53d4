"""Public comments on a draft plan during its comment period (lấy ý kiến cộng đồng).

``/comments``: ``GET token`` (a signed, short-lived token the site's own page fetches),
``GET consultations`` (periods, and per-zone counts once a period has closed) and
``POST /`` (a comment tied to a point or a parcel; name and contact optional).
``/internal/ogc/comments`` (bearer token): ``GET`` exports them as JSON or CSV, ``POST
/{id}`` moderates one.

Cross-site posting is refused three ways: a browser's ``Sec-Fetch-Site``/``Origin`` must
say same origin, the request must carry the ``X-Bando-Token`` header (a custom header a
cross-site form cannot send, and a cross-origin script cannot without a CORS grant
bando never gives), and the token must verify. Flooding is refused in the database:
``bando.add_comment`` counts the client's recent comments under a lock, across workers
(``BANDO_COMMENT_LIMIT`` per ``BANDO_COMMENT_WINDOW_S``, by default 10 per 10 minutes, then
429). A comment is personal data: the public role cannot read the table at all, and nothing
of a comment is ever logged or echoed.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import PoolTimeout
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bando.api_config.logs import client_of
from bando.api_config.runtime import Runtime, get_runtime
from bando.errors import BandoError, Unavailable

TOKEN_TTL_S = 2 * 3600
MAX_BODY = 16 * 1024
MAX_TEXT = 2000
COLUMNS = ("id", "layer", "version_id", "created_at", "status", "zone", "parcel", "lon", "lat", "body",
           "author_name", "author_contact")  # fmt: skip


def _problem(status: int, code: str, vi: str, en: str, **headers: str) -> JSONResponse:
    return JSONResponse({"code": code, "description": f"{vi} / {en}"}, status, headers=headers or None)


@lru_cache(maxsize=1)
def secret() -> bytes:
    """The signing key, shared by every worker: an owner-only file in the home folder, made once."""
    path = Path(get_runtime().settings.home) / "comment-secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    except FileExistsError:
        pass
    return path.read_text().strip().encode()


def issue(now: float | None = None) -> str:
    stamp = str(int(now if now is not None else time.time()))
    return f"{stamp}.{hmac.new(secret(), stamp.encode(), hashlib.sha256).hexdigest()}"


def valid(token: str, now: float | None = None) -> bool:
    stamp, _, mac = token.partition(".")
    if not stamp.isdigit() or not hmac.compare_digest(
        mac, hmac.new(secret(), stamp.encode(), hashlib.sha256).hexdigest()
    ):
        return False
    return 0 <= (now if now is not None else time.time()) - int(stamp) <= TOKEN_TTL_S


def client_hash(request: Request) -> str:
    return hmac.new(secret(), client_of(request.scope).encode(), hashlib.sha256).hexdigest()[:32]


def cross_site(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    return origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", "")


# -- the public part -----------------------------------------------------------------------


async def token(request: Request) -> Response:
    return JSONResponse({"token": issue(), "expiresIn": TOKEN_TTL_S}, headers={"Cache-Control": "no-store"})


def _consultations() -> list[dict[str, Any]]:
    with get_runtime().connection("public") as conn:
        rows = conn.execute(
            "select layer, version_id, opens_at, closes_at, now() >= opens_at and now() < closes_at,"
            " (select json_object_agg(coalesce(n.zone, '-'), n.comments) from bando.comment_counts n"
            "   where n.layer = c.layer and n.version_id = c.version_id), now() >= closes_at"
            " from bando.consultations c order by closes_at desc limit 50"
        ).fetchall()
    return [
        {
            "layer": r[0],
            "versionId": r[1],
            "opensAt": r[2].isoformat(),
            "closesAt": r[3].isoformat(),
            "open": r[4],
            "commentsPerZone": (r[5] or {}) if r[6] else None,
        }  # fmt: skip
        for r in rows
    ]


async def consultations(request: Request) -> Response:
    try:
        return JSONResponse({"consultations": await run_in_threadpool(_consultations)})
    except BandoError:
        return _problem(503, "ServiceUnavailable", "cơ sở dữ liệu chưa sẵn sàng", "the database is unavailable")


class Refused(Exception):
    def __init__(self, vi: str, en: str) -> None:
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en


def _text(doc: dict[str, Any], key: str, limit: int, required: bool = False) -> str:
    value = doc.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise Refused(f"{key}: văn bản tối đa {limit} ký tự", f"{key}: text of at most {limit} characters")
    return value.strip()


def parse(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise Refused("nội dung phải là một đối tượng JSON", "the body must be a JSON object")
    point = doc.get("point")
    if not (isinstance(point, list) and len(point) == 2 and all(isinstance(v, (int, float)) for v in point)):
        raise Refused("point phải là [kinh độ, vĩ độ]", "point must be [longitude, latitude]")
    lon, lat = float(point[0]), float(point[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Refused("toạ độ ngoài phạm vi", "coordinates out of range")
    parcel = doc.get("parcel")
    if parcel is not None and not (isinstance(parcel, str) and len(parcel) <= 40):
        raise Refused("parcel không hợp lệ", "invalid parcel")
    return {
        "layer": _text(doc, "layer", 40, True),
        "version": _text(doc, "version", 64, True),
        "body": _text(doc, "text", MAX_TEXT, True),
        "lon": lon,
        "lat": lat,
        "parcel": parcel,
        "name": _text(doc, "name", 100),
        "contact": _text(doc, "contact", 200),
    }


def _store(c: dict[str, Any], client: str) -> int:
    runtime = get_runtime()
    try:
        layer = runtime.layer(c["layer"])
    except BandoError:
        raise Refused("không có lớp quy hoạch này", "no such plan layer") from None
    if not layer.versioned:
        raise Refused("lớp này không lấy ý kiến", "this layer takes no comments")
    # the public role's sessions are read-only by default (defence in depth); this one transaction
    # writes, and only through bando.add_comment — the role holds no privilege on the table itself
    with _writable(runtime) as conn:
        zone_sql = sql.SQL(
            "select {k} from data.{t} where version_id = %s and st_contains(geom,"
            " st_transform(st_setsrid(st_point(%s, %s), 4326), {srid})) limit 1"
        ).format(k=sql.Identifier(layer.key[0]), t=sql.Identifier(layer.table), srid=sql.Literal(runtime.srid(layer)))
        found = conn.execute(zone_sql, (c["version"], c["lon"], c["lat"])).fetchone()
        try:
            row = conn.execute(
                "select bando.add_comment(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (c["layer"], c["version"], c["body"], c["lon"], c["lat"], c["parcel"], found[0] if found else None,
                 c["name"], c["contact"], client, runtime.settings.comment_limit,
                 timedelta(seconds=runtime.settings.comment_window_s)),
            ).fetchone()  # fmt: skip
        except psycopg.Error as exc:
            if exc.sqlstate == "BC002":
                raise Flood() from None
            if exc.sqlstate == "BC001":
                raise Closed() from None
            raise
    return int(row[0]) if row else 0


@contextmanager
def _writable(runtime: Runtime) -> Iterator[psycopg.Connection]:
    try:
        with runtime.pool("public").connection(timeout=3.0) as conn, conn.transaction():
            conn.execute("set transaction read write")
            conn.execute("select set_config('statement_timeout', '5000', true)")
            yield conn
    except (PoolTimeout, psycopg.OperationalError):
        raise Unavailable() from None


class Flood(Exception):
    pass


class Closed(Exception):
    pass


async def post_comment(request: Request) -> Response:
    if cross_site(request):
        return _problem(403, "Forbidden", "không nhận góp ý từ trang khác", "comments from other sites are refused")
    if not valid(request.headers.get("x-bando-token", "")):
        return _problem(403, "Forbidden", "thiếu hoặc sai mã của trang", "the site's token is missing or expired")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _problem(413, "PayloadTooLarge", "góp ý quá dài", "the comment is too long")
    try:
        comment = parse(json.loads(raw.decode("utf-8")))
        new_id = await run_in_threadpool(_store, comment, client_hash(request))
    except (ValueError, RecursionError):
        return _problem(400, "InvalidParameterValue", "nội dung không phải JSON", "the body is not JSON")
    except Refused as exc:
        return _problem(400, "InvalidParameterValue", exc.vi, exc.en)
    except Flood:
        return _problem(429, "TooManyRequests", "quá nhiều góp ý; hãy thử lại sau", "too many comments; try later",
                        **{"Retry-After": str(get_runtime().settings.comment_window_s)})  # fmt: skip
    except Closed:
        return _problem(409, "Conflict", "không trong thời gian lấy ý kiến", "the comment period is not open")
    except BandoError:
        return _problem(503, "ServiceUnavailable", "cơ sở dữ liệu chưa sẵn sàng", "the database is unavailable")
    return JSONResponse({"id": new_id, "status": "received"}, 201)


def public_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/token", token, methods=["GET"]),
            Route("/consultations", consultations, methods=["GET"]),
            Route("/", post_comment, methods=["POST"]),
        ]
    )


# -- the internal part (behind bearer tokens) ------------------------------------------------


def _export(layer: str | None, version: str | None) -> list[tuple[Any, ...]]:
    with get_runtime().connection("internal") as conn:
        return conn.execute(
            f"select {', '.join(COLUMNS)} from bando.comments where (%s::text is null or layer = %s)"
            " and (%s::text is null or version_id = %s) order by id",
            (layer, layer, version, version),
        ).fetchall()


def _cell(value: Any) -> str:
    text = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # no formulas in a spreadsheet


async def export(request: Request) -> Response:
    q = request.query_params
    rows = await run_in_threadpool(_export, q.get("layer"), q.get("version"))
    if q.get("f") == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows([_cell(v) for v in r] for r in rows)
        return Response(
            "\ufeff" + out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="gop-y.csv"', "Cache-Control": "no-store"},
        )
    docs = [{k: _cell(v) if k not in ("id", "lon", "lat") else v for k, v in zip(COLUMNS, r)} for r in rows]
    return JSONResponse({"comments": docs, "count": len(docs)}, headers={"Cache-Control": "no-store"})


def _moderate(comment_id: int, status: str) -> int:
    with get_runtime().connection("internal") as conn:
        cur = conn.execute(
            "update bando.comments set status = %s, moderated_at = now() where id = %s", (status, comment_id)
        )
        return cur.rowcount


async def moderate(request: Request) -> Response:
    try:
        comment_id = int(request.path_params["id"])
        status = json.loads(await request.body()).get("status")
    except (ValueError, AttributeError):
        return _problem(400, "InvalidParameterValue", "yêu cầu không hợp lệ", "invalid request")
    if status not in ("new", "accepted", "rejected"):
        return _problem(400, "InvalidParameterValue", "status: new|accepted|rejected", "status: new|accepted|rejected")
    if not await run_in_threadpool(_moderate, comment_id, status):
        return _problem(404, "NotFound", "không có góp ý này", "no such comment")
    return JSONResponse({"id": comment_id, "status": status})


def internal_app() -> Starlette:
    return Starlette(routes=[Route("/", export, methods=["GET"]), Route("/{id:int}", moderate, methods=["POST"])])
