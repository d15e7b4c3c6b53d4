"""Every deliberate defect in data_samples/hung_yen/dirty is caught with its exact rule code.

The loads run as dry runs: findings and lineage are recorded, the published layers
(which other tests serve) are never touched.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import yaml

from bando.layers.catalogue import load as load_catalogue
from bando.pipelines.load import LoadOptions, run_load
from bando.pipelines.normalise import Normaliser
from bando.pipelines.sources import SourceSpec, batches, open_source
from bando.pipelines.text import TextDecoder
from bando.province import configured
from tests.conftest import ROOT

SAMPLES = ROOT / "data_samples" / "hung_yen"
DIRTY = SAMPLES / "dirty"
DEFECTS = yaml.safe_load((DIRTY / "defects.yml").read_text(encoding="utf-8"))["files"]
ROW_LEVEL = [f for f in DEFECTS if any("index" in d for d in f["defects"])]
FILE_LEVEL = [f for f in DEFECTS if any(d.get("scope") == "file" for d in f["defects"])]


def findings(url: str, lineage_id: int) -> list[tuple[int | None, str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select source_index, rule, severity from bando.rejects where lineage_id = %s", (lineage_id,)
        ).fetchall()


def _opts(entry: dict) -> LoadOptions:
    return LoadOptions(dry_run=True, source_layer=entry.get("layer"))


@pytest.mark.parametrize("entry", ROW_LEVEL, ids=lambda e: e["file"])
def test_row_defects_have_their_exact_rule_and_counts_reconcile(database: str, entry: dict) -> None:
    result = run_load(entry["catalogue_layer"], DIRTY / entry["file"], _opts(entry))
    assert result.outcome in ("dry-run", "refused"), result.message
    assert result.rows_read == entry["features"]
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    found = findings(database, result.lineage_id)
    by_index: dict[int, set[str]] = {}
    for index, rule, _ in found:
        by_index.setdefault(index, set()).add(rule)
    for defect in entry["defects"]:
        assert defect["rule"] in by_index.get(defect["index"], set()), (defect, by_index.get(defect["index"]))
    listed = {d["index"] for d in entry["defects"]}
    stray = {i: r for i, r in by_index.items() if i not in listed}
    assert not stray, f"findings on rows with no deliberate defect: {stray}"
    errors = {i for i, _, sev in found if sev == "error"}
    assert result.rows_rejected == len(errors)


@pytest.mark.parametrize("entry", FILE_LEVEL, ids=lambda e: e["file"])
def test_file_defects_are_refused_with_their_rule(database: str, entry: dict) -> None:
    result = run_load(entry["catalogue_layer"], DIRTY / entry["file"], _opts(entry))
    rule = next(d["rule"] for d in entry["defects"] if d.get("scope") == "file")
    assert result.outcome == "refused", result.message
    assert [r.rule for r in result.rules] == [rule]
    assert rule in {r for _, r, _ in findings(database, result.lineage_id)}
    assert "Traceback" not in result.message


def test_missing_prj_loads_once_the_crs_is_declared(database: str) -> None:
    result = run_load("parcels", DIRTY / "parcels_no_prj" / "thua_dat.shp", LoadOptions(dry_run=True, crs="EPSG:9209"))
    assert result.outcome == "dry-run" and result.rows_rejected == 0


def test_vni_shapefile_is_detected_and_decoded(database: str) -> None:
    result = run_load("parcels", DIRTY / "parcels_vni" / "thua_dat.shp", LoadOptions(dry_run=True))
    assert result.outcome == "dry-run" and result.rows_rejected == 0
    assert result.encoding == "vni" and "vni" in (result.encoding_note or "")


def canonical_rows(path: Path, source_layer: str | None = None) -> pd.DataFrame:
    layer = load_catalogue().get("parcels")
    source = open_source(SourceSpec(path, source_layer))
    province = configured()
    decoder = TextDecoder("auto", read_as_bytes=source.read_encoding is not None)
    normaliser = Normaliser(layer, source, province.tm3_epsg, province.bbox_in(province.tm3_epsg), decoder)
    frames, start = [], 0
    for table, geom in batches(source, 2000):
        frames.append(normaliser.process(table, geom, start).table.to_pandas())
        start += table.num_rows
    frame = pd.concat(frames).drop(columns=["_index"])
    return frame.sort_values(["maXa", "soHieuToBanDo", "soThuTuThua"]).reset_index(drop=True)


def test_tcvn3_shapefile_and_geopackage_give_identical_canonical_rows() -> None:
    gpkg = canonical_rows(SAMPLES / "parcels.gpkg", "thua_dat")
    shp = canonical_rows(SAMPLES / "parcels_tcvn3" / "thua_dat.shp")
    assert len(gpkg) == len(shp) > 1000
    attrs = [c for c in gpkg.columns if c != "geom"]
    pd.testing.assert_frame_equal(gpkg[attrs], shp[attrs], check_dtype=False)
    assert Counter(gpkg["tenChu"]).most_common(1)[0][0] == Counter(shp["tenChu"]).most_common(1)[0][0]
    assert any("ư" in name or "ơ" in name for name in shp["tenChu"].dropna())
