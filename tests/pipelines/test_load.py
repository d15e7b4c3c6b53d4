"""`bando load` end to end on synthetic deliveries: counts reconcile, no-op, atomic publish."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from bando.pipelines.load import LoadOptions, run_load
from tests.conftest import cli_env
from tests.pipelines.synthetic import parcel_grid


def layer_fingerprint(url: str, table: str = "parcels") -> tuple[int, str]:
    with psycopg.connect(url) as conn:
        count = conn.execute(f"select count(*) from data.{table}").fetchone()[0]
        rows = conn.execute(
            f'select fid, "maXa", "soHieuToBanDo", "soThuTuThua", "loaiDat", st_asbinary(geom) from data.{table} order by fid'
        ).fetchall()
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(row).encode())
    return count, digest.hexdigest()


def staging_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'staging'")]


def test_counts_reconcile_and_second_load_is_a_noop(database: str, tmp_path: Path) -> None:
    n = 500
    loai = ["LUC"] * n
    loai[3], loai[4] = "XYZ", "BHK"
    src = parcel_grid(tmp_path / "p.gpkg", n, loaiDat=loai)
    first = run_load("parcels", src, LoadOptions(force=True))
    assert first.outcome == "published", first.message
    assert first.rows_read == first.rows_loaded + first.rows_rejected == n
    assert first.rows_rejected == 1
    with psycopg.connect(database) as conn:
        rules = dict(
            conn.execute(
                "select rule, count(*) from bando.rejects where lineage_id = %s group by rule", (first.lineage_id,)
            ).fetchall()
        )
        mapped = conn.execute('select "loaiDat" from data.parcels where "soThuTuThua" = 5').fetchone()[0]
    assert rules == {"domain.unknown_code": 1, "domain.legacy_code": 1}
    assert mapped == "HNK"
    second = run_load("parcels", src)
    assert second.outcome == "noop"
    with psycopg.connect(database) as conn:
        outcomes = [
            r[0]
            for r in conn.execute(
                "select outcome from bando.lineage where layer = 'parcels' and id >= %s order by id",
                (first.lineage_id,),
            )
        ]
    assert outcomes == ["published", "noop"]
    with psycopg.connect(database) as conn:
        kept = conn.execute("""select count(*) from data.parcels where "maXa" = '12345'""").fetchone()[0]
    assert kept == n - 1


def test_refused_above_reject_threshold_leaves_layer_untouched(database: str, tmp_path: Path) -> None:
    good = run_load("parcels", parcel_grid(tmp_path / "good.gpkg", 300), LoadOptions(force=True))
    assert good.outcome == "published"
    before = layer_fingerprint(database)
    bad = parcel_grid(tmp_path / "bad.gpkg", 300, loaiDat=["XYZ"] * 300)
    result = run_load("parcels", bad)
    assert result.outcome == "refused" and "nothing was published" in result.message
    assert layer_fingerprint(database) == before


def test_dry_run_publishes_nothing(database: str, tmp_path: Path) -> None:
    run_load("parcels", parcel_grid(tmp_path / "a.gpkg", 100), LoadOptions(force=True))
    before = layer_fingerprint(database)
    result = run_load("parcels", parcel_grid(tmp_path / "b.gpkg", 150), LoadOptions(dry_run=True))
    assert result.outcome == "dry-run" and result.rows_loaded == 150
    assert layer_fingerprint(database) == before


def _wait_for(url: str, sql: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute(sql).fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def big_delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return parcel_grid(tmp_path_factory.mktemp("big") / "big.gpkg", 150_000, size=5.0)


def _start_load(bando_bin: str, src: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [bando_bin, "load", "parcels", str(src), "--force"],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_killed_during_copy_leaves_published_layer_unchanged(
    database: str, bando_bin: str, tmp_path: Path, big_delivery: Path
) -> None:
    run_load("parcels", parcel_grid(tmp_path / "base.gpkg", 200), LoadOptions(force=True))
    before = layer_fingerprint(database)
    proc = _start_load(bando_bin, big_delivery)
    copying = _wait_for(
        database, "select count(*) from pg_stat_activity where query ilike 'copy \"staging\".%' and state = 'active'"
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert copying, "the load never reached its COPY"
    _wait_for(database, "select count(*) = 0 from pg_stat_activity where query ilike 'copy \"staging\".%'")
    assert layer_fingerprint(database) == before
    assert staging_tables(database) == []
    rerun = run_load("parcels", big_delivery, LoadOptions(force=True))
    assert rerun.outcome == "published" and rerun.rows_loaded == 150_000
    with psycopg.connect(database) as conn:
        killed = conn.execute(
            "select outcome, message from bando.lineage where layer = 'parcels' and id < %s order by id desc limit 1",
            (rerun.lineage_id,),
        ).fetchone()
    assert killed[0] == "failed" and "interrupted" in killed[1]


def test_killed_during_publish_leaves_published_layer_unchanged(
    database: str, bando_bin: str, tmp_path: Path, big_delivery: Path
) -> None:
    run_load("parcels", parcel_grid(tmp_path / "base.gpkg", 250), LoadOptions(force=True))
    before = layer_fingerprint(database)
    with psycopg.connect(database) as reader:
        # A reader in the middle of a transaction holds the published table: the load
        # reaches its swap and waits there for the exclusive lock — then it is killed.
        reader.execute("select count(*) from data.parcels")
        proc = _start_load(bando_bin, big_delivery)
        waiting = _wait_for(
            database,
            "select count(*) from pg_stat_activity where query ilike 'lock table%' and wait_event_type = 'Lock'",
            120,
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert waiting, "the load never reached its publish step"
        assert reader.execute("select count(*) from data.parcels").fetchone()[0] == before[0]
    _wait_for(database, "select count(*) = 0 from pg_stat_activity where query ilike 'lock table%'")
    assert layer_fingerprint(database) == before
    assert staging_tables(database) == []


def test_cli_exit_codes_and_json_report(bando_bin: str, tmp_path: Path, database: str) -> None:
    src = parcel_grid(tmp_path / "cli.gpkg", 50)
    ok = subprocess.run(
        [bando_bin, "load", "parcels", str(src), "--force"], env=cli_env(), capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    report = Path(ok.stdout.split("report: ")[1].split()[0])
    data = json.loads(report.read_text())
    assert data["rows_read"] == 50 and data["outcome"] == "published"
    missing = subprocess.run(
        [bando_bin, "load", "parcels", str(tmp_path / "nope.gpkg")], env=cli_env(), capture_output=True, text=True
    )
    assert (
        missing.returncode == 4
        and "does not exist" in missing.stdout
        and "Traceback" not in missing.stdout + missing.stderr
    )
    unknown = subprocess.run([bando_bin, "load", "nolayer", str(src)], env=cli_env(), capture_output=True, text=True)
    assert unknown.returncode == 3 and "no layer 'nolayer'" in unknown.stderr


def test_a_delivery_replaces_only_its_own_communes(database: str, tmp_path: Path) -> None:
    a = parcel_grid(tmp_path / "a.gpkg", 100, commune="11111", origin=(565_000, 2_310_000))
    b = parcel_grid(tmp_path / "b.gpkg", 80, commune="22222", origin=(566_000, 2_310_000))
    for src in (a, b):
        assert run_load("parcels", src, LoadOptions(force=True)).outcome == "published"
        # the recorded extent (what the API's tile limits follow) is the published one, exactly
        with psycopg.connect(database) as conn:
            recorded, exact = conn.execute(
                "select s.bounds::text, (select st_extent(geom)::text from data.parcels)"
                " from bando.layer_state s where s.layer = 'parcels'"
            ).fetchone()
        assert recorded == exact and recorded is not None
    again = run_load(
        "parcels",
        parcel_grid(tmp_path / "a2.gpkg", 60, commune="11111", origin=(565_000, 2_310_000)),
        LoadOptions(force=True),
    )
    assert "kept" in again.message
    with psycopg.connect(database) as conn:
        counts = dict(
            conn.execute(
                """select "maXa", count(*) from data.parcels where "maXa" in ('11111', '22222') group by 1"""
            ).fetchall()
        )
    assert counts == {"11111": 60, "22222": 80}


def test_geometry_repair_is_recorded_where_the_layer_allows_it(database: str, tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import Polygon

    bow = Polygon([(560000, 2300000), (560100, 2300100), (560100, 2300000), (560000, 2300100)])
    gdf = gpd.GeoDataFrame(
        {"maXa": ["12345"], "loaiDat": ["LUC"], "dienTich": [5000.0], "namKiemKe": [2024]},
        geometry=[bow],
        crs="EPSG:9209",
    )
    gdf.to_file(tmp_path / "status.gpkg", layer="hien_trang", driver="GPKG")
    result = run_load("land_use_status", tmp_path / "status.gpkg", LoadOptions(dry_run=True))
    assert result.outcome == "dry-run" and result.rows_repaired == 1 and result.rows_rejected == 0
    assert [r.rule for r in result.rules if r.severity == "warning"][0] == "geometry.repaired"
