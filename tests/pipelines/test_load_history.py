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
