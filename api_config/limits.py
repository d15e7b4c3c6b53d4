"""Request size and time limits, applied once around the whole app.

A body larger than the limit is refused with 413 before it is read into memory (by
its Content-Length, or by counting while it streams in: a body is read here, at most the
limit kept in memory, and handed to the app whole).

A request has ``BANDO_REQUEST_TIMEOUT_S`` in all. Its :mod:`budget <bando.api_config.budget>`
starts here and goes with it into the worker threads, where every statement is limited to
the time left; when the time is up, the statements still running are cancelled on the
server — the work ends, not just the coroutine waiting for it. The client is told to
narrow the request (400) when its database work was stopped, 503 when the time went
elsewhere (e.g. waiting for a worker).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bando.api_config import budget as budget_mod
from bando.api_config.errors import problem
from bando.errors import TooExpensive

MAX_BODY_BYTES = 1_000_000
MAX_SECONDS = 30.0
DRAIN_BYTES = 16 * MAX_BODY_BYTES  # how much of an oversized streamed body is read (and dropped) before the 413


class _TooLarge(Exception):
    pass


class Limits:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES, max_seconds: float = MAX_SECONDS) -> None:
        self.app = app
        self.max_body = max_body
        self.max_seconds = max_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or {})
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await problem(413, "PayloadTooLarge", f"request bodies are limited to {self.max_body} bytes")(
                scope, receive, send
            )
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def run() -> None:
            app_receive = receive
            if b"transfer-encoding" in headers or (declared is not None and int(declared) > 0):
                # Read the body here, counting: an exception raised inside a mounted app would be
                # answered 500 by that app's own error middleware before this one could say 413.
                body = await self._read_body(receive)
                app_receive = replay(body, receive)
            await self.app(scope, app_receive, tracking_send)

        budget = budget_mod.start(self.max_seconds)
        try:
            await asyncio.wait_for(run(), self.max_seconds)
        except _TooLarge:
            if not started:
                await problem(413, "PayloadTooLarge", f"request bodies are limited to {self.max_body} bytes")(
                    scope, receive, send
                )
        except TimeoutError:
            cancelled = await asyncio.to_thread(budget.expire)  # its SQL ends on the server now
            if started:
                return
            if cancelled:
                await problem(400, "InvalidParameterValue", str(TooExpensive(self.max_seconds)))(scope, receive, send)
            else:
                await problem(
                    503,
                    "Timeout",
                    f"the request took longer than {self.max_seconds:g} s; try again",
                    **{"Retry-After": "2"},
                )(scope, receive, send)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                break
            size += len(message.get("body", b""))
            if size <= self.max_body:
                chunks.append(message.get("body", b""))
            elif size > DRAIN_BYTES:
                raise _TooLarge
            if not message.get("more_body", False):
                break
        if size > self.max_body:  # read to the end first, so the client is still listening for the 413
            raise _TooLarge
        return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands the app the body already read, then the client's own messages."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
