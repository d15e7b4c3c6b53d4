"""The documents a plan version is delivered with: approval decision, explanatory report, drawings.

A steward names them with the load (``bando load … --version-id … --document FILE`` or
``documents:`` in a manifest); they are stored with the version, identified by their
SHA-256, so a re-run is a no-op and a download is checked byte for byte. Only file types
a citizen can open are accepted, by extension *and* content (a ``.pdf`` must start like a
PDF); size is bounded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bando import db
from bando.errors import BadInput

MAX_BYTES = 50 * 2**20
#: extension → (media type, leading bytes the content must start with, or b"" for any)
TYPES: dict[str, tuple[str, bytes]] = {
    ".pdf": ("application/pdf", b"%PDF-"),
    ".png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    ".jpg": ("image/jpeg", b"\xff\xd8\xff"),
    ".jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    ".tif": ("image/tiff", b""),
    ".tiff": ("image/tiff", b""),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ".zip": ("application/zip", b"PK\x03\x04"),
    ".dxf": ("image/vnd.dxf", b""),
}


@dataclass(frozen=True)
class Document:
    name: str
    media_type: str
    sha256: str
    size_bytes: int
    content: bytes


def read(path: Path) -> Document:
    """A document file, checked: it exists, is a type people can open, is what its name says, is not too big."""
    if not path.is_file():
        raise BadInput(f"document {path} does not exist")
    kind = TYPES.get(path.suffix.lower())
    if kind is None:
        raise BadInput(f"document {path.name}: {path.suffix or 'no extension'} is not accepted ({', '.join(TYPES)})")
    size = path.stat().st_size
    if not 0 < size <= MAX_BYTES:
        raise BadInput(f"document {path.name} is {size:,} bytes; documents are 1 byte to {MAX_BYTES // 2**20} MB")
    content = path.read_bytes()
    media_type, magic = kind
    if not content.startswith(magic):
        raise BadInput(f"document {path.name} is not a {path.suffix.lstrip('.').upper()} file (its content says so)")
    return Document(path.name[:200], media_type, hashlib.sha256(content).hexdigest(), size, content)


def attach(layer_id: str, version_id: str, paths: list[Path], url: str | None = None) -> list[Document]:
    """Store the documents with a loaded plan version (idempotent); all are checked before any is stored."""
    docs = [read(p) for p in paths]
    with db.connect(url) as conn:
        known = conn.execute(
            "select 1 from bando.layer_versions where layer = %s and version_id = %s", (layer_id, version_id)
        ).fetchone()
        if not known:
            raise BadInput(f"{layer_id} has no version {version_id!r} to attach documents to; load it first")
        for d in docs:
            store(conn, layer_id, version_id, d)
    return docs


def store(conn: psycopg.Connection, layer_id: str, version_id: str, d: Document) -> None:
    conn.execute(
        "insert into bando.plan_documents (layer, version_id, sha256, name, media_type, size_bytes, content)"
        " values (%s, %s, %s, %s, %s, %s, %s) on conflict (layer, version_id, sha256) do nothing",
        (layer_id, version_id, d.sha256, d.name, d.media_type, d.size_bytes, d.content),
    )
