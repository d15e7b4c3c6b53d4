"""WCAG 2.1 AA with axe-core (the copy bundled by ``axe-playwright-python``) in a real
Chromium: no serious or critical violation on the site, the IOC map, a report and the
print view; and a keyboard-only citizen can search by name and read the report."""

from __future__ import annotations

import json
from pathlib import Path

import axe_playwright_python
import pytest

from tests.web import test_site_page as site_page
from tests.web.test_site_page import READY, REPORT, settle

AXE = Path(axe_playwright_python.__file__).with_name("axe.min.js").read_text(encoding="utf-8")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

db = site_page.db
red_line_parcel = site_page.red_line_parcel


def violations(page) -> list[dict]:
    page.add_script_tag(content=AXE)
    result = page.evaluate("async (tags) => await axe.run(document, { runOnly: { type: 'tag', values: tags } })", TAGS)
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def opened(page_factory, web: str, path: str):
    # axe is injected as a script: the test context alone bypasses the page's CSP
    page, _ = page_factory(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page.goto(f"{web}{path}")
    page.wait_for_selector(READY, timeout=30_000)
    return page


@pytest.mark.parametrize("path", ["/", "/ioc"])
def test_pages_have_no_serious_violation(page_factory, web: str, path: str) -> None:
    page = opened(page_factory, web, path)
    settle(page)
    found = violations(page)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_report_and_print_view_have_no_serious_violation(page_factory, web: str, red_line_parcel) -> None:
    key, _ = red_line_parcel
    page = opened(page_factory, web, f"/?xa={key[0]}&to={key[1]}&thua={key[2]}")
    page.wait_for_selector(REPORT)
    settle(page)
    found = violations(page)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)
    page.evaluate("window.print = () => { document.body.dataset.printed = 'true'; }")
    page.click("#print-report")
    page.wait_for_selector("body[data-printed='true']")
    page.emulate_media(media="print")
    found = violations(page)
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


def test_keyboard_only_search_and_report(page_factory, web: str) -> None:
    page = opened(page_factory, web, "/")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Enter")  # to the search card
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "place-q"
    with page.expect_response(
        lambda r: "/processes/search/execution" in r.url and "nghia tru" in (r.request.post_data or "")
    ):
        page.keyboard.type("nghia tru 1 1", delay=20)
    page.wait_for_selector("#place-results:not([hidden]) li")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector(REPORT)
    assert page.evaluate("document.activeElement.id") == "report", "the report should take the focus"
    assert "số 1," in page.inner_text("#report-title")
