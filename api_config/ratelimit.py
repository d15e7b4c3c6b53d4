"""A per-client rate limit on the public API: a token bucket per client address.

A client may send ``BANDO_RATE_BURST`` requests at once and ``BANDO_RATE_LIMIT`` per
second after that; beyond it the answer is 429 with ``Retry-After``, before any work is
done. The client is the connection's address — behind a proxy listed in
``BANDO_TRUSTED_PROXIES``, the address the proxy names in ``X-Forwarded-For`` (uvicorn
applies that rule; a header from anyone else is ignored, so it cannot be used to dodge
the limit). Addresses in ``BANDO_RATE_LIMIT_EXEMPT`` (by default this machine's loopback:
health checks, the steward's tools, the tests) are not counted; a reverse proxy on this
machine must therefore be a trusted proxy, so that its clients are counted one by one.
Buckets live in the server process: with several workers, each counts alone. How much
one request may cost is bounded elsewhere (:mod:`bando.api_config.gate`, the time budget).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from bando.api_config.errors import problem
from bando.api_config.logs import client_of

MAX_CLIENTS = 50_000


class Buckets:
    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s, self.burst = per_s, burst
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it could."""
        now = time.monotonic()
        with self._lock:
            if len(self._state) > MAX_CLIENTS:  # forget full buckets: they are the default anyway
                self._state = {c: v for c, v in self._state.items() if v[0] + (now - v[1]) * self.per_s < self.burst}
            tokens, at = self._state.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_s)
            if tokens < 1:
                self._state[client] = (tokens, now)
                return (1 - tokens) / self.per_s
            self._state[client] = (tokens - 1, now)
            return 0.0


def networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


class RateLimit:
    def __init__(self, app: ASGIApp, per_s: float, burst: int, exempt: str = "") -> None:
        self.app = app
        self.buckets = Buckets(per_s, burst) if per_s > 0 else None
        self.exempt = networks(exempt)

    def _exempt(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in net for net in self.exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = client_of(scope)
        if self.buckets is not None and scope["type"] == "http" and not self._exempt(client):
            wait = self.buckets.take(client)
            if wait > 0:
                response = problem(
                    429,
                    "TooManyRequests",
                    "quá nhiều yêu cầu; hãy chờ giây lát / too many requests from this client; slow down",
                    **{"Retry-After": str(max(1, math.ceil(wait)))},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
