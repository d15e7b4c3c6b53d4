"""Read scaling: items and tiles with reads on the primary only vs spread over primary + replica.

Run with `make bench-replicas` (or `.venv/bin/python -m benchmarks.replicas [--rows N …]`).
Over the benchmark cluster's parcels (benchmarks/out/cluster, shared with etl.py and api.py,
whose data preparation and wrk driver it reuses), a hot standby is made once with
`bando db replica create benchmarks/out/cluster-replica1` (PostgreSQL streaming replication).
The same `bando serve` (tile cache off, so every tile is built by a database) is then driven
by wrk with the same request lists twice: with ``BANDO_READ_REPLICAS=false`` (every read on
the primary) and with the replica in the read rotation (``BANDO_READ_FROM_PRIMARY=true``:
round-robin over primary and replica).

On one machine a replica shares the primary's cores and disk, so this shows the overhead of
routing and what a second server's buffers add, not the capacity of a second machine; the
deployment guide (docs/deploy.md) derives capacity from per-core figures instead.
"""

from __future__ import annotations

import argparse
import os
import time

from benchmarks import api_load, api_requests
from benchmarks.api import API_OUT, _ms, bando, best, db_facts, ensure_data, measure, wait_for_other_benchmarks
from benchmarks.api_peers import BandoNoTileCache
from benchmarks.common import OUT, cluster_env

REPLICA = OUT / "cluster-replica1"


class PrimaryOnly(BandoNoTileCache):
    name = "primary only"
    scenarios = ("items", "tiles")

    def env(self, port: int) -> dict[str, str]:
        return super().env(port) | {"BANDO_READ_REPLICAS": "false"}


class WithReplica(BandoNoTileCache):
    name = "primary + replica"
    scenarios = ("items", "tiles")

    def env(self, port: int) -> dict[str, str]:
        return super().env(port) | {
            "BANDO_READ_REPLICAS": "true",
            "BANDO_READ_FROM_PRIMARY": "true",
            "BANDO_MAX_LAG_S": "30",
        }


def ensure_replica(env: dict[str, str]) -> None:
    if (REPLICA / "pgdata" / "PG_VERSION").exists():
        bando(env, "db", "replica", "start", str(REPLICA))
    else:
        bando(env, "db", "replica", "create", str(REPLICA))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--timeout", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    api_load.wrk_binary()
    API_OUT.mkdir(parents=True, exist_ok=True)
    wait_for_other_benchmarks()
    env = cluster_env()
    env.pop("BANDO_BASE_URL", None)
    started = time.monotonic()
    bando(env, "db", "up")
    url = bando(env, "db", "url").stdout.strip()
    count = ensure_data(env, url, args.rows)
    ensure_replica(env)
    db = db_facts(url)
    sets = api_requests.generate(
        url, API_OUT / "requests", args.seed, {"items": 20_000, "tiles": 20_000, "reports": 10_000}, warmup=2_000
    )
    lua = api_load.write_lua(API_OUT)
    servers = [PrimaryOnly(db, env, args.workers, API_OUT), WithReplica(db, env, args.workers, API_OUT)]
    print(
        f"\n{count:,} parcels; {args.workers} workers; wrk {args.threads} threads, {args.connections} connections, "
        f"{args.seconds} s per run, best of {args.rounds}; tile cache off; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}\n",
        flush=True,
    )
    runs: dict[tuple[str, str], list[api_load.Result]] = {}
    try:
        for n in range(args.rounds):
            for scenario in ("items", "tiles"):
                for server in servers if n % 2 == 0 else servers[::-1]:
                    print(f"round {n + 1}  {scenario:<6} {server.name} …", end=" ", flush=True)
                    result, _ = measure(server, scenario, sets, lua, args, url)
                    runs.setdefault((scenario, server.name), []).append(result)
                    print(f"{result.rps:.1f} req/s, {result.errors} errors", flush=True)
    finally:
        bando(env, "db", "replica", "stop", str(REPLICA), check=False)
    print(f"\n{'scenario':<8} {'server':<18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for (scenario, name), rs in runs.items():
        r = best(rs)
        print(f"{scenario:<8} {name:<18} {r.rps:>8.1f} {_ms(r.p50_ms):>8} {_ms(r.p99_ms):>8} {r.errors:>7}")
    for scenario in ("items", "tiles"):
        one, two = best(runs[(scenario, "primary only")]), best(runs[(scenario, "primary + replica")])
        if one.rps:
            print(f"{scenario}: primary + replica / primary only = {two.rps / one.rps:.2f}")
    print(f"\nwall time {(time.monotonic() - started) / 60:.1f} min; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
