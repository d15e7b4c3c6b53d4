"""The site as citizens use it, on a desktop and on a 390 px phone: search by name, a tap on
the map, the report in view, tables that fit, "locate me" — in a real browser."""

from __future__ import annotations

import re
import subprocess
import time

import psycopg
import pytest

from tests.conftest import cli_env
from tests.web import test_site_page as site_page
from tests.web.test_site_page import READY, REPORT, open_site, settle

# the site page's fixtures, shared
db = site_page.db
clickable_parcel = site_page.clickable_parcel
red_line_parcel = site_page.red_line_parcel

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])


@pytest.fixture(scope="module")
def former_commune_parcel(database: str, loaded: list) -> tuple[int, int]:
    """A parcel of today's Nghĩa Trụ (12031), which absorbed the former commune Vĩnh Khúc."""
    with psycopg.connect(database) as conn:
        return conn.execute(
            'select "soHieuToBanDo", "soThuTuThua" from data.parcels where "maXa" = \'12031\''
            " and st_area(geom) > 300 order by 1, 2 limit 1"
        ).fetchone()


def type_and_wait(page, text: str) -> None:
    with page.expect_response(
        lambda r: "/processes/search/execution" in r.url and r.request.post_data and text in r.request.post_data
    ):
        page.fill("#place-q", text)
    page.wait_for_selector("#place-results:not([hidden]) li")


def until(page, fn: str, arg: object = None, timeout_s: float = 20.0) -> None:
    """Poll a JS function (the page's CSP forbids the eval behind wait_for_function)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(fn, arg):
        assert time.monotonic() < deadline, f"timed out waiting for {fn} ({arg})"
        page.wait_for_timeout(100)


def in_view(page, selector: str) -> bool:
    return page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.top < innerHeight - 20 && r.left >= 0 && r.right <= innerWidth + 1; }""",
        selector,
    )


def no_sideways_scroll(page) -> list[str]:
    """Report tables (and the page) that are wider than their box."""
    return page.evaluate(
        """() => { const bad = [];
        for (const t of document.querySelectorAll('#report table')) {
          const box = t.parentElement;
          if (t.scrollWidth > box.clientWidth + 1 || t.getBoundingClientRect().right > box.getBoundingClientRect().right + 1)
            bad.push(`${t.querySelector('caption')?.textContent}: ${t.scrollWidth} > ${box.clientWidth}`);
        }
        if (document.scrollingElement.scrollWidth > innerWidth) bad.push(`page ${document.scrollingElement.scrollWidth}`);
        return bad; }"""
    )


@SIZES
def test_van_giang_without_diacritics_finds_the_commune(page_factory, web: str, size) -> None:
    page, _ = open_site(page_factory, web, **size)
    type_and_wait(page, "van giang")
    first = page.locator("#place-results li").first
    assert "Xã Văn Giang" in first.inner_text() and first.get_attribute("data-kind") == "commune"
    assert page.get_attribute("#place-q", "aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    assert page.get_attribute("#place-q", "aria-activedescendant") == "place-0"
    page.keyboard.press("Enter")
    assert page.input_value("#xa") == "12019"
    until(page, "() => document.getElementById('status').textContent.includes('Văn Giang')")


@SIZES
def test_a_road_name_highlights_the_road(page_factory, web: str, size, artifacts) -> None:
    page, _ = open_site(page_factory, web, **size)
    type_and_wait(page, "quoc lo 39")
    page.locator("#place-results li").first.click()
    page.wait_for_selector("path.search-hit")
    settle(page)
    page.screenshot(path=str(artifacts / f"site-road-{size['viewport']['width']}.png"))


def test_a_hamlet_without_diacritics_is_found_with_its_commune(page_factory, web: str) -> None:
    page, _ = open_site(page_factory, web, **PHONE)
    type_and_wait(page, "thon 3")
    hits = page.locator("#place-results li[data-kind=hamlet]")
    texts = [hits.nth(i).inner_text() for i in range(hits.count())]
    assert any("Thôn 3" in t and "Nghĩa Trụ" in t for t in texts) and any("Mễ Sở" in t for t in texts), texts
    hits.filter(has_text="Nghĩa Trụ").first.click()
    page.wait_for_selector("path.search-hit")
    assert page.input_value("#xa") == "12031"
    assert page.locator("path.search-hit").count() == 1  # this commune's Thôn 3, not the other's


@SIZES
def test_former_commune_sheet_and_parcel_opens_the_report_in_view(
    page_factory, web: str, size, former_commune_parcel, artifacts
) -> None:
    sheet, number = former_commune_parcel
    page, _ = open_site(page_factory, web, **size)
    type_and_wait(page, f"Vĩnh Khúc tờ {sheet} thửa {number}")
    first = page.locator("#place-results li").first
    assert first.get_attribute("data-kind") == "parcel" and "Vĩnh Khúc" in first.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_selector(REPORT)
    assert f"số {number}," in page.inner_text("#report-title")
    assert (page.input_value("#xa"), page.input_value("#to"), page.input_value("#thua")) == (
        "12031",
        str(sheet),
        str(number),
    )
    assert in_view(page, "#report-title"), "the report is out of view"
    assert not no_sideways_scroll(page), no_sideways_scroll(page)
    settle(page)
    page.screenshot(path=str(artifacts / f"site-search-parcel-{size['viewport']['width']}.png"))


@SIZES
def test_a_tap_on_the_map_brings_the_report_into_view_and_updates_the_form(
    page_factory, web: str, size, clickable_parcel, red_line_parcel
) -> None:
    key = clickable_parcel
    other, _ = red_line_parcel
    page, _ = open_site(page_factory, web, f"?xa={other[0]}&to={other[1]}&thua={other[2]}", **size)
    page.wait_for_selector(REPORT)
    page.evaluate(
        "([a, b, c]) => { document.getElementById('xa').value = a; document.getElementById('to').value = b;"
        " document.getElementById('thua').value = c; }",
        [key[0], str(key[1]), str(key[2])],
    )
    page.click("#form-parcel button[type=submit]")
    until(page, "(n) => document.getElementById('report-title')?.textContent.includes(`số ${n},`)", key[2])
    settle(page)
    page.evaluate("window.scrollTo(0, 0)")
    if size is PHONE:
        page.click("#sheet-toggle")  # the sheet folded away, the map fully in view
        assert page.locator("#report").is_hidden()
    page.fill("#thua", "")  # a stale form: the tap must put the parcel's numbers back
    box = page.locator("#map").bounding_box()
    with page.expect_response(lambda r: "planning-report/execution" in r.url):
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r"[?&]lat="))
    until(page, "(n) => document.getElementById('thua').value === String(n)", key[2])
    assert page.input_value("#to") == str(key[1]) and page.input_value("#xa") == key[0]
    assert in_view(page, "#report-title"), "the report is out of view after a tap"
    assert not no_sideways_scroll(page), no_sideways_scroll(page)


@SIZES
def test_no_report_table_scrolls_sideways(page_factory, web: str, size, red_line_parcel, database: str) -> None:
    with psycopg.connect(database) as conn:  # a parcel with construction-plan plots: the widest table
        key = conn.execute(
            'select p."maXa", p."soHieuToBanDo", p."soThuTuThua" from data.parcels p join data.planning_plots o'
            " on st_intersects(o.geom, p.geom) and o.valid_to is null order by st_area(p.geom) desc limit 1"
        ).fetchone()
    page, _ = open_site(page_factory, web, f"?xa={key[0]}&to={key[1]}&thua={key[2]}", **size)
    page.wait_for_selector(REPORT)
    assert page.locator("#report table").count() >= 2
    assert not no_sideways_scroll(page), no_sideways_scroll(page)


def test_locate_me_reports_the_parcel_where_the_phone_is(
    page_factory, web: str, clickable_parcel, database: str
) -> None:
    with psycopg.connect(database) as conn:
        lon, lat = conn.execute(
            "select st_x(c), st_y(c) from (select st_transform(st_pointonsurface(geom), 4326) c from data.parcels"
            ' where "maXa" = %s and "soHieuToBanDo" = %s and "soThuTuThua" = %s) s',
            clickable_parcel,
        ).fetchone()
    page, _ = open_site(
        page_factory, web, **PHONE, geolocation={"latitude": lat, "longitude": lon}, permissions=["geolocation"]
    )
    page.click("#locate-me")
    page.wait_for_selector(REPORT)
    assert page.input_value("#thua") == str(clickable_parcel[2])
    assert in_view(page, "#report-title")


def test_english_permalink_keeps_the_language(page_factory, web: str, red_line_parcel) -> None:
    key, doc = red_line_parcel
    page, _ = open_site(page_factory, web, f"?xa={key[0]}&to={key[1]}&thua={key[2]}&lang=en")
    page.wait_for_selector(REPORT)
    assert "lang=en" in page.get_attribute("#permalink", "href") and "lang=en" in page.url
    page.click("#lang-switch")
    until(page, "() => !location.search.includes('lang=en')")
    assert page.get_attribute("html", "lang") == "vi"
    roads = [r for r in doc["redLines"]["roads"] if r.get("width")]
    assert roads, "the sample red line carries no width"
    assert "lộ giới" in page.inner_text("#red-roads")
    assert page.locator("#report-sources li").count() >= 2
    assert page.get_attribute("#plan-documents a >> nth=0", "href").startswith("/documents/")
    assert page.locator("#report-sources").inner_text().count("ngày") >= 2
    page.wait_for_selector(READY)


def test_a_citizen_comments_on_a_plan_under_consultation(
    page_factory, web: str, red_line_parcel, bando_bin: str, database: str
) -> None:
    key, doc = red_line_parcel
    version = doc["plannedLandUse"]["versions"][0]["versionId"]
    run = subprocess.run(
        [bando_bin, "consultation", "land_use_plan", version, "--opens", "2020-01-01", "--closes", "2099-01-01"],
        capture_output=True, text=True, env=cli_env(),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    page, _ = open_site(page_factory, web, f"?xa={key[0]}&to={key[1]}&thua={key[2]}")
    page.wait_for_selector("#consult-form")
    page.fill("#consult-text", "Đề nghị giữ lại cây đa đầu làng (thử nghiệm trình duyệt)")
    page.fill("#consult-name", "Trần Văn Thử")
    with page.expect_response(lambda r: r.url.endswith("/comments/") and r.request.method == "POST") as answer:
        page.click("#consult-form button[type=submit]")
    assert answer.value.status == 201
    until(page, "() => document.getElementById('consult-message').textContent.includes('Cảm ơn')")
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "select author_name, parcel, zone from bando.comments where body like '%thử nghiệm trình duyệt%'"
        ).fetchone()
    assert row[0] == "Trần Văn Thử" and row[1] == f"{key[0]}/{key[1]}/{key[2]}" and row[2]
