"""The one mapping from bando's domain errors to HTTP answers, and the server's last line of defence.

Domain errors become a short JSON problem with the right status; anything else that
escapes becomes a bare 500 with a request id — where it failed goes to the log (frames and
type, not the message or the path as sent: either may quote what the client sent), never to
the client. (How providers hand errors to pygeoapi is the seam's business:
:func:`bando.api_config.pygeoapi_seam.to_provider_error`.)
"""

from __future__ import annotations

import logging
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bando.api_config.logs import described
from bando.api_config.logs import request_id as request_id_of
from bando.errors import BadInput, NotFound, Unavailable

LOG = logging.getLogger("bando.api")


def problem(status: int, code: str, description: str, **headers: str) -> JSONResponse:
    return JSONResponse({"code": code, "description": description}, status_code=status, headers=headers or None)


class CatchAll:
    """Outermost middleware: no exception, traceback or SQL text reaches a client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await response_for(exc, scope)(scope, receive, send)


def response_for(exc: Exception, scope: Scope) -> JSONResponse:
    """The one mapping from an exception to what a client sees."""
    if isinstance(exc, Unavailable):
        return problem(503, "ServiceUnavailable", str(exc), **{"Retry-After": "2"})
    if isinstance(exc, BadInput):
        return problem(400, "InvalidParameterValue", str(exc))
    if isinstance(exc, NotFound):
        return problem(404, "NotFound", str(exc))
    request_id = request_id_of(scope)
    request_id = uuid.uuid4().hex[:12] if request_id == "-" else request_id
    route = scope.get("route")
    where = f"{scope.get('root_path', '')}{getattr(route, 'path', '')}" if route else "-"
    LOG.error("request %s %s failed (id %s): %s", scope.get("method"), where, request_id, described(exc))
    return problem(500, "ServerError", f"internal error (request id {request_id})")


async def bando_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """For apps mounted inside the main one: their own error middleware would answer first."""
    return response_for(exc, request.scope)
