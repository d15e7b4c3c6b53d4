"""The embedded PostgreSQL cluster: bando's default database, private to one folder.

With no ``DATABASE_URL`` bando owns a cluster under ``BANDO_HOME`` (``.bando/``):
initialised on first use, listening on a unix socket in that folder and on a free
TCP port on 127.0.0.1 only. PostgreSQL refuses to run as root, so when bando runs as
root the server processes run as the ``postgres`` system user. Starting twice is
harmless; a ``postmaster.pid`` left by a crash is recovered.

No other account on the machine gets in. Every connection, over TCP and over the
socket, authenticates with a SCRAM password (``pg_hba.conf`` is bando's own, rewritten
at every start, so a cluster made by an older bando with ``trust`` is upgraded rather
than left open); the passwords live in owner-only files (:mod:`bando.passwords`). The
folder is the bando user's, mode 0700 — or, as root, 0710 with group ``postgres``, so
the server can pass through to its own ``pgdata`` and ``run`` (both 0700, the server's)
and nobody else can even list it; the socket is 0700 too.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bando.errors import SetupError
from bando.passwords import Passwords

SERVER_USER = "postgres"
SUPERUSER = "postgres"
#: The role base backups and replicas stream WAL as: REPLICATION, nothing else.
REPLICATION_ROLE = "bando_replication"
HBA = f"""# Written by bando at every start: every connection proves its password (SCRAM).
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
local replication {REPLICATION_ROLE} scram-sha-256
host replication {REPLICATION_ROLE} 127.0.0.1/32 scram-sha-256
"""
#: Settings that only a restart applies: a running cluster whose bando.conf changes one is restarted.
RESTART_SETTINGS = ("unix_socket_permissions", "wal_level", "archive_mode", "max_wal_senders")


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


def _values(conf: str) -> dict[str, str]:
    """The restart-only settings of a bando.conf."""
    pairs = (line.partition(" = ") for line in conf.splitlines())
    return {k: v for k, _, v in pairs if k in RESTART_SETTINGS}


def _sh(path: Path) -> str:
    return shlex.quote(str(path))


def _conf_str(value: str) -> str:
    """A postgresql.conf string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass
class Cluster:
    home: Path
    bindir: Path
    durable: bool = True
    #: Where finished WAL segments are archived (for backups and point-in-time restore);
    #: None: ``home/wal``.
    archive: Path | None = None
    #: False only for scratch clusters (benchmarks): minimal WAL, no archive, no replicas.
    archiving: bool = True

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
    def passwords(self) -> Passwords:
        return Passwords(self.home)

    @property
    def archive_dir(self) -> Path:
        return self.archive or self.home / "wal"

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

    def _run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A PostgreSQL program (or, by absolute path, any program) as the server's user."""
        uid, gid = self._server_ids()
        kwargs: dict[str, Any] = {"user": uid, "group": gid, "extra_groups": []} if self._as_root else {}
        program = args[0] if args[0].startswith("/") else str(self.bindir / args[0])
        proc = subprocess.run(
            [program, *args[1:]],
            capture_output=True,
            text=True,
            cwd=self.home,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"} | (env or {}),
            timeout=timeout,
            **kwargs,
        )
        if check and proc.returncode != 0:
            raise SetupError(
                f"{args[0]} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-800:]}"
                f"\nSee the server log at {self.logfile}."
            )
        return proc

    def run_as_server(
        self, *args: str, env: dict[str, str] | None = None, timeout: float | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a program as the server's user; with ``check``, a failure is a SetupError naming it."""
        return self._run(*args, env=env, timeout=timeout, check=check)

    def server_file(self, path: Path) -> None:
        """A file bando wrote for the server: the server's, owner-only."""
        self._own(path, 0o600)

    def reload(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "reload")

    def server_dir(self, path: Path) -> Path:
        """A folder only the server's user may enter (archive, backups, replicas)."""
        path.mkdir(parents=True, exist_ok=True)
        self._own(path, 0o700)
        return path

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

    def _private_home(self) -> None:
        """The folder is the bando user's alone; as root the server's group may only pass through."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            os.chown(self.home, -1, self._server_ids()[1])
            self.home.chmod(0o710)
        else:
            self.home.chmod(0o700)
        self._check_traversable()
        legacy = self.home / "db-password"  # where bando before 0.2 kept the superuser's password
        if legacy.exists():
            if self.passwords.get(SUPERUSER) is None:
                self.passwords.put(SUPERUSER, legacy.read_text(encoding="utf-8").strip())
            legacy.unlink()
        self._tighten()

    def _tighten(self) -> None:
        """Files an older bando left readable to others (reports, rasters, logs) become owner-only."""
        server_owned = {self.datadir, self.sockdir, self.logfile, self.archive_dir, *self.home.glob("backups")}
        server_owned |= set(self.home.glob("replicas"))
        for path in self.home.iterdir():
            if path in server_owned or path.is_symlink():
                continue
            paths = [path, *path.rglob("*")] if path.is_dir() else [path]
            for p in paths:
                info = p.lstat()
                if info.st_uid == os.geteuid() and not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
                    with contextlib.suppress(OSError):  # e.g. a read-only mount inside the folder
                        p.chmod(stat.S_IMODE(info.st_mode) & 0o700)

    # -- lifecycle -----------------------------------------------------------------

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init_folder(self) -> None:
        """The private folder and its socket folder, without a cluster in it yet."""
        self._private_home()
        self.sockdir.mkdir(exist_ok=True)
        self._own(self.sockdir, 0o700)

    def init(self) -> None:
        self.init_folder()
        if self.initialised():
            return
        if self.datadir.exists() and any(self.datadir.iterdir()):
            raise SetupError(f"{self.datadir} exists but holds no PostgreSQL cluster; move it away and retry")
        password = self.passwords.ensure(SUPERUSER)
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
                SUPERUSER,
                "--encoding=UTF8",
                "--no-locale",
                "--data-checksums",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.datadir / "postgresql.conf").open("a") as fh:
            fh.write("\ninclude_if_exists = 'bando.conf'\n")

    def _write_owned(self, path: Path, text: str) -> bool:
        """Write a server file (owner-only, the server's); False when it already said that."""
        try:
            if path.read_text() == text:
                self._own(path, 0o600)
                return False
        except FileNotFoundError:
            pass
        path.write_text(text)
        self._own(path, 0o600)
        return True

    def _write_conf(self, port: int) -> bool:
        """bando.conf and pg_hba.conf as bando wants them; True when bando.conf changed."""
        lines = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self.sockdir}'",
            "unix_socket_permissions": "0700",
            "password_encryption": "'scram-sha-256'",
            "max_connections": "200",
            "shared_buffers": "'256MB'",
            "work_mem": "'32MB'",
            "maintenance_work_mem": "'256MB'",
            "max_wal_size": "'2GB'",
            **self._wal_settings(),
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        self._write_owned(self.datadir / "pg_hba.conf", HBA)
        return self._write_owned(self._conf, "".join(f"{k} = {v}\n" for k, v in lines.items()))

    def _wal_settings(self) -> dict[str, str]:
        if not self.archiving:
            # A scratch cluster: loads create and fill their staging table in one transaction,
            # and with minimal WAL PostgreSQL skips logging the COPY (fsync at commit instead).
            return {"wal_level": "minimal", "max_wal_senders": "0", "archive_mode": "off"}
        archive = _sh(self.archive_dir)
        return {
            # Enough WAL for base backups, point-in-time restore and streaming replicas;
            # every finished segment is copied to the archive (never overwriting one).
            "wal_level": "replica",
            "max_wal_senders": "10",
            "archive_mode": "on",
            "archive_command": _conf_str(f"test ! -f {archive}/%f && cp %p {archive}/%f"),
            "archive_timeout": "'5min'",  # a quiet cluster still archives its last writes
            "restore_command": _conf_str(f"cp {archive}/%f %p"),  # used only while recovering
            "hot_standby": "on",
            "include_if_exists": "'bando-recovery.conf'",
        }

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
            self._secure_running()
            return
        self.server_dir(self.archive_dir)
        self._ensure_checksums()
        port = self.configured_port()
        if port is None or not _port_free(port):
            port = _free_port()
        self._write_conf(port)
        self.logfile.touch()
        self._own(self.logfile, 0o600)
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

    def checksums_on(self) -> bool:
        """Whether data pages carry checksums (read from the control file)."""
        out = self._run("pg_controldata", "-D", str(self.datadir)).stdout
        return any(
            line.startswith("Data page checksum version:") and not line.endswith(" 0") for line in out.splitlines()
        )

    def _ensure_checksums(self) -> None:
        """A cluster made without checksums gets them, while it is stopped (rewrites every page once)."""
        if not self.checksums_on():
            sync = [] if self.durable else ["--no-sync"]
            self._run("pg_checksums", "--enable", *sync, "-D", str(self.datadir))

    def _secure_running(self) -> None:
        """A running cluster gets bando's settings too (one made by an older bando trusted local users):
        pg_hba.conf is reloaded; socket permissions need a restart."""
        port = self.configured_port()
        if port is None:
            return
        before = self._conf.read_text() if self._conf.exists() else ""
        hba_changed = self._write_owned(self.datadir / "pg_hba.conf", HBA)
        conf_changed = self._write_conf(port)
        self._own(self.logfile, 0o600)
        self.server_dir(self.archive_dir)
        after = self._conf.read_text()
        if "unix_socket_permissions = 0700" not in before or _values(before) != _values(after):
            self._run(
                "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-m", "fast", "-w", "-t", "60", "restart"
            )
        elif hba_changed or conf_changed:
            self._run("pg_ctl", "-D", str(self.datadir), "reload")

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.initialised() or self.pid() is None:
            return False
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60", "stop")
        return True

    def url(self, db_name: str, role: str = SUPERUSER) -> str:
        """A URL for one of the cluster's login roles, with its stored password."""
        password = self.passwords.get(role)
        if password is None:
            raise SetupError(f"no password is stored for the database role {role!r}; run `bando db up`")
        return f"postgresql://{role}:{password}@127.0.0.1:{self.configured_port()}/{db_name}"
