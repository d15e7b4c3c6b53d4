"""Sensor ingestion benchmark: readings/s a gateway sustains through the internal API, and loss.

Run with `make bench-ingest` (or `.venv/bin/python -m benchmarks.ingest [--clients 4 --batch 1000
--seconds 30]`). On a benchmark-only embedded cluster (benchmarks/out/ingest, durable: every
commit is flushed), with the sample sensors loaded, `bando serve` takes batches of readings as
JSON lines (``POST /internal/ogc/collections/sensor_readings/items``) from several gateway
clients with a token scoped to that layer alone. Every batch is validated by the load's rules
(types, required fields, domain of ``loai``, unique sensor+time key), written by COPY with its
audit and history rows, in one transaction. Afterwards the readings stored are counted:
loss = readings acknowledged (201) − readings stored, which must be 0.

Side by side: the same readings written by psycopg's COPY straight into the table as the owner
— no HTTP, no validation, no audit — the floor of what PostgreSQL itself costs here.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from benchmarks.api_peers import free_port, stop_server
from benchmarks.common import BIN, OUT, ROOT, cluster_env

INGEST = OUT / "ingest"
SAMPLES = ROOT / "data_samples" / "hung_yen"
START = datetime(2030, 1, 1, tzinfo=UTC)


def bando(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "bando"), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bando {' '.join(args)} failed: {done.stdout[-400:]} {done.stderr[-400:]}")
    return done.stdout.strip()


def prepare(env: dict[str, str]) -> str:
    """The cluster, the sensors and their readings loaded, and a gateway token; returns the token."""
    bando(env, "db", "up")
    bando(
        env,
        "load",
        "env_sensors",
        str(SAMPLES / "sensors.csv"),
        "--crs",
        "EPSG:4326",
        "--x-column",
        "kinhDo",
        "--y-column",
        "viDo",
        "--encoding",
        "utf-8",
    )
    bando(env, "load", "sensor_readings", str(SAMPLES / "sensor_readings.csv"), "--encoding", "utf-8", "--force")
    tokens = Path(env["BANDO_INTERNAL_TOKENS_FILE"])
    tokens.unlink(missing_ok=True)
    return bando(env, "token", "new", "ingest-benchmark", "--write", "sensor_readings").splitlines()[-1]


def sensors(env: dict[str, str]) -> list[tuple[str, str]]:
    url = bando(env, "db", "url")
    with psycopg.connect(url) as conn:
        return [(r[0], r[1]) for r in conn.execute('select "maCamBien", "loai" from data.env_sensors')]


def batch(client: int, number: int, size: int, fleet: list[tuple[str, str]]) -> bytes:
    """One gateway batch: unique (sensor, time) per reading, a few over their threshold."""
    lines = []
    for k in range(size):
        sensor, kind = fleet[k % len(fleet)]
        at = START + timedelta(milliseconds=(client * 10_000_000 + number * size + k))
        value = random.uniform(5, 80) if kind == "pm25" else random.uniform(0.2, 3.0)
        lines.append(
            json.dumps({"maCamBien": sensor, "thoiGian": at.isoformat(), "giaTri": round(value, 2), "loai": kind})
        )
    return "\n".join(lines).encode()


def drive(url: str, token: str, clients: int, size: int, seconds: float, fleet: list[tuple[str, str]]) -> dict:
    acked, refused, errors = [0] * clients, [0] * clients, [0] * clients
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}

    def gateway(c: int) -> None:
        with httpx.Client(timeout=60) as http:
            number = 0
            while time.monotonic() < stop:
                body = batch(c, number, size, fleet)
                number += 1
                started = time.perf_counter()
                try:
                    answer = http.post(
                        f"{url}/internal/ogc/collections/sensor_readings/items", content=body, headers=headers
                    )
                except httpx.HTTPError:
                    errors[c] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if answer.status_code == 201:
                    acked[c] += answer.json()["numberCreated"]
                else:
                    refused[c] += size

    started = time.perf_counter()
    threads = [threading.Thread(target=gateway, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    p = (lambda q: latencies[int(q * (len(latencies) - 1))] * 1000) if latencies else (lambda q: float("nan"))
    return {
        "acked": sum(acked),
        "refused": sum(refused),
        "errors": sum(errors),
        "wall": wall,
        "p50_ms": p(0.5),
        "p99_ms": p(0.99),
    }


def stored(env: dict[str, str]) -> int:
    with psycopg.connect(bando(env, "db", "url")) as conn:
        row = conn.execute('select count(*) from data.sensor_readings where "thoiGian" >= %s', (START,)).fetchone()
        return int(row[0]) if row else 0


def raw_copy(env: dict[str, str], n: int, fleet: list[tuple[str, str]]) -> float:
    """Readings/s of a bare COPY of as many readings, as the owner, into a scratch copy of the table."""
    rows = [
        (sensor, START + timedelta(milliseconds=k), random.uniform(5, 80), kind)
        for k, (sensor, kind) in enumerate(fleet[k % len(fleet)] for k in range(n))
    ]
    with psycopg.connect(bando(env, "db", "url")) as conn:
        conn.execute("create temporary table raw (like data.sensor_readings)")
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy('copy raw ("maCamBien", "thoiGian", "giaTri", "loai", fid) from stdin') as cp,
        ):
            for k, row in enumerate(rows):
                cp.write_row((*row, k + 1))
        conn.commit()
        return n / (time.perf_counter() - started)


def run(url: str, env: dict[str, str], token: str, args: argparse.Namespace, fleet: list[tuple[str, str]]) -> dict:
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{url}/ogc/conformance", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    drive(url, token, 1, 100, 2, fleet)  # warm the server up (pools, imports)
    with psycopg.connect(bando(env, "db", "url")) as conn:
        conn.execute('delete from data.sensor_readings where "thoiGian" >= %s', (START,))
    return drive(url, token, args.clients, args.batch, args.seconds, fleet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--fresh", action="store_true", help="start from a new cluster")
    args = parser.parse_args()
    if args.fresh:
        shutil.rmtree(INGEST, ignore_errors=True)
    env = cluster_env("ingest") | {"BANDO_DB_DURABLE": "true"}
    INGEST.mkdir(parents=True, exist_ok=True)
    env["BANDO_INTERNAL_TOKENS_FILE"] = str(INGEST / "tokens.yml")
    env.pop("BANDO_INTERNAL_TOKENS", None)
    token = prepare(env)
    fleet = sensors(env)
    with psycopg.connect(bando(env, "db", "url")) as conn:  # a rerun starts from the same table
        conn.execute('delete from data.sensor_readings where "thoiGian" >= %s', (START,))
    port = free_port()
    with open(INGEST / "server.log", "wb") as log:
        server = subprocess.Popen(
            [str(BIN / "bando"), "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            result = run(f"http://127.0.0.1:{port}", env, token, args, fleet)
        finally:
            stop_server(server)
    kept = stored(env)
    rate = result["acked"] / result["wall"]
    floor = raw_copy(env, max(result["acked"], 10_000), fleet)
    print(f"{'':42}{'readings/s':>12}{'acknowledged':>14}{'stored':>10}{'loss':>6}")
    print(
        f"{'bando, validated + audited (HTTP, JSON lines)':42}{rate:>12,.0f}{result['acked']:>14,}{kept:>10,}"
        f"{result['acked'] - kept:>6}"
    )
    print(f"{'psycopg COPY as owner (no checks, no HTTP)':42}{floor:>12,.0f}")
    print(
        f"{args.clients} gateways × {args.batch} readings a batch for {args.seconds:.0f} s; batch latency "
        f"p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms; refused {result['refused']}, "
        f"transport errors {result['errors']}; durable commits"
    )


if __name__ == "__main__":
    main()
