"""ETL benchmark: bando load vs ogr2ogr (and GeoDataFrame.to_postgis) on the same GeoPackages.

Run with `make bench-etl`. Generates the parcels on demand (benchmarks/out/, not
committed): the generator's realistic parcels (shared edges carry float noise, as
surveys do) and a topologically clean grid (neighbours share their vertices exactly).
It starts a private embedded cluster, loads each file with each tool into the same
database and prints wall time, rows/s and peak RSS side by side, bando's ratio to
ogr2ogr in the same run, bando's phases, one vs two Dask workers, and a smaller
bando run to show that memory does not grow with the input. bando's runs include
everything a steward waits for until the layer is live: validation, set checks,
indexes, ANALYZE and the publish. The open-data files that follow the publish are
timed on their own row (``bando downloads``), and so is a second delivery of the same
parcels onto the published layer (what the features' history costs when nothing changed).

The cluster runs as bando ships it — WAL for replicas and PITR, archived (``BANDO_DB_ARCHIVE``).
What that costs is measured by loading the big file once more with the cluster restarted
on minimal WAL and no archive (``--skip-wal-cost`` leaves it out).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.common import BIN, OUT, ROOT, Run, cluster_env, parcels_file, table, timed

TO_POSTGIS = """
import sys, geopandas as gpd, sqlalchemy
df = gpd.read_file(sys.argv[1])
engine = sqlalchemy.create_engine(sys.argv[2].replace("postgresql://", "postgresql+psycopg://"))
df.to_postgis("bench_to_postgis", engine, schema="public", if_exists="replace", index=False, chunksize=50000)
with engine.begin() as c:
    c.exec_driver_sql("create index on public.bench_to_postgis using gist (geom)")
"""
OGR = "ogr2ogr (COPY, GiST index)"


def ogr2ogr(url: str, path: Path, rows: int, env: dict[str, str], label: str = OGR) -> Run:
    cmd = ["ogr2ogr", "-f", "PostgreSQL", f"PG:{url}", str(path), "-nln", "public.bench_ogr", "-overwrite"]
    cmd += ["-lco", "SPATIAL_INDEX=GIST", "-lco", "GEOMETRY_NAME=geom", "--config", "PG_USE_COPY", "YES"]
    return timed(label, [*cmd, "-nlt", "PROMOTE_TO_MULTI"], rows, env)


def reset_command(url: str) -> list[str]:
    """Empty the parcels layer, so each run starts like the peers (the layer is partitioned by
    commune: a second delivery would otherwise be checked against the first one's rows)."""
    return [
        "psql",
        url,
        "-qc",
        "drop table if exists data.parcels; delete from bando.layer_state where layer = 'parcels';"
        " delete from bando.feature_history where layer = 'parcels'; delete from bando.audit where layer = 'parcels'",
    ]


def bando(
    url: str, path: Path, rows: int, env: dict[str, str], label: str, workers: int = 1, reset: bool = True
) -> tuple[Run, dict]:
    """One bando load, from an empty layer (like the peers) unless ``reset`` is off; returns the run and its phases."""
    if reset:
        subprocess.run(reset_command(url), check=True)
    cmd = [str(BIN / "bando"), "load", "parcels", str(path), "--force", "--workers", str(workers), "--no-downloads"]
    run = timed(label, cmd, rows, env)
    reports = sorted((Path(env["BANDO_HOME"]) / "reports").glob("parcels-*.json"), key=lambda p: p.stat().st_mtime)
    phases = json.loads(reports[-1].read_text(encoding="utf-8")).get("phases", {}) if reports else {}
    return run, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=250_000, help="second bando run, to show flat memory")
    parser.add_argument("--to-postgis", action="store_true", help="also time GeoDataFrame.to_postgis (slow)")
    parser.add_argument("--no-grid", action="store_true", help="skip the clean grid")
    parser.add_argument("--no-workers", action="store_true", help="skip the two-worker Dask run")
    parser.add_argument("--skip-wal-cost", action="store_true", help="no second load on minimal WAL")
    parser.add_argument(
        "--any-extent",
        action="store_true",
        help="parcels' extent rule off: the generator's ten million spread past the province's borders",
    )
    parser.add_argument(
        "--loads-only", action="store_true", help="no downloads row and no second delivery (e.g. at ten million)"
    )
    args = parser.parse_args()

    env = cluster_env()
    _forget_archived_wal(env)  # the benchmark's own cluster: earlier runs' WAL would fill the disk
    if args.any_extent:
        env["BANDO_LAYERS_DIR"] = str(_any_extent_catalogue())
    subprocess.run([str(BIN / "bando"), "db", "up"], env=env, check=True)
    url = subprocess.run(
        [str(BIN / "bando"), "db", "url"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    big, small = parcels_file(args.rows), parcels_file(args.small)
    grid = None if args.no_grid else parcels_file(args.rows, clean_grid=True)
    runs: list[Run] = [ogr2ogr(url, big, args.rows, env)]
    one, phases = bando(url, big, args.rows, env, f"bando load ({args.rows:,})")
    runs.append(one)
    all_phases = {one.name: phases}
    if not args.loads_only:
        downloads = [str(BIN / "bando"), "downloads", "parcels"]
        runs.append(timed(f"bando downloads (6 formats, {args.rows:,})", downloads, args.rows, env))
        again, all_phases["same delivery again"] = bando(
            url, big, args.rows, env, f"bando, same delivery again ({args.rows:,})", reset=False
        )
        runs.append(again)
    two = None
    if not args.no_workers:
        two, all_phases["2 workers"] = bando(url, big, args.rows, env, f"bando, 2 Dask workers ({args.rows:,})", 2)
        runs.append(two)
    low, _ = bando(url, small, args.small, env, f"bando load ({args.small:,})")
    runs.append(low)
    if grid is not None:
        grid_ogr = ogr2ogr(url, grid, args.rows, env, "ogr2ogr, clean grid")
        grid_bando, all_phases["clean grid"] = bando(url, grid, args.rows, env, f"bando, clean grid ({args.rows:,})")
        runs += [grid_ogr, grid_bando]
    if args.to_postgis:
        runs.append(timed("GeoDataFrame.to_postgis", [sys.executable, "-c", TO_POSTGIS, str(big), url], args.rows, env))
    minimal = None
    if not args.skip_wal_cost:
        minimal = _minimal_wal_run(big, args.rows, env, reset_command(url))
        runs.append(minimal)
    print()
    print(table(runs, OGR))
    print()
    print(
        f"bando / ogr2ogr wall time, generator's parcels: {one.wall_s / runs[0].wall_s:.2f} (required ≤ 1.0, goal ≤ 0.5)"
    )
    to_postgis = next((r for r in runs if r.name == "GeoDataFrame.to_postgis"), None)
    if to_postgis is not None and to_postgis.ok:
        print(f"bando / to_postgis wall time: {one.wall_s / to_postgis.wall_s:.2f}")
    if minimal is not None and minimal.ok:
        print(
            f"WAL for replicas and PITR, archived (the default) vs minimal WAL: {one.wall_s:.1f} s vs "
            f"{minimal.wall_s:.1f} s ({one.wall_s / minimal.wall_s - 1:+.0%}); WAL archived over the whole run: {_archived_mb(env):.0f} MB"
        )
    if grid is not None:
        print(f"bando / ogr2ogr wall time, clean grid: {grid_bando.wall_s / grid_ogr.wall_s:.2f}")
    if two is not None:
        print(f"Dask speed-up, 1 → 2 workers: {one.wall_s / two.wall_s:.2f}× ({one.wall_s:.1f} s → {two.wall_s:.1f} s)")
    print(
        f"bando peak RSS at {args.rows:,}: {one.peak_rss_mb:.0f} MB (target < 1536); "
        f"vs {args.small:,}: {one.peak_rss_mb / low.peak_rss_mb - 1:+.0%} (target within ±20 %)"
    )
    for name, p in all_phases.items():
        print(f"phases, {name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in p.items()))
    (OUT / "etl-last.txt").write_text(table(runs, OGR) + "\n", encoding="utf-8")
    subprocess.run([str(BIN / "bando"), "db", "down"], env=env)


def _any_extent_catalogue() -> Path:
    """The catalogue as shipped but for the parcels' extent rule (every other check stays)."""
    folder = OUT / "layers-any-extent"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "layers", folder)
    parcels = folder / "parcels.yml"
    text = parcels.read_text(encoding="utf-8")
    parcels.write_text(text.replace("extent: province", "extent: none"), encoding="utf-8")
    return folder


def _minimal_wal_run(big: object, rows: int, env: dict[str, str], reset: list[str]) -> Run:
    """The big load again with the cluster restarted on minimal WAL (no archive), then back."""
    scratch = env | {"BANDO_DB_ARCHIVE": "false"}
    subprocess.run([str(BIN / "bando"), "db", "up"], env=scratch, check=True)
    subprocess.run(reset, check=True)
    try:
        return timed(
            f"bando load ({rows:,}), minimal WAL",
            [str(BIN / "bando"), "load", "parcels", str(big), "--force"],
            rows,
            scratch,
        )
    finally:
        subprocess.run([str(BIN / "bando"), "db", "up"], env=env, check=True)


def _forget_archived_wal(env: dict[str, str]) -> None:
    for p in (Path(env["BANDO_HOME"]) / "wal").glob("*"):
        if p.is_file():
            p.unlink()


def _archived_mb(env: dict[str, str]) -> float:
    folder = Path(env["BANDO_HOME"]) / "wal"
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file()) / 2**20


if __name__ == "__main__":
    main()
