"""Readings retention: `bando readings prune` against a real server, database and gateway batch.

The retention is chosen so that the cut falls between readings this test posts far in the past
and the sample readings, whatever today's date: the shared sample data keeps its counts.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from bando import db
from tests.conftest import INTERNAL_TOKEN, cli_env

pytestmark = pytest.mark.slow  # a `bando serve` of its own

LAYER = "sensor_readings"
OLD = [f"2019-06-{d:02d}T08:00:00+07:00" for d in range(1, 4)]  # older than the retention below
NEW = [f"2026-11-{d:02d}T08:00:00+07:00" for d in range(1, 3)]  # newer than it


def owner_rows(query: str, params: object = None) -> list[tuple]:
    with psycopg.connect(db.database_url()) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def matched(server: str, datetime_: str | None = None) -> int:
    """numberMatched of the public API (the public view, not the owner)."""
    params = {"limit": "1", **({"datetime": datetime_} if datetime_ else {})}
    answer = httpx.get(f"{server}/ogc/collections/{LAYER}/items", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["numberMatched"])


def post(server: str, times: list[str], sensor: str) -> list[int]:
    lines = [{"maCamBien": sensor, "thoiGian": t, "giaTri": 10.0, "loai": "pm25"} for t in times]
    answer = httpx.post(
        f"{server}/internal/ogc/collections/{LAYER}/items",
        content="\n".join(json.dumps(x) for x in lines),
        headers={"Authorization": f"Bearer {INTERNAL_TOKEN}", "Content-Type": "application/x-ndjson"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return [int(i) for i in answer.json()["ids"]]


def test_prune_drops_expired_readings_keeps_the_rest_and_the_api_follows(server: str, bando_bin: str) -> None:
    sensor = owner_rows('select "maCamBien" from data.env_sensors order by fid limit 1')[0][0]
    samples = owner_rows(f'select count(*) from data.{LAYER} where "thoiGian" >= %s', ("2020-01-01T00:00:00Z",))[0][0]
    others = owner_rows(
        "select layer, revision, row_count from bando.layer_state where layer <> %s order by 1", (LAYER,)
    )
    old = post(server, OLD, sensor)
    new = post(server, NEW, sensor)
    assert matched(server, "2019-01-01T00:00:00Z/2019-12-31T00:00:00Z") == len(OLD)
    revision = owner_rows("select revision from bando.layer_state where layer = %s", (LAYER,))[0][0]

    today = datetime.now(UTC)
    months = (today.year - 2020) * 12 + today.month - 1  # cut at about 2020-01: after OLD, before the samples
    result = subprocess.run(
        [bando_bin, "readings", "prune"],
        capture_output=True,
        text=True,
        env=cli_env({"BANDO_READINGS_RETENTION_MONTHS": str(months)}),
    )
    assert result.returncode == 0, result.stderr
    assert f"{LAYER}: {len(OLD)} readings" in result.stdout

    present = {fid for (fid,) in owner_rows(f"select fid from data.{LAYER} where fid = any(%s)", (old + new,))}
    assert present == set(new)
    history = {fid for (fid,) in owner_rows("select fid from bando.feature_history where layer = %s", (LAYER,))}
    audited = {fid for (fid,) in owner_rows("select fid from bando.audit where layer = %s", (LAYER,))}
    assert not history.intersection(old) and not audited.intersection(old)
    assert set(new) <= history and set(new) <= audited
    assert owner_rows(f'select count(*) from data.{LAYER} where "thoiGian" >= %s', ("2020-01-01T00:00:00Z",))[0][
        0
    ] == samples + len(NEW)
    state = owner_rows("select revision, row_count from bando.layer_state where layer = %s", (LAYER,))[0]
    total = owner_rows(f"select count(*) from data.{LAYER}")[0][0]
    assert state == (revision + 1, total)
    assert matched(server) == total
    assert matched(server, "2019-01-01T00:00:00Z/2019-12-31T00:00:00Z") == 0
    assert (
        owner_rows("select layer, revision, row_count from bando.layer_state where layer <> %s order by 1", (LAYER,))
        == others
    )

    again = subprocess.run(
        [bando_bin, "readings", "prune", "--months", "0"], capture_output=True, text=True, env=cli_env()
    )
    assert again.returncode == 0 and f"{LAYER}: 0 readings" in again.stdout
    assert owner_rows(f"select count(*) from data.{LAYER}")[0][0] == total

    with psycopg.connect(db.database_url()) as conn:  # as the owner, leaving the samples as they were
        conn.execute(f"delete from data.{LAYER} where fid = any(%s)", (new,))
        conn.execute(
            f"update bando.layer_state set row_count = (select count(*) from data.{LAYER}) where layer = %s",
            (LAYER,),
        )


def test_an_expired_newest_reading_never_gives_its_id_away(server: str, bando_bin: str) -> None:
    """The event stream resumes from the last id it sent: a pruned id must not be handed out again."""
    sensor = owner_rows('select "maCamBien" from data.env_sensors order by fid limit 1')[0][0]
    (late,) = post(server, OLD[:1], sensor)  # an old reading, posted last: the layer's highest id
    today = datetime.now(UTC)
    months = (today.year - 2020) * 12 + today.month - 1
    result = subprocess.run(
        [bando_bin, "readings", "prune", "--months", str(months)], capture_output=True, text=True, env=cli_env()
    )
    assert result.returncode == 0 and f"{LAYER}: 1 readings" in result.stdout, result.stdout + result.stderr
    assert owner_rows(f"select count(*) from data.{LAYER} where fid = %s", (late,))[0][0] == 0
    (after,) = post(server, NEW[:1], sensor)
    assert after > late
    with psycopg.connect(db.database_url()) as conn:
        conn.execute(f"delete from data.{LAYER} where fid = %s", (after,))
        conn.execute(
            f"update bando.layer_state set row_count = (select count(*) from data.{LAYER}) where layer = %s",
            (LAYER,),
        )
