"""API benchmark: bando vs tipg vs pygeoapi's stock PostgreSQL providers on one million parcels.

Run with `make bench-api`. In one run on one machine, against the same table in the same
benchmark-only cluster (benchmarks/out/cluster, shared with benchmarks/etl.py), each
server is started with the same number of uvicorn workers, warmed up, and driven by wrk
with the same connections, duration and request list:

* items   — small-bbox pages (limit=100, a 150–300 m box around a random parcel, CRS84);
* tiles   — WebMercatorQuad vector tiles z14–z16 over random parcels;
* reports — bando's planning report for random parcels (bando only: the peers have none).

Request lists are drawn once from the data with a fixed seed (benchmarks/out/api/requests/)
and rendered per server; see benchmarks/api_requests.py, api_peers.py, api_load.py and
benchmarks/README.md for what is measured and how the peers are configured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psycopg
import yaml

from benchmarks import api_load, api_requests
from benchmarks.api_peers import Bando, BandoNoTileCache, Db, Pygeoapi, Server, Tipg, get, serving
from benchmarks.common import BIN, OUT, ROOT, cluster_env, parcels_file

API_OUT = OUT / "api"
SERVERS = {"bando": Bando, "bando-nocache": BandoNoTileCache, "tipg": Tipg, "pygeoapi": Pygeoapi}
REPORT_TARGET_MS = 100.0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def other_benchmarks() -> list[str]:
    """Command lines of a running benchmarks/etl.py (it uses the same cluster and both cores)."""
    found = []
    me = {os.getpid(), os.getppid()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in me:
            continue
        with contextlib.suppress(OSError):
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "python" in cmd and ("benchmarks.etl" in cmd or "benchmarks/etl.py" in cmd):
                found.append(f"{entry.name}: {cmd.strip()[:100]}")
    return found


def wait_for_other_benchmarks() -> None:
    announced = False
    while found := other_benchmarks():
        if not announced:
            print("waiting for the ETL benchmark to finish (same cluster, 2 cores):", *found, sep="\n  ", flush=True)
            announced = True
        time.sleep(15)


def bando(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "bando"), *args], env=env, check=check, capture_output=True, text=True)


def published_parcels(url: str) -> tuple[int, str | None]:
    with psycopg.connect(url) as conn:
        if not conn.execute("select to_regclass('data.parcels')").fetchone()[0]:
            return 0, None
        count = conn.execute("select count(*) from data.parcels").fetchone()[0]
        row = conn.execute(
            "select l.source_path from bando.layer_state s join bando.lineage l on l.id = s.lineage_id"
            " where s.layer = 'parcels'"
        ).fetchone()
    return count, row[0] if row else None


def ensure_data(env: dict[str, str], url: str, rows: int) -> int:
    """One million parcels from the benchmark GeoPackage, and the sample plan layers."""
    big = parcels_file(rows)
    count, source = published_parcels(url)
    if abs(count - rows) > rows * 0.01 or (source and Path(source).resolve() != big.resolve()):
        print(f"data.parcels has {count:,} rows (from {source}); loading {big} …", flush=True)
        proc = bando(env, "load", "parcels", str(big), "--force", check=False)
        if proc.returncode != 0:
            raise SystemExit(f"bando load parcels failed: {(proc.stdout + proc.stderr).strip()[-400:]}")
        count, source = published_parcels(url)
    # the sample plan, status and infrastructure layers, so reports have something to say;
    # not the sample parcels: they would replace communes of the million
    manifest_path = ROOT / "data_samples" / "manifest.yml"
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    deliveries = [
        d
        | {"source": str((manifest_path.parent / d["source"]).resolve())}
        | {"documents": [str((manifest_path.parent / p).resolve()) for p in d.get("documents", [])]}
        for d in manifest["deliveries"]
        if d["layer"] != "parcels"
    ]
    plan = API_OUT / "plan-manifest.yml"
    plan.write_text(
        yaml.safe_dump(
            {"province": manifest.get("province"), "deliveries": deliveries}, allow_unicode=True, sort_keys=False
        ),
        encoding="utf-8",
    )
    proc = bando(env, "load-all", str(plan), check=False)
    if proc.returncode != 0:
        print(
            f"note: loading the sample plan layers reported a problem (exit {proc.returncode}); "
            f"reports may say less: {(proc.stdout + proc.stderr).strip().splitlines()[-1:]}",
            flush=True,
        )
    return count


def db_facts(url: str) -> Db:
    with psycopg.connect(url) as conn:
        srid = conn.execute("select find_srid('data', 'parcels', 'geom')").fetchone()[0]
        box = conn.execute(
            "select st_xmin(b), st_ymin(b), st_xmax(b), st_ymax(b) from"
            " (select st_transform(st_setsrid(st_extent(geom)::geometry, %s), 4326) b"
            "  from data.parcels) s",
            (srid,),
        ).fetchone()
        # read the table once so the first server does not pay for a cold cache
        conn.execute("select sum(st_npoints(geom)) from data.parcels").fetchone()
    return Db(url, srid, [round(v, 5) for v in box])


def settle(url: str, wait_s: float = 20.0) -> None:
    """Let queries a stopped server left behind finish; end the stragglers."""
    query = (
        "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
        " and backend_type = 'client backend' and state <> 'idle'"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + wait_s
        while conn.execute(query).fetchall() and time.monotonic() < deadline:
            time.sleep(0.5)
        conn.execute(f"select pg_terminate_backend(pid) from ({query}) s")


def probe(server: Server, base: str, scenario: str, specs: list[dict]) -> str:
    """What the first warm-up requests returned: status and a summary, to compare servers."""
    parts = []
    for spec in specs[:3]:
        method, path, body = server.render(scenario, spec)
        try:
            status, content = get(base + path, timeout=60, data=body.encode() if method == "POST" else None)
        except OSError as exc:
            parts.append(f"{type(exc).__name__}")
            continue
        if status >= 400:
            parts.append(f"{status} {content[:60].decode(errors='replace')!r}")
        elif scenario == "items":
            with contextlib.suppress(ValueError):
                doc = json.loads(content)
                feats = doc.get("features", [])
                first = feats[0]["geometry"]["coordinates"] if feats and feats[0].get("geometry") else None
                while isinstance(first, list) and first and isinstance(first[0], list):
                    first = first[0]
                xy = f" @{first[0]:.4f},{first[1]:.4f}" if first else ""
                parts.append(f"{status} {len(feats)} feats{xy}")
                continue
            parts.append(f"{status} not JSON")
        elif scenario == "tiles":
            parts.append(f"{status} {len(content) / 1024:.0f} KiB")
        else:
            parts.append(f"{status} {len(content) / 1024:.1f} KiB")
    return "; ".join(parts)


def measure(
    server: Server, scenario: str, sets: api_requests.Sets, lua: Path, args: argparse.Namespace, url: str
) -> tuple[api_load.Result, str]:
    slug = server.name.split()[0].strip(",") + ("-nocache" if isinstance(server, BandoNoTileCache) else "")
    lists = API_OUT / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    main = api_load.write_list(
        lists / f"{slug}-{scenario}.txt", [server.render(scenario, s) for s in sets.specs(scenario)]
    )
    warm_specs = sets.specs(scenario, warmup=True)
    warm = api_load.write_list(
        lists / f"{slug}-{scenario}-warmup.txt", [server.render(scenario, s) for s in warm_specs]
    )
    load = {"connections": args.connections, "threads": args.threads, "timeout_s": args.timeout}
    try:
        with serving(server) as base:
            seen = probe(server, base, scenario, warm_specs)
            api_load.run(base, lua, warm, seconds=args.warmup, **load)
            result = api_load.run(base, lua, main, seconds=args.seconds, **load)
    except RuntimeError as exc:
        result, seen = api_load.Result(note=f"server failed: {exc}"), ""
    finally:
        settle(url)
    return result, seen


def best(rounds: list[api_load.Result]) -> api_load.Result:
    """The round with the most successful answers per second (interference only slows a server down)."""
    top = max(rounds, key=lambda r: (r.rps, -(r.p50_ms or 0)))
    if len(rounds) > 1:
        spread = " / ".join(f"{r.rps:.1f}" for r in rounds)
        top = replace(top, note="; ".join(x for x in (top.note, f"rounds {spread} req/s") if x))
    return top


def _ms(v: float | None) -> str:
    return "—" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def table(results: dict[tuple[str, str], api_load.Result], probes: dict[tuple[str, str], str]) -> str:
    head = (
        f"{'scenario':<8} {'server':<28} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'answers':>8} "
        f"{'errors':>7}  notes"
    )
    lines = [head, "-" * len(head)]
    for (scenario, name), r in results.items():
        notes = [r.note] if r.note else []
        if r.error_kinds:
            notes.append(", ".join(f"{k} {v}" for k, v in r.error_kinds.items()))
            if r.error_kinds.get("status", 0) > r.requests / 2:
                notes.append("latencies are mostly of error answers")
        if r.wrapped > 1:
            notes.append(f"list replayed {r.wrapped:.1f}×")
        if probes.get((scenario, name)):
            notes.append(f"probe: {probes[(scenario, name)]}")
        lines.append(
            f"{scenario:<8} {name:<28} {r.rps:>8.1f} {_ms(r.p50_ms):>8} {_ms(r.p95_ms):>8} {_ms(r.p99_ms):>8} "
            f"{r.requests:>8} {r.errors:>7}  {'; '.join(notes)}"
        )
    return "\n".join(lines)


def ratios(results: dict[tuple[str, str], api_load.Result]) -> list[str]:
    out = []
    for scenario in ("items", "tiles"):
        peer = results.get((scenario, Tipg.name))
        stock = results.get((scenario, Pygeoapi.name))
        for name in (Bando.name, BandoNoTileCache.name):
            ours = results.get((scenario, name))
            if not ours:
                continue
            if peer and peer.rps and ours.ok:
                p50 = f", p50 {ours.p50_ms / peer.p50_ms:.2f}× tipg's" if ours.p50_ms and peer.p50_ms else ""
                out.append(f"{scenario}: {name} / tipg req/s = {ours.rps / peer.rps:.2f} (target ≥ 1.00){p50}")
            else:
                out.append(f"{scenario}: {name} / tipg — not comparable (one side has no successful answers)")
            if stock and stock.rps and ours.ok:
                out.append(f"{scenario}: {name} / pygeoapi stock req/s = {ours.rps / stock.rps:.1f}")
    rep = results.get(("reports", Bando.name))
    if rep:
        if rep.ok and rep.p95_ms is not None and not rep.error_kinds.get("status"):
            verdict = "meets" if rep.p95_ms < REPORT_TARGET_MS else "MISSES"
            out.append(
                f"reports: p95 {rep.p95_ms:.1f} ms under load ({rep.rps:.0f} req/s) — {verdict} the "
                f"{REPORT_TARGET_MS:.0f} ms target"
            )
        else:
            out.append(f"reports: no clean measurement ({rep.errors} errors{'; ' + rep.note if rep.note else ''})")
    return out


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers, every server")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--seconds", type=int, default=25, help="measured seconds per server and scenario")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds (another request list)")
    parser.add_argument("--timeout", type=int, default=30, help="wrk request timeout, s (slower = error)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over all servers, in alternating order")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"subset of {','.join(SERVERS)}")
    parser.add_argument("--scenarios", default=",".join(api_requests.SCENARIOS))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # Ctrl-C stops the servers even if started in the background
    api_load.wrk_binary()
    API_OUT.mkdir(parents=True, exist_ok=True)

    wait_for_other_benchmarks()
    env = cluster_env()
    env.pop("BANDO_BASE_URL", None)
    was_running = bando(env, "db", "status", check=False).returncode == 0
    started = time.monotonic()
    try:
        bando(env, "db", "up")
        url = bando(env, "db", "url").stdout.strip()
        count = ensure_data(env, url, args.rows)
        db = db_facts(url)
        sets = api_requests.generate(
            url, API_OUT / "requests", args.seed, {"items": 20_000, "tiles": 20_000, "reports": 10_000}, warmup=2_000
        )
        lua = api_load.write_lua(API_OUT)
        wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
        servers = [SERVERS[s](db, env, args.workers, API_OUT) for s in wanted]
        print(
            f"\n{count:,} parcels (SRID {db.srid}); {args.workers} uvicorn workers per server; wrk {args.threads} "
            f"threads, {args.connections} connections, {args.warmup} s warm-up + {args.seconds} s per run, "
            f"timeout {args.timeout} s, best of {args.rounds} round(s) in alternating order; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
        )
        print(
            f"request lists (seed {args.seed}): items {sets.counts['items']:,}, tiles {sets.counts['tiles']:,} "
            f"({sets.distinct_tiles:,} distinct), reports {sets.counts['reports']:,}"
            + (f" ({sets.reports_under_plan:,} under the land-use plan)" if sets.reports_under_plan is not None else "")
        )
        print(
            f"versions: pygeoapi {_version('pygeoapi')}, tipg {_version('tipg')}, "
            f"SQLAlchemy {_version('SQLAlchemy')}, GeoAlchemy2 {_version('GeoAlchemy2')}\n",
            flush=True,
        )
        runs: dict[tuple[str, str], list[api_load.Result]] = {}
        probes: dict[tuple[str, str], str] = {}
        scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
        for n in range(args.rounds):
            order = servers if n % 2 == 0 else servers[::-1]  # alternate, so drift in the machine's load evens out
            for scenario in scenarios:
                for server in order:
                    if scenario not in server.scenarios:
                        continue
                    print(f"round {n + 1}  {scenario:<8} {server.name} …", end=" ", flush=True)
                    result, seen = measure(server, scenario, sets, lua, args, url)
                    runs.setdefault((scenario, server.name), []).append(result)
                    probes.setdefault((scenario, server.name), seen)
                    print(
                        f"{result.rps:.1f} req/s, p50 {_ms(result.p50_ms)} ms, {result.errors} errors {result.note}",
                        flush=True,
                    )
        results = {key: best(rs) for key, rs in sorted(runs.items(), key=lambda kv: scenarios.index(kv[0][0]))}
        print()
        print(table(results, probes))
        print()
        print("\n".join(ratios(results)))
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        print(f"\nwall time {(time.monotonic() - started) / 60:.1f} min; lists, logs and results in {API_OUT}")
        (API_OUT / "results.json").write_text(
            json.dumps(
                [
                    {"scenario": k[0], "server": k[1], "round": i + 1, **asdict(r), "rps": r.rps}
                    for k, rs in runs.items()
                    for i, r in enumerate(rs)
                ],
                indent=1,
            )
        )
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if not was_running:
            bando(env, "db", "down", check=False)


if __name__ == "__main__":
    main()
