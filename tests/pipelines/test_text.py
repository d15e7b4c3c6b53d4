"""NFC normalisation pays utf8proc only for values it may change, and gives its answers."""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

from bando.pipelines.text import nfc

SAFE = [*range(0x300), *range(0x1E00, 0x1F00)]  # below the combining marks; precomposed Vietnamese


def test_the_characters_it_skips_never_change_under_nfc() -> None:
    for c in SAFE:
        ch = chr(c)
        for text in (ch, "a" + ch, ch + "ư", "Nguyễn " + ch):
            assert unicodedata.normalize("NFC", text) == text, hex(c)


def test_it_gives_what_utf8_normalize_gives() -> None:
    values = [
        "Nguyễn Văn Bình",
        unicodedata.normalize("NFD", "Trần Thị Bích Ngọc"),  # decomposed: a Mac's file names, some exports
        None,
        "",
        "LUC",
        "e\u0301",
        "\u212b",  # a singleton outside the skipped ranges (Å)
        "Hà Nội\u0323",
        "Ω",
        "thôn Đông 3",
    ]
    for array in (pa.array(values * 3), pa.array(values * 3, pa.large_string())):
        for part in (array, array.slice(4, 11), array.slice(0, 0), pa.nulls(3, pa.string())):
            assert nfc(part).to_pylist() == pc.utf8_normalize(part, "NFC").to_pylist()
