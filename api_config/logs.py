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
import logging
import secrets
import threading
import time
import traceback
from collections.abc import MutableMapping
from typing import Any

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
    """One line for a request answered with an error status."""
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
