"""ETL benchmark: bando load vs ogr2ogr vs GeoDataFrame.to_postgis on the same GeoPackage.

Run with `make bench-etl`. Generates one-million- and 250k-parcel GeoPackages on demand
(benchmarks/out/, not committed), starts a private embedded cluster, loads the same
file with each tool into the same database and prints wall time, rows/s and peak RSS
side by side, with bando's ratio to each peer. bando's run includes everything a
steward gets: validation, set checks, indexes, ANALYZE and the atomic publish.

The cluster runs as bando ships it — WAL for replicas and PITR, archived (``BANDO_DB_ARCHIVE``).
What that costs is measured by loading the big file once more with the cluster restarted
on minimal WAL and no archive (``--skip-wal-cost`` leaves it out).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from benchmarks.common import BIN, Run, cluster_env, parcels_file, table, timed

TO_POSTGIS = """
import sys, geopandas as gpd, sqlalchemy
df = gpd.read_file(sys.argv[1])
engine = sqlalchemy.create_engine(sys.argv[2].replace("postgresql://", "postgresql+psycopg://"))
df.to_postgis("bench_to_postgis", engine, schema="public", if_exists="replace", index=False, chunksize=50000)
with engine.begin() as c:
    c.exec_driver_sql("create index on public.bench_to_postgis using gist (geometry)")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=250_000, help="second bando run, to show flat memory")
    parser.add_argument("--skip-to-postgis", action="store_true")
    parser.add_argument("--skip-wal-cost", action="store_true", help="no second load on minimal WAL")
    args = parser.parse_args()

    env = cluster_env()
    subprocess.run([str(BIN / "bando"), "db", "up"], env=env, check=True)
    url = subprocess.run(
        [str(BIN / "bando"), "db", "url"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    big = parcels_file(args.rows)
    small = parcels_file(args.small)
    reset = [
        "psql",
        url,
        "-qc",
        "drop table if exists data.parcels; delete from bando.layer_state where layer = 'parcels'",
    ]
    runs: list[Run] = []
    runs.append(
        timed(
            "ogr2ogr (COPY, GiST index)",
            [
                "ogr2ogr",
                "-f",
                "PostgreSQL",
                f"PG:{url}",
                str(big),
                "-nln",
                "public.bench_ogr",
                "-overwrite",
                "-lco",
                "SPATIAL_INDEX=GIST",
                "-lco",
                "GEOMETRY_NAME=geom",
                "--config",
                "PG_USE_COPY",
                "YES",
                "-nlt",
                "PROMOTE_TO_MULTI",
            ],
            args.rows,
            env,
        )
    )
    # Each bando run starts from an empty layer, like the peers (the layer is partitioned by
    # commune, so a second delivery would otherwise be checked against the first one's rows).
    subprocess.run(reset, check=True)
    runs.append(
        timed(
            f"bando load ({args.rows:,})", [str(BIN / "bando"), "load", "parcels", str(big), "--force"], args.rows, env
        )
    )
    subprocess.run(reset, check=True)
    runs.append(
        timed(
            f"bando load ({args.small:,})",
            [str(BIN / "bando"), "load", "parcels", str(small), "--force"],
            args.small,
            env,
        )
    )
    if not args.skip_to_postgis:
        runs.append(timed("GeoDataFrame.to_postgis", [sys.executable, "-c", TO_POSTGIS, str(big), url], args.rows, env))
    minimal = None
    if not args.skip_wal_cost:
        minimal = _minimal_wal_run(big, args.rows, env, reset)
        runs.append(minimal)
    print()
    print(table(runs, "ogr2ogr (COPY, GiST index)"))
    bando_big, bando_small = runs[1], runs[2]
    ogr = runs[0]
    print()
    print(f"bando / ogr2ogr wall time: {bando_big.wall_s / ogr.wall_s:.2f} (target ≤ 0.50)")
    to_postgis = next((r for r in runs if r.name == "GeoDataFrame.to_postgis"), None)
    if to_postgis is not None and to_postgis.ok:
        print(f"bando / to_postgis wall time: {bando_big.wall_s / to_postgis.wall_s:.2f}")
    print(
        f"bando peak RSS at {args.rows:,}: {bando_big.peak_rss_mb:.0f} MB (target < 1536); "
        f"vs {args.small:,}: {bando_big.peak_rss_mb / bando_small.peak_rss_mb - 1:+.0%} (target within ±20 %)"
    )
    if minimal is not None and minimal.ok:
        print(
            f"WAL for replicas and PITR, archived (the default) vs minimal WAL: {bando_big.wall_s:.1f} s vs "
            f"{minimal.wall_s:.1f} s ({bando_big.wall_s / minimal.wall_s - 1:+.0%}); WAL archived over the whole run: {_archived_mb(env):.0f} MB"
        )
    subprocess.run([str(BIN / "bando"), "db", "down"], env=env)


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


def _archived_mb(env: dict[str, str]) -> float:
    from pathlib import Path

    folder = Path(env["BANDO_HOME"]) / "wal"
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file()) / 2**20


if __name__ == "__main__":
    main()
