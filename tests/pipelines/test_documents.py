"""Plan documents: checked on the way in, stored with their version, served byte for byte."""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from bando.errors import BadInput
from bando.pipelines import documents
from tests.conftest import ROOT, cli_env

SAMPLE = ROOT / "data_samples" / "hung_yen" / "documents" / "qhsdd-2030-dc1.pdf"
PLAN_V2 = ROOT / "data_samples" / "hung_yen" / "land_use_plan_v2.gpkg"
LOAD_V2 = ["load", "land_use_plan", str(PLAN_V2), "--source-layer", "quy_hoach_sdd", "--crs", "EPSG:9209"]
VERSION_V2 = ["--version-id", "qhsdd-2030-dc1", "--decision", "2468/QĐ-UBND", "--decision-date", "2025-09-22",
              "--authority", "UBND tỉnh Hưng Yên"]  # fmt: skip


def test_sample_decision_is_a_pdf() -> None:
    doc = documents.read(SAMPLE)
    assert doc.media_type == "application/pdf" and doc.content.startswith(b"%PDF-") and doc.content.endswith(b"%%EOF\n")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("quyet-dinh.exe", b"MZ", "not accepted"),
        ("quyet-dinh.pdf", b"<html>not a pdf</html>", "not a PDF"),
        ("empty.pdf", b"", "1 byte to"),
    ],
)
def test_bad_documents_are_refused(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadInput, match=reason):
        documents.read(path)
    with pytest.raises(BadInput, match="does not exist"):
        documents.read(tmp_path / "missing.pdf")


def test_load_attaches_a_document_once(bando_bin: str, loaded: list, database: str, tmp_path: Path) -> None:
    drawing = tmp_path / "ban-ve-quy-hoach.pdf"
    drawing.write_bytes(SAMPLE.read_bytes().replace(b"QUYET DINH", b"BAN VE QH"))
    for _ in range(2):  # a re-run is a no-op, for the layer and for the document
        run = subprocess.run([bando_bin, *LOAD_V2, *VERSION_V2, "--document", str(drawing)],
                             capture_output=True, text=True, env=cli_env({"COLUMNS": "200"}))  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert hashlib.sha256(drawing.read_bytes()).hexdigest() in run.stdout
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "select name, size_bytes from bando.plan_documents where version_id = 'qhsdd-2030-dc1' order by name"
        ).fetchall()
    assert rows == [("ban-ve-quy-hoach.pdf", drawing.stat().st_size), ("qhsdd-2030-dc1.pdf", SAMPLE.stat().st_size)]


def test_load_refuses_a_bad_document_before_loading(bando_bin: str, loaded: list, tmp_path: Path) -> None:
    fake = tmp_path / "quyet-dinh.pdf"
    fake.write_text("not a pdf")
    run = subprocess.run([bando_bin, *LOAD_V2, *VERSION_V2, "--document", str(fake)],
                         capture_output=True, text=True, env=cli_env())  # fmt: skip
    assert run.returncode == 2 and "not a PDF" in run.stderr and "Traceback" not in run.stderr
    alone = subprocess.run(
        [bando_bin, *LOAD_V2, "--document", str(SAMPLE)], capture_output=True, text=True, env=cli_env()
    )
    assert alone.returncode == 2 and "--version-id" in alone.stderr


def test_report_lists_the_documents_and_they_download_byte_identical(server: str, database: str) -> None:
    with psycopg.connect(database) as conn:
        key = conn.execute(
            'select p."maXa", p."soHieuToBanDo", p."soThuTuThua" from data.parcels p join data.land_use_plan z'
            " on z.valid_to is null and st_contains(z.geom, p.geom) limit 1"
        ).fetchone()
    body = json.dumps({"inputs": {"maXa": key[0], "soHieuToBanDo": key[1], "soThuTuThua": key[2]}}).encode()
    req = urllib.request.Request(f"{server}/ogc/processes/planning-report/execution", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:
        report = json.load(r)
    docs = report["plannedLandUse"]["versions"][0]["documents"]
    sample = next(d for d in docs if d["name"] == SAMPLE.name)
    with urllib.request.urlopen(f"{server}{sample['href']}", timeout=30) as r:
        content, headers = r.read(), r.headers
    assert hashlib.sha256(content).hexdigest() == sample["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert headers["Content-Type"] == "application/pdf" and "sandbox" in headers["Content-Security-Policy"]
    for path, status in ((f"/documents/{'0' * 64}", 404), ("/documents/not-a-checksum", 400)):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{server}{path}", timeout=10)
        assert err.value.code == status


def test_the_version_record_lists_its_documents(server: str) -> None:
    with urllib.request.urlopen(f"{server}/ogc/collections/catalogue/items/land_use_plan?f=json", timeout=30) as r:
        record = json.load(r)
    docs = record["properties"]["decision"]["documents"]
    assert SAMPLE.name in [d["name"] for d in docs] and all(d["href"].startswith("/documents/") for d in docs)
