"""A re-delivery is recorded in the features' history and audit, like an edit."""

from __future__ import annotations

from pathlib import Path

import psycopg

from bando import db
from bando.pipelines.history import changes, feature_life
from bando.pipelines.load import LoadOptions, run_load
from tests.conftest import ROOT

SOURCE = ROOT / "data_samples" / "hung_yen" / "point_assets.csv"
OPTIONS = LoadOptions(crs="EPSG:9209", x_column="toaDoY", y_column="toaDoX", encoding="utf-8", force=True)


def rows(query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(db.database_url()) as conn:
        return conn.execute(query, params).fetchall()


def test_a_redelivery_closes_what_it_removed_or_changed_and_opens_what_it_brings(loaded: list, tmp_path: Path) -> None:
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    header, first, *middle, last = lines
    assert first.split(",")[2] == "tot"
    changed = first.split(",")
    changed[2] = "hu_hong"
    delivery = tmp_path / "point_assets.csv"
    delivery.write_text("\n".join([header, ",".join(changed), *middle]) + "\n", encoding="utf-8")
    count = len(middle) + 2
    try:
        result = run_load("point_assets", delivery, OPTIONS)
        assert result.outcome == "published", result.message
        life = feature_life("point_assets", 1)
        assert life[-1][1].startswith("bando load") and life[-1][2] == "load"
        assert "trangThai: tot → hu_hong" in changes(life[-1][3], life[-1][4])
        removed = feature_life("point_assets", count)[-1]
        assert removed[3] is not None and removed[4] is None  # ended by the delivery that left it out
        history = rows(
            "select valid_to is null, properties->>'trangThai' from bando.feature_history"
            " where layer = 'point_assets' and fid = 1 order by id desc limit 2"
        )
        assert history == [(True, "hu_hong"), (False, "tot")]
        assert rows(
            "select count(*) from bando.feature_history where layer = 'point_assets' and fid = %s and valid_to is null",
            (count,),
        ) == [(0,)]
        untouched = rows(
            "select count(*) from bando.audit where layer = 'point_assets' and fid = 2 and operation = 'load'"
        )
        assert untouched == [(0,)]  # a row the delivery did not change costs no history
    finally:
        assert run_load("point_assets", SOURCE, OPTIONS).outcome == "published"


PARCELS = ROOT / "data_samples" / "hung_yen" / "parcels.gpkg"


def test_a_partitioned_redelivery_pairs_parcels_by_key_and_records_only_changes(loaded: list, tmp_path: Path) -> None:
    """Each delivery numbers parcels anew; history still follows the parcel, not the number."""
    import pyogrio

    frame = pyogrio.read_dataframe(PARCELS)
    frame.loc[0, "loaiDat"] = "ONT" if frame.loc[0, "loaiDat"] != "ONT" else "ODT"
    delivery = tmp_path / "parcels.gpkg"
    pyogrio.write_dataframe(frame, delivery, layer="parcels")
    key = 'select fid from data.parcels where "maXa" = %s and "soHieuToBanDo" = %s and "soThuTuThua" = %s'
    changed_key = tuple(str(frame.loc[0, c]) for c in ("maXa", "soHieuToBanDo", "soThuTuThua"))
    kept_key = tuple(str(frame.loc[1, c]) for c in ("maXa", "soHieuToBanDo", "soThuTuThua"))
    ((edited_before,),) = rows(key, kept_key)
    with psycopg.connect(db.database_url()) as conn:  # an earlier edit of the second parcel
        conn.execute(
            "with a as (insert into bando.audit (token, layer, fid, operation, before, after)"
            " values ('steward', 'parcels', %s, 'update', '{}', '{}') returning id)"
            " insert into bando.feature_history (layer, fid, valid_from, properties, public, audit_id)"
            " select 'parcels', %s, now(), '{}', '{}', id from a",
            (edited_before, edited_before),
        )
    before = rows("select count(*) from bando.audit where layer = 'parcels' and operation = 'load'")[0][0]
    # its life so far: the edit above, after whatever earlier deliveries changed in it
    life_before = [op for _, _, op, _, _ in feature_life("parcels", edited_before)]
    assert life_before[-1] == "update"
    try:
        assert run_load("parcels", delivery, LoadOptions(force=True)).outcome == "published"
        ((changed_after,),) = rows(key, changed_key)
        ((edited_after,),) = rows(key, kept_key)
        assert edited_after != edited_before  # the delivery numbered its rows anew
        loads = rows("select fid from bando.audit where layer = 'parcels' and operation = 'load' order by id")
        assert [f for (f,) in loads[before:]] == [changed_after]  # one changed parcel, one audit row
        life = feature_life("parcels", changed_after)
        assert any("loaiDat" in c for c in changes(life[-1][3], life[-1][4]))
        assert [op for _, _, op, _, _ in feature_life("parcels", edited_after)] == life_before  # its life follows it
        assert rows(
            "select count(*) from bando.feature_history where layer = 'parcels' and fid = %s", (edited_before,)
        ) == [(0,)]
    finally:
        assert run_load("parcels", PARCELS, LoadOptions(force=True)).outcome == "published"
