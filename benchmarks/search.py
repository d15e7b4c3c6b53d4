"""Name search on a million parcels: the ``search`` process's latency under concurrent clients,
side by side with the planning report for the same parcels (the brief's other < 50 ms
p95 answer) and with what a client could do before it — a CQL2 ``LIKE`` on road names
through the items endpoint (case- and accent-sensitive, roads only).

Data: the samples, then copies of the sample parcels on further map sheets until the
parcels table holds ``--parcels`` rows (SQL ``INSERT … SELECT``: the benchmark measures
search, not loading; ``make bench-etl`` measures loading). Each scenario runs ``--clients``
keep-alive clients for ``--seconds`` against one ``bando serve``; latencies are per
request, wall clock, in the client.

    python -m benchmarks.search [--parcels 1000000] [--clients 8] [--seconds 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import statistics
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from benchmarks.common import BIN, OUT, ROOT, cluster_env

FORMER = {"12031": ["Vĩnh Khúc", "Long Hưng", "Nghĩa Trụ"], "12019": ["Liên Nghĩa", "Tân Tiến", "Văn Giang"]}
TYPED = ["v", "va", "van", "van g", "van giang", "vinh khuc", "quoc lo 39", "duong thon nghia tru so 5", "me so",
         "Đường tỉnh", "QH12031", "nghia tru", "thon 3", "thon dong"]  # fmt: skip


def bando(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([str(BIN / "bando"), *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bando {' '.join(args)} failed: {(proc.stdout + proc.stderr).strip()[-300:]}")
    return proc.stdout.strip()


def ensure_parcels(env: dict[str, str], url: str, target: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("select to_regclass('data.parcels')").fetchone()[0]:
            print("loading the samples …", flush=True)
            bando(env, "load-all", str(ROOT / "data_samples" / "manifest.yml"))
        count = conn.execute("select count(*) from data.parcels").fetchone()[0]
        if count < target:
            base = conn.execute('select count(*), max("soHieuToBanDo") from data.parcels where "soHieuToBanDo" < 1000')
            n, top = base.fetchone()
            copies = -(-(target - count) // n)
            step = 10 ** len(str(top))
            print(f"copying the {n:,} sample parcels {copies}× onto further sheets …", flush=True)
            started = time.perf_counter()
            conn.execute(
                'insert into data.parcels (fid, "maXa", "soHieuToBanDo", "soThuTuThua", "dienTich", "dienTichPhapLy",'
                ' "loaiDat", geom)'
                ' select (select max(fid) from data.parcels) + row_number() over (), "maXa", "soHieuToBanDo" + k * %s,'
                ' "soThuTuThua", "dienTich", "dienTichPhapLy", "loaiDat", geom'
                ' from data.parcels cross join generate_series(1, %s) k where "soHieuToBanDo" < %s',
                (step, copies, step),
            )
            conn.execute("analyze data.parcels")
            count = conn.execute("select count(*) from data.parcels").fetchone()[0]
            print(f"  {count:,} parcels in {time.perf_counter() - started:.0f} s", flush=True)
    return int(count)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    log = (OUT / "search-server.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "bando"), "serve", "--port", str(port)],
        env=env | {"BANDO_BASE_URL": f"http://127.0.0.1:{port}"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                status, _ = request(base, ("GET", "/ogc/conformance", None))
                if status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit(f"bando serve did not answer; see {log.name}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


Request = tuple[str, str, bytes | None]


def request(base: str, req: Request, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    own = conn is None
    if conn is None:
        u = urllib.parse.urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    method, path, body = req
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    resp = conn.getresponse()
    data = resp.read()
    if own:
        conn.close()
    return resp.status, data


def post(path: str, inputs: dict) -> Request:
    return ("POST", path, json.dumps({"inputs": inputs}).encode())


def scenarios(url: str, rng: random.Random) -> dict[str, list[Request]]:
    with psycopg.connect(url) as conn:
        keys = conn.execute(
            'select "maXa", "soHieuToBanDo", "soThuTuThua" from data.parcels tablesample system (1) limit 400'
        ).fetchall()
    by_name = [(rng.choice(FORMER.get(k[0], ["Mễ Sở"])), k) for k in keys]
    search = "/ogc/processes/search/execution"
    return {
        "search: parcel by (former) commune + sheet + parcel": [
            post(search, {"q": f"{name} tờ {k[1]} thửa {k[2]}"}) for name, k in by_name
        ],
        "search: names as typed (prefixes, no diacritics)": [post(search, {"q": q}) for q in TYPED],
        "planning-report: the same parcels by key": [
            post("/ogc/processes/planning-report/execution", {"maXa": k[0], "soHieuToBanDo": k[1], "soThuTuThua": k[2]})
            for k in keys
        ],
        "items: CQL2 LIKE on road names (before)": [
            (
                "GET",
                "/ogc/collections/roads/items?"
                + urllib.parse.urlencode(
                    {"f": "json", "limit": 8, "skipGeometry": "true", "filter": f"tenDuong LIKE '%{q}%'"}
                ),
                None,
            )
            for q in ("Quốc lộ", "Nghĩa Trụ", "Văn Giang", "số 5", "Mễ Sở")
        ],  # fmt: skip
    }


def drive(base: str, reqs: list[Request], clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        u = urllib.parse.urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        i = offset
        mine: list[float] = []
        bad = 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                status, _ = request(base, reqs[i % len(reqs)], conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                status = 0
            mine.append((time.perf_counter() - started) * 1000)
            bad += status != 200
            i += clients
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"n": len(latencies), "rps": len(latencies) / seconds, "p50": q[49], "p95": q[94], "p99": q[98],
            "errors": errors[0]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    env = cluster_env("search")
    bando(env, "db", "up")
    url = bando(env, "db", "url")
    count = ensure_parcels(env, url, args.parcels)
    rng = random.Random(2026)
    plan = scenarios(url, rng)
    with serving(env) as base:
        for reqs in plan.values():  # warm: pools, the gazetteer, the cache
            for req in reqs[:20]:
                request(base, req)
        rows = {name: drive(base, reqs, args.clients, args.seconds) for name, reqs in plan.items()}
    print(f"\n{count:,} parcels · {args.clients} clients · {args.seconds:.0f} s per scenario")
    print(f"{'scenario':<54} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7}")
    for name, r in rows.items():
        print(f"{name:<54} {r['rps']:>7.0f} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['p99']:>7.1f} {r['errors']:>7.0f}")


if __name__ == "__main__":
    main()
