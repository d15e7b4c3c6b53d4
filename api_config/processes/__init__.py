"""The OGC API processes bando publishes (pygeoapi loads each module by name)."""

from __future__ import annotations

from typing import Any

#: The answer's language, an input of every bando process.
LANG_INPUT: dict[str, Any] = {
    "title": "Ngôn ngữ / language",
    "schema": {"type": "string", "enum": ["vi", "en"], "default": "vi"},
    "minOccurs": 0,
    "maxOccurs": 1,
}
