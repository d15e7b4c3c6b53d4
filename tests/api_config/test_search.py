"""The public ``search`` process against the real server and the loaded samples."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

import psycopg
import pytest

from bando.api_config.gazetteer import fold, parcel_query

PATH = "/ogc/processes/search/execution"


def post(server: str, inputs: Any) -> tuple[int, Any]:
    url = urllib.parse.urlsplit(server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("POST", PATH, body=json.dumps({"inputs": inputs}), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def search(server: str, q: str, **extra: Any) -> list[dict[str, Any]]:
    status, doc = post(server, {"q": q, **extra})
    assert status == 200, (status, doc)
    return doc["results"]


def test_fold_ignores_diacritics_case_and_punctuation() -> None:
    assert fold("Xã Văn Giang") == "xa van giang"
    assert fold("ĐƯỜNG tỉnh 379") == "duong tinh 379"
    assert fold("Vĩnh Khúc, 12/45") == "vinh khuc 12 45"


def test_parcel_queries_are_recognised() -> None:
    assert parcel_query(fold("Vĩnh Khúc tờ 12 thửa 45")) == ("vinh khuc", 12, 45)
    assert parcel_query("vinh khuc 12 45")[1:] == (12, 45)
    assert parcel_query(fold("Vinh Khuc sheet 12 parcel 45")) == ("vinh khuc", 12, 45)
    assert parcel_query("quoc lo 39") is None
    assert parcel_query("12 45") is None  # no commune


def test_commune_without_diacritics_comes_first(server: str) -> None:
    first = search(server, "van giang")[0]
    assert first["kind"] == "commune" and first["maXa"] == "12019" and "Văn Giang" in first["name"]
    assert first["bbox"] and len(first["bbox"]) == 4


def test_former_commune_names_today_commune(server: str) -> None:
    hits = search(server, "vinh khuc")
    former = next(h for h in hits if h["kind"] == "formerCommune")
    assert former["name"] == "Xã Vĩnh Khúc" and former["maXa"] == "12031" and former["formerMaXa"] == "12037"
    assert "Nghĩa Trụ" in former["now"]


def test_road_by_partial_name(server: str) -> None:
    hits = search(server, "quoc lo 39")
    assert hits[0]["kind"] == "road" and hits[0]["name"] == "Quốc lộ 39" and hits[0]["layer"] == "roads"


def test_parcel_by_former_commune_sheet_and_number(server: str, database: str) -> None:
    with psycopg.connect(database) as conn:
        sheet, number = conn.execute(
            'select "soHieuToBanDo", "soThuTuThua" from data.parcels where "maXa" = \'12031\''
            ' order by "soHieuToBanDo", "soThuTuThua" limit 1'
        ).fetchone()
    for q in (f"Vĩnh Khúc tờ {sheet} thửa {number}", f"vinh khuc {sheet}/{number}", f"nghia tru {sheet} {number}"):
        hit = search(server, q)[0]
        assert (hit["kind"], hit["maXa"], hit["soHieuToBanDo"], hit["soThuTuThua"]) == (
            "parcel",
            "12031",
            sheet,
            number,
        )
    assert search(server, f"vinh khuc {sheet} {number}")[0]["formerName"] == "Xã Vĩnh Khúc"


def test_results_carry_public_fields_only(server: str) -> None:
    text = json.dumps(search(server, "a", limit=20) + search(server, "van giang 1 1"))
    for private in ("tenChu", "soDinhDanh", "diaChi"):
        assert private not in text


@pytest.mark.parametrize(
    "inputs",
    [{}, {"q": ""}, {"q": "x" * 101}, {"q": "a", "limit": 0}, {"q": "a", "limit": True}, {"q": 5}, {"q": "a", "x": 1}],
)
def test_bad_input_is_a_short_bilingual_400(server: str, inputs: dict[str, Any]) -> None:
    status, doc = post(server, inputs)
    assert status == 400 and " / " in doc["description"] and len(doc["description"]) < 300, (status, doc)
