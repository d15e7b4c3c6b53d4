"""``/documents/{sha256}``: a plan version's documents, served as delivered.

Decisions and explanatory reports are public documents of a published plan; they are
served by their SHA-256 (which the planning report lists with each version), with the
media type they were stored with, an ETag that *is* the checksum, and a sandboxing CSP
so a document can never run script in the site's origin. Reads go through the public
view's role and workers like any other public request.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bando.api_config.runtime import get_runtime
from bando.errors import Unavailable

SHA256 = re.compile(r"^[0-9a-f]{64}$")
INLINE = ("application/pdf", "image/png", "image/jpeg")


def _fetch(sha: str) -> tuple[Any, ...] | None:
    with get_runtime().connection("public") as conn:
        return conn.execute(
            "select name, media_type, content from bando.plan_documents where sha256 = %s limit 1", (sha,)
        ).fetchone()


def _problem(status: int, text: str) -> JSONResponse:
    return JSONResponse({"code": "NotFound" if status == 404 else "InvalidParameterValue", "description": text}, status)


async def document(request: Request) -> Response:
    sha = str(request.path_params["sha256"]).lower()
    if not SHA256.match(sha):
        return _problem(400, "a document is named by its SHA-256: 64 hexadecimal digits")
    if request.headers.get("if-none-match", "").strip('"') == sha:
        return Response(status_code=304, headers={"ETag": f'"{sha}"'})
    try:
        row = await run_in_threadpool(_fetch, sha)
    except Unavailable:
        return JSONResponse(
            {"code": "ServiceUnavailable", "description": "database unavailable"}, 503, {"Retry-After": "2"}
        )
    if row is None:
        return _problem(404, "no document with this checksum")
    name, media_type, content = row
    disposition = "inline" if media_type in INLINE else "attachment"
    return Response(
        bytes(content),
        media_type=media_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
            "ETag": f'"{sha}"',
            "Cache-Control": "public, max-age=86400, immutable",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


def documents_app() -> Starlette:
    return Starlette(routes=[Route("/{sha256}", document, methods=["GET", "HEAD"])])
