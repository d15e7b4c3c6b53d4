"""Bounded work per request, in process: vertex caps, cheap predicates, time budgets that end
the SQL, honest statuses, per-view workers, the rate limit, strict ids, security headers.

The same properties against a real `bando serve` are in ``tests/hardening/test_bounded_work.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bando import db
from bando.api_config import budget as budget_mod
from bando.api_config import logs
from bando.api_config.cql import RELATE_MAX_VERTICES, costly, to_sql, too_many_vertices, vertices
from bando.api_config.errors import response_for
from bando.api_config.features_sql import FeatureQuery
from bando.api_config.gate import Gate, Saturated
from bando.api_config.providers.features import feature_id
from bando.api_config.ratelimit import RateLimit
from bando.api_config.runtime import get_runtime
from bando.errors import BadInput, TooExpensive
from bando.layers.catalogue import load as load_catalogue
from tests.conftest import INTERNAL_TOKEN

PARCELS = load_catalogue().get("parcels")


def star(n: int, cx: float = 550_270.0, cy: float = 2_312_510.0) -> dict[str, Any]:
    """A valid star-shaped polygon of ``n`` vertices (plus the closing one), the worst case for a relate."""
    ring = []
    for i in range(n):
        r = 1_800.0 if i % 2 == 0 else 600.0
        ring.append([cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n)])
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def translate(cql: dict[str, Any], cap: int = 2_000) -> tuple[str, list[Any]]:
    q = FeatureQuery(PARCELS, PARCELS.public_fields, 9209)
    fragment, params = to_sql(parse_json(cql), q.field_map(), sql.Identifier("geom"), 9209, cap)
    return fragment.as_string(None), params


@contextmanager
def in_budget(budget: budget_mod.Budget) -> Iterator[budget_mod.Budget]:
    """Run as a request with this time budget would (the API's middleware sets it)."""
    token = budget_mod._current.set(budget)
    try:
        yield budget
    finally:
        budget_mod._current.reset(token)


# -- filters -------------------------------------------------------------------------------


def test_a_geometry_over_the_vertex_cap_is_refused_naming_the_cap() -> None:
    cql = {"op": "s_intersects", "args": [{"property": "geometry"}, star(600)]}
    with pytest.raises(BadInput, match="at most 500 vertices; this one has 601"):
        translate(cql, cap=500)
    assert vertices(star(600)) == 601
    assert too_many_vertices(cql, 500) and not too_many_vertices(cql, 2_000)
    assert too_many_vertices("S_INTERSECTS(geometry, POLYGON((" + ", ".join(["0 0"] * 30) + ")))", 20)


def test_relate_only_predicates_take_small_literals_narrowed_by_the_index() -> None:
    big = {"op": "s_touches", "args": [{"property": "geometry"}, star(RELATE_MAX_VERTICES + 10)]}
    with pytest.raises(BadInput, match=f"S_TOUCHES takes a geometry of at most {RELATE_MAX_VERTICES} vertices"):
        translate(big)
    text, params = translate({"op": "s_overlaps", "args": [{"property": "geometry"}, star(50)]})
    assert '"geom" && ' in text and "st_containsproperly(" in text and "st_overlaps(" in text
    assert len(params) == 8  # the literal (GeoJSON, SRID) in each of its four places
    assert costly(parse_json(big)) and not costly(parse_text("loaiDat = 'LUC'"))


def test_s_disjoint_is_a_prepared_not_intersects() -> None:
    text, _ = translate({"op": "s_disjoint", "args": [{"property": "geometry"}, star(1_000)]})
    assert "not st_intersects(" in text and "st_disjoint" not in text


@pytest.mark.parametrize("op", ["s_touches", "s_disjoint", "s_intersects"])
def test_a_big_spatial_filter_is_answered_quickly_by_the_database(loaded: list, op: str) -> None:
    """What the rewrites buy, measured on the samples: st_touches with a 3,000-vertex star took 27 s."""
    n = RELATE_MAX_VERTICES - 1 if op == "s_touches" else 1_990  # positions, the closing one too
    cql = {"op": op, "args": [{"property": "geometry"}, star(n)]}
    q = FeatureQuery(PARCELS, PARCELS.public_fields, 9209)
    fragment, params = to_sql(parse_json(cql), q.field_map(), sql.Identifier("geom"), 9209)
    q.add(fragment, params)
    statement, values = q.count()
    started = time.monotonic()
    with psycopg.connect(db.view_url("public")) as conn:
        conn.execute(statement, values).fetchone()
    assert time.monotonic() - started < 3.0


# -- time budgets and statuses -------------------------------------------------------------


def _active(statement: str) -> int:
    with psycopg.connect(db.admin_url(), autocommit=True) as admin:
        return int(
            admin.execute(
                "select count(*) from pg_stat_activity where state = 'active' and query = %s", (statement,)
            ).fetchone()[0]
        )


def test_a_statement_gets_no_more_than_the_time_left_and_a_timeout_is_400(loaded: list) -> None:
    runtime = get_runtime()
    with in_budget(budget_mod.Budget(1.5)):
        with runtime.connection() as conn:
            limit_ms = int(conn.execute("show statement_timeout").fetchone()[0].rstrip("ms") or 0)
        assert 0 < limit_ms <= 1_500
        started = time.monotonic()
        with pytest.raises(TooExpensive) as caught, runtime.connection() as conn:
            conn.execute("select pg_sleep(20)")
        assert time.monotonic() - started < 2.5
    assert response_for(caught.value, {}).status_code == 400, "a statement stopped for its cost is not an outage"
    assert "narrow" in str(caught.value)
    with runtime.connection() as conn:  # the pool is clean
        assert conn.execute("select 1").fetchone() == (1,)


def test_time_up_cancels_the_running_statement_on_the_server(loaded: list) -> None:
    """The request's own limit fires first (here: a budget of 30 s expired by hand): the SQL ends too."""
    runtime = get_runtime()
    budget = budget_mod.Budget(30.0)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with in_budget(budget), runtime.connection() as conn:
                conn.execute("select pg_sleep(25) /* expire me */")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 10
    while _active("select pg_sleep(25) /* expire me */") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert budget.expire() == 1
    thread.join(timeout=5)
    assert not thread.is_alive() and isinstance(errors[0], TooExpensive)
    time.sleep(1.0)
    assert _active("select pg_sleep(25) /* expire me */") == 0
    with pytest.raises(TooExpensive), in_budget(budget), runtime.connection():  # nothing new starts after
        pass


# -- workers per view ----------------------------------------------------------------------


def test_a_full_gate_answers_at_once_and_gives_places_back() -> None:
    gate = Gate("public", workers=1, queue=1)
    release = threading.Event()

    async def scenario() -> None:
        first = asyncio.ensure_future(gate.run(release.wait))
        second = asyncio.ensure_future(gate.run(release.wait))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(Saturated):
            await gate.run(lambda: None)
        assert time.monotonic() - started < 0.1
        second.cancel()  # a client gone while queued gives its place back
        await asyncio.sleep(0.1)
        assert gate.taken == 1
        release.set()
        await first
        assert gate.taken == 0 and await gate.run(lambda: 42) == 42

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        gate.close()
    assert response_for(Saturated("public"), {}).status_code == 503


# -- the rate limit ------------------------------------------------------------------------


def test_the_rate_limit_answers_429_per_client_and_ignores_forwarded_headers() -> None:
    async def ok(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = RateLimit(Starlette(routes=[Route("/", ok)]), per_s=0.5, burst=3, exempt="127.0.0.1,::1")
    with TestClient(app, client=("192.0.2.10", 5000)) as client:
        assert [client.get("/").status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    with TestClient(app, client=("198.51.100.7", 5000)) as other:
        assert other.get("/").status_code == 200  # another client has its own bucket
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        assert {local.get("/").status_code for _ in range(10)} == {200}  # this machine is not counted


# -- ids, headers, logs ----------------------------------------------------------------------


@pytest.mark.parametrize("given", ["1_0", " 7", "7 ", "１２", "٣", "+7", "0", "-1", "0x10", "1e3", "9" * 19])
def test_feature_ids_are_ascii_digits_only(given: str) -> None:
    assert feature_id(given) is None
    assert feature_id("7") == 7 and feature_id("4611686018427387903") == 2**62 - 1


def test_ogc_html_pages_carry_the_security_headers(loaded: list) -> None:
    from bando.cli.server import create_app
    from bando.settings import get_settings

    with TestClient(create_app("http://testserver", get_settings())) as client:
        for path, headers in (
            ("/ogc/collections?f=html", {}),
            ("/ogc/collections/nosuch?f=html", {}),
            ("/internal/ogc/collections?f=html", {"Authorization": f"Bearer {INTERNAL_TOKEN}"}),
        ):
            answer = client.get(path, headers=headers)
            if answer.status_code == 403:  # the token is configured for the server fixture only
                continue
            assert answer.headers["content-type"].startswith("text/html"), (path, answer.status_code)
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            assert "script-src 'self'" in answer.headers["content-security-policy"]
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["x-frame-options"] == "DENY"
        assert client.get("/ogc/conformance?f=json").headers["x-content-type-options"] == "nosniff"


def test_a_log_line_holds_sizes_and_keyed_hashes_never_the_content(caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps({"op": "=", "args": [{"property": "tenChu"}, "Phạm Ngọc Vân"]}).encode()
    scope = {"method": "POST", "root_path": "/internal/ogc", "query_string": b"filter=soDinhDanh%3D%27033%27"}
    scope |= {"client": ("192.0.2.1", 1)}
    with caplog.at_level("INFO", logger="bando.api"):
        logs.refused(scope, "/collections/{collection_id}/items", 400, body, "parcels")
    line = caplog.records[-1].getMessage()
    assert "Phạm" not in line and "033" not in line and "soDinhDanh" not in line and "tenChu" not in line
    assert f"body={len(body)}B#" in line and "collection=parcels" in line
    owner = json.loads(body)["args"][1]
    try:  # as PostgreSQL words a bad value: the message quotes it
        raise psycopg.errors.InvalidTextRepresentation(f'invalid input syntax for type bigint: "{owner}"')
    except psycopg.Error as exc:
        assert "Phạm" not in logs.described(exc) and "InvalidTextRepresentation" in logs.described(exc)
    limit = logs.ClientLimit(per_s=0.001, burst=2)
    assert [limit.allow("c")[0] for _ in range(4)] == [True, True, False, False]
