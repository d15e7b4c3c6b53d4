"""The print view a citizen hands to an official: one A4 page with the stamp of a superseded
plan version, a legend, a north arrow and the permalink as a QR code that decodes."""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.parse
import urllib.request

import pypdfium2
import zxingcpp

from tests.web import test_site_page as site_page
from tests.web.test_site_page import REPORT, open_site

db = site_page.db
adjusted_parcel = site_page.adjusted_parcel


def pdf_pages(pdf: bytes) -> list[tuple[str, object]]:
    """(text, image) of every page of a PDF."""
    doc = pypdfium2.PdfDocument(io.BytesIO(pdf))
    out = []
    for page in doc:
        text = page.get_textpage().get_text_range()
        image = page.render(scale=200 / 72, grayscale=True).to_numpy()
        out.append((text, image))
    return out


def test_print_of_a_superseded_version_has_stamp_legend_and_qr(
    page_factory, web: str, adjusted_parcel, artifacts
) -> None:
    key, old_version, old_use, _, _ = adjusted_parcel
    page, _ = open_site(page_factory, web, f"?xa={key[0]}&to={key[1]}&thua={key[2]}&v={old_version}")
    page.wait_for_selector(REPORT)
    permalink = page.get_attribute("#permalink", "href")
    assert f"v={old_version}" in permalink
    page.evaluate("window.print = () => { document.body.dataset.printed = 'true'; }")  # no dialog when headless
    page.click("#print-report")
    page.wait_for_selector("body[data-printed='true']")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    (artifacts / "site-print-superseded.pdf").write_bytes(pdf)
    pages = pdf_pages(pdf)
    assert len(pages) == 1, f"the print view takes {len(pages)} pages"
    text, image = pages[0]
    flat = re.sub(r"\s+", " ", text)
    assert "ĐÃ ĐƯỢC ĐIỀU CHỈNH" in flat, flat[:500]
    assert "Chú giải" in flat and old_use in flat, "no legend of the planned use"
    assert "QĐ" in flat and "ngày" in flat  # the plan decision
    codes = [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert codes == [permalink], (codes, permalink)


def test_qr_draws_only_links_to_the_site(web: str) -> None:
    def status(url: str) -> int:
        try:
            with urllib.request.urlopen(f"{web}/qr.svg?url={urllib.parse.quote(url, safe='')}", timeout=10) as r:
                assert r.headers["Content-Type"].startswith("image/svg+xml")
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status(f"{web}/?xa=1&to=2&thua=3") == 200
    assert status("javascript:alert(1)") == 400
    assert status(f"{web}/ogc/collections") == 400
    assert status(f"{web}/?q={'x' * 900}") == 400
