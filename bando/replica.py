"""Hot standbys of the embedded cluster on this machine: PostgreSQL streaming replication.

``bando db replica create DIR`` takes a base backup of the running cluster into
``DIR/pgdata`` (as the replication role, :data:`bando.cluster.REPLICATION_ROLE`), marks it
a standby that streams from the primary's socket and, when it has fallen behind further
than the primary kept, fetches the missing WAL from the archive. It then runs as its own
:class:`~bando.cluster.Cluster` — own port, own socket in ``DIR/run``, same SCRAM logins
(a physical copy holds the same roles) — and is recorded in ``BANDO_HOME/replicas.json``
so the API finds it. Nothing here replicates by itself: PostgreSQL does.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import make_conninfo

from bando import db
from bando.backup import base_backup, passfile, replication_login
from bando.cluster import REPLICATION_ROLE, Cluster
from bando.errors import BadInput, BandoError, NotFound, SetupError
from bando.settings import Settings

LAG_SQL = (
    "select case when pg_last_wal_receive_lsn() is not distinct from pg_last_wal_replay_lsn() then 0"
    " else coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()), 0) end::float8"
)


@dataclass(frozen=True)
class Replica:
    folder: Path
    cluster: Cluster

    @property
    def port(self) -> int | None:
        return self.cluster.configured_port()

    def running(self) -> bool:
        return self.cluster.initialised() and self.cluster.pid() is not None


def _registry(s: Settings) -> Path:
    return s.home / "replicas.json"


def _folders(s: Settings) -> list[Path]:
    try:
        return [Path(p) for p in json.loads(_registry(s).read_text(encoding="utf-8"))]
    except FileNotFoundError:
        return []


def _record(s: Settings, folders: list[Path]) -> None:
    _registry(s).write_text(json.dumps([str(p) for p in folders], indent=1))
    _registry(s).chmod(0o600)


def _replica(s: Settings, folder: Path) -> Replica:
    primary = db.embedded(s)
    return Replica(
        folder, Cluster(home=folder, bindir=primary.bindir, durable=s.db_durable, archive=primary.archive_dir)
    )


def known(s: Settings) -> list[Replica]:
    return [_replica(s, f) for f in _folders(s)]


def _lookup(s: Settings, folder: Path) -> Replica:
    folder = folder.resolve()
    if folder not in _folders(s):
        raise NotFound(f"{folder} is not a replica of this cluster; `bando db replica list` shows them")
    return _replica(s, folder)


def create(s: Settings, folder: Path) -> Replica:
    """A base backup of the running primary in ``folder``, configured as its streaming standby, started."""
    if s.database_url:
        raise BadInput("DATABASE_URL is set: replicas of that server are its operator's (docs/deploy.md)")
    primary = db.embedded(s)
    if not primary.archiving:
        raise SetupError("BANDO_DB_ARCHIVE is false: this cluster keeps no WAL for replicas")
    if primary.pid() is None:
        raise SetupError("the embedded database is not running: run `bando db up` first")
    folder = folder.resolve()
    if folder.exists() and any(folder.iterdir()):
        raise BadInput(f"{folder} is not empty: a replica needs a folder of its own")
    made = _replica(s, folder)
    made.cluster.init_folder()
    made.cluster.server_dir(made.cluster.datadir)
    pw = passfile(primary, replication_login(s, primary))
    try:
        base_backup(primary, made.cluster.datadir, pw)
        own_pass = made.folder / "replication-pass"
        shutil.copyfile(pw, own_pass)
        made.cluster.server_file(own_pass)
    except BandoError:
        shutil.rmtree(made.cluster.datadir, ignore_errors=True)
        raise
    finally:
        pw.unlink(missing_ok=True)
    for name in ("backup_manifest", "bando-recovery.conf"):
        (made.cluster.datadir / name).unlink(missing_ok=True)
    conninfo = make_conninfo(
        host=str(primary.sockdir),
        port=str(primary.configured_port()),
        user=REPLICATION_ROLE,
        passfile=str(own_pass),
        application_name=f"bando-replica-{folder.name}",
    )
    standby = made.cluster.datadir / "bando-recovery.conf"
    standby.write_text(f"primary_conninfo = '{conninfo}'\n")
    made.cluster.server_file(standby)
    signal = made.cluster.datadir / "standby.signal"
    signal.write_text("")
    made.cluster.server_file(signal)
    _record(s, [*[f for f in _folders(s) if f != folder], folder])
    made.cluster.start()
    return made


def start(s: Settings, folder: Path) -> Replica:
    made = _lookup(s, folder)
    made.cluster.start()
    return made


def stop(s: Settings, folder: Path) -> bool:
    return _lookup(s, folder).cluster.stop()


def read_urls(s: Settings) -> list[str]:
    """The public API's logins on the replicas: ``BANDO_READ_URLS``, else the embedded cluster's replicas."""
    explicit = [u.strip() for u in s.read_urls.split(",") if u.strip()]
    if not s.read_replicas:
        return []
    if explicit or s.database_url:
        return explicit
    primary = db.view_url("public", s)
    return [make_conninfo(primary, port=str(r.port)) for r in known(s) if r.port is not None]


def lag_s(s: Settings, r: Replica) -> float | None:
    """How far the replica is behind, in seconds; None when it does not answer."""
    if r.port is None or not r.running():
        return None
    try:
        with db.connect(make_conninfo(db.view_url("public", s), port=str(r.port)), autocommit=True) as conn:
            return float(db.scalar(conn, LAG_SQL))
    except BandoError:
        return None
