"""Security headers on the OGC API's responses: ``nosniff`` on all, the full set on HTML.

pygeoapi renders HTML pages for ``f=html`` on the same origin as the citizens' site; they
get the same strict policy as the site (:func:`bando.http_headers.security_headers`):
no script, style or frame from anywhere else, and no framing by anyone (images may also be
``data:`` URLs, for Swagger UI's icons).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bando.http_headers import security_headers

_ALL = [(b"x-content-type-options", b"nosniff")]
#: Swagger UI's stylesheet draws its icons as ``data:`` SVG images: images only, nothing else.
_HTML = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in security_headers("data:").items()]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                html = any(k.lower() == b"content-type" and v.lower().startswith(b"text/html") for k, v in headers)
                added = _HTML if html else _ALL
                names = {k for k, _ in added}
                message = {**message, "headers": [h for h in headers if h[0].lower() not in names] + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)
