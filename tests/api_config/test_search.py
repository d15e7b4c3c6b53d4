"""The public ``search`` process against the real server and the loaded samples."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

import psycopg
import pytest

from bando.api_config.gazetteer import Gazetteer, SearchedLayer, fold, parcel_query
from bando.layers import catalogue

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


def test_hamlet_by_accent_free_name_with_its_commune(server: str) -> None:
    first = search(server, "thon dong")[0]
    assert (first["kind"], first["name"], first["maXa"], first["layer"]) == ("hamlet", "Thôn Đông", "12019", "hamlets")
    assert "Văn Giang" in first["commune"] and first["kindLabel"] == "Thôn, tổ dân phố"
    assert first["bbox"][0] < first["bbox"][2] and first["bbox"][1] < first["bbox"][3]
    threes = [h for h in search(server, "THON 3", lang="en") if h["name"] == "Thôn 3"]
    assert {h["maXa"] for h in threes} == {"12049", "12031"}  # one per commune, each naming its commune
    assert {h["kindLabel"] for h in threes} == {"Hamlet"} and all(h["commune"] for h in threes)
    assert search(server, "to dan pho 2")[0]["name"] == "Tổ dân phố 2"


def test_a_layer_is_searched_by_its_catalogue_entry_alone(loaded: list, database: str, tmp_path) -> None:
    """A `search` block added to a copy of the catalogue makes the cameras searchable: no code changes."""
    for path in catalogue.LAYERS_DIR.glob("*.yml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    cameras = (tmp_path / "cameras.yml").read_text(encoding="utf-8")
    block = "search:\n  kind: camera\n  label: {vi: Camera, en: Camera}\n  names: [tenCamera]\n  detail: trangThai\n"
    (tmp_path / "cameras.yml").write_text(cameras.replace("metadata:\n", block + "metadata:\n", 1), encoding="utf-8")
    cat = catalogue.load(tmp_path)
    searched = [SearchedLayer(layer.id, layer.table, layer.search) for layer in cat if layer.search]
    g = Gazetteer({"communes": "communes"}, 33, searched)
    with psycopg.connect(database) as conn:
        g.refresh(conn)
        name = conn.execute('select "tenCamera" from data.cameras order by 1 limit 1').fetchone()[0]
    hit = g.search(fold(name), 3)[0]
    assert (hit.kind, hit.name, hit.doc["layer"], hit.doc["field"]) == ("camera", name, "cameras", "tenCamera")
    assert hit.doc["detail"] in ("hoat_dong", "mat_ket_noi")
    assert g.search("thon dong", 1)[0].doc["commune"].endswith("Văn Giang")  # the shipped entries still searched


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
