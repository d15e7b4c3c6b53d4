"""MapInfo TAB and File Geodatabase deliveries; DWG and DGN v8 refused in one line.

The samples in data_samples/hung_yen/formats hold sheet 3 of commune 12019, the same
parcels as the GeoPackage: what each format yields after bando's normaliser must be
the GeoPackage's rows, Vietnamese text included, in the right CRS.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from bando.layers.catalogue import load as load_catalogue
from bando.pipelines.load import LoadOptions, run_load
from bando.pipelines.normalise import Normaliser
from bando.pipelines.sources import Source, SourceSpec, batches, open_source
from bando.pipelines.text import TextDecoder
from bando.province import configured
from tests.conftest import ROOT, cli_env

SAMPLES = ROOT / "data_samples" / "hung_yen"
FORMATS = SAMPLES / "formats"
KEY = ["maXa", "soHieuToBanDo", "soThuTuThua"]


def canonical(source: Source, layer_id: str = "parcels") -> pd.DataFrame:
    """What the load would COPY: the source through the normaliser, as load.py sets it up."""
    layer = load_catalogue().get(layer_id)
    province = configured()
    decoder = TextDecoder(source.text_encoding, read_as_bytes=source.read_encoding is not None)
    normaliser = Normaliser(layer, source, province.tm3_epsg, province.bbox_in(province.tm3_epsg), decoder)
    frames, start = [], 0
    for table, geom in batches(source, 1000):
        batch = normaliser.process(table, geom, start)
        assert not [i for i in batch.issues if i.severity == "error"], batch.issues[:3]
        frames.append(batch.table.to_pandas())
        start += table.num_rows
    return pd.concat(frames).drop(columns=["_index"])


def gpkg_sheet() -> pd.DataFrame:
    rows = canonical(open_source(SourceSpec(SAMPLES / "parcels.gpkg", "thua_dat")))
    sheet = rows[(rows["maXa"] == "12019") & (rows["soHieuToBanDo"] == 3)]
    return sheet.sort_values(KEY).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return gpkg_sheet()


@pytest.mark.parametrize(
    ("name", "charset", "text"),
    [
        ("thua_dat_12019_to03_cp1258.tab", "WindowsVietnamese", "cp1258"),
        ("thua_dat_12019_to03_tcvn3.tab", "WindowsLatin1", "auto"),
    ],
)
def test_mapinfo_tables_give_the_geopackage_rows_with_exact_vietnamese_text(
    reference: pd.DataFrame, name: str, charset: str, text: str
) -> None:
    source = open_source(SourceSpec(FORMATS / name))
    assert (source.charset, source.text_encoding) == (charset, text)
    assert (
        source.crs is not None and source.crs.to_epsg() == 9209 and "recognised as EPSG:9209" in (source.crs_note or "")
    )
    rows = canonical(source).sort_values(KEY).reset_index(drop=True)
    attrs = [c for c in reference.columns if c != "geom"]
    pd.testing.assert_frame_equal(rows[attrs], reference[attrs], check_dtype=False)
    assert any("ư" in v or "ơ" in v for v in rows["tenChu"].dropna())


def test_tcvn3_mapinfo_is_detected_and_the_cp1258_charset_honoured(database: str) -> None:
    tcvn3 = run_load("parcels", FORMATS / "thua_dat_12019_to03_tcvn3.tab", LoadOptions(dry_run=True))
    assert tcvn3.outcome == "dry-run" and tcvn3.rows_read == 445 and tcvn3.rows_rejected == 0, tcvn3.message
    assert tcvn3.encoding == "tcvn3" and "detected tcvn3" in (tcvn3.encoding_note or "")
    assert tcvn3.crs is not None and tcvn3.crs.startswith("EPSG:9209")
    cp1258 = run_load("parcels", FORMATS / "thua_dat_12019_to03_cp1258.tab", LoadOptions(dry_run=True))
    assert cp1258.outcome == "dry-run" and cp1258.rows_rejected == 0, cp1258.message
    assert cp1258.encoding == "cp1258" and "WindowsVietnamese declared by the file" in (cp1258.encoding_note or "")


def test_file_geodatabase_layers_are_chosen_and_match_the_geopackage(reference: pd.DataFrame, database: str) -> None:
    gdb = FORMATS / "dat_dai.gdb"
    result = run_load("parcels", gdb, LoadOptions(dry_run=True))
    assert result.outcome == "refused" and "--source-layer" in result.message
    source = open_source(SourceSpec(gdb, "ThuaDat"))
    assert source.driver == "OpenFileGDB" and source.crs is not None and source.crs.to_epsg() == 9209
    rows = canonical(source).sort_values(KEY).reset_index(drop=True)
    attrs = [c for c in reference.columns if c != "geom"]
    pd.testing.assert_frame_equal(rows[attrs], reference[attrs], check_dtype=False)
    result = run_load("parcels", gdb, LoadOptions(dry_run=True, source_layer="ThuaDat"))
    assert result.outcome == "dry-run" and result.rows_loaded == 445, result.message


def test_declared_crs_overrides_the_mapinfo_definition(database: str) -> None:
    result = run_load("parcels", FORMATS / "thua_dat_12019_to03_tcvn3.tab", LoadOptions(dry_run=True, crs="EPSG:9210"))
    assert result.crs == "EPSG:9210"  # the steward's word, with no "recognised" note


@pytest.mark.parametrize(
    ("name", "head", "rule", "words"),
    [
        ("ban_ve.dwg", b"AC1032\x00\x00\x00\x00\x00\x00", "file.dwg", ["AC1032", "AutoCAD 2018", "DGN v7 or DXF"]),
        ("ban_ve.dwg", b"AC1015\x00\x00\x00\x00\x00\x00", "file.dwg", ["AC1015", "AutoCAD 2000", "DXF"]),
        ("to_ban_do.dgn", bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504), "file.dgn_v8", ["DGN V8", "V7 DGN"]),
    ],
)
def test_dwg_and_dgn_v8_are_refused_in_one_line_with_exit_4(
    database: str, bando_bin: str, tmp_path: Path, name: str, head: bytes, rule: str, words: list[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(head + bytes(2048))
    proc = subprocess.run(
        [bando_bin, "load", "parcels", str(path), "--profile", "famis", "--crs", "EPSG:9209"],
        capture_output=True,
        text=True,
        env=cli_env({"COLUMNS": "400"}),
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    first = proc.stdout.splitlines()[0]  # the refusal itself; the rule table below repeats it
    assert first.startswith("parcels: refused") and all(w in first for w in words), proc.stdout
    with psycopg.connect(database) as conn:
        rule_found = conn.execute(
            "select rule from bando.rejects r join bando.lineage l on l.id = r.lineage_id"
            " where l.source_path = %s order by r.id desc limit 1",
            (str(path),),
        ).fetchone()
    assert rule_found == (rule,)


def test_mif_text_format_declares_its_charset_too(reference: pd.DataFrame, tmp_path: Path) -> None:
    from bando.data_samples.gen.formats import exported, sheet_parcels, write_mapinfo

    mif = tmp_path / "thua_dat.mif"
    write_mapinfo(exported(sheet_parcels(SAMPLES)), mif, "cp1258")
    source = open_source(SourceSpec(mif))
    assert (source.charset, source.text_encoding) == ("WindowsVietnamese", "cp1258")
    rows = canonical(source).sort_values(KEY).reset_index(drop=True)
    assert rows["tenChu"].tolist() == reference["tenChu"].tolist()
