"""The citizens' site in a real browser, against the real server and the loaded samples."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import psycopg
import pytest

from bando.layers.catalogue import cached

READY = "body[data-ready='true']"
REPORT = "#report:not([hidden]) #report-title"


def vi_number(value: float, digits: int = 1) -> str:
    """A number as the page writes it in Vietnamese: 1.234,5."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def report(web: str, inputs: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        f"{web}/ogc/processes/planning-report/execution",
        data=json.dumps({"inputs": inputs}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def db(database: str, loaded: list):
    with psycopg.connect(database, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def red_line_parcel(db: psycopg.Connection, web: str) -> tuple[tuple, dict[str, Any]]:
    """A parcel partly inside a red line, its report, and its largest planned zone's use (from SQL)."""
    rows = db.execute(
        'select distinct p."maXa", p."soHieuToBanDo", p."soThuTuThua" from data.parcels p'
        " join data.red_lines r on st_dwithin(p.geom, r.geom, 2) where r.valid_to is null"
        " order by 1, 2, 3 limit 40"
    ).fetchall()
    for key in rows:
        doc = report(web, {"maXa": key[0], "soHieuToBanDo": key[1], "soThuTuThua": key[2]})
        if 5 < (doc["redLines"]["percent"] or 0) < 95 and doc["plannedLandUse"]["zones"]:
            return key, doc
    pytest.fail("no sample parcel is partly inside a red line")


@pytest.fixture(scope="module")
def adjusted_parcel(db: psycopg.Connection) -> tuple[tuple, str, str, str, str]:
    """A parcel whose planned use the adjustment changed: (key, old version, old use, new version, new use)."""
    field = cached().get("land_use_plan").style.by
    row = db.execute(
        f'select p."maXa", p."soHieuToBanDo", p."soThuTuThua", o.version_id, o."{field}", n.version_id, n."{field}"'
        " from data.parcels p"
        " join data.land_use_plan n on n.valid_to is null and st_contains(n.geom, p.geom)"
        " join data.land_use_plan o on o.valid_to is not null and st_contains(o.geom, p.geom)"
        f' where o."{field}" <> n."{field}" order by st_area(p.geom) desc limit 1'
    ).fetchone()
    assert row, "the samples' plan adjustment changes no parcel's planned use"
    return row[:3], row[3], row[4], row[5], row[6]


@pytest.fixture(scope="module")
def clickable_parcel(db: psycopg.Connection) -> tuple:
    """A parcel that contains the centre of its own bounding box (so a click there hits it)."""
    return db.execute(
        'select "maXa", "soHieuToBanDo", "soThuTuThua" from data.parcels'
        " where st_contains(geom, st_centroid(st_envelope(geom))) and st_area(geom) > 800"
        ' order by "maXa", "soHieuToBanDo", "soThuTuThua" limit 1'
    ).fetchone()


def open_site(page_factory, web: str, query: str = "", **options):
    page, log = page_factory(**options)
    page.goto(f"{web}/{query}")
    page.wait_for_selector(READY, timeout=30_000)
    return page, log


def settle(page) -> None:
    """Wait until the map is still and its tiles are drawn (before a screenshot)."""
    page.wait_for_timeout(300)  # let a fit or zoom animation start
    page.wait_for_selector("body[data-map-idle='true']", timeout=15_000)
    page.wait_for_timeout(150)


def search(page, key: tuple) -> None:
    page.select_option("#xa", key[0])
    page.fill("#to", str(key[1]))
    page.fill("#thua", str(key[2]))
    page.click("#form-parcel button[type=submit]")


def test_parcel_search_shows_planned_use_and_red_line_area(
    page_factory,
    web: str,
    red_line_parcel,
    db: psycopg.Connection,
    artifacts,
) -> None:
    key, doc = red_line_parcel
    field = cached().get("land_use_plan").style.by
    largest = db.execute(
        f'select z."{field}" from data.land_use_plan z join data.parcels p on st_intersects(z.geom, p.geom)'
        ' where z.valid_to is null and p."maXa" = %s and p."soHieuToBanDo" = %s and p."soThuTuThua" = %s'
        " order by st_area(st_intersection(z.geom, p.geom)) desc limit 1",
        key,
    ).fetchone()[0]
    page, log = open_site(page_factory, web)
    search(page, key)
    page.wait_for_selector(REPORT)
    panel = page.inner_text("#report")
    assert f"{key[2]}" in page.inner_text("#report-title") and f"{key[1]}" in page.inner_text("#report-title")
    assert largest in panel, f"planned use {largest} not shown"
    zone = doc["plannedLandUse"]["zones"][0]
    assert f"{zone['zone'][field]} —" in panel and vi_number(zone["areaM2"]) in panel
    red = page.locator("[data-redline-m2]")
    assert float(red.get_attribute("data-redline-m2")) == pytest.approx(doc["redLines"]["areaM2"])
    assert vi_number(doc["redLines"]["areaM2"]) + " m²" in red.inner_text()
    assert page.locator("path.redline-part").count() >= 1, "the part inside the red line is not drawn"
    assert page.locator("path.parcel-outline").count() == 1
    assert re.search(rf"[?&]xa={key[0]}&to={key[1]}&thua={key[2]}", page.url), page.url
    assert "tham khảo" in page.inner_text("#report .disclaimer")
    settle(page)
    page.screenshot(path=str(artifacts / "site-parcel-red-line.png"))
    assert any("/ogc/processes/planning-report/execution" in u for u in log.urls)
    assert any("/tiles/WebMercatorQuad/" in u for u in log.urls), "no vector tile was requested"


def test_click_on_the_map_reports_the_parcel_there(page_factory, web: str, clickable_parcel, artifacts) -> None:
    key = clickable_parcel
    page, _ = open_site(page_factory, web, f"?xa={key[0]}&to={key[1]}&thua={key[2]}")  # a permalink
    page.wait_for_selector(REPORT)
    assert page.input_value("#to") == str(key[1]) and page.input_value("#thua") == str(key[2])
    settle(page)  # the map has fitted the parcel: its centre is inside it
    box = page.locator("#map").bounding_box()
    with page.expect_response(lambda r: "planning-report/execution" in r.url):
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r"[?&]lat="))
    page.wait_for_selector(REPORT)
    assert f"số {key[2]}," in page.inner_text("#report-title")
    settle(page)
    page.screenshot(path=str(artifacts / "site-click.png"))


def test_plan_version_switch_shows_the_changed_zone(page_factory, web: str, adjusted_parcel, artifacts) -> None:
    key, old_version, old_use, new_version, new_use = adjusted_parcel
    page, _ = open_site(page_factory, web, f"?xa={key[0]}&to={key[1]}&thua={key[2]}")
    page.wait_for_selector(REPORT)
    planned = page.locator("#report table").first
    assert f"{new_use} —" in planned.inner_text()
    assert page.locator("#plan-version").input_value() == new_version
    changes = page.inner_text("#plan-changes")
    assert old_use in changes and new_use in changes and "→" in changes
    page.select_option("#plan-version", old_version)
    page.wait_for_url(re.compile(rf"[?&]v={re.escape(old_version)}"))
    page.wait_for_selector("path.changed-zone")
    assert f"{old_use} —" in page.locator("#report table").first.inner_text()
    assert page.locator("#report tr.changed").count() >= 1
    assert "Điều chỉnh" in page.inner_text("#plan-changes")  # versions by name and decision, not by id
    assert "ĐÃ ĐƯỢC ĐIỀU CHỈNH" in page.inner_text("#superseded-stamp")
    settle(page)
    page.screenshot(path=str(artifacts / "site-plan-version.png"))


def test_language_switch_persists_and_not_found_is_said_in_both(page_factory, web: str) -> None:
    page, _ = open_site(page_factory, web)
    assert page.get_attribute("html", "lang") == "vi"
    page.click("#form-parcel button[type=submit]")  # empty form: per-field messages, nothing sent
    assert page.get_attribute("#xa", "aria-invalid") == "true" and page.get_attribute("#to", "aria-invalid") == "true"
    assert "Hãy chọn xã/phường" in page.inner_text("#err-xa")
    commune = page.locator("#xa option").nth(1).get_attribute("value")
    search(page, (commune, 9999, 99999))
    page.wait_for_selector("#search-message.not-found")
    assert "Không tìm thấy thửa đất số 99999" in page.inner_text("#search-message")
    page.click("#lang-switch")
    assert page.get_attribute("html", "lang") == "en"
    page.reload()
    page.wait_for_selector(READY)
    assert page.get_attribute("html", "lang") == "en", "the language choice did not persist"
    assert page.inner_text("#search-title") == "Find a parcel"
    search(page, (commune, 9999, 99999))
    page.wait_for_selector("#search-message.not-found")
    assert "Parcel 99999 on map sheet 9999" in page.inner_text("#search-message")
    page.click("#lang-switch")
    assert page.inner_text("#search-title") == "Tra cứu thửa đất"


def test_coordinates_in_vn2000_find_the_parcel(
    page_factory,
    web: str,
    clickable_parcel,
    db: psycopg.Connection,
) -> None:
    key = clickable_parcel
    e, n = db.execute(
        "select st_x(c), st_y(c) from (select st_pointonsurface(geom) c from data.parcels"
        ' where "maXa" = %s and "soHieuToBanDo" = %s and "soThuTuThua" = %s) x',
        key,
    ).fetchone()
    page, _ = open_site(page_factory, web)
    page.click("#coords-box summary")
    page.select_option("#crs", "tm3")
    page.fill("#c1", str(round(e, 2)))  # swapped on purpose: X is the northing
    page.fill("#c2", str(round(n, 2)))
    page.click("#form-coords button[type=submit]")
    assert "đảo" in page.inner_text("#search-message")
    page.fill("#c1", f"{n:.2f}".replace(".", ","))  # a decimal comma is accepted
    page.fill("#c2", f"{e:.2f}")
    page.click("#form-coords button[type=submit]")
    page.wait_for_selector(REPORT)
    assert f"số {key[2]}," in page.inner_text("#report-title")
    assert "x=" in page.url and "y=" in page.url


def test_print_view_is_one_a4_page_with_the_map(page_factory, web: str, red_line_parcel, artifacts) -> None:
    key, _ = red_line_parcel
    page, _ = open_site(page_factory, web, f"?xa={key[0]}&to={key[1]}&thua={key[2]}")
    page.wait_for_selector(REPORT)
    page.evaluate("window.print = () => { document.body.dataset.printed = 'true'; }")  # no dialog when headless
    page.click("#print-report")
    page.wait_for_selector("body[data-printed='true']")
    page.emulate_media(media="print")
    page.screenshot(path=str(artifacts / "site-print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    (artifacts / "site-print.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == 1, f"the print view takes {pages} pages"
    assert page.locator("#search").is_hidden() and page.locator("#layers").is_hidden()
    assert page.locator("#map").is_visible() and page.locator("#report").is_visible()


def test_phone_layout_and_keyboard_access(page_factory, web: str, red_line_parcel, artifacts) -> None:
    key, _ = red_line_parcel
    page, _ = open_site(
        page_factory,
        web,
        f"?xa={key[0]}&to={key[1]}&thua={key[2]}",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    page.wait_for_selector(REPORT)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390, "the page scrolls sideways on a phone"
    settle(page)
    map_box = page.locator("#map").bounding_box()
    search_box = page.locator("#search").bounding_box()
    assert search_box["y"] >= map_box["y"] + map_box["height"] - 1, "the panel should follow the map on a phone"
    page.screenshot(path=str(artifacts / "site-phone.png"), full_page=True)
    unlabelled = page.evaluate("""[...document.querySelectorAll('input, select, button')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.id || e.outerHTML.slice(0, 60))""")
    assert not unlabelled, unlabelled
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "search"
