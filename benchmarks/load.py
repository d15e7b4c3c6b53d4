"""Load benchmark: 64 concurrent clients for 60 s on a mix of item pages, tiles and planning reports.

Run with `make bench-load` (or `.venv/bin/python -m benchmarks.load [--clients 64 --seconds 60 …]`).
Against `bando serve --workers 2` over the one-million-parcel table of the benchmark cluster
(benchmarks/out/cluster, shared with benchmarks/etl.py and benchmarks/api.py, whose data
preparation it reuses), wrk drives one interleaved request list on loopback:

* items   — ``…/items?limit=100&bbox=…``, a 150–300 m box (CRS84) around a random parcel;
* tiles   — WebMercatorQuad vector tiles z14–z16 over random parcels (they repeat, as map
  traffic does, so bando's in-process tile cache takes part as it would in production);
* reports — ``POST /ogc/processes/planning-report/execution`` for a random parcel;

in the ratio 2 : 2 : 1. It reports throughput (successful answers per second), wrk's
latency percentiles over all answers, errors (socket errors, timeouts, non-2xx answers,
503s counted apart), answers per kind (told apart by content type and body), and the
server's memory: the resident set (VmRSS from /proc) of the `bando serve` process and
all its descendants, when ready, at its peak during the run (sampled every second) and
at the end. Results go to benchmarks/out/load/results.json.

Before it starts it waits for any other benchmark (etl.py, api.py) to finish: on a shared
2-core machine two benchmarks at once measure each other.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks import api_requests
from benchmarks.api_peers import stop_server
from benchmarks.common import BIN, OUT, ROOT, cluster_env

LOAD_OUT = OUT / "load"
OTHERS = ("benchmarks.etl", "benchmarks/etl.py", "benchmarks.api", "benchmarks/api.py")
MIX = ("items", "tiles", "items", "tiles", "reports")

LUA = r"""
-- Walk a prepared list (METHOD<TAB>PATH<TAB>BODY per line); thread t takes lines t, t+T, t+2T, …
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tindex", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local list = {}
local i = 0
local step = 1
items, tiles, reports, other, s503, s4xx, s5xx = 0, 0, 0, 0, 0, 0, 0

function init(args)
  step = tonumber(args[2])
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+)\t([^\t]*)\t?(.*)$")
    if method then
      local headers = {}
      if body ~= nil and body ~= "" then headers["Content-Type"] = "application/json" else body = nil end
      list[#list + 1] = wrk.format(method, path, headers, body)
    end
  end
  i = tindex
end

function request()
  local r = list[(i % #list) + 1]
  i = i + step
  return r
end

function response(status, headers, body)
  if status == 503 then s503 = s503 + 1
  elseif status >= 500 then s5xx = s5xx + 1
  elseif status >= 400 then s4xx = s4xx + 1
  elseif status < 300 then
    local ctype = headers["content-type"] or headers["Content-Type"] or ""
    local head = body:sub(1, 200)
    if ctype:find("mapbox") then tiles = tiles + 1
    elseif head:find('"FeatureCollection"', 1, true) then items = items + 1
    elseif head:find('"PlanningReport"', 1, true) then reports = reports + 1
    else other = other + 1 end
  end
end

function done(summary, latency, requests)
  local sums = {items = 0, tiles = 0, reports = 0, other = 0, s503 = 0, s4xx = 0, s5xx = 0}
  for _, t in ipairs(threads) do
    for k, _ in pairs(sums) do sums[k] = sums[k] + (t:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f, "items": %d, "tiles": %d, ' ..
    '"reports": %d, "other": %d, "s503": %d, "s4xx": %d, "s5xx": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    sums.items, sums.tiles, sums.reports, sums.other, sums.s503, sums.s4xx, sums.s5xx))
end
"""


def others_running() -> list[str]:
    found = []
    mine = {os.getpid(), os.getppid()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        with contextlib.suppress(OSError):
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "python" in cmd and any(o in cmd for o in OTHERS):
                found.append(f"{entry.name}: {cmd.strip()[:100]}")
    return found


def wait_for_others() -> None:
    announced = False
    while found := others_running():
        if not announced:
            print("waiting for another benchmark to finish (same cluster, same cores):", *found, sep="\n  ", flush=True)
            announced = True
        time.sleep(15)


def bando(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "bando"), *args], env=env, check=False, capture_output=True, text=True)


# -- the server's memory ------------------------------------------------------------------


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def rss_mb(root: int) -> tuple[float, int]:
    """Summed VmRSS of a process and its descendants, MB, and how many processes that is."""
    total, n = 0, 0
    for pid in descendants(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    n += 1
    return total / 1024, n


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.wait(1.0):
            mb = rss_mb(self.pid)[0]
            self.peak = max(self.peak, mb)
            self.samples.append((time.monotonic() - started, mb))

    def at(self, seconds: float) -> float:
        """The resident set sampled nearest to a moment of the run."""
        return min(self.samples, key=lambda s: abs(s[0] - seconds))[1] if self.samples else 0.0


def soak_verdict(sampler: Sampler, seconds: int) -> dict:
    """RSS at a third, two thirds and the end of a soak; steady when all are within ±10 % of their mean."""
    marks = [round(sampler.at(seconds * k / 3)) for k in (1, 2, 3)]
    mean = sum(marks) / 3
    spread = max(abs(m - mean) / mean for m in marks) if mean else 0.0
    return {
        "minutes": [round(seconds * k / 3 / 60, 1) for k in (1, 2, 3)],
        "rss_mb": marks,
        "max_deviation": round(spread, 3),
    }


# -- the run ------------------------------------------------------------------------------


def render(scenario: str, spec: dict) -> str:
    if scenario == "items":
        bbox = ",".join(f"{v:.6f}" for v in spec["bbox"])
        return f"GET\t/ogc/collections/parcels/items?f=json&limit=100&bbox={bbox}\t"
    if scenario == "tiles":
        return f"GET\t/ogc/collections/parcels/tiles/WebMercatorQuad/{spec['z']}/{spec['y']}/{spec['x']}?f=mvt\t"
    body = json.dumps({"inputs": spec["inputs"]}, ensure_ascii=False, separators=(",", ":"))
    return f"POST\t/ogc/processes/planning-report/execution\t{body}"


def mixed_list(sets: api_requests.Sets, path: Path, warmup: bool = False) -> int:
    specs = {s: iter(sets.specs(s, warmup=warmup)) for s in api_requests.SCENARIOS}
    lines = []
    with contextlib.suppress(StopIteration):
        while True:
            for scenario in MIX:
                lines.append(render(scenario, next(specs[scenario])))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def wrk(base: str, lua: Path, listing: Path, *, clients: int, threads: int, seconds: int, timeout: int) -> dict:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{seconds}s",
        f"--timeout={timeout}s",
        "-s",
        str(lua),
        base,
        "--",
        str(listing),
        str(threads),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout + 60)
    found = [ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")]
    if not found:
        raise SystemExit(f"wrk failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return json.loads(found[-1].removeprefix("WRKJSON "))


@contextlib.contextmanager
def serving(env: dict[str, str], workers: int, port: int):
    log = (LOAD_OUT / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "bando"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env | {"BANDO_BASE_URL": f"http://127.0.0.1:{port}"},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"bando serve exited with {proc.returncode}; see {log.name}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ogc/collections/parcels?f=json", timeout=5) as r,
            ):
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"bando serve did not answer within 120 s; see {log.name}")
            time.sleep(0.5)
        yield proc
    finally:
        stop_server(proc)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections")
    parser.add_argument("--seconds", type=int, default=60, help="measured seconds")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds (another request list)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of bando serve")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--timeout", type=int, default=30, help="wrk request timeout, s (slower = error)")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument(
        "--soak",
        type=float,
        default=float(os.environ.get("BANDO_SOAK_MINUTES", "0") or 0),
        help="run this many minutes instead (e.g. 30; or BANDO_SOAK_MINUTES) and report RSS at each third",
    )
    args = parser.parse_args()
    if args.soak:
        args.seconds = int(args.soak * 60)
    if not any((Path(p) / "wrk").exists() for p in os.environ.get("PATH", "").split(":")):
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian), then run again")
    LOAD_OUT.mkdir(parents=True, exist_ok=True)
    wait_for_others()

    from benchmarks.api import API_OUT, ensure_data  # the API benchmark's data: a million parcels, the sample plans

    API_OUT.mkdir(parents=True, exist_ok=True)

    env = cluster_env()
    env.pop("BANDO_BASE_URL", None)
    was_running = bando(env, "db", "status").returncode == 0
    try:
        up = bando(env, "db", "up")
        if up.returncode != 0:
            raise SystemExit(f"bando db up failed: {(up.stdout + up.stderr).strip()[-300:]}")
        url = bando(env, "db", "url").stdout.strip()
        count = ensure_data(env, url, args.rows)
        sets = api_requests.generate(
            url, LOAD_OUT / "requests", args.seed, {"items": 20_000, "tiles": 20_000, "reports": 10_000}, warmup=1_000
        )
        main_list, warm_list = LOAD_OUT / "mixed.txt", LOAD_OUT / "mixed-warmup.txt"
        n_main, _ = mixed_list(sets, main_list), mixed_list(sets, warm_list, warmup=True)
        lua = LOAD_OUT / "mixed.lua"
        lua.write_text(LUA, encoding="utf-8")
        from benchmarks.api_peers import free_port

        port = free_port()
        print(
            f"{count:,} parcels; bando serve --workers {args.workers}; wrk {args.threads} threads, {args.clients} "
            f"connections, {args.warmup} s warm-up + {args.seconds} s, timeout {args.timeout} s; mix items:tiles:reports "
            f"2:2:1 from {n_main:,} requests ({sets.distinct_tiles:,} distinct tiles); {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f} at start",
            flush=True,
        )
        with serving(env, args.workers, port) as proc:
            base = f"http://127.0.0.1:{port}"
            ready_mb, nproc = rss_mb(proc.pid)
            load = {"clients": args.clients, "threads": args.threads, "timeout": args.timeout}
            wrk(base, lua, warm_list, seconds=args.warmup, **load)
            warm_mb, _ = rss_mb(proc.pid)
            sampler = Sampler(proc.pid)
            sampler.start()
            raw = wrk(base, lua, main_list, seconds=args.seconds, **load)
            sampler.stop.set()
            end_mb, _ = rss_mb(proc.pid)
            alive = proc.poll() is None
        seconds = raw["duration_us"] / 1e6
        ok = raw["items"] + raw["tiles"] + raw["reports"] + raw["other"]
        errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"] + raw["status"]
        result = {
            "parcels": count,
            "clients": args.clients,
            "seconds": round(seconds, 1),
            "workers": args.workers,
            "requests": raw["requests"],
            "ok": ok,
            "throughput_rps": round(ok / seconds, 1),
            "per_kind_rps": {k: round(raw[k] / seconds, 1) for k in ("items", "tiles", "reports")},
            "p50_ms": raw["p50"] / 1000,
            "p90_ms": raw["p90"] / 1000,
            "p99_ms": raw["p99"] / 1000,
            "max_ms": raw["max"] / 1000,
            "errors": errors,
            "error_kinds": {
                k: raw[k] for k in ("connect", "read", "write", "timeout", "s503", "s4xx", "s5xx") if raw[k]
            },
            "rss_mb": {
                "ready": round(ready_mb),
                "after_warmup": round(warm_mb),
                "peak": round(max(sampler.peak, end_mb)),
                "end": round(end_mb),
                "processes": nproc,
            },
            "server_alive_at_end": alive,
            "soak": soak_verdict(sampler, args.seconds) if args.soak else None,
            "load_average_end": round(os.getloadavg()[0], 1),
        }
        (LOAD_OUT / "results.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        print(
            f"\nthroughput {result['throughput_rps']} answers/s ({ok:,} answers in {seconds:.1f} s: items "
            f"{result['per_kind_rps']['items']}/s, tiles {result['per_kind_rps']['tiles']}/s, reports "
            f"{result['per_kind_rps']['reports']}/s)"
        )
        print(
            f"latency p50 {result['p50_ms']:.1f} ms, p90 {result['p90_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
            f"max {result['max_ms']:.0f} ms"
        )
        print(f"errors {errors} {result['error_kinds'] or ''}")
        rss = result["rss_mb"]
        print(
            f"server RSS ({rss['processes']} processes): {rss['ready']} MB ready, {rss['after_warmup']} MB after "
            f"warm-up, {rss['peak']} MB peak, {rss['end']} MB at the end; server alive: {alive}"
        )
        if result["soak"]:
            soak = result["soak"]
            marks = ", ".join(f"{mb} MB at {m} min" for m, mb in zip(soak["minutes"], soak["rss_mb"], strict=True))
            verdict = "steady" if soak["max_deviation"] <= 0.10 else "NOT steady"
            print(
                f"soak: server RSS {marks}; largest deviation from their mean {soak['max_deviation']:.1%} ({verdict}, target ±10 %)"
            )
        print(f"load average {result['load_average_end']} at the end; results in {LOAD_OUT / 'results.json'}")
    except KeyboardInterrupt:
        print("\ninterrupted: server stopped", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if not was_running:
            bando(env, "db", "down")


if __name__ == "__main__":
    main()
