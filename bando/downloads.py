"""Where a layer's open-data downloads live, and their manifest: shared by the writer (at publish
time, :mod:`bando.pipelines.opendata`) and the API that serves them.

Each publish writes a complete new folder ``<downloads>/<layer>/<lineage id>/`` and then turns the
``current`` link to it in one rename, so a reader sees the previous set or the new one, never a
mix, and a failed export leaves the previous set as it was.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bando.settings import Settings

MANIFEST = "manifest.json"
CURRENT = "current"
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")


def root(settings: Settings) -> Path:
    return settings.downloads_dir or settings.home / "downloads"


def current(settings: Settings, layer_id: str) -> Path:
    return root(settings) / layer_id / CURRENT


def manifest(settings: Settings, layer_id: str) -> dict[str, Any] | None:
    """The published downloads of a layer (``files``: name, format, mediaType, size, sha256, …), or None."""
    try:
        doc = json.loads((current(settings, layer_id) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def file_path(settings: Settings, layer_id: str, name: str) -> tuple[Path, dict[str, Any]] | None:
    """A published download and its manifest entry by its name; None for a name the manifest does not list."""
    doc = manifest(settings, layer_id)
    if doc is None or not _SAFE.fullmatch(name):
        return None
    entry = next((f for f in doc.get("files", []) if isinstance(f, dict) and f.get("name") == name), None)
    path = current(settings, layer_id) / name
    return (path, entry) if entry is not None and path.is_file() else None


def safe_name(text: str) -> str:
    """A version id as a file-name part (letters, digits, '.', '_', '-')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "version"
