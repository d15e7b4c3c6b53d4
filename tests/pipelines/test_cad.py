"""CAD drawings through their catalogue profiles: the same features as the GeoPackages, or refused.

The DGN sheet and the DXF plan in data_samples/hung_yen/formats are drawn from the
very parcels and plan of the GeoPackage samples; built into features and run through
the normaliser they must give the GeoPackage's keys, codes and areas. Each dirty
drawing must be refused with its documented rule codes, at the documented place, and
publish nothing.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
import yaml

from bando.layers.catalogue import load as load_catalogue
from bando.pipelines.cad.source import open_cad
from bando.pipelines.load import LoadOptions, run_load
from bando.pipelines.publish import Version
from bando.pipelines.sources import SourceSpec
from tests.conftest import ROOT
from tests.pipelines.test_formats import KEY, canonical, gpkg_sheet

SAMPLES = ROOT / "data_samples" / "hung_yen"
FORMATS = SAMPLES / "formats"
DGN = FORMATS / "thua_dat_12019_to03.dgn"
DXF = FORMATS / "quy_hoach_1_2000.dxf"
DIRTY = yaml.safe_load((FORMATS / "dirty" / "defects.yml").read_text(encoding="utf-8"))["files"]
PLAN = Version("qhpk-cad-test", "3157/QĐ-UBND", date(2025, 11, 20), "UBND tỉnh Hưng Yên", date(2025, 11, 20))


def drawn(layer_id: str, path: Path, profile: str) -> pd.DataFrame:
    cad = open_cad(load_catalogue().get(layer_id), SourceSpec(path, crs="EPSG:9209"), profile)
    assert cad.defects == []
    return canonical(cad.source, layer_id)


def test_dgn_sheet_gives_the_geopackage_parcels_keys_codes_and_areas() -> None:
    sheet = drawn("parcels", DGN, "famis").sort_values(KEY).reset_index(drop=True)
    reference = gpkg_sheet()
    assert len(sheet) == len(reference) == 445
    for col in [*KEY, "loaiDat", "dienTich"]:
        assert sheet[col].tolist() == reference[col].tolist(), col
    built = shapely.from_wkb(list(sheet["geom"]))
    surveyed = shapely.from_wkb(list(reference["geom"]))
    assert np.abs(shapely.area(built) - shapely.area(surveyed)).max() < 0.1
    # the same ground (the zero-width spikes a few surveyed parcels carry are not drawn)
    assert shapely.hausdorff_distance(built, shapely.set_precision(surveyed, 0.001)).max() < 0.002


def test_dgn_sheet_loads_through_the_whole_pipeline(database: str) -> None:
    result = run_load("parcels", DGN, LoadOptions(dry_run=True, crs="EPSG:9209", profile="famis"))
    assert result.outcome == "dry-run", result.message
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (445, 445, 0)


@pytest.mark.parametrize(
    ("layer_id", "tt16_class", "count"),
    [
        ("planning_plots", "PhanOQuyHoach_A", 59),
        ("red_lines", "ChiGioiDuongDo_L", 8),
        ("building_lines", "ChiGioiXayDung_L", 8),
    ],
)
def test_dxf_plan_gives_the_geopackage_plan(layer_id: str, tt16_class: str, count: int) -> None:
    rows = drawn(layer_id, DXF, "tt16").sort_values("maDoiTuong").reset_index(drop=True)
    gpkg = SAMPLES / "construction_plan_1_2000.gpkg"
    from bando.pipelines.sources import open_source

    reference = canonical(open_source(SourceSpec(gpkg, tt16_class)), layer_id)
    reference = reference.sort_values("maDoiTuong").reset_index(drop=True)
    assert len(rows) == len(reference) == count
    attrs = [c for c in reference.columns if c != "geom"]
    pd.testing.assert_frame_equal(rows[attrs], reference[attrs], check_dtype=False)
    built = shapely.from_wkb(list(rows["geom"]))
    planned = shapely.from_wkb(list(reference["geom"]))
    assert shapely.hausdorff_distance(built, planned).max() < 1e-6


def test_dxf_plan_loads_as_a_plan_version(database: str) -> None:
    for layer_id in ("planning_plots", "red_lines", "building_lines"):
        result = run_load(layer_id, DXF, LoadOptions(dry_run=True, crs="EPSG:9209", profile="tt16", version=PLAN))
        assert result.outcome == "dry-run" and result.rows_rejected == 0, (layer_id, result.message)


@pytest.mark.parametrize("entry", DIRTY, ids=lambda e: e["file"])
def test_each_dirty_drawing_is_refused_with_its_rule_and_location(database: str, entry: dict) -> None:
    path = FORMATS / "dirty" / entry["file"]
    opts = LoadOptions(crs="EPSG:9209", profile=entry["profile"], version=PLAN if entry["layer"] != "parcels" else None)
    with psycopg.connect(database) as conn:
        before = conn.execute("select count(*) from bando.lineage where outcome = 'published'").fetchone()
    result = run_load(entry["layer"], path, opts)  # not a dry run: the refusal itself must publish nothing
    assert result.outcome == "refused" and "nothing was published" in result.message, result.message
    with psycopg.connect(database) as conn:
        found = conn.execute(
            "select rule, reason, geometry_wkt from bando.rejects where lineage_id = %s", (result.lineage_id,)
        ).fetchall()
        after = conn.execute("select count(*) from bando.lineage where outcome = 'published'").fetchone()
    assert before == after
    assert sorted({r for r, _, _ in found}) == sorted(entry["rules"])
    assert all(wkt for _, _, wkt in found)  # every defect has its place
    if "near" in entry:
        near = shapely.Point(entry["near"])
        assert min(shapely.from_wkt(w).distance(near) for _, _, w in found) < 5.0


def test_a_drawing_needs_a_profile_and_a_crs(database: str) -> None:
    result = run_load("parcels", DGN, LoadOptions(dry_run=True, profile="famis"))
    assert result.outcome == "refused" and "--crs" in result.message
    from bando.errors import BadInput

    with pytest.raises(BadInput, match="famis"):
        run_load("parcels", DGN, LoadOptions(dry_run=True, crs="EPSG:9209"))


def test_sheet_number_comes_from_the_file_name(tmp_path: Path, database: str) -> None:
    renamed = tmp_path / "to_khong_ten.dgn"
    renamed.write_bytes(DGN.read_bytes())
    result = run_load("parcels", renamed, LoadOptions(dry_run=True, crs="EPSG:9209", profile="famis"))
    assert result.outcome == "refused" and "file name pattern" in result.message


def test_labels_of_the_dgn_are_on_their_level_and_boundaries_on_theirs() -> None:
    elements = pyogrio.read_dataframe(DGN, columns=["Level", "Text"])
    texts = elements[elements["Text"].notna()]
    assert set(texts["Level"]) == {13} and len(texts) == 445
    assert set(elements[elements["Text"].isna()]["Level"]) == {10}
