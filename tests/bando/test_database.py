"""The embedded cluster: `bando db up|down|status|url` through the real CLI."""

from __future__ import annotations

import csv
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from bando import db, migrate
from bando.cluster import find_bindir
from bando.migrate import DATA
from bando.settings import Settings
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


def test_the_extent_migration_fills_in_layers_published_before_it(database: str, loaded: list) -> None:
    """A database published before layers recorded their extent gets it from its data, once."""
    script = next(m for m in migrate.available() if m.path.name.endswith("_layer_bounds.sql")).path.read_text()
    with psycopg.connect(database) as conn:
        conn.execute("update bando.layer_state set bounds = null")
        conn.execute(script)
        after = dict(conn.execute("select layer, bounds::text from bando.layer_state where bounds is not null"))
        exact = {
            layer: conn.execute(f"select st_extent(geom)::text from data.{layer}").fetchone()[0]
            for layer in ("parcels", "roads", "point_assets", "communes")
        }
        conn.rollback()  # leave the shared database as it was
    assert exact.items() <= after.items() and all(exact.values())


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


# -- no other account on the machine gets in ------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
OUTSIDER = "nobody"  # an unprivileged account that is not the server's or bando's


def as_user(user: str, *cmd: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        ["runuser", "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in (base | (env or {})).items()), *cmd],
        capture_output=True,
        text=True,
        timeout=120,
    )


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runuser"), reason="acting as another OS user needs root and runuser"
)


def _psql(user: str, host: str, port: int, password: str | None = None) -> subprocess.CompletedProcess:
    env = {"PGPASSWORD": password} if password is not None else {}
    query = "select 1"
    return as_user(
        user, "psql", "-w", "-h", host, "-p", str(port), "-U", "postgres", "-d", "postgres", "-Atc", query, env=env
    )


def _assert_locked_out(user: str, home: Path, port: int) -> None:
    listing = as_user(user, "ls", str(home))
    assert listing.returncode != 0 and "Permission denied" in listing.stderr, listing
    for path in (home / "secrets" / "postgres", home / "postgres.log"):
        assert as_user(user, "cat", str(path)).returncode != 0, path
    socket = _psql(user, str(home / "run"), port)
    assert socket.returncode != 0 and "Permission denied" in socket.stderr, socket.stdout + socket.stderr
    for password in (None, "postgres", ""):
        tcp = _psql(user, "127.0.0.1", port, password)
        assert tcp.returncode != 0, tcp.stdout
        assert "password" in tcp.stderr, tcp.stderr  # refused for want of the password, not for luck


@needs_root
def test_another_os_user_cannot_reach_the_embedded_cluster(database: str, settings: Settings) -> None:
    home, port = settings.home, db.embedded(settings).configured_port()
    assert port is not None
    _assert_locked_out(OUTSIDER, home, port)
    assert stat.S_IMODE(home.stat().st_mode) & 0o007 == 0
    for folder in (home / "secrets", home / "run", home / "pgdata"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (home / "secrets").iterdir())
    hba = [line.split() for line in (home / "pgdata" / "pg_hba.conf").read_text().splitlines()]
    assert {line[-1] for line in hba if line and not line[0].startswith("#")} == {"scram-sha-256"}


def _legacy_trust_cluster(home: Path, bando_bin: str, env: dict[str, str]) -> int:
    """A cluster as bando before 0.2 left it: trust on the socket, an open folder and socket,
    the superuser's password in db-password, no roles of its own."""
    assert run(bando_bin, "db", "up", env=env).returncode == 0
    assert run(bando_bin, "db", "down", env=env).returncode == 0
    pgdata = home / "pgdata"
    (pgdata / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    conf = pgdata / "bando.conf"
    lines = conf.read_text().splitlines()
    conf.write_text("".join(line + "\n" for line in lines if "unix_socket_permissions" not in line))
    (home / "secrets" / "postgres").rename(home / "db-password")
    shutil.rmtree(home / "secrets")
    home.chmod(0o755)
    (home / "run").chmod(0o755)
    port = int(next(line for line in lines if line.startswith("port")).split("=")[1])
    start = as_user(
        "postgres", f"{find_bindir()}/pg_ctl", "-D", str(pgdata), "-l", str(home / "postgres.log"), "-w", "start"
    )
    assert start.returncode == 0, start.stderr
    return port


@needs_root
def test_db_up_upgrades_a_cluster_that_trusted_local_users(bando_bin: str, private_home: Path) -> None:
    env = cli_env({"BANDO_HOME": str(private_home), "BANDO_DB_DURABLE": "false"})
    port = _legacy_trust_cluster(private_home, bando_bin, env)
    assert _psql(OUTSIDER, str(private_home / "run"), port).stdout.strip() == "1", "the legacy cluster was open"
    up = run(bando_bin, "db", "up", env=env)
    assert up.returncode == 0, up.stderr
    _assert_locked_out(OUTSIDER, private_home, port)
    assert not (private_home / "db-password").exists()
    with psycopg.connect(run(bando_bin, "db", "url", env=env).stdout.strip()) as conn:
        assert conn.info.user == "bando_owner"


@needs_root
def test_an_ordinary_user_runs_its_own_cluster_that_others_cannot_reach(private_home: Path) -> None:
    """The same code path as root mode, run by an unprivileged account (the cluster is then its own)."""
    runner = OUTSIDER
    other = "daemon"
    os.chown(private_home, pwd.getpwnam(runner).pw_uid, pwd.getpwnam(runner).pw_gid)
    env = {"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(private_home)}
    script = (
        "import sys; from pathlib import Path; from bando.cluster import Cluster, find_bindir; "
        "c = Cluster(Path(sys.argv[2]), find_bindir(), durable=False); getattr(c, sys.argv[1])(); "
        "print(c.configured_port())"
    )

    def lifecycle(step: str) -> subprocess.CompletedProcess:
        return as_user(runner, "/usr/bin/python3", "-c", script, step, str(private_home), env=env)

    started = lifecycle("start")
    try:
        assert started.returncode == 0, started.stderr
        port = int(started.stdout.strip())
        assert (private_home / "pgdata").stat().st_uid == pwd.getpwnam(runner).pw_uid
        assert stat.S_IMODE(private_home.stat().st_mode) == 0o700
        password = as_user(runner, "cat", str(private_home / "secrets" / "postgres")).stdout.strip()
        for host in (str(private_home / "run"), "127.0.0.1"):
            ok = _psql(runner, host, port, password)
            assert ok.stdout.strip() == "1", ok.stderr
            assert _psql(runner, host, port, "wrong").returncode != 0
        _assert_locked_out(other, private_home, port)
    finally:
        stopped = lifecycle("stop")
    assert stopped.returncode == 0, stopped.stderr
