"""The IOC map in a real browser: live points, refreshed, with the catalogue's alert colour."""

from __future__ import annotations

import json
import re
import urllib.request

import psycopg
import pytest

from bando.layers.catalogue import cached

READY = "body[data-ready='true']"


def count_items(web: str, collection: str) -> int:
    with urllib.request.urlopen(
        f"{web}/ogc/collections/{collection}/items?f=json&limit=1&skipGeometry=true", timeout=10
    ) as r:
        return json.load(r)["numberMatched"]


@pytest.fixture
def newer_reading(database: str, loaded: list):
    """Insert a reading newer than any other, above its sensor's threshold; removed afterwards."""
    alert = cached().get("sensor_readings").alert
    with psycopg.connect(database, autocommit=True) as conn:
        latest = conn.execute(
            'select distinct on (s."maCamBien") s."maCamBien", s.loai, r."giaTri" from data.env_sensors s'
            ' left join data.sensor_readings r on r."maCamBien" = s."maCamBien"'
            ' order by s."maCamBien", r."thoiGian" desc nulls last'
        ).fetchall()
        calm = [(s, k) for s, k, v in latest if k in alert.thresholds and (v is None or v <= alert.thresholds[k])]
        assert calm, "every sample sensor is already in alert"
        sensor, kind = calm[0]
        value = round(alert.thresholds[kind] * 1.5 + 0.3, 1)
        fid = conn.execute(
            'insert into data.sensor_readings (fid, "maCamBien", "thoiGian", "giaTri", loai)'
            " select coalesce(max(fid), 0) + 1, %s, greatest(now(), max(\"thoiGian\") + interval '1 hour'), %s, %s"
            " from data.sensor_readings returning fid",
            (sensor, value, kind),
        ).fetchone()[0]
        try:
            yield sensor, kind, value
        finally:
            conn.execute("delete from data.sensor_readings where fid = %s", (fid,))


def test_ioc_shows_live_points_and_updates_a_reading(
    page_factory,
    web: str,
    database: str,
    artifacts,
    request,
) -> None:
    page, log = page_factory()
    page.goto(f"{web}/ioc?refresh=1")
    page.wait_for_selector(READY, timeout=30_000)
    cameras = count_items(web, "cameras")
    sensors = count_items(web, "env_sensors")
    assert cameras > 0 and sensors > 0
    assert page.locator("[data-layer='cameras'] li").count() == cameras
    assert page.locator("[data-layer='env_sensors'] li").count() == sensors
    assert page.locator("path.live-cameras").count() == cameras
    assert page.locator("path.live-env_sensors").count() == sensors
    assert page.locator("#layer-list input[data-layer='cameras']").is_checked()
    page.wait_for_selector("body[data-map-idle='true']", timeout=15_000)
    page.screenshot(path=str(artifacts / "ioc-before.png"))

    sensor, kind, value = request.getfixturevalue("newer_reading")
    shown = f"{value:.1f}".replace(".", ",")
    item = page.locator(f"[data-layer='env_sensors'] li[data-key='{sensor}']")
    assert "alert" not in (item.get_attribute("class") or ""), "the chosen sensor was in alert already"
    item.locator(".value", has_text=shown).wait_for(timeout=10_000)
    assert "alert" in (item.get_attribute("class") or "")
    assert page.locator(f"path.live-env_sensors.alert[data-key='{sensor}']").count() == 1
    assert re.search(r"\d+ điểm vượt ngưỡng", page.inner_text("#alert-summary"))
    assert page.locator("[data-layer='env_sensors'] li").first.get_attribute("data-key") in {
        k
        for k in page.locator("[data-layer='env_sensors'] li.alert").evaluate_all("els => els.map(e => e.dataset.key)")
    }, "alerts are listed first"
    page.screenshot(path=str(artifacts / "ioc-alert.png"))

    # every layer has its switch; a tiled layer and a live layer go off and on
    config = json.loads(page.inner_text("#bando-config"))
    switches = set(
        page.locator("#layer-list input[type=checkbox]").evaluate_all("els => els.map(e => e.dataset.layer)")
    )
    assert {entry["id"] for entry in config["layers"]} <= switches
    roads = page.locator("#layer-list input[data-layer='roads']")
    roads.uncheck()
    before = sum("/collections/roads/tiles/" in u for u in log.urls)
    with page.expect_request(lambda r: "/collections/roads/tiles/" in r.url):
        roads.check()
    assert sum("/collections/roads/tiles/" in u for u in log.urls) > before
    page.locator("#layer-list input[data-layer='cameras']").uncheck()
    assert page.locator("path.live-cameras").count() == 0
    page.locator("#layer-list input[data-layer='cameras']").check()
    assert page.locator("path.live-cameras").count() == cameras
    polls = [u for u in log.urls if "/collections/sensor_readings/items" in u]
    assert len(polls) >= 2, "the readings were not polled again"
