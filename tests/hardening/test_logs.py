"""Nothing personal in the server's log: after the whole hostile corpus, a token holder's
refused filters on owners' names and ID numbers, and megabyte bodies, the log holds no
owner name, ID number, filter text or body, no traceback for a 4xx, and stays small.

A server of its own (on the suite's cluster) so its log holds exactly these requests.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from bando import db
from tests.conftest import INTERNAL_TOKEN, cli_env
from tests.hardening.cluster import BANDO, free_port, stop, wait_ready
from tests.hardening.hostile import all_cases, send

#: Bits of the corpus's filters and bodies that no log line may repeat.
FILTER_TEXT = ("drop table", "pg_sleep", "s_intersects", "loaidat", "tenchu", "sodinhdanh", "' or ", "casei(")


@pytest.fixture(scope="module")
def logged(loaded: list, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("logs") / "server.log"
    env = cli_env({"BANDO_BASE_URL": url, "BANDO_INTERNAL_TOKENS": INTERNAL_TOKEN})
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [BANDO, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_ready(url, proc, str(log))
            yield url, log
        finally:
            stop(proc)


def _owners(limit: int = 400) -> list[tuple[str, str]]:
    with psycopg.connect(db.database_url()) as conn:
        return conn.execute(
            'select "tenChu", coalesce("soDinhDanh", \'\') from data.parcels where "soDinhDanh" <> \'\''
            " order by fid limit %s",
            (limit,),
        ).fetchall()


def test_the_log_holds_nothing_personal_after_hostile_requests(logged: tuple[str, Path]) -> None:
    url, log = logged
    owners = _owners()
    assert len(owners) > 50
    name, number = owners[7]
    for case in all_cases():
        send(url, case, timeout=30)
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"}) as token_holder:
        for text in (
            f"tenChu = '{name}' AND soDinhDanh = '{number}' AND",  # not CQL2
            f"tenChu = '{name}' AND soDinhDanh = '{number}' AND dienTich > 'x'",  # a type error in SQL
            f"soDinhDanh = {number} AND tenChu LIKE '{name}%' AND nosuch = 1",
        ):
            assert (
                token_holder.get("/internal/ogc/collections/parcels/items", params={"filter": text}).status_code == 400
            )
        body = json.dumps({"op": "nosuch", "args": [{"property": "tenChu"}, name + " " * 950_000]}).encode()
        before = log.stat().st_size
        for _ in range(3):
            answer = token_holder.post(
                "/internal/ogc/collections/parcels/items",
                content=body,
                headers={"Content-Type": "application/query-cql-json"},
            )
            assert answer.status_code == 400
        assert log.stat().st_size - before < 3_000, "three 950 KB bodies must cost the log a few lines at most"
    text = log.read_text(encoding="utf-8", errors="replace")
    lowered = text.lower()
    assert "traceback" not in lowered, text[:3000]
    leaked = [n for n, i in owners if n in text] + [i for _, i in owners if i in text]
    assert not leaked, f"owner names or ID numbers in the log: {leaked[:5]}"
    assert not [f for f in FILTER_TEXT if f in lowered], [f for f in FILTER_TEXT if f in lowered]
    lines = text.splitlines()
    refusals = [line for line in lines if " 400 " in line and "bando.api" in line]
    assert len(refusals) >= 20, "refused requests are logged, one line each"
    assert max(len(line) for line in lines) < 400
    assert len(text) < 400_000, f"{len(text)} characters of log for about {len(all_cases())} requests"
