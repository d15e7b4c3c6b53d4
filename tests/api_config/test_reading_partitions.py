"""Readings partitioned by month, written through a real server: new months appear as readings arrive,
and retention drops whole months."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import httpx
import psycopg
import pytest

from bando import db
from bando.layers import catalogue
from bando.pipelines.retention import prune
from bando.settings import get_settings
from tests.conftest import INTERNAL_TOKEN

LAYER = "sensor_readings"
ICT = timezone(timedelta(hours=7))
HEADERS = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


def owner_rows(query: str, params: object = None) -> list[tuple]:
    with psycopg.connect(db.database_url()) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def months() -> set[str]:
    found = owner_rows(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = 'data.sensor_readings'::regclass"
    )
    return {name for (name,) in found}


def reading(sensor: str, at: str, value: float = 10.0) -> dict:
    return {"maCamBien": sensor, "thoiGian": at, "giaTri": value, "loai": "pm25"}


def post_lines(server: str, lines: list[dict]) -> list[int]:
    answer = httpx.post(
        f"{server}/internal/ogc/collections/{LAYER}/items",
        content="\n".join(json.dumps(x) for x in lines),
        headers={**HEADERS, "Content-Type": "application/x-ndjson"},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    return [int(i) for i in answer.json()["ids"]]


@pytest.fixture
def sensor(server: str) -> Iterator[str]:
    """A sample sensor; afterwards the readings this test wrote and the months it added are removed."""
    before_months, before_fid = months(), owner_rows(f"select coalesce(max(fid), 0) from data.{LAYER}")[0][0]
    yield owner_rows('select "maCamBien" from data.env_sensors order by fid limit 1')[0][0]
    with psycopg.connect(db.database_url()) as conn:  # as the owner, leaving the samples as they were
        conn.execute(f"delete from data.{LAYER} where fid > %s", (before_fid,))
        for name in months() - before_months:
            conn.execute(f"drop table data.{name}")
        conn.execute(
            f"update bando.layer_state set row_count = (select count(*) from data.{LAYER}) where layer = %s", (LAYER,)
        )


def test_a_reading_of_a_new_month_creates_its_partition_and_is_found_by_datetime(server: str, sensor: str) -> None:
    assert "sensor_readings_202402" not in months()
    answer = httpx.post(
        f"{server}/internal/ogc/collections/{LAYER}/items",
        json={"type": "Feature", "geometry": None, "properties": reading(sensor, "2024-02-29T23:59:00+07:00")},
        headers=HEADERS,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    fid = answer.json()["id"]
    assert "sensor_readings_202402" in months()
    assert owner_rows("select fid from data.sensor_readings_202402") == [(fid,)]
    found = httpx.get(
        f"{server}/ogc/collections/{LAYER}/items",
        params={"datetime": "2024-02-01T00:00:00+07:00/2024-03-01T00:00:00+07:00"},
        timeout=30,
    )
    assert found.status_code == 200 and [f["id"] for f in found.json()["features"]] == [fid]


def test_concurrent_batches_for_one_new_month_make_one_partition_and_lose_nothing(server: str, sensor: str) -> None:
    assert "sensor_readings_202403" not in months()
    batches = [[reading(sensor, f"2024-03-{d:02d}T{h:02d}:00:00+07:00") for h in range(24)] for d in range(1, 9)]
    with ThreadPoolExecutor(len(batches)) as pool:
        ids = [fid for got in pool.map(lambda b: post_lines(server, b), batches) for fid in got]
    assert len(set(ids)) == 8 * 24
    assert {m for m in months() if m.startswith("sensor_readings_2024")} == {"sensor_readings_202403"}
    assert owner_rows("select count(*) from data.sensor_readings_202403") == [(8 * 24,)]


def test_an_edit_moving_a_reading_to_a_new_month_creates_that_month(server: str, sensor: str) -> None:
    (fid,) = post_lines(server, [reading(sensor, "2024-05-10T08:00:00+07:00")])
    item = f"{server}/internal/ogc/collections/{LAYER}/items/{fid}"
    etag = httpx.get(item, headers=HEADERS, timeout=30).headers["etag"]
    moved = httpx.patch(
        item,
        json={"type": "Feature", "properties": {"thoiGian": "2024-06-10T08:00:00+07:00"}},
        headers={**HEADERS, "If-Match": etag},
        timeout=30,
    )
    assert moved.status_code == 204, moved.text
    assert owner_rows("select count(*) from data.sensor_readings_202405") == [(0,)]
    assert owner_rows("select fid from data.sensor_readings_202406") == [(fid,)]
    assert httpx.get(item, headers=HEADERS, timeout=30).headers["etag"] == moved.headers["etag"]


def test_prune_drops_the_expired_months_whole_and_keeps_the_rest(server: str, sensor: str) -> None:
    posted = {m: post_lines(server, [reading(sensor, f"2019-{m:02d}-15T08:00:00+07:00")]) for m in (3, 4, 5)}
    assert {"sensor_readings_201903", "sensor_readings_201904", "sensor_readings_201905"} <= months()
    total = owner_rows(f"select count(*) from data.{LAYER}")[0][0]
    state = owner_rows("select revision, row_count from bando.layer_state where layer = %s", (LAYER,))[0]
    layer = next(x for x in catalogue.load(get_settings().layers_dir) if x.id == LAYER)
    with psycopg.connect(db.database_url()) as conn:  # cut: 2019-05-15, inside May
        gone = prune(conn, layer, 2, now=datetime(2019, 7, 15, 12, tzinfo=ICT))
    assert gone == 2
    left = months()
    assert "sensor_readings_201903" not in left and "sensor_readings_201904" not in left
    assert owner_rows("select to_regclass('data.sensor_readings_201903')") == [(None,)]  # dropped, not only detached
    assert "sensor_readings_201905" in left and "sensor_readings_202510" in left
    today = datetime.now(ICT)
    assert f"sensor_readings_{today:%Y%m}" in left  # prune, run daily, keeps this month and the next ready
    assert owner_rows(f"select count(*) from data.{LAYER}") == [(total - 2,)]
    expired = posted[3] + posted[4]
    for table in ("feature_history", "audit"):
        fids = {fid for (fid,) in owner_rows(f"select fid from bando.{table} where layer = %s", (LAYER,))}
        assert not fids.intersection(expired) and set(posted[5]) <= fids
    after = owner_rows("select revision, row_count from bando.layer_state where layer = %s", (LAYER,))[0]
    assert after == (state[0] + 1, state[1] - 2)


def test_only_an_edit_role_may_add_a_month_and_only_to_a_table_partitioned_by_month(loaded: list) -> None:
    call = "select bando.month_partitions(%s::regclass, array['2023-01-15T00:00:00+07:00'::timestamptz])"
    for url in (db.view_url("public"), db.view_url("internal")):  # the API roles themselves: no
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(call, ("data.sensor_readings",))
    with psycopg.connect(db.view_url("internal")) as conn:
        conn.execute("set role bando_edit_sensor_readings")
        assert conn.execute(call, ("data.roads",)).fetchone() == (0,)  # not partitioned: nothing made
        assert conn.execute(call, ("bando.audit",)).fetchone() == (0,)
        assert conn.execute(call, ("data.sensor_readings",)).fetchone() == (1,)
        assert conn.execute(call, ("data.sensor_readings",)).fetchone() == (0,)  # made once
        conn.rollback()  # leave the samples' months as they were
    assert "sensor_readings_202301" not in months()


def test_a_batch_spanning_too_many_months_is_refused_and_makes_none(server: str, sensor: str) -> None:
    before = months()
    lines = [reading(sensor, f"{2001 + k // 12}-{k % 12 + 1:02d}-10T08:00:00+07:00") for k in range(25)]
    answer = httpx.post(
        f"{server}/internal/ogc/collections/{LAYER}/items",
        content="\n".join(json.dumps(x) for x in lines),
        headers={**HEADERS, "Content-Type": "application/x-ndjson"},
        timeout=60,
    )
    assert answer.status_code == 400 and "at most 24 months" in answer.text
    assert months() == before
    assert len(post_lines(server, lines[:24])) == 24  # two years in one batch are fine
