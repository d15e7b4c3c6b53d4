"""The ``bando`` command line: the data steward's tool.

Subcommands stay thin: they parse arguments, call the library and print. Errors are
mapped to exit codes once, in :func:`main` — a steward sees one clear sentence, and
an unexpected failure's traceback goes to the log file, never the terminal.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import traceback
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bando import db
from bando.cli import ops
from bando.errors import BadInput, BandoError, NotFound
from bando.pipelines.publish import Version
from bando.pipelines.report import LoadResult
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
ops.register(db_app)

out = Console()
err = Console(stderr=True)


@db_app.command("up")
def db_up() -> None:
    """Start the embedded cluster (or check DATABASE_URL), create roles and PostGIS, run migrations, grant."""
    from bando.layers import catalogue
    from bando.pipelines.access import grant_all

    layers = catalogue.load(get_settings().layers_dir)
    status = db.up(edit_tables=[layer.table for layer in layers if layer.kind != "raster"])
    with db.connect(autocommit=True) as conn:  # a catalogue change reaches the grants without a reload
        grant_all(conn, layers)
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
def db_url(
    role: Annotated[
        str, typer.Option(help="owner (loads, psql), public or internal (the API views), admin (a superuser)")
    ] = "owner",
) -> None:
    """Print the connection URL (for psql, QGIS, notebooks); it holds a password: keep it to yourself."""
    if role == "owner":
        print(db.database_url())
    elif role == "admin":
        print(db.admin_url())
    elif role in ("public", "internal"):
        print(db.view_url(role))
    else:
        raise BadInput(f"--role must be owner, public, internal or admin, not {role[:20]!r}")


@app.command("layers")
def layers_cmd() -> None:
    """List the layers of the catalogue (layers/*.yml)."""
    from bando.layers import catalogue

    cat = catalogue.load(get_settings().layers_dir)
    table = Table(title=f"{len(cat)} layers — catalogue version {cat.version}")
    for col in ("id", "theme", "kind", "geometry", "storage CRS", "fields", "title"):
        table.add_column(col)
    for layer in cat:
        table.add_row(
            layer.id,
            layer.theme,
            layer.kind,
            layer.geometry or "—",
            layer.storage_crs,
            str(len(layer.fields)),
            layer.title.vi,
        )
    out.print(table)


def _version(
    version_id: str | None,
    decision: str | None,
    decision_date: str | None,
    authority: str | None,
    valid_from: str | None,
    draft: bool = False,
) -> Version | None:
    if version_id is None:
        if any((decision, decision_date, authority, valid_from, draft)):
            raise BadInput("--decision, --decision-date, --authority, --valid-from and --draft need --version-id")
        return None
    start = valid_from if draft else valid_from or decision_date  # a draft's start is set when approved
    return Version(
        version_id, decision, _date(decision_date, "--decision-date"), authority, _date(start, "--valid-from"), draft
    )


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadInput(f"{option} must be a date like 2024-03-15, not {value!r}") from None


def print_result(result: LoadResult) -> None:
    from bando.cli.report import print_result as render

    render(out, result)


@app.command("load")
def load_cmd(
    layer: Annotated[str, typer.Argument(help="catalogue layer id (see `bando layers`)")],
    source: Annotated[
        Path,
        typer.Argument(
            help="what to load: .shp .gpkg .geojson .gdb .tab .mif .csv .tif, .dgn .dxf with --profile,"
            " or a folder or .zip of files"
        ),
    ],
    crs: Annotated[
        str | None, typer.Option(help="declared CRS, e.g. the province's VN-2000 TM-3 EPSG code (else the file's)")
    ] = None,
    encoding: Annotated[str, typer.Option(help="auto|utf-8|tcvn3|vni|cp1258")] = "auto",
    source_layer: Annotated[str | None, typer.Option(help="layer inside a GeoPackage/.gdb")] = None,
    profile: Annotated[str | None, typer.Option(help="the layer's CAD profile for a DGN/DXF drawing")] = None,
    x_column: Annotated[str | None, typer.Option(help="CSV column holding X (easting / longitude)")] = None,
    y_column: Annotated[str | None, typer.Option(help="CSV column holding Y (northing / latitude)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate and report; publish nothing")] = False,
    force: Annotated[bool, typer.Option("--force", help="reload even if this exact file is published")] = False,
    version_id: Annotated[str | None, typer.Option(help="version of a versioned layer (plans)")] = None,
    decision: Annotated[str | None, typer.Option(help="approval decision number")] = None,
    decision_date: Annotated[str | None, typer.Option(help="approval date, YYYY-MM-DD")] = None,
    authority: Annotated[str | None, typer.Option(help="approving authority")] = None,
    valid_from: Annotated[str | None, typer.Option(help="date the version applies from")] = None,
    draft: Annotated[
        bool, typer.Option("--draft", help="publish the version as a draft for comment, not in force (bando approve)")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Dask workers staging the delivery in parallel (default BANDO_LOAD_WORKERS)")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="a Dask scheduler's address, e.g. tcp://10.0.0.5:8786 (BANDO_DASK_SCHEDULER)")
    ] = None,
    document: Annotated[
        list[Path] | None,
        typer.Option(help="a document of the plan version (decision PDF, report, drawing); repeatable"),
    ] = None,
    downloads: Annotated[
        bool,
        typer.Option(
            "--downloads/--no-downloads", help="write the open-data files once published (else `bando downloads`)"
        ),
    ] = True,
) -> None:
    """Load one delivery (a file, or a folder or zip of files) into a layer: validate, publish atomically."""
    from bando.pipelines import documents
    from bando.pipelines.load import LoadOptions, run_load

    if document and version_id is None:
        raise BadInput("--document needs --version-id: documents belong to a plan version")
    for path in document or []:
        documents.read(path)  # refuse a bad document before loading anything

    opts = LoadOptions(
        crs=crs,
        encoding=encoding,
        source_layer=source_layer,
        profile=profile,
        x_column=x_column,
        y_column=y_column,
        dry_run=dry_run,
        force=force,
        version=_version(version_id, decision, decision_date, authority, valid_from, draft),
        workers=workers,
        scheduler=scheduler,
        downloads=downloads,
    )
    from bando.cli.report import LoadProgress

    with LoadProgress(err, layer).running() as shown:
        result = run_load(layer, source, opts, progress=shown.on_rows, phases=shown.on_phase)
    print_result(result)
    if result.outcome in ("refused", "failed"):
        raise typer.Exit(4)
    if document and version_id and not dry_run:
        for d in documents.attach(layer, version_id, document):
            out.print(f"document {d.name}: {d.size_bytes:,} bytes, sha256 {d.sha256}")


@app.command("downloads")
def downloads_cmd(
    layers: Annotated[
        list[str] | None, typer.Argument(help="layer ids (default: every published vector layer)")
    ] = None,
) -> None:
    """Write the open-data files (GeoPackage, GeoJSON, CSV, Shapefile, GeoParquet, FlatGeobuf) of published layers."""
    import json
    import time

    from bando import downloads
    from bando.layers.catalogue import load as load_catalogue
    from bando.pipelines import opendata
    from bando.province import configured

    settings = get_settings()
    catalogue = load_catalogue(settings.layers_dir)
    chosen = [catalogue.get(layer_id) for layer_id in layers] if layers else list(catalogue)
    with db.connect(db.database_url(settings)) as conn:
        published = {r[0] for r in conn.execute("select layer from bando.layer_state").fetchall()}
    for layer in chosen:
        if layer.kind != "vector" or layer.geometry is None:
            if layers:
                raise BadInput(f"layer {layer.id!r} has no open-data files: only vector layers do")
            continue
        if layer.id not in published:
            if layers:
                raise NotFound(f"layer {layer.id!r} is not published: load it first")
            continue
        started = time.perf_counter()
        folder = opendata.export(layer, db.database_url(settings), settings, configured(settings))
        took = time.perf_counter() - started
        files = json.loads((folder / downloads.MANIFEST).read_text(encoding="utf-8"))["files"]
        out.print(f"{layer.id}: {len(files)} files in {took:.1f} s → {folder}")


@app.command("consultation")
def consultation_cmd(
    layer: Annotated[str, typer.Argument(help="versioned layer id, e.g. land_use_plan")],
    version_id: Annotated[str, typer.Argument(help="the draft version put to public comment")],
    opens: Annotated[str, typer.Option(help="start of the comment period, ISO date or date-time")],
    closes: Annotated[str, typer.Option(help="end of the comment period, ISO date or date-time")],
) -> None:
    """Open a plan version to public comment between two dates (lấy ý kiến cộng đồng)."""
    from datetime import datetime

    from bando.pipelines.consultation import open_period

    def when(text: str, name: str) -> datetime:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise BadInput(f"{name} must be an ISO date or date-time, e.g. 2026-01-31, not {text[:30]!r}") from None
        return value if value.tzinfo else value.astimezone()

    open_period(layer, version_id, when(opens, "--opens"), when(closes, "--closes"))
    out.print(f"{layer} {version_id}: comments open from {opens} to {closes}")


@app.command("approve")
def approve_cmd(
    layer: Annotated[str, typer.Argument(help="versioned layer id, e.g. land_use_plan")],
    version_id: Annotated[str, typer.Argument(help="the draft version, loaded with --draft")],
    valid_from: Annotated[str, typer.Option(help="date the version is in force from, YYYY-MM-DD")],
    decision: Annotated[str | None, typer.Option(help="approval decision number")] = None,
    decision_date: Annotated[str | None, typer.Option(help="approval date, YYYY-MM-DD")] = None,
    authority: Annotated[str | None, typer.Option(help="approving authority")] = None,
) -> None:
    """Approve a draft plan version: it is in force from --valid-from, the previous one ends then."""
    from bando.pipelines.consultation import approve

    start = _date(valid_from, "--valid-from")
    assert start is not None
    approve(layer, version_id, start, decision, _date(decision_date, "--decision-date"), authority)
    out.print(f"{layer} {version_id}: in force from {start}")


@app.command("load-all")
def load_all_cmd(
    manifest: Annotated[Path, typer.Argument(help="delivery manifest (YAML), e.g. data_samples/manifest.yml")],
    force: Annotated[bool, typer.Option("--force", help="reload files already published")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate everything; publish nothing")] = False,
) -> None:
    """Load every delivery a manifest lists, in order; exit 4 if any was refused."""
    from bando.pipelines.manifest import run_manifest

    results = run_manifest(manifest, force=force, dry_run=dry_run, on_result=print_result)
    table = Table(title=f"{manifest}: {len(results)} deliveries")
    for col in ("layer", "outcome", "read", "loaded", "rejected", "s"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.layer, r.outcome, str(r.rows_read), str(r.rows_loaded), str(r.rows_rejected), f"{r.duration_s:.1f}"
        )
    out.print(table)
    if any(r.outcome in ("refused", "failed") for r in results):
        raise typer.Exit(4)


@app.command("lineage")
def lineage_cmd(
    layer: Annotated[str, typer.Argument(help="catalogue layer id")],
    limit: Annotated[int, typer.Option(help="how many loads to show")] = 20,
    load: Annotated[int | None, typer.Option(help="one load, with every file of its delivery")] = None,
) -> None:
    """Show the loads of a layer, newest first."""
    from bando.cli.report import print_lineage
    from bando.pipelines.history import lineage_rows

    print_lineage(out, layer, lineage_rows(layer, limit, load), files=load is not None)


@app.command("history")
def history_cmd(
    layer: Annotated[str, typer.Argument(help="catalogue layer id")],
    fid: Annotated[int, typer.Argument(help="feature id")],
) -> None:
    """Show a feature's life: every edit and re-delivery, who made it (token name) and what changed."""
    from bando.pipelines.history import changes, feature_life

    for when, who, operation, before, after in feature_life(layer, fid):
        done = changes(before, after) if operation != "delete" else ["deleted"]
        out.print(f"{when}  {who}  {operation}  " + "; ".join(done), highlight=False, markup=False, soft_wrap=True)


readings_app = typer.Typer(help="sensor readings", no_args_is_help=True)
app.add_typer(readings_app, name="readings")


@readings_app.command("prune")
def readings_prune(
    months: Annotated[
        int | None,
        typer.Option(min=0, help="retention in months; default BANDO_READINGS_RETENTION_MONTHS, 0: keep all"),
    ] = None,
) -> None:
    """Delete readings older than the retention, with their audit and history rows (run daily)."""
    from bando.layers import catalogue
    from bando.pipelines.retention import prune, reading_layers

    keep = get_settings().readings_retention_months if months is None else months
    with db.connect(autocommit=True) as conn:
        for layer in reading_layers(list(catalogue.load(get_settings().layers_dir))):
            deleted = prune(conn, layer, keep)
            out.print(f"{layer.id}: {deleted} readings older than {keep} months deleted", highlight=False)


token_app = typer.Typer(help="named tokens of the internal API", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("new")
def token_new(
    name: Annotated[str, typer.Argument(help="who holds it, as the audit will name it (e.g. sensor-gateway)")],
    read: Annotated[list[str], typer.Option(help="a layer it may read ('*': all); repeat")] = [],  # noqa: B006
    write: Annotated[list[str], typer.Option(help="a layer it may write ('*': all); repeat")] = [],  # noqa: B006
) -> None:
    """Make a named token, store its hash in BANDO_INTERNAL_TOKENS_FILE and print it once."""
    from bando.api_config.auth import new_token

    path = get_settings().internal_tokens_file
    if path is None:
        raise BadInput("set BANDO_INTERNAL_TOKENS_FILE to the token file (outside the repository)")
    out.print(new_token(path, name, read, write), highlight=False, markup=False)


@app.command("rejects")
def rejects_cmd(
    layer: Annotated[str, typer.Argument(help="catalogue layer id")],
    lineage: Annotated[int | None, typer.Option(help="a given load (default: the latest with findings)")] = None,
    rule: Annotated[str | None, typer.Option(help="only this rule code")] = None,
    limit: Annotated[int, typer.Option(help="rows to show")] = 50,
) -> None:
    """Show rejected rows and warnings of a load, with rule codes and reasons."""
    from bando.pipelines.history import reject_rows

    lineage_id, rows = reject_rows(layer, lineage, rule, limit)
    many = len({r[1] for r in rows}) > 1
    table = Table(title=f"findings of {layer} load #{lineage_id}", box=None, padding=(0, 1))
    if many:
        table.add_column("file", overflow="fold")
    for col in ("row", "rule", "severity"):
        table.add_column(col, no_wrap=True)
    table.add_column("reason", overflow="fold", ratio=1)
    for index, source_file, file_index, rule_code, severity, reason in rows:
        row = "" if index is None else str(file_index if many and file_index is not None else index)
        table.add_row(*([source_file or ""] if many else []), row, rule_code, severity, reason or "")
    out.print(table)


@app.command("api-config")
def api_config_cmd(
    base_url: Annotated[str, typer.Option(help="public URL of the server")] = "http://127.0.0.1:8000",
    out_dir: Annotated[Path, typer.Option(help="where to write the files")] = Path("api_config/generated"),
) -> None:
    """Write the pygeoapi configurations and OpenAPI documents derived from the catalogue."""
    from bando.api_config.app import build_configs
    from bando.api_config.config import write
    from bando.api_config.pygeoapi_seam import make_api

    for view, cfg in build_configs(get_settings(), base_url).items():
        _, openapi = make_api(cfg)
        paths = write(cfg, openapi, out_dir, view)  # type: ignore[arg-type]
        out.print(f"{view}: {paths[0]}  {paths[1]}")


@app.command("qgis-project")
def qgis_project_cmd(
    out_path: Annotated[Path, typer.Argument(help="the .qgz file to write")],
    base_url: Annotated[str | None, typer.Option(help="public URL of the server (default BANDO_BASE_URL)")] = None,
) -> None:
    """Write a QGIS project for planners: every public layer by theme, styled, over this server's API."""
    from bando.api_config.qgis_project import write_project

    if out_path.suffix.lower() != ".qgz":
        raise BadInput(f"{out_path} must end in .qgz")
    url = base_url or get_settings().base_url or "http://127.0.0.1:8000"
    report = write_project(out_path, url)
    bad = [x["name"] for x in report["layers"] if not x["valid"]]
    out.print(f"{out_path}: {len(report['layers'])} layers" + (f"; not reachable: {', '.join(bad)}" if bad else ""))


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    base_url: Annotated[str | None, typer.Option(help="public URL (default http://HOST:PORT)")] = None,
) -> None:
    """Serve the OGC API (/ogc, /internal/ogc) and the web pages (/, /ioc) with uvicorn."""
    import uvicorn

    settings = get_settings()
    url = base_url or settings.base_url or f"http://{host}:{port}"
    os.environ["BANDO_BASE_URL"] = url  # workers build the app from the same settings
    db.database_url()  # fail early and clearly if there is no database
    if workers > 1:  # the workers' counters meet in one folder, so /metrics answers for all of them
        folder = settings.home / "metrics"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
        os.environ["BANDO_METRICS_DIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    from bando.cli import wms

    map_server = wms.start(settings, url)
    if map_server is not None:
        os.environ["BANDO_WMS_UPSTREAM"] = map_server.url  # the workers forward /wms to it
    out.print(
        f"serving on {url}  (OGC API {url}/ogc, site {url}/, IOC {url}/ioc"
        + (f", WMS {url}/wms)" if map_server else ")")
    )
    try:
        _run_uvicorn(uvicorn, settings, host, port, workers)
    finally:
        if map_server is not None:
            map_server.stop()


def _run_uvicorn(uvicorn: Any, settings: Any, host: str, port: int, workers: int) -> None:
    uvicorn.run(
        "bando.cli.server:app_from_settings",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        # X-Forwarded-For names the client only when it comes from a proxy the deployment trusts
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies.strip() or None,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


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
    os.umask(0o077)  # whatever bando writes (reports, rasters, logs, passwords) is its user's alone
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
