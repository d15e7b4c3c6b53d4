"""Bounded work per request against a real `bando serve`: expensive filters in parallel, a time
limit that ends the SQL, a full view answering 503 at once, and no superuser connection.

The suite's session server answers the first two; the others start a server of their own on
the suite's cluster with tight limits (one worker, no queue, a two-second budget).
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from bando import db
from tests.conftest import INTERNAL_TOKEN, cli_env
from tests.hardening.cluster import BANDO, free_port, stop, wait_ready

PUBLIC_TIMEOUT_S = 5.0  # BANDO_PUBLIC_STATEMENT_TIMEOUT_MS by default


def star(n: int, lon: float, lat: float, outer: float = 0.017, inner: float = 0.006) -> dict:
    """A valid star-shaped polygon of ``n`` vertices around a point (CRS84): many parcels on its edge."""
    ring = [
        [lon + r * math.cos(2 * math.pi * i / n), lat + r * math.sin(2 * math.pi * i / n)]
        for i, r in ((i, outer if i % 2 == 0 else inner) for i in range(n))
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _centre(database: str) -> tuple[float, float]:
    with psycopg.connect(database) as conn:
        return conn.execute(
            "select st_x(c), st_y(c) from (select st_transform(st_centroid(st_collect(geom)), 4326) c"
            " from data.parcels) s"
        ).fetchone()


def _admin_rows(query: str, *params: object) -> list[tuple]:
    with psycopg.connect(db.admin_url(), autocommit=True) as admin:
        return admin.execute(query, params or None).fetchall()


def test_the_server_never_connects_as_a_superuser(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        assert client.get("/ogc/collections/parcels/items", params={"limit": 1}).status_code == 200
        internal = client.get(
            "/internal/ogc/collections/parcels/items",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
        )
        assert internal.status_code == 200
    rows = _admin_rows(
        "select a.usename, a.application_name, r.rolsuper from pg_stat_activity a join pg_roles r"
        " on r.rolname = a.usename where a.backend_type = 'client backend' and a.pid <> pg_backend_pid()"
    )
    from_server = {(user, app) for user, app, _ in rows if app.startswith("bando-api")}
    assert ("bando_api", "bando-api-public") in from_server and ("bando_internal", "bando-api-internal") in from_server
    superusers = [(user, app) for user, app, sup in rows if sup]
    assert not superusers, f"superuser connections besides this check: {superusers}"


def test_eight_parallel_3000_vertex_touches_leave_the_server_answering(server: str, database: str) -> None:
    lon, lat = _centre(database)
    body = json.dumps({"op": "s_touches", "args": [{"property": "geometry"}, star(3_000, lon, lat)]}).encode()
    assert len(body) > 75_000
    answers: list[tuple[int, float]] = []

    def hostile() -> None:
        started = time.monotonic()
        r = httpx.post(
            f"{server}/ogc/collections/parcels/items",
            content=body,
            headers={"Content-Type": "application/query-cql-json"},
            timeout=60,
        )
        answers.append((r.status_code, time.monotonic() - started))

    threads = [threading.Thread(target=hostile) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    started = time.monotonic()
    cheap = httpx.get(f"{server}/ogc/collections/roads/items", params={"limit": 1}, timeout=30)
    cheap_s = time.monotonic() - started
    for t in threads:
        t.join(timeout=90)
    assert cheap.status_code == 200 and cheap_s < 1.0, f"a cheap request took {cheap_s:.2f} s"
    assert len(answers) == 8
    assert all(status in (200, 400) for status, _ in answers), answers
    assert all(seconds < PUBLIC_TIMEOUT_S for _, seconds in answers), answers


# -- a server with tight limits ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tight(loaded: list, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One worker and no queue per view; requests get 2 s, statements alone would get 60 s."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = cli_env(
        {
            "BANDO_BASE_URL": url,
            "BANDO_INTERNAL_TOKENS": INTERNAL_TOKEN,
            "BANDO_POOL_SIZE": "1",
            "BANDO_QUEUE_SIZE": "0",
            "BANDO_REQUEST_TIMEOUT_S": "2",
            "BANDO_PUBLIC_STATEMENT_TIMEOUT_MS": "60000",
        }
    )
    log = tmp_path_factory.mktemp("tight") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [BANDO, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_ready(url, proc, str(log))
            yield url
        finally:
            stop(proc)


@contextlib.contextmanager
def parcels_locked() -> Iterator[None]:
    """Hold the parcels table as a load's swap would, so reading it waits (as a costly query runs)."""
    with psycopg.connect(db.database_url()) as owner:
        owner.execute("lock table data.parcels in access exclusive mode")
        yield


def _active_api_statements() -> list[tuple]:
    return _admin_rows(
        "select usename, state, left(query, 80) from pg_stat_activity"
        " where usename in ('bando_api', 'bando_internal') and state <> 'idle'"
    )


def test_a_request_out_of_time_leaves_no_statement_behind(tight: str) -> None:
    with parcels_locked():
        started = time.monotonic()
        answer = httpx.get(f"{tight}/ogc/collections/parcels/items", params={"limit": 5}, timeout=30)
        took = time.monotonic() - started
        assert answer.status_code == 400 and "narrow" in answer.json()["description"], answer.text
        assert took < 3.0
        time.sleep(1.0)
        assert _active_api_statements() == []
    after = httpx.get(f"{tight}/ogc/collections/parcels/items", params={"limit": 5}, timeout=30)
    assert after.status_code == 200, "the connection went back to the pool clean"


def test_a_full_view_answers_503_at_once_and_the_other_view_is_not_held_up(tight: str) -> None:
    first: list[httpx.Response] = []
    with parcels_locked():
        worker = threading.Thread(
            target=lambda: first.append(httpx.get(f"{tight}/ogc/collections/parcels/items", timeout=30))
        )
        worker.start()
        time.sleep(0.5)  # it holds the public view's only worker now
        started = time.monotonic()
        busy = httpx.get(f"{tight}/ogc/collections/roads/items", params={"limit": 1}, timeout=30)
        assert busy.status_code == 503 and busy.headers["Retry-After"], busy.text
        assert time.monotonic() - started < 0.5
        internal = httpx.get(
            f"{tight}/internal/ogc/collections/roads/items",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
            timeout=30,
        )
        assert internal.status_code == 200, "the internal view has workers of its own"
        worker.join(timeout=30)
    assert first and first[0].status_code == 400
