"""The embedded cluster: `bando db up|down|status|url` through the real CLI."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from bando import migrate
from bando.migrate import DATA
from tests.conftest import cli_env


def run(bando_bin: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([bando_bin, *args], capture_output=True, text=True, env=env or cli_env(), timeout=180)


def test_up_is_idempotent_and_url_works_with_psql(database: str, bando_bin: str) -> None:
    for _ in range(2):
        assert run(bando_bin, "db", "up").returncode == 0
    url = run(bando_bin, "db", "url").stdout.strip()
    version = subprocess.run(
        ["psql", url, "-Atc", "select postgis_lib_version()"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.startswith("3.")
    status = run(bando_bin, "db", "status")
    assert status.returncode == 0 and "postgis" in status.stdout


def test_migrations_rerun_is_a_noop_and_code_tables_match_csv(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        assert migrate.run(conn) == []
        versions = [r[0] for r in conn.execute("select version from bando.schema_migrations")]
        assert versions == [m.version for m in migrate.available()]
        codes = conn.execute("select count(*) from bando.land_use_codes").fetchone()[0]
        legacy = dict(conn.execute("select legacy_code, code from bando.land_use_legacy"))
    with (DATA / "land_use_codes.csv").open(encoding="utf-8") as fh:
        assert codes == len(list(csv.DictReader(fh)))
    assert legacy["BHK"] == "HNK" and legacy["LUN"] == "LUK"


@pytest.fixture()
def private_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="bando-cluster-"))
    yield home
    env = cli_env({"BANDO_HOME": str(home)})
    subprocess.run([Path(os.sys.executable).with_name("bando"), "db", "down"], env=env)
    shutil.rmtree(home, ignore_errors=True)


def test_down_stops_and_a_stale_pid_file_is_recovered(bando_bin: str, private_home: Path) -> None:
    env = cli_env({"BANDO_HOME": str(private_home), "BANDO_DB_DURABLE": "false"})
    assert run(bando_bin, "db", "up", env=env).returncode == 0
    assert run(bando_bin, "db", "down", env=env).returncode == 0
    assert run(bando_bin, "db", "status", env=env).returncode == 5
    # A crash leaves postmaster.pid behind, naming a process that no longer exists.
    pidfile = private_home / "pgdata" / "postmaster.pid"
    pidfile.write_text("999999\n" + str(private_home / "pgdata") + "\n")
    up = run(bando_bin, "db", "up", env=env)
    assert up.returncode == 0, up.stderr
    assert run(bando_bin, "db", "status", env=env).returncode == 0


def test_database_url_is_used_and_never_started(bando_bin: str, tmp_path: Path) -> None:
    env = cli_env({"BANDO_HOME": str(tmp_path / "unused"), "DATABASE_URL": "postgresql://bando@127.0.0.1:9/none"})
    result = run(bando_bin, "db", "up", env=env)
    assert result.returncode == 5
    assert "cannot reach the database" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "unused" / "pgdata").exists()
