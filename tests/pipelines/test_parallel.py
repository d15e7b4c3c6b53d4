"""Partitioned loads on Dask: a worker killed mid-load publishes nothing and leaves no debris."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from bando.pipelines.load import LoadOptions, run_load
from tests.conftest import cli_env
from tests.pipelines.synthetic import parcel_grid
from tests.pipelines.test_load import layer_fingerprint, staging_tables


@pytest.fixture(scope="module")
def big_delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return parcel_grid(tmp_path_factory.mktemp("big") / "big.gpkg", 150_000, size=5.0)


def _copying_worker(load: subprocess.Popen, port: int, timeout: float = 120) -> psutil.Process | None:
    """The descendant of the load (a Dask worker) that holds a connection to the database and COPYs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and load.poll() is None:
        for child in psutil.Process(load.pid).children(recursive=True):
            try:
                if any(c.raddr and c.raddr.port == port for c in child.net_connections("tcp")):
                    return child
            except psutil.Error:
                continue
        time.sleep(0.05)
    return None


def test_a_dask_worker_killed_mid_load_publishes_nothing_and_the_next_run_succeeds(
    database: str, bando_bin: str, tmp_path: Path, big_delivery: Path
) -> None:
    run_load("parcels", parcel_grid(tmp_path / "base.gpkg", 200), LoadOptions(force=True))
    before = layer_fingerprint(database)
    port = psycopg.conninfo.conninfo_to_dict(database)["port"]
    load = subprocess.Popen(
        [bando_bin, "load", "parcels", str(big_delivery), "--force", "--workers", "2"],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker = _copying_worker(load, int(port))
    assert worker is not None, (
        f"no Dask worker reached the database: {load.poll()} {load.stdout.read() if load.poll() is not None else ''}"
    )
    os.kill(worker.pid, signal.SIGKILL)
    output, _ = load.communicate(timeout=300)
    assert load.returncode == 4, output
    assert "worker stopped" in output and "Traceback" not in output
    assert layer_fingerprint(database) == before
    assert staging_tables(database) == []
    with psycopg.connect(database) as conn:
        outcome = conn.execute(
            "select outcome from bando.lineage where layer = 'parcels' order by id desc limit 1"
        ).fetchone()
    assert outcome == ("failed",)
    rerun = run_load("parcels", big_delivery, LoadOptions(force=True, workers=2))
    assert rerun.outcome == "published" and rerun.rows_loaded == 150_000, rerun.message
    assert staging_tables(database) == []


def test_staging_left_by_a_killed_parallel_load_is_swept_by_the_next(
    database: str, bando_bin: str, tmp_path: Path, big_delivery: Path
) -> None:
    run_load("parcels", parcel_grid(tmp_path / "base.gpkg", 200), LoadOptions(force=True))
    before = layer_fingerprint(database)
    load = subprocess.Popen(
        [bando_bin, "load", "parcels", str(big_delivery), "--force", "--workers", "2"],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    port = int(psycopg.conninfo.conninfo_to_dict(database)["port"])
    assert _copying_worker(load, port) is not None
    os.killpg(load.pid, signal.SIGKILL)  # the load and its whole local cluster
    load.wait()
    assert layer_fingerprint(database) == before
    again = run_load("parcels", parcel_grid(tmp_path / "base.gpkg", 200), LoadOptions(force=True, workers=2))
    assert again.outcome == "published", again.message
    assert staging_tables(database) == []
