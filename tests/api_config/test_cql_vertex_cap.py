"""The vertex cap walks any JSON a client sends: a non-text ``type`` is not a geometry, not a crash."""

from __future__ import annotations

from bando.api_config.cql import too_many_vertices


def test_a_type_that_is_not_text_is_no_geometry() -> None:
    body = {"op": "s_overlaps", "args": [{"type": [], "property": None}, {"bbox": [[[]], {}]}]}
    assert too_many_vertices(body, 10) is None
