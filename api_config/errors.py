"""bando's errors as pygeoapi sees them, and the last line of defence for the server.

Providers and processes raise these (pygeoapi turns ``user_msg`` into the response
body and never shows ``msg``); anything else that escapes becomes a bare 500 with a
request id — the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

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


_unavailable = threading.local()


def note_unavailable() -> None:
    """A process met an unreachable database. pygeoapi turns every exception a process raises
    into a failed job (HTTP 400); :func:`unavailable_is_503` makes the answer a 503 instead."""
    _unavailable.seen = True


def unavailable_is_503(handler: Callable[..., tuple[dict, int, Any]]) -> Callable[..., tuple[dict, int, Any]]:
    """Wrap a pygeoapi handler run in a worker thread: a noted outage is answered 503 with
    Retry-After (a client retries a 503; a 400 tells it the request itself is wrong)."""

    def wrapped(api: Any, request: Any, *args: Any) -> tuple[dict, int, Any]:
        _unavailable.seen = False
        headers, status, content = handler(api, request, *args)
        if getattr(_unavailable, "seen", False):
            _unavailable.seen = False
            headers, status, content = api.get_exception(
                HTTPStatus.SERVICE_UNAVAILABLE, headers, request.format, "ServiceUnavailable",
                "the database is not answering; try again shortly")  # fmt: skip
            headers["Retry-After"] = "2"
        return headers, status, content

    return wrapped


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
            await response_for(exc, scope)(scope, receive, send)


def response_for(exc: Exception, scope: Scope) -> JSONResponse:
    """The one mapping from an exception to what a client sees."""
    if isinstance(exc, Unavailable):
        return problem(503, "ServiceUnavailable", str(exc), **{"Retry-After": "2"})
    if isinstance(exc, BadInput):
        return problem(400, "InvalidParameterValue", str(exc))
    if isinstance(exc, NotFound):
        return problem(404, "NotFound", str(exc))
    request_id = uuid.uuid4().hex[:12]
    LOG.error("request %s %s failed (id %s)", scope.get("method"), scope.get("path"), request_id, exc_info=exc)
    return problem(500, "ServerError", f"internal error (request id {request_id})")


async def bando_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """For apps mounted inside the main one: their own error middleware would answer first."""
    return response_for(exc, request.scope)
