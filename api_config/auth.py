"""Named bearer tokens with read and write scopes per layer, checked once for the internal view.

The token file (``BANDO_INTERNAL_TOKENS_FILE``, outside the repository) is YAML: one entry per
token with its name, the SHA-256 of the token and the layers it may read and write (``*``: all)::

    tokens:
      - name: sensor-gateway
        sha256: 9f86d0…
        read: [sensor_readings, env_sensors]
        write: [sensor_readings]

Only hashes are stored (`bando token new` makes a random token and prints it once). Tokens are
random 32-byte strings, so a plain SHA-256 is as strong as a slow hash here and costs nothing
per request. The presented token's hash is compared with every configured hash in constant
time, without an early exit. Tokens travel in the ``Authorization`` header only (a query string
ends up in logs) and are never logged; the audit names the token, never its value.
``BANDO_INTERNAL_TOKENS`` (plain, comma-separated) still works for development: each such token
may read and write everything, under the name ``env-N``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from starlette.types import ASGIApp, Receive, Scope, Send

from bando.api_config.errors import problem
from bando.errors import BadInput
from bando.settings import Settings

ALL = "*"
SCOPE_KEY = "bando.token"
MIN_LENGTH = 16
_COLLECTION = re.compile(r"^/collections/([^/]+)")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def digest(token: str | bytes) -> bytes:
    return hashlib.sha256(token.encode() if isinstance(token, str) else token).digest()


@dataclass(frozen=True)
class Token:
    """Who is calling (``name``, for the audit) and what they may touch."""

    name: str
    sha256: bytes
    read: frozenset[str]
    write: frozenset[str]

    def may_read(self, layer: str) -> bool:
        return ALL in self.read or layer in self.read or self.may_write(layer)

    def may_write(self, layer: str) -> bool:
        return ALL in self.write or layer in self.write


def _scope(value: Any, what: str, name: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"token {name!r}: {what} must be a list of layer ids or '*'")
    return frozenset(value)


def parse_file(text: str) -> list[Token]:
    """The tokens of a token file; a file of bare tokens (one a line) is read as full-power tokens."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):  # the older format: one plain token a line
        plain = [t.strip() for t in text.replace(",", "\n").splitlines()]
        return [_plain(t, f"file-{k + 1}") for k, t in enumerate(t for t in plain if len(t) >= MIN_LENGTH)]
    tokens = []
    for entry in data.get("tokens") or []:
        name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
        hashed = str(entry.get("sha256", "")) if isinstance(entry, dict) else ""
        if not _NAME.fullmatch(name) or not re.fullmatch(r"[0-9a-f]{64}", hashed):
            raise BadInput(f"token entry {name[:64]!r} needs a name (letters, digits, . _ -) and a 64-hex sha256")
        tokens.append(
            Token(
                name,
                bytes.fromhex(hashed),
                _scope(entry.get("read"), "read", name),
                _scope(entry.get("write"), "write", name),
            )
        )
    return tokens


def _plain(token: str, name: str) -> Token:
    return Token(name, digest(token), frozenset({ALL}), frozenset({ALL}))


def configured_tokens(settings: Settings) -> list[Token]:
    env = [t.strip() for t in settings.internal_tokens.split(",") if len(t.strip()) >= MIN_LENGTH]
    tokens = [_plain(t, f"env-{k + 1}") for k, t in enumerate(env)]
    path = settings.internal_tokens_file
    if path and path.is_file():
        tokens += parse_file(path.read_text(encoding="utf-8"))
    return tokens


def new_token(path: Path, name: str, read: list[str], write: list[str]) -> str:
    """Add a named token to the token file (created owner-only) and return the token, once."""
    existing = parse_file(path.read_text(encoding="utf-8")) if path.is_file() else []
    if any(t.name == name for t in existing):
        raise BadInput(f"a token named {name!r} exists already in {path}")
    if not _NAME.fullmatch(name):
        raise BadInput("a token name is letters, digits, '.', '_' or '-' (at most 64)")
    token = secrets.token_urlsafe(32)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    entries = list(data.get("tokens") or []) if isinstance(data, dict) else []
    entries.append({"name": name, "sha256": digest(token).hex(), "read": sorted(read), "write": sorted(write)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump({"tokens": entries}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return token


def token_of(scope: Scope) -> Token | None:
    """The token a request to the internal view was let in with."""
    token = scope.get(SCOPE_KEY)
    return token if isinstance(token, Token) else None


class BearerAuth:
    """Lets a request in with a valid token, and into a collection only with read scope on it."""

    def __init__(self, app: ASGIApp, tokens: list[Token]) -> None:
        self.app = app
        self.tokens = tokens

    def _valid(self, presented: bytes) -> Token | None:
        hashed = digest(presented)
        found = None
        for token in self.tokens:  # no early exit: time does not depend on which token matched
            if hmac.compare_digest(hashed, token.sha256):
                found = token
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or {}).get(b"authorization", b"")
        scheme, _, presented = header.partition(b" ")
        token = self._valid(presented.strip()) if presented else None
        collection = _COLLECTION.match(scope.get("path", "")[len(scope.get("root_path", "")) :] or "/")
        if scheme.lower() != b"bearer" or not presented:
            response = problem(
                401,
                "Unauthorized",
                "this internal API needs an 'Authorization: Bearer <token>' header",
                **{"WWW-Authenticate": 'Bearer realm="bando-internal"'},
            )
        elif token is None:
            response = problem(403, "Forbidden", "the token is not valid for the internal API")
        elif collection and not token.may_read(collection.group(1)):
            response = problem(
                403, "Forbidden", f"token {token.name!r} may not read collection {collection.group(1)!r}"
            )
        else:
            scope[SCOPE_KEY] = token
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
