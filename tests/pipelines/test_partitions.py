"""A layer of readings is stored partitioned by month: what a load builds and publishes."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from bando import db
from bando.layers import catalogue
from bando.pipelines.load import LoadOptions, run_load
from bando.settings import get_settings
from tests.conftest import ROOT

LAYER = "sensor_readings"
SAMPLE = ROOT / "data_samples" / "hung_yen" / "sensor_readings.csv"
OPTIONS = LoadOptions(encoding="utf-8", force=True)


def rows(query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(db.database_url()) as conn:
        return conn.execute(query, params).fetchall()


def children() -> set[str]:
    found = rows(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = 'data.sensor_readings'::regclass"
    )
    return {name for (name,) in found}


def per_partition() -> dict[str, int]:
    """Rows per month partition, as PostgreSQL routed them (the empty ones left out)."""
    counts = dict(rows("select tableoid::regclass::text, count(*) from data.sensor_readings group by 1"))
    return {name: counts[f"data.{name}"] for name in children() if f"data.{name}" in counts}


def ready() -> set[str]:
    """This month's and next month's partitions, which a load makes ahead for live readings."""
    return {
        f"sensor_readings_{m}"
        for (m,) in rows(
            "select to_char(t at time zone 'Asia/Ho_Chi_Minh', 'YYYYMM')"
            " from unnest(array[now(), now() + interval '1 month']) t"
        )
    }


def test_the_catalogue_knows_its_layers_of_readings() -> None:
    layers = {layer.id: layer for layer in catalogue.load(get_settings().layers_dir)}
    assert layers[LAYER].monthly
    assert not layers["env_sensors"].monthly and not layers["parcels"].monthly


def test_a_load_publishes_readings_partitioned_by_month_on_their_time(loaded: list) -> None:
    assert rows(
        "select p.partstrat, a.attname from pg_partitioned_table p"
        " join pg_attribute a on a.attrelid = p.partrelid and a.attnum = p.partattrs[0]"
        " where p.partrelid = 'data.sensor_readings'::regclass"
    ) == [("r", "thoiGian")]
    october = rows(
        "select count(*) from data.sensor_readings where \"thoiGian\" >= '2025-10-01T00:00:00+07:00'"
        " and \"thoiGian\" < '2025-11-01T00:00:00+07:00'"
    )
    assert rows("select count(*) from data.sensor_readings_202510") == october and october[0][0] >= 648  # the samples
    misplaced = rows(
        "select count(*) from data.sensor_readings"
        " where 'sensor_readings_' || to_char(\"thoiGian\" at time zone 'Asia/Ho_Chi_Minh', 'YYYYMM')"
        " <> tableoid::regclass::text and 'data.sensor_readings_'"
        " || to_char(\"thoiGian\" at time zone 'Asia/Ho_Chi_Minh', 'YYYYMM') <> tableoid::regclass::text"
    )
    assert misplaced == [(0,)]  # every reading is in its own month's partition
    with psycopg.connect(db.database_url()) as conn:  # a calendar month in Vietnam's time
        conn.execute("set timezone = 'Asia/Ho_Chi_Minh'")
        bound = conn.execute(
            "select pg_get_expr(relpartbound, oid) from pg_class where oid = 'data.sensor_readings_202510'::regclass"
        ).fetchall()
    assert bound == [("FOR VALUES FROM ('2025-10-01 00:00:00+07') TO ('2025-11-01 00:00:00+07')",)]
    assert rows("select count(*) from pg_tables where schemaname = 'staging'") == [(0,)]  # nothing left behind
    assert ready() <= children()
    pkey = rows(
        "select pg_get_indexdef(indexrelid) from pg_index where indrelid = 'data.sensor_readings'::regclass"
        " and indisprimary"
    )
    assert pkey and pkey[0][0].endswith('(fid, "thoiGian")')
    assert rows("select count(*) from (select fid from data.sensor_readings group by fid having count(*) > 1) d") == [
        (0,)
    ]


def test_readings_of_three_months_land_in_three_partitions(loaded: list, tmp_path: Path) -> None:
    # Months are Vietnam's: 23:30 on 31 August is August, 00:30 on 1 September (17:30 UTC on the 31st) is September.
    times = ["2025-07-15T08:00:00+07:00", "2025-08-31T23:30:00+07:00", "2025-09-01T00:30:00+07:00"]
    times += ["2025-09-20T19:00:00+07:00", "2025-07-01T00:00:00+07:00"]
    sensor = rows('select "maCamBien" from data.sensor_readings order by fid limit 1')[0][0]
    delivery = tmp_path / "sensor_readings.csv"
    delivery.write_text(
        "maCamBien,thoiGian,giaTri\n" + "".join(f"{sensor},{t},{20 + i}\n" for i, t in enumerate(times)),
        encoding="utf-8",
    )
    try:
        result = run_load(LAYER, delivery, OPTIONS)
        assert result.outcome == "published", result.message
        assert per_partition() == {
            "sensor_readings_202507": 2,
            "sensor_readings_202508": 1,
            "sensor_readings_202509": 2,
        }
        assert rows('select count(*) from data.sensor_readings_202509 where "giaTri" in (22, 23)') == [(2,)]
        assert rows("select count(*) from pg_tables where schemaname = 'staging'") == [(0,)]
        assert rows(
            "select count(*) from pg_indexes where schemaname = 'data' and tablename like 'sensor_readings%%'"
            " and indexname not like 'sensor_readings%%'"
        ) == [(0,)]  # every index is named after the published table, none after the staging one
        with (  # a reading of a month nobody created is refused, never put elsewhere
            psycopg.connect(db.database_url()) as conn,
            pytest.raises(psycopg.errors.CheckViolation),
        ):
            conn.execute(
                'insert into data.sensor_readings (fid, "maCamBien", "thoiGian", "giaTri") values (99999, %s, %s, 1)',
                (sensor, "2025-12-05T00:00:00+07:00"),
            )
        dry = run_load(LAYER, delivery, LoadOptions(encoding="utf-8", force=True, dry_run=True))
        assert dry.outcome == "dry-run" and len(per_partition()) == 3 and "sensor_readings_202510" not in children()
    finally:
        assert run_load(LAYER, SAMPLE, OPTIONS).outcome == "published"
    assert list(per_partition()) == ["sensor_readings_202510"] and children() == {"sensor_readings_202510"} | ready()


def test_prune_of_a_plain_table_published_before_partitioning_deletes_its_expired_rows(loaded: list) -> None:
    from datetime import datetime, timedelta, timezone

    from bando.pipelines.retention import prune

    readings = next(x for x in catalogue.load(get_settings().layers_dir) if x.id == LAYER)
    layer = readings.model_copy(update={"id": "plain_readings"})
    times = ["2019-01-10T08:00:00+07:00", "2019-02-10T08:00:00+07:00", "2026-01-10T08:00:00+07:00"]
    with psycopg.connect(db.database_url()) as conn:
        conn.execute("create table data.plain_readings (like data.sensor_readings)")
        try:
            for fid, at in enumerate(times, start=1):
                conn.execute(
                    'insert into data.plain_readings (fid, "maCamBien", "thoiGian", "giaTri") values (%s, %s, %s, 1)',
                    (fid, "PM25-01", at),
                )
                conn.execute(
                    "insert into bando.audit (token, layer, fid, operation) values ('t', 'plain_readings', %s, 'create')",
                    (fid,),
                )
                conn.execute(
                    "insert into bando.feature_history (layer, fid, properties, public)"
                    " values ('plain_readings', %s, '{}', '{}')",
                    (fid,),
                )
            conn.execute(
                "insert into bando.layer_state (layer, lineage_id, row_count)"
                " select 'plain_readings', lineage_id, 3 from bando.layer_state where layer = %s",
                (LAYER,),
            )
            cut_after_february = datetime(2020, 2, 15, tzinfo=timezone(timedelta(hours=7)))
            assert prune(conn, layer, 12, now=cut_after_february) == 2
            assert conn.execute("select fid from data.plain_readings").fetchall() == [(3,)]
            for table in ("audit", "feature_history"):
                left = conn.execute(f"select fid from bando.{table} where layer = 'plain_readings'").fetchall()
                assert left == [(3,)]
            assert conn.execute(
                "select row_count from bando.layer_state where layer = 'plain_readings'"
            ).fetchall() == [(1,)]
        finally:
            conn.rollback()
