"""bando's errors as pygeoapi sees them, and the last line of defence for the server.

Providers and processes raise these (pygeoapi turns ``user_msg`` into the response
body and never shows ``msg``); anything else that escapes becomes a bare 500 with a
request id — the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus

from pygeoapi.provider.base import (
    ProviderGenericError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bando.errors import BadInput, BandoError, NotFound, Unavailable

LOG = logging.getLogger("bando.api")


class ServiceUnavailable(ProviderGenericError):
    ogc_exception_code = "ServiceUnavailable"
    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    default_msg = "the database is not answering; try again shortly"


def to_provider_error(exc: BandoError) -> ProviderGenericError:
    """One mapping from bando's domain errors to pygeoapi's."""
    if isinstance(exc, BadInput):
        return ProviderInvalidQueryError(user_msg=str(exc))
    if isinstance(exc, NotFound):
        return ProviderItemNotFoundError(user_msg=str(exc))
    if isinstance(exc, Unavailable):
        return ServiceUnavailable(user_msg=str(exc))
    return ProviderGenericError(user_msg="the request could not be answered")


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

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            request_id = uuid.uuid4().hex[:12]
            if isinstance(exc, Unavailable):
                response = problem(503, "ServiceUnavailable", str(exc), **{"Retry-After": "2"})
            elif isinstance(exc, BadInput):
                response = problem(400, "InvalidParameterValue", str(exc))
            elif isinstance(exc, NotFound):
                response = problem(404, "NotFound", str(exc))
            else:
                LOG.exception("request %s %s failed (id %s)", scope.get("method"), scope.get("path"), request_id)
                response = problem(500, "ServerError", f"internal error (request id {request_id})")
            await response(scope, receive, send)


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    return problem(404, "NotFound", "no such resource")
