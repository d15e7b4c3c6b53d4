"""Request size and time limits, applied once around the whole app.

A body larger than the limit is refused with 413 before it is read into memory (by
its Content-Length, or by counting while it streams in); a request that runs longer
than the time limit gets 503 instead of holding a worker. Database statements have
their own limit (``BANDO_STATEMENT_TIMEOUT_MS``), so the two together bound the work
one request can cause.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_config.errors import problem

MAX_BODY_BYTES = 1_000_000
MAX_SECONDS = 30.0


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
        declared = dict(scope.get("headers") or {}).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await problem(413, "PayloadTooLarge", f"request bodies are limited to {self.max_body} bytes")(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, counting_receive, tracking_send), self.max_seconds)
        except _TooLarge:
            if not started:
                await problem(413, "PayloadTooLarge", f"request bodies are limited to {self.max_body} bytes")(scope, receive, send)
        except TimeoutError:
            if not started:
                await problem(503, "Timeout", f"the request took longer than {self.max_seconds:.0f} s; narrow it")(scope, receive, send)
