"""A private embedded cluster and server for the fault tests: stopped, restarted, filled up.

Everything goes through the `bando` command line in subprocesses with an explicit
environment, so this cluster never meets the suite's own (``tests/conftest.py``), whose
settings live in this process's ``os.environ``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
BANDO = str(Path(sys.executable).with_name("bando"))
LEAKS = ("traceback", "psycopg", "sqlstate", "syntax error", 'file "', "/work/", "site-packages")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateCluster:
    """A BANDO_HOME of its own (province 33, Hưng Yên), driven only through `bando …`."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or Path(tempfile.mkdtemp(prefix="bando-hardening-"))
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BANDO_BASE_URL")}
        self.env |= {"BANDO_HOME": str(self.home), "BANDO_PROVINCE": "33", "BANDO_DB_DURABLE": "false"}
        self._url: str | None = None

    def bando(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([BANDO, *args], env=env or self.env, capture_output=True, text=True, timeout=timeout)

    def up(self) -> None:
        proc = self.bando("db", "up")
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def down(self) -> None:
        proc = self.bando("db", "down")
        assert proc.returncode == 0, proc.stdout + proc.stderr

    @property
    def url(self) -> str:
        if self._url is None:
            proc = self.bando("db", "url")
            assert proc.returncode == 0, proc.stdout + proc.stderr
            self._url = proc.stdout.strip()
        return self._url

    def connect(self, role: str = "owner") -> psycopg.Connection:
        """A connection as the owner (what loads use), or as ``admin`` (a superuser) for what needs one."""
        url = self.url if role == "owner" else self.bando("db", "url", "--role", role).stdout.strip()
        return psycopg.connect(url, autocommit=True, connect_timeout=10)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.bando("db", "down", timeout=120)
        shutil.rmtree(self.home, ignore_errors=True)

    @contextlib.contextmanager
    def serve(self, workers: int = 1, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
        """A real `bando serve` on a free loopback port; yields (base URL, process)."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = (self.home / f"server-{port}.log").open("wb")
        proc = subprocess.Popen(
            [BANDO, "serve", "--port", str(port), "--workers", str(workers)],
            env=(env or self.env) | {"BANDO_BASE_URL": url},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_ready(url, proc, log.name)
            yield url, proc
        finally:
            stop(proc)
            log.close()


def wait_ready(url: str, proc: subprocess.Popen, log: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bando serve exited with {proc.returncode}; see {log}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/ogc/conformance", timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.3)
    stop(proc)
    raise RuntimeError(f"bando serve did not answer within {timeout:.0f} s; see {log}")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started in its own session, with its workers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


def layer_fingerprint(conn: psycopg.Connection, table: str = "parcels") -> tuple[int, str | None, int | None]:
    """(row count, checksum of every published row, lineage id in bando.layer_state)."""
    if not conn.execute("select to_regclass(%s)", (f"data.{table}",)).fetchone()[0]:
        return 0, None, None
    count, digest = conn.execute(
        f"select count(*), md5(string_agg(md5(t::text), '' order by fid)) from data.{table} t"
    ).fetchone()
    row = conn.execute("select lineage_id from bando.layer_state where layer = %s", (table,)).fetchone()
    return int(count), digest, row[0] if row else None


def staging_tables(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'staging'")]
