"""Bearer tokens for the internal view, checked once for everything mounted under it.

Tokens come from ``BANDO_INTERNAL_TOKENS`` or a file (``BANDO_INTERNAL_TOKENS_FILE``)
outside the repository, travel in the ``Authorization`` header only (a query string
ends up in logs), and are compared in constant time against every configured token.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from bando.api_config.errors import problem
from bando.settings import Settings


def configured_tokens(settings: Settings) -> list[bytes]:
    raw = settings.internal_tokens
    if settings.internal_tokens_file and settings.internal_tokens_file.is_file():
        raw += "," + settings.internal_tokens_file.read_text(encoding="utf-8").replace("\n", ",")
    return [t.strip().encode() for t in raw.split(",") if len(t.strip()) >= 16]


class BearerAuth:
    def __init__(self, app: ASGIApp, tokens: list[bytes]) -> None:
        self.app = app
        self.tokens = tokens

    def _valid(self, presented: bytes) -> bool:
        ok = False
        for token in self.tokens:  # no early exit: time does not depend on which token matched
            ok |= hmac.compare_digest(presented, token)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or {}).get(b"authorization", b"")
        scheme, _, presented = header.partition(b" ")
        if scheme.lower() != b"bearer" or not presented:
            response = problem(
                401,
                "Unauthorized",
                "this internal API needs an 'Authorization: Bearer <token>' header",
                **{"WWW-Authenticate": 'Bearer realm="bando-internal"'},
            )
        elif not self.tokens or not self._valid(presented.strip()):
            response = problem(403, "Forbidden", "the token is not valid for the internal API")
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
