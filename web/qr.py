"""The permalink of a printed report as a QR code, drawn here as SVG (``segno``).

A printed report is handed to an official on paper; the code takes them back to the live
page. The server draws it so the page needs no QR library and no inline script; only
links to this site's own page (``/?…``) are drawn, at most ``MAX_URL`` characters.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import segno
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

MAX_URL = 800


def refusal(url: str | None) -> str | None:
    """Why a URL is not drawn; None when it is fine."""
    if not url:
        return "url is required"
    if len(url) > MAX_URL:
        return f"url is longer than {MAX_URL} characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return "only a link to this site's page (http(s)://host/?…) is drawn"
    return None


def svg(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="svg", scale=4, border=2, title="QR")
    return out.getvalue()


async def qr_endpoint(request: Request) -> Response:
    url = request.query_params.get("url")
    problem = refusal(url)
    if problem or url is None:
        return PlainTextResponse(problem or "url is required", status_code=400)
    return Response(svg(url), media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
