"""A folder or a zip of many commune files is one delivery, with every file accounted for."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import shapely

from bando.data_samples.gen.writers import write_legacy_shapefile, write_shapefile
from bando.pipelines.load import LoadOptions, run_load
from tests.conftest import cli_env

X0, Y0 = 590_000.0, 2_262_000.0  # in Hưng Yên (EPSG:9209), clear of the samples and other tests
SIDE = 6  # 36 parcels a commune
ADDRESS = "Thôn Đông, xã Phụng Công"
SHAPEFILE_NAMES = {"maXa": "MAXA", "soHieuToBanDo": "SHBANDO", "soThuTuThua": "SO_THUA", "diaChi": "DIACHI"}


def commune(k: int, *, unknown_code: int | None = None, duplicate: bool = False) -> gpd.GeoDataFrame:
    """One commune's parcels: 20 m squares in its own block of the grid, code 3xxxx."""
    i = np.arange(SIDE * SIDE)
    x = X0 + (k % 6) * SIDE * 20.0 + (i % SIDE) * 20.0
    y = Y0 + (k // 6) * SIDE * 20.0 + (i // SIDE) * 20.0
    codes = np.where(i % 5 == 0, "ONT", "LUC").astype(object)
    if unknown_code is not None:
        codes[unknown_code] = "XYZ"
    numbers = i + 1
    if duplicate:
        numbers[-1] = numbers[-2]
    data = {
        "maXa": [f"3{k:04d}"] * len(i),
        "soHieuToBanDo": np.ones(len(i), dtype=int),
        "soThuTuThua": numbers,
        "dienTich": np.full(len(i), 400.0),
        "loaiDat": codes,
        "diaChi": [ADDRESS] * len(i),
    }
    return gpd.GeoDataFrame(data, geometry=shapely.box(x, y, x + 20, y + 20), crs="EPSG:9209")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """22 communes: Shapefiles in UTF-8 (with .cpg) and TCVN3 (none), one GeoJSON in WGS 84, one GeoPackage."""
    root = tmp_path_factory.mktemp("delivery") / "giao_nop"
    for k in range(20):
        gdf = commune(k, unknown_code=3 if k == 7 else None, duplicate=k == 12).rename(columns=SHAPEFILE_NAMES)
        path = root / f"huyen_{k % 2}" / f"xa_3{k:04d}.shp"
        if k % 2:
            write_legacy_shapefile(gdf, path, "tcvn3")
        else:
            write_shapefile(gdf, path)
    commune(20).to_crs("EPSG:4326").to_file(root / "xa_30020.geojson", driver="GeoJSON")
    commune(21).to_file(root / "xa_30021.gpkg", layer="thua_dat", driver="GPKG")
    (root / "doc_truoc.txt").write_text("bảng kê giao nộp", encoding="utf-8")
    return root


def test_a_folder_of_commune_files_is_one_delivery_and_counts_reconcile_per_file(database: str, folder: Path) -> None:
    result = run_load("parcels", folder, LoadOptions(dry_run=True))
    assert result.outcome == "dry-run", result.message
    files = {f.name: f for f in result.files}
    assert len(files) == 22
    assert result.rows_read == 22 * SIDE * SIDE
    assert result.rows_rejected == 2 and result.rows_loaded == result.rows_read - 2
    for f in result.files:
        assert f.rows_read == SIDE * SIDE
        assert f.rows_loaded + f.rows_rejected == f.rows_read
    assert files["huyen_1/xa_30007.shp"].rows_rejected == 1  # the unknown land-use code
    assert files["huyen_0/xa_30012.shp"].rows_rejected == 1  # the repeated parcel number
    assert sum(f.rows_rejected for f in result.files) == 2
    # each file's encoding and CRS on its own
    assert {files[f"huyen_1/xa_3{k:04d}.shp"].encoding for k in range(1, 20, 2)} == {"tcvn3"}
    assert {files[f"huyen_0/xa_3{k:04d}.shp"].encoding for k in range(0, 20, 2)} == {"utf-8"}
    assert files["xa_30020.geojson"].crs == "EPSG:4326" and files["xa_30021.gpkg"].crs == "EPSG:9209"
    assert result.encoding.startswith("mixed")
    with psycopg.connect(database) as conn:
        (listed,) = conn.execute("select files from bando.lineage where id = %s", (result.lineage_id,)).fetchone()
        found = conn.execute(
            "select source_file, file_index, rule, reason, record->>'DIACHI' from bando.rejects"
            " where lineage_id = %s and severity = 'error' order by source_file",
            (result.lineage_id,),
        ).fetchall()
    assert [(f["name"], f["rows_read"], f["rows_loaded"], f["rows_rejected"]) for f in listed] == [
        (f.name, f.rows_read, f.rows_loaded, f.rows_rejected) for f in result.files
    ]
    assert found[0][:3] == ("huyen_0/xa_30012.shp", SIDE * SIDE - 1, "key.duplicate")
    assert f"repeats row {SIDE * SIDE - 2} of huyen_0/xa_30012.shp" in found[0][3]
    assert found[1][:3] == ("huyen_1/xa_30007.shp", 3, "domain.unknown_code")
    assert found[1][4] == ADDRESS  # decoded from TCVN3 on its own


def test_a_zip_of_the_same_files_gives_the_same_counts_and_leaves_nothing_unpacked(
    database: str, folder: Path, settings
) -> None:
    archive = folder.parent / "giao_nop.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            z.write(p, p.relative_to(folder))
    result = run_load("parcels", archive, LoadOptions(dry_run=True))
    assert result.outcome == "dry-run", result.message
    assert len(result.files) == 22 and result.rows_read == 22 * SIDE * SIDE and result.rows_rejected == 2
    assert not any((settings.home / "unpacked").glob("*"))


def test_a_zip_reaching_outside_its_folder_is_refused(database: str, tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../escaped.shp", b"x")
    result = run_load("parcels", archive, LoadOptions(dry_run=True))
    assert result.outcome == "refused" and "outside" in result.message
    assert not (tmp_path.parent / "escaped.shp").exists()


def test_a_folder_with_nothing_to_read_is_refused(database: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    result = run_load("parcels", tmp_path, LoadOptions(dry_run=True))
    assert result.outcome == "refused" and [r.rule for r in result.rules] == ["file.empty"]


def test_the_terminal_summary_and_lineage_fit_80_columns_without_breaking_a_phrase(
    database: str, bando_bin: str, folder: Path
) -> None:
    env = cli_env({"COLUMNS": "80"})
    loaded = subprocess.run(
        [bando_bin, "load", "parcels", str(folder), "--dry-run"], capture_output=True, text=True, env=env
    )
    assert loaded.returncode == 0, loaded.stderr
    lines = loaded.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert any("CRS mixed: 21 × EPSG:9209, 1 × EPSG:4326" in line for line in lines), loaded.stdout
    assert "22 files" in loaded.stdout and "huyen_1/xa_30007.shp" in loaded.stdout
    # not a terminal: one line per phase, with rows/s for the reading
    assert any(line.startswith("  read, validate, copy: ") and "rows/s" in line for line in loaded.stderr.splitlines())
    assert "  keys, overlaps and indexes: " in loaded.stderr
    lineage_id = int(loaded.stdout.rsplit("lineage #", 1)[1].split()[0])
    shown = subprocess.run(
        [bando_bin, "lineage", "parcels", "--load", str(lineage_id)], capture_output=True, text=True, env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert all(len(line) <= 80 for line in shown.stdout.splitlines()), shown.stdout
    assert f"#{lineage_id}" in shown.stdout and "22 files" in shown.stdout
    assert "huyen_0/xa_30012.shp" in shown.stdout and "tcvn3" in shown.stdout
    listing = subprocess.run([bando_bin, "lineage", "parcels"], capture_output=True, text=True, env=env)
    assert all(len(line) <= 80 for line in listing.stdout.splitlines()), listing.stdout
    findings = subprocess.run(
        [bando_bin, "rejects", "parcels", "--lineage", str(lineage_id)], capture_output=True, text=True, env=env
    )
    assert findings.returncode == 0, findings.stderr
    assert "huyen_1/xa_30007.shp" in findings.stdout and "domain.unknown_code" in findings.stdout


def test_two_dask_workers_stage_the_folder_with_the_same_counts(database: str, folder: Path) -> None:
    one = run_load("parcels", folder, LoadOptions(dry_run=True, workers=1))
    two = run_load("parcels", folder, LoadOptions(dry_run=True, workers=2))
    assert two.outcome == "dry-run", two.message
    assert [(f.name, f.rows_read, f.rows_rejected, f.encoding, f.crs) for f in two.files] == [
        (f.name, f.rows_read, f.rows_rejected, f.encoding, f.crs) for f in one.files
    ]
    assert (two.rows_read, two.rows_loaded, two.rows_rejected) == (one.rows_read, one.rows_loaded, one.rows_rejected)
    assert [(r.rule, r.count) for r in two.rules] == [(r.rule, r.count) for r in one.rules]
    with psycopg.connect(database) as conn:
        debris = conn.execute("select count(*) from pg_tables where schemaname = 'staging'").fetchone()
    assert debris == (0,)
