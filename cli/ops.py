"""``bando db backup | restore | verify-backup | replica …``: operating the embedded cluster.

Thin, like every command: parse, call :mod:`bando.backup` or :mod:`bando.replica`, print.
:func:`register` adds them to the ``bando db`` group of :mod:`bando.cli.main`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bando import backup, replica
from bando.errors import BadInput
from bando.settings import get_settings

out = Console()


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"--to must be an ISO time with a zone, like 2026-12-04T15:30:00+07:00, not {value!r}") from None


def db_backup(
    keep: Annotated[
        int | None, typer.Option(help="then keep only the newest N backups (and the WAL they need)")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the backups kept; take none")] = False,
) -> None:
    """Take a base backup of the embedded cluster (pg_basebackup, manifest with SHA-256 checksums)."""
    s = get_settings()
    if not list_:
        made = backup.take(s, keep)
        out.print(f"[green]backup {made.label}[/] in {made.path}", highlight=False)
    table = Table(title=f"backups in {s.backups_dir}")
    for col in ("label", "started_at", "finished_at", "start_wal", "size"):
        table.add_column(col)
    for b in backup.backups(s):
        info = b.info()
        table.add_row(*(info[c] for c in ("label", "started_at", "finished_at", "start_wal", "size")))
    out.print(table)


def db_restore(
    to: Annotated[str | None, typer.Option(help="restore the state at this time (ISO, with a zone)")] = None,
    backup_label: Annotated[
        str | None, typer.Option("--backup", help="restore from this backup (default: newest fit)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask; the database stops meanwhile")] = False,
) -> None:
    """Replace the embedded cluster's data with a backup replayed to --to (default: everything archived)."""
    target = _when(to)
    if not yes:
        typer.confirm(
            "The database stops and its data is replaced (the current data is kept aside). Go on?", abort=True
        )
    used, kept = backup.restore(get_settings(), target, backup_label)
    until = target.isoformat() if target else "the end of the archive"
    out.print(
        f"[green]restored[/] backup {used.label} replayed to {until}; the replaced data is in {kept}", highlight=False
    )


def db_verify_backup(
    label: Annotated[str | None, typer.Argument(help="one backup (default: every backup kept)")] = None,
) -> None:
    """Check backups against their manifests (pg_verifybackup); exit 8 when one is damaged."""
    for b, verdict in backup.verify(get_settings(), label):
        out.print(f"[green]{verdict}[/] {b.label} ({b.path})", highlight=False)


replica_app = typer.Typer(help="Hot standbys of the embedded cluster on this machine.", no_args_is_help=True)


@replica_app.command("create")
def replica_create(folder: Annotated[Path, typer.Argument(help="an empty or new folder for the replica")]) -> None:
    """Make a streaming hot standby of the embedded cluster in FOLDER and start it."""
    made = replica.create(get_settings(), folder)
    out.print(f"[green]replica running[/] in {made.folder} on port {made.port}", highlight=False)


@replica_app.command("start")
def replica_start(folder: Annotated[Path, typer.Argument(help="the replica's folder")]) -> None:
    """Start a replica made by `bando db replica create`."""
    made = replica.start(get_settings(), folder)
    out.print(f"[green]replica running[/] on port {made.port}", highlight=False)


@replica_app.command("stop")
def replica_stop(folder: Annotated[Path, typer.Argument(help="the replica's folder")]) -> None:
    """Stop a replica."""
    replica.stop(get_settings(), folder)
    out.print("replica stopped")


@replica_app.command("list")
def replica_list() -> None:
    """The replicas of the embedded cluster, their state and lag."""
    table = Table()
    for col in ("folder", "port", "running", "lag (s)"):
        table.add_column(col)
    for r in replica.known(get_settings()):
        lag = replica.lag_s(get_settings(), r)
        table.add_row(str(r.folder), str(r.port), "yes" if r.running() else "no", "—" if lag is None else f"{lag:.1f}")
    out.print(table)


def register(db_app: typer.Typer) -> None:
    db_app.command("backup")(db_backup)
    db_app.command("restore")(db_restore)
    db_app.command("verify-backup")(db_verify_backup)
    db_app.add_typer(replica_app, name="replica")
