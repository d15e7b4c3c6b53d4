"""Backups and point-in-time restore of a real embedded cluster, through the `bando` command line.

A private cluster (its own BANDO_HOME) is backed up, two more deliveries are loaded, and
`bando db restore --to` a moment between them must bring back exactly that moment's
layers: equal row counts and an order-independent checksum of every row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import ROOT
from tests.hardening.cluster import PrivateCluster

pytestmark = pytest.mark.slow
SAMPLES = ROOT / "data_samples" / "hung_yen"
LAYERS = ("communes", "roads", "drainage_lines")


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    c = PrivateCluster()
    c.up()
    yield c
    c.destroy()


def state(c: PrivateCluster) -> dict[str, tuple[int, str] | None]:
    """Each layer's row count and a checksum of its rows that ignores their order; None: not published."""
    out: dict[str, tuple[int, str] | None] = {}
    with c.connect() as conn:
        for layer in LAYERS:
            try:
                row = conn.execute(
                    f"select count(*), md5(coalesce(string_agg(h, '' order by h), ''))"
                    f" from (select md5(t::text) h from data.{layer} t) s"
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                out[layer] = None
                continue
            assert row is not None
            out[layer] = (int(row[0]), str(row[1]))
        out["lineage"] = (int(conn.execute("select count(*) from bando.lineage").fetchone()[0]), "")  # type: ignore[index]
    return out


def load(c: PrivateCluster, layer: str, *args: str) -> None:
    proc = c.bando("load", layer, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_embedded_cluster_is_durable_by_default(cluster: PrivateCluster) -> None:
    with cluster.connect("admin") as conn:
        settings = dict(
            conn.execute(
                "select name, setting from pg_settings where name in"
                " ('wal_level', 'archive_mode', 'data_checksums', 'max_wal_senders')"
            ).fetchall()
        )
        segment = conn.execute("select pg_walfile_name(pg_switch_wal())").fetchone()[0]  # type: ignore[index]
    assert settings == {"wal_level": "replica", "archive_mode": "on", "data_checksums": "on", "max_wal_senders": "10"}
    archived = cluster.home / "wal" / segment
    deadline = time.monotonic() + 20
    while not archived.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert archived.exists(), "a finished WAL segment was not archived"


def test_restore_to_a_time_between_two_deliveries(cluster: PrivateCluster) -> None:
    load(cluster, "communes", str(SAMPLES / "communes.gpkg"), "--source-layer", "ranh_gioi_xa", "--crs", "EPSG:9209")
    made = cluster.bando("db", "backup", "--keep", "2")
    assert made.returncode == 0, made.stdout + made.stderr
    load(cluster, "roads", str(SAMPLES / "roads.geojson"), "--encoding", "utf-8")
    between = state(cluster)
    with cluster.connect() as conn:
        moment = conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]
    time.sleep(1.0)
    load(cluster, "drainage_lines", str(SAMPLES / "drainage.geojson"), "--encoding", "utf-8")
    load(
        cluster,
        "communes",
        str(SAMPLES / "communes.gpkg"),
        "--source-layer",
        "ranh_gioi_xa",
        "--crs",
        "EPSG:9209",
        "--force",
    )
    after = state(cluster)
    assert after["drainage_lines"] is not None and between["drainage_lines"] is None
    assert after["lineage"] != between["lineage"]

    proc = cluster.bando("db", "restore", "--to", moment.isoformat(), "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert state(cluster) == between
    kept = list(cluster.home.glob("pgdata.before-restore-*"))
    assert len(kept) == 1, "the replaced data directory is kept"

    # the restored cluster takes new loads and new backups
    load(cluster, "drainage_lines", str(SAMPLES / "drainage.geojson"), "--encoding", "utf-8")
    assert state(cluster)["drainage_lines"] == after["drainage_lines"]


def test_restore_refuses_a_time_before_every_backup(cluster: PrivateCluster) -> None:
    proc = cluster.bando("db", "restore", "--to", "2001-01-01T00:00:00+07:00", "--yes")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no backup finished before" in proc.stderr
    proc = cluster.bando("db", "restore", "--to", "yesterday", "--yes")
    assert proc.returncode == 2 and "--to must be an ISO time" in proc.stderr


def test_verify_backup_detects_a_corrupted_file(cluster: PrivateCluster) -> None:
    made = cluster.bando("db", "backup", "--keep", "1")
    assert made.returncode == 0, made.stdout + made.stderr
    listed = sorted((cluster.home / "backups").glob("*.json"))
    assert len(listed) == 1, "--keep 1 left one backup"
    ok = cluster.bando("db", "verify-backup")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    folder = listed[0].with_suffix("")
    victim = next(p for p in sorted((folder / "base").rglob("*")) if p.is_file() and p.stat().st_size > 1000)
    with victim.open("r+b") as fh:
        fh.seek(500)
        byte = fh.read(1)
        fh.seek(500)
        fh.write(bytes([byte[0] ^ 0xFF]))
    bad = cluster.bando("db", "verify-backup")
    assert bad.returncode == 8, bad.stdout + bad.stderr
    assert "checksum mismatch" in bad.stderr and victim.name in bad.stderr
