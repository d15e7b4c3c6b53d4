"""Hostile and malformed requests on every public parameter (corpus in :mod:`tests.hardening.hostile`).

Every case must get a client error with a short message (413 for oversized bodies; a
few odd-but-valid requests may get 200), never a 5xx, never database error text, a stack
trace or a file path, and never hang (20 s per request). Read-only requests against the
suite's session server over the loaded samples.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

import httpx
import psycopg
import pytest

from tests.hardening.hostile import Case, all_cases, send

CASES = all_cases()
LEAKS = (
    "traceback",
    "psycopg",
    "sqlstate",
    "syntax error",
    "relation ",
    'file "',
    "/work/",
    "site-packages",
    '.py"',
    "root:x:0:0",
    "statement:",
    "select ",
    "postgres",
)
MAX_ERROR_BODY = 1_000


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_request_gets_a_short_client_error(server: str, case: Case) -> None:
    answer = send(server, case, timeout=20)
    if case.expect == "413":
        assert answer.status == 413, (answer.status, answer.text[:300])
    elif case.expect == "4xx":
        assert 400 <= answer.status < 500, (answer.status, answer.text[:300])
    else:
        assert answer.status < 500, (answer.status, answer.text[:300])
    if answer.status >= 400:
        assert len(answer.text) <= MAX_ERROR_BODY, f"{len(answer.text)} characters: {answer.text[:300]}"
        text = answer.text.lower()
        sent = unquote(case.path + (case.body or b"")[:100_000].decode("utf-8", "replace")).lower()
        leaks = [leak for leak in LEAKS if leak in text and leak not in sent]  # an echo of the request is no leak
        assert not leaks, (leaks, answer.text[:500])


def test_the_corpus_covers_every_public_parameter() -> None:
    """A guard against the corpus quietly losing a parameter when it is edited."""
    text = " ".join(c.path for c in CASES)
    for name in (
        "bbox=",
        "bbox-crs=",
        "crs=",
        "datetime=",
        "filter=",
        "filter-lang=",
        "filter-crs=",
        "sortby=",
        "properties=",
        "limit=",
        "offset=",
        "skipGeometry=",
        "f=",
        "lang=",
        "subset=",
        "q=",
        "/items/",
        "/tiles/",
        "/TileMatrixSets/",
        "/coverage",
        "/processes/",
        "/jobs/",
    ):
        assert name in text, name
    assert sum(c.method == "POST" and "planning-report" in c.path for c in CASES) >= 40
    assert {c.expect for c in CASES} == {"4xx", "413", "not-5xx"}


def test_the_published_data_survived_the_corpus(server: str, database: str) -> None:
    """Injection strings were values, never SQL: every layer still holds what its last load published."""
    with psycopg.connect(database) as conn:
        states = conn.execute("select layer, row_count from bando.layer_state where row_count is not null").fetchall()
        tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'data'")}
        assert "parcels" in tables
        counts = {
            layer: conn.execute(f'select count(*) from data."{layer}"').fetchone()[0]
            for layer, _ in states
            if layer in tables
        }
    assert all(counts[layer] == n for layer, n in states if layer in counts), (states, counts)
    page = httpx.get(f"{server}/ogc/collections/parcels/items", params={"limit": 1}, timeout=20)
    assert page.status_code == 200 and json.loads(page.text)["features"]
