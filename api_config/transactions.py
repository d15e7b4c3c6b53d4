"""OGC API – Features – Part 4 (Create, Replace, Update, Delete) on the internal view.

:class:`Transactions` wraps the internal view: it answers ``POST …/items`` with features,
``PUT``/``PATCH``/``DELETE …/items/{fid}``, adds an ``ETag`` to a single feature's ``GET``, and
passes everything else (reads, CQL2-JSON searches) to pygeoapi. :class:`ReadOnly` wraps the
public view and refuses every write with 405.

A write is checked by the load's own rules, with the load's rule codes; pipelines and this
package sit on the same layer, so the rule functions come in as :class:`Rules` from the
composition root. Each write is one transaction (:mod:`bando.api_config.edits_sql`): the
token's write scope is checked here, the layer's edit role is enforced by PostgreSQL, a stale
``If-Match`` answers 412, and the feature's history and an audit row are written with it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import shapely
import shapely.geometry
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bando.api_config import edits_sql, logs
from bando.api_config.auth import token_of
from bando.api_config.errors import problem, response_for
from bando.api_config.features_sql import axis_flip, srid_of
from bando.api_config.limits import replay
from bando.api_config.runtime import Runtime, get_runtime
from bando.api_config.tile_cache import LINEAGES
from bando.crs import parse_crs
from bando.errors import BadInput, BandoError, LoadRefused
from bando.layers.model import Layer

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
)
MAX_FEATURES = 10_000
CQL_JSON = "application/query-cql-json"
NDJSON = ("application/x-ndjson", "application/jsonl", "application/json-seq")
_ITEMS = re.compile(r"^/collections/([^/]+)/items/?$")
_ITEM = re.compile(r"^/collections/([^/]+)/items/([^/]+)$")
_FID = re.compile(r"[1-9][0-9]{0,18}")
#: Rules a refusal answers 409 for: the feature clashes with another one, not with itself.
CONFLICT_RULES = {"key.duplicate", "geometry.overlap"}


@dataclass(frozen=True)
class Rules:
    """The load's rule functions (:mod:`bando.pipelines.edits`), handed in by the composition root."""

    check_rows: Callable[..., Any]
    check_set: Callable[[psycopg.Connection, Layer, list[int]], list[Any]]


class Refused(BandoError):
    """A write the rules refuse: status and the findings, each with its rule code."""

    def __init__(self, status: int, message: str, findings: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.status = status
        self.findings = findings


def _relative(scope: Scope) -> str:
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def _is_feature_post(scope: Scope, body: bytes) -> bool:
    """A POST to items that sends features (Part 4), not a CQL2-JSON search."""
    ctype = _header(scope, b"content-type").split(";")[0].strip().lower()
    if ctype == CQL_JSON:
        return False
    if ctype == "application/geo+json" or ctype in NDJSON:
        return True
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("type") in ("Feature", "FeatureCollection")


async def _read_body(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


class ReadOnly:
    """The public view: every write method, and features sent to items, answer 405."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "")
        if scope["type"] != "http" or method in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = _relative(scope)
        body = b""
        if method == "POST":
            body = await _read_body(receive)
            receive = replay(body, receive)
        if method in ("PUT", "PATCH", "DELETE") or (_ITEMS.match(path) and _is_feature_post(scope, body)):
            allow = "GET, POST" if _ITEMS.match(path) else "GET"
            response = problem(
                405, "MethodNotAllowed", "the public API is read-only; edits go to /internal/ogc", Allow=allow
            )
            logs.refused(scope, "/collections/{collection_id}/items", 405, body, None)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class Transactions:
    """The internal view with Part 4 writes in front of pygeoapi's reads."""

    def __init__(self, app: ASGIApp, rules: Rules | None) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope.get("method", ""), _relative(scope)
        items, item = _ITEMS.match(path), _ITEM.match(path)
        if method == "GET" and item:
            await self._with_etag(scope, receive, send, item.group(1), item.group(2))
            return
        if method == "GET" and path.rstrip("/") == "/conformance":
            await _with_conformance(self.app, scope, receive, send)
            return
        if not ((method == "POST" and items) or (method in ("PUT", "PATCH", "DELETE") and item)):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if method == "POST" and not _is_feature_post(scope, body):
            await self.app(scope, replay(body, receive), send)
            return
        match = items or item
        assert match is not None
        try:
            response = await self._write(scope, method, match.group(1), item.group(2) if item else None, body)
        except Refused as exc:
            response = JSONResponse(
                {
                    "code": "RuleViolation" if exc.status != 409 else "Conflict",
                    "description": str(exc),
                    "rules": exc.findings,
                },
                status_code=exc.status,
            )
        except edits_sql.Busy as exc:
            response = problem(409, "Conflict", str(exc), **{"Retry-After": "5"})
        except BandoError as exc:
            response = response_for(exc, scope)
        if response.status_code >= 400:
            route = "/collections/{collection_id}/items" + ("/{item_id}" if item else "")
            known = match.group(1) if match.group(1) in get_runtime().catalogue.layers else None
            logs.refused(scope, route, response.status_code, body, known)
        await response(scope, receive, send)

    async def _with_etag(self, scope: Scope, receive: Receive, send: Send, collection: str, fid_text: str) -> None:
        runtime = get_runtime()
        layer = _editable(runtime, collection, raise_=False)
        tag = None
        if layer is not None and _FID.fullmatch(fid_text):
            tag = await runtime.gate("internal").run(_etag, runtime, layer, int(fid_text))

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200 and tag:
                message = {**message, "headers": [*message.get("headers", []), (b"etag", f'"{tag}"'.encode())]}
            await send(message)

        await self.app(scope, receive, tagged)

    async def _write(self, scope: Scope, method: str, collection: str, fid_text: str | None, body: bytes) -> Response:
        runtime = get_runtime()
        token = token_of(scope)
        if token is None:
            return problem(401, "Unauthorized", "writes need a named token")
        layer = _editable(runtime, collection)
        assert layer is not None
        if not token.may_write(layer.id):
            return problem(403, "Forbidden", f"token {token.name!r} may not write collection {layer.id!r}")
        if self.rules is None:
            return problem(501, "NotImplemented", "this server was started without the edit rules")
        fid = None
        if fid_text is not None:
            if not _FID.fullmatch(fid_text):
                return problem(404, "NotFound", f"no feature with id {fid_text[:40]!r}")
            fid = int(fid_text)
        if method != "POST":
            match = _if_match(_header(scope, b"if-match"))
            if match is None:
                return problem(
                    428, "PreconditionRequired", "send If-Match with the feature's ETag (GET the feature first)"
                )
        content_crs = _header(scope, b"content-crs").strip().strip("<>") or None
        write = Write(runtime, self.rules, layer, token.name, content_crs)
        gate = runtime.gate("internal")
        if method == "POST":
            ndjson = _header(scope, b"content-type").split(";")[0].strip().lower() in NDJSON
            return await gate.run(write.create, _lines(body) if ndjson else _features(body))
        assert fid is not None
        if method == "DELETE":
            return await gate.run(write.delete, fid, match)
        feature = _document(body)
        if feature.get("type") != "Feature":
            raise BadInput("send one GeoJSON Feature")
        return await gate.run(write.change, fid, match, feature, method == "PATCH")


async def _with_conformance(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """The view's conformance document with the Part 4 classes added (internal view only)."""
    start: Message = {}
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    body = b"".join(chunks)
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    plain_json = any(k.lower() == b"content-type" and b"json" in v for k, v in headers) and not any(
        k.lower() == b"content-encoding" for k, v in headers
    )
    if start.get("status") == 200 and plain_json:
        doc = json.loads(body)
        doc["conformsTo"] = sorted({*doc.get("conformsTo", []), *CONFORMANCE})
        body = json.dumps(doc).encode()
    await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _etag(runtime: Runtime, layer: Layer, fid: int) -> str | None:
    with runtime.connection("internal") as conn:
        return edits_sql.etag(conn, layer, fid)


def _editable(runtime: Runtime, collection: str, raise_: bool = True) -> Layer | None:
    from bando.errors import NotFound

    if collection not in runtime.catalogue.layers:
        if raise_:
            raise NotFound(f"no collection {collection[:60]!r}")
        return None
    layer = runtime.layer(collection)
    if layer.kind == "raster" or layer.versioned:
        if raise_:
            raise Refused(
                405,
                f"layer {layer.id!r} changes only by a load ({'approved plan versions' if layer.versioned else 'a raster'})",
                [],
            )
        return None
    return layer


def _if_match(value: str) -> str | None:
    """The entity tag of If-Match (weak or strong); None when absent or ``*`` (a blind write)."""
    value = value.strip()
    m = re.fullmatch(r'(?:W/)?"([^"]*)"', value)
    return m.group(1) if m else None


def _document(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError:
        raise BadInput("the body is not JSON") from None
    if not isinstance(doc, dict):
        raise BadInput("send a GeoJSON Feature or FeatureCollection")
    return doc


def _features(body: bytes) -> list[dict[str, Any]]:
    doc = _document(body)
    features = doc.get("features") if doc.get("type") == "FeatureCollection" else [doc]
    if not isinstance(features, list) or not features:
        raise BadInput("a FeatureCollection needs a non-empty list of features")
    if len(features) > MAX_FEATURES:
        raise BadInput(f"at most {MAX_FEATURES} features per request")
    for f in features:
        if not isinstance(f, dict) or f.get("type") != "Feature" or not isinstance(f.get("properties") or {}, dict):
            raise BadInput("every member must be a GeoJSON Feature with an object of properties")
    return features


def _lines(body: bytes) -> list[dict[str, Any]]:
    """JSON lines (a gateway's batch of readings): each line a Feature or just its properties."""
    features = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            raise BadInput(f"line {number} is not JSON") from None
        if not isinstance(doc, dict):
            raise BadInput(f"line {number} is not a JSON object")
        features.append(
            doc if doc.get("type") == "Feature" else {"type": "Feature", "properties": doc, "geometry": None}
        )
    if not features:
        raise BadInput("the body holds no lines")
    return _features(json.dumps({"type": "FeatureCollection", "features": features}).encode())


def _findings(issues: list[Any]) -> list[dict[str, Any]]:
    return [{"index": i.index, "rule": i.rule, "severity": i.severity, "reason": i.reason} for i in issues]


@dataclass
class Write:
    """One write request on one layer, run on the internal view's worker thread."""

    runtime: Runtime
    rules: Rules
    layer: Layer
    token: str
    content_crs: str | None

    def _crs(self) -> tuple[int, bool]:
        srid = srid_of(self.content_crs, 4326)
        return srid, axis_flip(self.content_crs or "CRS84", srid)

    def _check(self, properties: list[dict[str, Any]], geometries: list[Any], srid: int) -> list[dict[str, Any]]:
        layer, runtime = self.layer, self.runtime
        storage = runtime.srid(layer) if layer.geometry else 4326
        extent = runtime.province.bbox_in(storage) if layer.geometry and layer.rules.extent == "province" else None
        try:
            crs = parse_crs(srid)
        except Exception:
            raise BadInput(f"unsupported Content-Crs {self.content_crs!r}") from None
        try:
            checked = self.rules.check_rows(layer, properties, geometries, crs, storage, extent)
        except LoadRefused as exc:
            rule = getattr(exc, "rule", "refused")
            raise Refused(
                422, str(exc), [{"index": None, "rule": rule, "severity": "error", "reason": str(exc)}]
            ) from None
        if checked.errors:
            raise Refused(422, "the feature breaks the layer's rules; nothing was changed", _findings(checked.errors))
        return list(checked.rows)

    def _geometries(self, features: list[dict[str, Any]], flip: bool) -> list[Any]:
        out = []
        for f in features:
            g = f.get("geometry")
            if g and flip:
                with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException):
                    g = shapely.geometry.mapping(shapely.transform(shapely.geometry.shape(g), lambda xy: xy[:, ::-1]))
            out.append(g)
        return out

    def _set_rules(self, conn: psycopg.Connection, fids: list[int]) -> None:
        errors = [i for i in self.rules.check_set(conn, self.layer, fids) if i.severity == "error"]
        if errors:
            raise Refused(409, "the feature clashes with another one; nothing was changed", _findings(errors))

    def create(self, features: list[dict[str, Any]]) -> Response:
        srid, flip = self._crs()
        rows = self._check([f.get("properties") or {} for f in features], self._geometries(features, flip), srid)
        with self.runtime.connection("internal") as conn:
            edits_sql.begin(conn, self.layer)
            edits_sql.month_partitions(conn, self.layer, rows)
            fids = edits_sql.next_fids(conn, self.layer, len(rows))
            try:
                edits_sql.insert(conn, self.layer, fids, rows)
            except psycopg.errors.UniqueViolation:
                raise Refused(
                    409, "a feature with this key exists", [{"rule": "key.duplicate", "severity": "error"}]
                ) from None
            self._set_rules(conn, fids)
            edits_sql.audit_created(conn, self.token, self.layer, fids)
            edits_sql.bump(conn, self.layer, len(fids), fids)
            tags = {fid: edits_sql.etag(conn, self.layer, fid) for fid in fids[:1]} if len(fids) == 1 else {}
        LINEAGES.expire()
        body: dict[str, Any] = {"ids": fids, "numberCreated": len(fids)}
        if len(fids) == 1:  # one feature: where it is, and its ETag for the next edit
            location = f"collections/{self.layer.id}/items/{fids[0]}"
            headers = {"Location": location, "ETag": f'"{tags[fids[0]]}"'}
            return JSONResponse({"id": fids[0], **body}, status_code=201, headers=headers)
        return JSONResponse(body, status_code=201)

    def change(self, fid: int, match: str, feature: dict[str, Any], merge: bool) -> Response:
        srid, flip = self._crs()
        with self.runtime.connection("internal") as conn:
            edits_sql.begin(conn, self.layer)
            before = self._locked(conn, fid, match)
            properties = feature.get("properties") or {}
            if not isinstance(properties, dict):
                raise BadInput("properties must be an object")
            geometry = feature.get("geometry")
            if merge:
                old = {k: v for k, v in before.items() if k != "geometry"}
                properties = {**old, **properties}
                if geometry is None and self.layer.geometry:
                    geometry, srid, flip = before.get("geometry"), self.runtime.srid(self.layer), False
            rows = self._check([properties], self._geometries([{"geometry": geometry}], flip), srid)
            edits_sql.close_history(conn, self.layer, fid)
            edits_sql.month_partitions(conn, self.layer, rows)  # a reading moved to a month not seen yet
            try:
                edits_sql.replace(conn, self.layer, fid, rows[0])
            except psycopg.errors.UniqueViolation:
                raise Refused(
                    409, "a feature with this key exists", [{"rule": "key.duplicate", "severity": "error"}]
                ) from None
            self._set_rules(conn, [fid])
            after = edits_sql.state(conn, self.layer, fid)
            audit_id = edits_sql.audit(
                conn, self.token, self.layer, "update" if merge else "replace", fid, before, after
            )
            edits_sql.open_history(conn, self.layer, fid, audit_id)
            edits_sql.bump(conn, self.layer, 0, [fid])
            tag = edits_sql.etag(conn, self.layer, fid)
        LINEAGES.expire()
        return Response(status_code=204, headers={"ETag": f'"{tag}"'})

    def delete(self, fid: int, match: str) -> Response:
        with self.runtime.connection("internal") as conn:
            edits_sql.begin(conn, self.layer)
            before = self._locked(conn, fid, match)
            edits_sql.close_history(conn, self.layer, fid)
            edits_sql.delete(conn, self.layer, fid)
            edits_sql.audit(conn, self.token, self.layer, "delete", fid, before, None)
            edits_sql.bump(conn, self.layer, -1)
        LINEAGES.expire()
        return Response(status_code=204)

    def _locked(self, conn: psycopg.Connection, fid: int, match: str) -> dict[str, Any]:
        found = edits_sql.current(conn, self.layer, fid)
        if found is None:
            from bando.errors import NotFound

            raise NotFound(f"no feature with id {fid}")
        tag, before = found
        if tag != match:
            raise Refused(412, "the feature changed since this ETag was read; GET it again and reapply the change", [])
        return before
