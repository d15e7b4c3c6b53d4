"""The ``bando`` command line: the data steward's tool.

Subcommands stay thin: they parse arguments, call the library and print. Errors are
mapped to exit codes once, in :func:`main` — a steward sees one clear sentence, and
an unexpected failure's traceback goes to the log file, never the terminal.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bando import db
from bando.errors import BandoError
from bando.settings import get_settings

app = typer.Typer(
    name="bando",
    help="bando — spatial data platform for a province's land, planning and infrastructure layers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database: embedded cluster or DATABASE_URL.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)


@db_app.command("up")
def db_up() -> None:
    """Start the embedded cluster (or check DATABASE_URL), create PostGIS, run migrations."""
    status = db.up()
    where = "external server" if status.mode == "external" else f"port {status.details['port']}"
    out.print(f"[green]database up[/] ({status.mode}, {where}, PostGIS {status.details['postgis']})")


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded cluster (an external DATABASE_URL server is never touched)."""
    if db.is_external():
        out.print("DATABASE_URL is set: bando does not manage that server; nothing stopped")
    elif db.down():
        out.print("[green]database stopped[/]")
    else:
        out.print("database was not running")


@db_app.command("status")
def db_status() -> None:
    """Show where the database is and whether it answers; exit 5 when it is down."""
    status = db.status()
    table = Table(show_header=False, box=None)
    table.add_row("mode", status.mode)
    table.add_row("running", "[green]yes[/]" if status.running else "[red]no[/]")
    for key, value in status.details.items():
        table.add_row(key, str(value))
    out.print(table)
    if not status.running:
        raise typer.Exit(5)


@db_app.command("url")
def db_url() -> None:
    """Print the connection URL (for psql, QGIS, notebooks)."""
    print(db.database_url())


@app.command("layers")
def layers_cmd() -> None:
    """List the layers of the catalogue (layers/*.yml)."""
    from layers import catalogue

    cat = catalogue.load(get_settings().layers_dir)
    table = Table(title=f"{len(cat)} layers — catalogue version {cat.version}")
    for col in ("id", "theme", "kind", "geometry", "storage CRS", "fields", "title"):
        table.add_column(col)
    for layer in cat:
        table.add_row(
            layer.id, layer.theme, layer.kind, layer.geometry or "—", layer.storage_crs,
            str(len(layer.fields)), layer.title.vi,
        )  # fmt: skip
    out.print(table)


def _log_unexpected(exc: BaseException) -> str:
    home = get_settings().home
    home.mkdir(parents=True, exist_ok=True)
    path = home / "bando-errors.log"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"--- {datetime.now().isoformat()} {' '.join(sys.argv)}\n")
        fh.write("".join(traceback.format_exception(exc)))
    return str(path)


def main() -> None:
    """Entry point: click handles usage errors; bando's own errors become one line."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except BandoError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        where = _log_unexpected(exc)
        err.print(f"[red]internal error:[/] {type(exc).__name__}; details written to {where}")
        sys.exit(70)


if __name__ == "__main__":
    main()
