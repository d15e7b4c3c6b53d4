"""Readings pushed to the IOC map as they are committed (Server-Sent Events fed by LISTEN/NOTIFY)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from bando.layers.catalogue import cached
from tests.conftest import INTERNAL_TOKEN

READY = "body[data-ready='true']"
ITEMS = "/internal/ogc/collections/sensor_readings/items"
AUTH = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


@pytest.fixture
def posted(database: str, loaded: list) -> Iterator[list[int]]:
    """Feature ids of the readings a test posts; deleted afterwards."""
    ids: list[int] = []
    yield ids
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("delete from data.sensor_readings where fid = any(%s)", (ids,))
        conn.execute(  # the published row count stays true
            "update bando.layer_state set row_count = (select count(*) from data.sensor_readings)"
            " where layer = 'sensor_readings'"
        )


def calm_sensors(database: str) -> list[tuple[str, str, float]]:
    """Sensors whose latest reading is below the threshold: (code, kind, threshold)."""
    alert = cached().get("sensor_readings").alert
    with psycopg.connect(database) as conn:
        latest = conn.execute(
            'select distinct on (s."maCamBien") s."maCamBien", s.loai, r."giaTri" from data.env_sensors s'
            ' left join data.sensor_readings r on r."maCamBien" = s."maCamBien"'
            ' order by s."maCamBien", r."thoiGian" desc nulls last'
        ).fetchall()
    return [
        (s, k, alert.thresholds[k])
        for s, k, v in latest
        if k in alert.thresholds and (v is None or v <= alert.thresholds[k])
    ]


def post(web: str, readings: list[dict]) -> list[int]:
    answer = httpx.post(
        f"{web}{ITEMS}",
        content="\n".join(json.dumps(r) for r in readings),
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["ids"]


def reading(sensor: str, kind: str, value: float, minutes: int = 0) -> dict:
    at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 3600 + minutes * 60))
    return {"maCamBien": sensor, "thoiGian": at, "giaTri": value, "loai": kind}


def wait_for_ids(page, ids: list[int], timeout_s: float) -> None:
    """Poll the page's received event ids (its CSP forbids the eval wait_for_function needs)."""
    deadline = time.monotonic() + timeout_s
    while not set(ids) <= set(page.evaluate("window.bandoEvents.ids()")):
        assert time.monotonic() < deadline, f"events {ids} never arrived"
        time.sleep(0.1)


def test_a_reading_over_its_threshold_turns_the_point_red_within_a_second(
    page_factory, web: str, database: str, posted: list[int]
) -> None:
    page, log = page_factory()
    page.goto(f"{web}/ioc?refresh=300")  # no polling during the test: only the push can do it
    page.wait_for_selector(READY, timeout=30_000)
    page.wait_for_selector("body[data-events='open']", timeout=10_000)
    sensor, kind, limit = calm_sensors(database)[0]
    point = f"path.live-env_sensors.alert[data-key='{sensor}']"
    assert page.locator(point).count() == 0
    started = time.monotonic()
    posted += post(web, [reading(sensor, kind, round(limit * 1.5 + 0.3, 1))])
    page.wait_for_selector(point, timeout=1_000)
    assert time.monotonic() - started < 1.0
    assert "alert" in (page.locator(f"[data-layer='env_sensors'] li[data-key='{sensor}']").get_attribute("class") or "")
    assert any("/events/readings" in u for u in log.urls)


def test_a_dropped_stream_resumes_without_missing_a_reading(
    page_factory, web: str, database: str, posted: list[int]
) -> None:
    page, _ = page_factory()
    page.goto(f"{web}/ioc?refresh=300")
    page.wait_for_selector("body[data-events='open']", timeout=30_000)
    sensors = calm_sensors(database)
    sensor, kind, limit = sensors[0]
    posted += post(web, [reading(sensor, kind, limit * 0.5, 1)])
    wait_for_ids(page, posted[-1:], 5)
    page.evaluate("window.bandoEvents.drop(2000)")  # closed for 2 s
    page.wait_for_selector("body[data-events='closed']")
    missed = post(web, [reading(s, k, lim * 0.4, 2) for s, k, lim in sensors[:3]])
    posted += missed
    page.wait_for_selector("body[data-events='open']", timeout=10_000)
    wait_for_ids(page, missed, 5)
    seen = page.evaluate("window.bandoEvents.ids()")
    assert len(seen) == len(set(seen)), "an event came twice"


def test_the_stream_resumes_after_last_event_id(web: str, database: str, posted: list[int]) -> None:
    sensor, kind, limit = calm_sensors(database)[0]
    posted += post(web, [reading(sensor, kind, limit * 0.3, m) for m in range(3, 6)])
    got: list[int] = []
    with httpx.stream(
        "GET", f"{web}/events/readings", headers={"Last-Event-ID": str(posted[0] - 1)}, timeout=10
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("id: "):
                got.append(int(line[4:]))
            if len(got) >= 3:
                break
    assert got == posted[:3]
