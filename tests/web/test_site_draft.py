"""A draft plan version on the citizens' site: listed as a draft, never the default version."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.pipelines.test_draft_versions import DRAFT, IN_FORCE, LAYER, SOURCE, bando, forget
from tests.web import test_site_page as site
from tests.web.test_site_page import REPORT, open_site

adjusted_parcel, db = site.adjusted_parcel, site.db  # the site tests' fixtures, shared


@pytest.fixture
def draft_loaded(bando_bin: str, database: str, loaded: list) -> Iterator[str]:
    run = bando(
        bando_bin, "load", LAYER, str(SOURCE), "--source-layer", "quy_hoach_sdd", "--crs", "EPSG:9209",
        "--version-id", DRAFT, "--draft", "--force",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    yield DRAFT
    forget(database, DRAFT)


def test_site_keeps_the_version_in_force_and_marks_the_draft(
    page_factory, web: str, adjusted_parcel: tuple, draft_loaded: str
) -> None:
    key = adjusted_parcel[0]
    page, _ = open_site(page_factory, web, f"?xa={key[0]}&to={key[1]}&thua={key[2]}")
    page.wait_for_selector(REPORT)
    assert page.locator("#plan-version").input_value() == IN_FORCE
    option = page.locator(f"#plan-version option[value='{DRAFT}']").inner_text()
    assert option.startswith("Dự thảo") and "chưa có hiệu lực" in option
    assert page.locator("#draft-stamp").count() == 0
    page.select_option("#plan-version", DRAFT)
    page.wait_for_url(re.compile(rf"[?&]v={re.escape(DRAFT)}"))
    page.wait_for_selector("#draft-stamp")
    assert "DỰ THẢO" in page.inner_text("#draft-stamp")
    assert page.locator("#superseded-stamp").count() == 0
