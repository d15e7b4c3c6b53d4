"""Base backups and point-in-time restore of the embedded cluster, with PostgreSQL's own tools.

A backup is ``pg_basebackup`` (plain format, the WAL it needs streamed in, a manifest with
a SHA-256 checksum of every file) into ``BANDO_HOME/backups/<label>/``, plus a small
``<label>.json`` beside it saying when it finished. The cluster archives every finished
WAL segment (:mod:`bando.cluster`), so a backup plus the archive can be replayed to any
moment after the backup ended: :func:`restore` copies the newest backup that finished
before the target into place, asks PostgreSQL to recover to that time
(``recovery.signal`` + ``recovery_target_time``) and promotes it. The data directory it
replaces is kept beside it, never deleted, and put back if the restored cluster does not
come up.

``pg_verifybackup`` checks a backup against its manifest (a changed, missing or extra
file, and the WAL it needs). Retention (``--keep N``) removes the oldest backups and the
archived WAL only they needed (``pg_archivecleanup``).

With ``DATABASE_URL`` the server is the operator's: its own tooling does this
(docs/deploy.md says what it must do).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from bando import db
from bando.cluster import REPLICATION_ROLE, Cluster
from bando.errors import BadInput, BandoError, NotFound, SetupError
from bando.passwords import Passwords
from bando.settings import Settings

RECOVERY_TIMEOUT_S = 600.0
_START_WAL = re.compile(r"^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)", re.M)


class BackupDamaged(BandoError):
    """``pg_verifybackup`` found a backup that does not match its manifest."""

    exit_code = 8


@dataclass(frozen=True)
class Backup:
    label: str
    path: Path
    started_at: datetime
    finished_at: datetime
    start_wal: str

    def info(self) -> dict[str, str]:
        out = {k: str(v) for k, v in asdict(self).items() if k != "path"}
        out["size"] = f"{_size(self.path) / 2**20:.1f} MB" if self.path.exists() else "missing"
        return out


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _external_refused(s: Settings) -> None:
    if s.database_url:
        raise BadInput(
            "DATABASE_URL is set: that server's backups are its operator's (pgBackRest, Barman or "
            "pg_basebackup with WAL archiving); see docs/deploy.md. bando backs up its embedded cluster only."
        )


def _cluster(s: Settings) -> Cluster:
    _external_refused(s)
    cluster = db.embedded(s)
    if not cluster.initialised():
        raise NotFound("there is no embedded cluster yet: run `bando db up`")
    if not cluster.archiving:
        raise SetupError("BANDO_DB_ARCHIVE is false: this cluster keeps no WAL for backups or replicas")
    return cluster


def backups(s: Settings) -> list[Backup]:
    """The backups kept, oldest first."""
    folder = s.backups_dir
    found = []
    for meta in sorted(folder.glob("*.json")) if folder.exists() else []:
        raw = json.loads(meta.read_text(encoding="utf-8"))
        found.append(
            Backup(
                raw["label"],
                folder / raw["label"],
                datetime.fromisoformat(raw["started_at"]),
                datetime.fromisoformat(raw["finished_at"]),
                raw["start_wal"],
            )
        )
    return sorted(found, key=lambda b: b.finished_at)


def replication_login(s: Settings, cluster: Cluster) -> str:
    """The password of the role that streams base backups and replicas (created here on first use)."""
    password = Passwords(s.home).ensure(REPLICATION_ROLE)
    with db.connect(db.admin_url(s, "postgres"), autocommit=True) as admin:
        name = sql.Identifier(REPLICATION_ROLE)
        if not admin.execute("select 1 from pg_roles where rolname = %s", (REPLICATION_ROLE,)).fetchone():
            admin.execute(sql.SQL("create role {} login replication").format(name))
        admin.execute(sql.SQL("alter role {} login replication nosuperuser nocreatedb nocreaterole").format(name))
        verifier = admin.pgconn.encrypt_password(password.encode(), REPLICATION_ROLE.encode(), b"scram-sha-256")
        admin.execute(sql.SQL("alter role {} password {}").format(name, sql.Literal(verifier.decode())))
    return password


def base_backup(cluster: Cluster, target: Path, password_file: Path, *extra: str) -> None:
    """``pg_basebackup`` of the running ``cluster`` into ``target`` as the replication role, WAL
    streamed alongside: the one way backups and replicas copy the primary."""
    cluster.run_as_server(
        "pg_basebackup",
        *("-D", str(target), "-h", str(cluster.sockdir), "-p", str(cluster.configured_port())),
        *("-U", REPLICATION_ROLE, "-w", "-X", "stream", "-c", "fast"),
        *extra,
        *([] if cluster.durable else ["--no-sync"]),
        env={"PGPASSFILE": str(password_file)},
    )


def passfile(cluster: Cluster, password: str) -> Path:
    """A libpq password file for the replication role, readable by the server's user only."""
    path = cluster.home / ".replication-pass"
    path.write_text(f"*:*:*:{REPLICATION_ROLE}:{password}\n")
    cluster.server_file(path)
    return path


def take(s: Settings, keep: int | None = None) -> Backup:
    """A new base backup of the running embedded cluster; then retention, when asked."""
    cluster = _cluster(s)
    if cluster.pid() is None:
        raise SetupError("the embedded database is not running: run `bando db up` first")
    folder = cluster.server_dir(s.backups_dir)
    started = datetime.now(UTC)
    label = started.strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / label
    pw = passfile(cluster, replication_login(s, cluster))
    try:
        base_backup(cluster, target, pw, "--manifest-checksums=SHA256", f"--label=bando {label}")
    except SetupError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        pw.unlink(missing_ok=True)
    label_text = (target / "backup_label").read_text()
    match = _START_WAL.search(label_text)
    if match is None:
        raise SetupError(f"pg_basebackup wrote no start WAL location into {target}/backup_label")
    backup = Backup(label, target, started, datetime.now(UTC), match.group(1))
    meta = {k: (v.isoformat() if isinstance(v, datetime) else str(v)) for k, v in asdict(backup).items()}
    (folder / f"{label}.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "path"}, indent=1))
    if keep is not None:
        prune(s, keep)
    return backup


def prune(s: Settings, keep: int) -> list[str]:
    """Keep the newest ``keep`` backups; remove older ones and the archived WAL only they needed."""
    if keep < 1:
        raise BadInput("--keep must be at least 1: a restore needs a backup")
    cluster = _cluster(s)
    kept = backups(s)
    removed = []
    for old in kept[:-keep]:
        shutil.rmtree(old.path, ignore_errors=True)
        (s.backups_dir / f"{old.label}.json").unlink(missing_ok=True)
        removed.append(old.label)
    oldest = kept[-keep:][0] if kept[-keep:] else None
    if oldest is not None and cluster.archive_dir.exists():
        cluster.run_as_server(f"{cluster.bindir}/pg_archivecleanup", str(cluster.archive_dir), oldest.start_wal)
    return removed


def verify(s: Settings, label: str | None = None) -> list[tuple[Backup, str]]:
    """Check one backup (default: every kept one) against its manifest; raise on the first damaged one."""
    cluster = _cluster(s)
    chosen = [b for b in backups(s) if label is None or b.label == label]
    if not chosen:
        raise NotFound(f"no backup {label!r}" if label else "there is no backup yet: run `bando db backup`")
    results = []
    for backup in chosen:
        proc = cluster.run_as_server("pg_verifybackup", "-q", str(backup.path), check=False)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise BackupDamaged(
                f"backup {backup.label} does not match its manifest: {'; '.join(detail[:5])}"
                " — do not restore from it; take a new backup"
            )
        results.append((backup, "ok"))
    return results


def _choose(s: Settings, to: datetime | None, label: str | None) -> Backup:
    kept = backups(s)
    if label is not None:
        kept = [b for b in kept if b.label == label]
        if not kept:
            raise NotFound(f"no backup {label!r}; `bando db backup --list` shows them")
    if to is not None:
        kept = [b for b in kept if b.finished_at < to]
        if not kept:
            raise BadInput(f"no backup finished before {to.isoformat()}: the earliest moment to restore is later")
    if not kept:
        raise NotFound("there is no backup yet: run `bando db backup`")
    return kept[-1]


def _archive_now(cluster: Cluster, s: Settings) -> None:
    """Before stopping: close the current WAL segment so the archive holds every commit so far."""
    try:
        with db.connect(db.admin_url(s), autocommit=True) as conn:
            segment = db.scalar(conn, "select pg_walfile_name(pg_switch_wal())")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                last = db.scalar(conn, "select coalesce(last_archived_wal, '') from pg_stat_archiver")
                if last and last >= segment:
                    return
                time.sleep(0.2)
    except (BandoError, psycopg.Error):
        pass  # the unarchived segments are copied from the old pg_wal below


def restore(s: Settings, to: datetime | None = None, label: str | None = None) -> tuple[Backup, Path]:
    """Replace the cluster's data with a backup replayed to ``to`` (default: the end of the archive).

    Returns the backup used and where the replaced data directory was kept."""
    cluster = _cluster(s)
    if to is not None and to.tzinfo is None:
        raise BadInput("--to needs a time zone, e.g. 2026-12-04T15:30:00+07:00 or …Z")
    if to is not None and to > datetime.now(UTC):
        raise BadInput(f"--to {to.isoformat()} is in the future; leave it out to restore everything archived")
    backup = _choose(s, to, label)
    if cluster.pid() is not None:
        _archive_now(cluster, s)
        cluster.stop()
    kept = cluster.home / f"pgdata.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    cluster.datadir.rename(kept)
    try:
        _install(cluster, backup, kept, to)
        cluster.start()
        _wait_promoted(s)
    except BaseException:
        cluster.stop()
        failed = cluster.home / f"pgdata.failed-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        if cluster.datadir.exists():
            cluster.datadir.rename(failed)
        kept.rename(cluster.datadir)
        cluster.start()
        raise
    (cluster.datadir / "bando-recovery.conf").unlink(missing_ok=True)  # read only at the next start
    return backup, kept


def _install(cluster: Cluster, backup: Backup, old: Path, to: datetime | None) -> None:
    """The backup's files as the new data directory, the old cluster's unarchived WAL, and what to recover to."""
    cluster.server_dir(cluster.datadir)
    cluster.run_as_server("/bin/cp", "-a", f"{backup.path}/.", str(cluster.datadir))
    for name in ("backup_manifest", "postmaster.pid", "postmaster.opts"):
        (cluster.datadir / name).unlink(missing_ok=True)
    wal = cluster.datadir / "pg_wal"
    for segment in sorted((old / "pg_wal").glob("0*")):
        unarchived = not (wal / segment.name).exists() and not (cluster.archive_dir / segment.name).exists()
        if segment.is_file() and len(segment.name) == 24 and unarchived:
            cluster.run_as_server("/bin/cp", "-a", str(segment), str(wal / segment.name))
    lines = ["recovery_target_action = 'promote'\n"]
    if to is not None:
        lines.append(f"recovery_target_time = '{to.isoformat()}'\n")
    else:
        lines.append("recovery_target_timeline = 'latest'\n")
    path = cluster.datadir / "bando-recovery.conf"
    path.write_text("".join(lines))
    cluster.server_file(path)
    signal = cluster.datadir / "recovery.signal"
    signal.write_text("")
    cluster.server_file(signal)


def _wait_promoted(s: Settings) -> None:
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with db.connect(db.admin_url(s), autocommit=True) as conn:
                if not db.scalar(conn, "select pg_is_in_recovery()"):
                    return
        except BandoError:
            pass
        time.sleep(0.3)
    raise SetupError(f"the restored cluster did not finish recovering within {RECOVERY_TIMEOUT_S:.0f} s")
