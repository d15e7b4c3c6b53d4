"""The embedded PostgreSQL cluster: bando's default database, private to one folder.

With no ``DATABASE_URL`` bando owns a cluster under ``BANDO_HOME`` (``.bando/``):
initialised on first use, listening on a unix socket in that folder and on a free
TCP port on 127.0.0.1 only, password-protected over TCP. PostgreSQL refuses to run as
root, so when bando runs as root the server processes run as the ``postgres`` system
user. Starting twice is harmless; a ``postmaster.pid`` left by a crash is recovered.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bando.errors import SetupError

SERVER_USER = "postgres"


def find_bindir(preferred: Path | None = None) -> Path:
    """PostgreSQL server binaries: the setting, else the newest /usr/lib/postgresql/*/bin, else PATH."""
    candidates: list[Path] = [preferred] if preferred else []
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    if found := shutil.which("initdb"):
        candidates.append(Path(found).parent)
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    raise SetupError(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install the server "
        "(Debian: apt-get install postgresql-15 postgresql-15-postgis-3), set BANDO_PG_BINDIR, "
        "or point DATABASE_URL at an existing PostGIS server."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    """True when PostgreSQL can listen on the port again. Like PostgreSQL itself, bind with
    SO_REUSEADDR: the closed connections of a stopped cluster leave the port in TIME_WAIT,
    and moving the cluster to another port would strand every client of the old one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Cluster:
    home: Path
    bindir: Path
    durable: bool = True

    @property
    def datadir(self) -> Path:
        return self.home / "pgdata"

    @property
    def sockdir(self) -> Path:
        return self.home / "run"

    @property
    def logfile(self) -> Path:
        return self.home / "postgres.log"

    @property
    def _secret(self) -> Path:
        return self.home / "db-password"

    @property
    def _conf(self) -> Path:
        return self.datadir / "bando.conf"

    # -- running commands as the right user ---------------------------------------

    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _server_ids(self) -> tuple[int, int]:
        if not self._as_root:
            return os.getuid(), os.getgid()
        try:
            entry = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise SetupError(
                "bando runs as root, so its PostgreSQL cluster must run as the 'postgres' "
                "system user, which does not exist. Install the PostgreSQL server package "
                "(it creates the user) or run bando as an ordinary user."
            ) from None
        return entry.pw_uid, entry.pw_gid

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        uid, gid = self._server_ids()
        kwargs: dict[str, Any] = {"user": uid, "group": gid, "extra_groups": []} if self._as_root else {}
        proc = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            cwd=self.home,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
            **kwargs,
        )
        if check and proc.returncode != 0:
            raise SetupError(
                f"{args[0]} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}"
                f"\nSee the server log at {self.logfile}."
            )
        return proc

    def _own(self, path: Path, mode: int) -> None:
        uid, gid = self._server_ids()
        os.chown(path, uid, gid)
        path.chmod(mode)

    def _check_traversable(self) -> None:
        """The server user must reach the folder: name the ancestor that blocks it."""
        if not self._as_root:
            return
        for parent in [*reversed(self.home.resolve().parents)]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                raise SetupError(
                    f"the PostgreSQL server runs as '{SERVER_USER}' and cannot enter {parent} "
                    f"(mode {oct(mode & 0o777)}). Choose a BANDO_HOME under a folder others "
                    "can traverse, or run: chmod o+x " + str(parent)
                )

    # -- lifecycle -----------------------------------------------------------------

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        self._check_traversable()
        self.sockdir.mkdir(exist_ok=True)
        self._own(self.sockdir, 0o755)
        if self.initialised():
            return
        if self.datadir.exists() and any(self.datadir.iterdir()):
            raise SetupError(f"{self.datadir} exists but holds no PostgreSQL cluster; move it away and retry")
        password = secrets.token_urlsafe(24)
        self._secret.write_text(password + "\n")
        self._secret.chmod(0o600)
        pwfile = self.home / ".initdb-pw"
        pwfile.write_text(password + "\n")
        self._own(pwfile, 0o600)
        try:
            self.datadir.mkdir(exist_ok=True)
            self._own(self.datadir, 0o700)
            self._run(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--no-locale",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.datadir / "postgresql.conf").open("a") as fh:
            fh.write("\ninclude_if_exists = 'bando.conf'\n")

    def _write_conf(self, port: int) -> None:
        lines = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self.sockdir}'",
            "max_connections": "200",
            "shared_buffers": "'256MB'",
            "work_mem": "'32MB'",
            "maintenance_work_mem": "'256MB'",
            "max_wal_size": "'2GB'",
            # Loads create and fill their staging table in one transaction: with minimal
            # WAL, PostgreSQL skips logging the COPY (the table is fsynced at commit).
            "wal_level": "minimal",
            "max_wal_senders": "0",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        self._conf.write_text("".join(f"{k} = {v}\n" for k, v in lines.items()))
        self._own(self._conf, 0o600)

    def configured_port(self) -> int | None:
        if not self._conf.exists():
            return None
        for line in self._conf.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "port":
                return int(value.strip())
        return None

    def pid(self) -> int | None:
        """The postmaster's pid if it is really running; a stale pid file is removed."""
        pidfile = self.datadir / "postmaster.pid"
        try:
            first = pidfile.read_text().splitlines()[0]
            pid = int(first)
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            cmdline = b""
        if b"postgres" in cmdline:
            return pid
        pidfile.unlink(missing_ok=True)  # left by a crash; the pid is dead or someone else's
        return None

    def start(self) -> None:
        self.init()
        if self.pid() is not None:
            return
        port = self.configured_port()
        if port is None or not _port_free(port):
            port = _free_port()
        self._write_conf(port)
        self.logfile.touch()
        self._own(self.logfile, 0o640)
        proc = self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            "60",
            "start",
            check=False,
        )
        if proc.returncode != 0:
            tail = self.logfile.read_text(errors="replace").splitlines()[-15:]
            raise SetupError(
                "the embedded PostgreSQL did not start:\n  " + "\n  ".join(tail) + f"\n(full log: {self.logfile})"
            )

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.initialised() or self.pid() is None:
            return False
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60", "stop")
        return True

    def url(self, db_name: str) -> str:
        password = self._secret.read_text().strip()
        return f"postgresql://postgres:{password}@127.0.0.1:{self.configured_port()}/{db_name}"
