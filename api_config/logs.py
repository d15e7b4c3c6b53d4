"""What the API writes to its log: one line per refused or failed request, nothing personal.

A refused request is the client's business, and what it sent may be personal data — a
token holder's filter on an owner's name, an ID number in a body. So a line names the
status, the route *template* (not the path as sent), the collection when it is one of
ours, the client's address and the sizes of the query string and body with a keyed hash
of each (to tell repeats apart; the key is random per process, so a hash cannot be
matched against guessed values elsewhere) — never their text. No traceback for a 4xx;
for an unexpected failure, the frames and the exception's type, not its message (a
database message can quote a value). Each client gets a bounded number of lines per
second; the rest are counted and reported as one line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import traceback
from collections.abc import MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOG = logging.getLogger("bando.api")
_KEY = secrets.token_bytes(16)
LINES_PER_S = 2.0
BURST = 20
MAX_CLIENTS = 10_000


def digest(data: bytes | str) -> str:
    """``<length>B#<keyed hash>``: enough to tell two requests apart, nothing to read back."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    if not raw:
        return "0B"
    return f"{len(raw)}B#{hmac.new(_KEY, raw, hashlib.sha256).hexdigest()[:12]}"


def described(exc: BaseException) -> str:
    """An exception for the log: its type and where it happened, never its message."""
    frames = "".join(traceback.format_tb(exc.__traceback__)) if exc.__traceback__ else ""
    return f"{type(exc).__name__}\n{frames}".rstrip()


class ClientLimit:
    """A token bucket per client for log lines; counts what it drops."""

    def __init__(self, per_s: float = LINES_PER_S, burst: int = BURST) -> None:
        self.per_s, self.burst = per_s, burst
        self._buckets: dict[str, tuple[float, float, int]] = {}  # client -> (tokens, at, dropped)
        self._lock = threading.Lock()

    def allow(self, client: str) -> tuple[bool, int]:
        """Whether a line for this client may be written, and how many were dropped before it."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > MAX_CLIENTS:
                self._buckets.clear()
            tokens, at, dropped = self._buckets.get(client, (float(self.burst), now, 0))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_s)
            if tokens < 1:
                self._buckets[client] = (tokens, now, dropped + 1)
                return False, 0
            self._buckets[client] = (tokens - 1, now, 0)
            return True, dropped


LIMIT = ClientLimit()


def client_of(scope: MutableMapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


def refused(
    scope: MutableMapping[str, Any], route: str, status: int, body: bytes = b"", collection: str | None = None
) -> None:
    """What to say of a request answered with an error status: added to its request line when
    :class:`RequestLog` writes one, else a line of its own."""
    if isinstance(scope.get(REQUEST_KEY), dict):
        scope[REQUEST_KEY]["detail"] = {
            "query": digest(scope.get("query_string", b"")),
            "body": digest(body),
            **({"collection": collection} if collection else {}),
        }
        return
    client = client_of(scope)
    ok, dropped = LIMIT.allow(client)
    if not ok:
        return
    level = logging.ERROR if status >= 500 else logging.INFO
    LOG.log(
        level,
        "%d %s %s%s client=%s query=%s body=%s%s",
        status,
        scope.get("method", "-"),
        scope.get("root_path", ""),
        route,
        client,
        digest(scope.get("query_string", b"")),
        digest(body),
        (f" collection={collection}" if collection else "")
        + (f" ({dropped} earlier lines dropped)" if dropped else ""),
    )


REQUEST_KEY = "bando.request"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id(scope: MutableMapping[str, Any]) -> str:
    """The id of the request being answered ('-' outside :class:`RequestLog`)."""
    state = scope.get(REQUEST_KEY)
    return str(state["id"]) if isinstance(state, dict) else "-"


def route_of(scope: MutableMapping[str, Any]) -> str:
    """The route template that answered ('/ogc/collections/{collection_id}/items'), never the path
    as sent (a path or query may quote what the client typed); 'unmatched' when none did."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template or isinstance(route, Mount):  # a mount matched, nothing inside it did
        return "unmatched"
    return f"{scope.get('root_path', '')}{template}"


class RequestLog:
    """Outermost middleware: one line per request — method, route, status, milliseconds, request id
    (``X-Request-ID``, taken from the client when well-formed) — with the refusal's sizes and keyed
    hashes for an error (:func:`refused`). 4xx lines carry no traceback and are bounded per client;
    a 5xx's one traceback is :func:`bando.api_config.errors.response_for`'s."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(6)
        state: dict[str, Any] = {"id": rid, "status": 500}
        scope[REQUEST_KEY] = state
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_line(scope, state, (time.perf_counter() - started) * 1000)


def _request_line(scope: MutableMapping[str, Any], state: dict[str, Any], ms: float) -> None:
    status = int(state["status"])
    client = client_of(scope)
    dropped = 0
    if status >= 400:
        ok, dropped = LIMIT.allow(client)
        if not ok:
            return
    fields: dict[str, Any] = {
        "method": scope.get("method", "-"),
        "route": route_of(scope),
        "status": status,
        "ms": round(ms, 1),
        "request_id": state["id"],
        "client": client,
        **state.get("detail", {}),
    }
    if dropped:
        fields["dropped_before"] = dropped
    text = " ".join(f"{k}={v}" for k, v in fields.items() if k not in ("method", "route", "status", "ms"))
    level = logging.ERROR if status >= 500 else logging.INFO
    LOG.log(
        level,
        "%s %s %d %.1fms %s",
        fields["method"],
        fields["route"],
        status,
        fields["ms"],
        text,
        extra={"fields": fields},
    )


class JsonLines(logging.Formatter):
    """One JSON object per log line (``BANDO_LOG_JSON``): a request line's fields as members."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        doc |= fields if isinstance(fields, dict) else {"message": record.getMessage()}
        if record.exc_info:
            doc["traceback"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)
