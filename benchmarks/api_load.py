"""Drive one server with wrk: a Lua script walks a prepared request list and reports JSON.

The list file has one request a line, ``METHOD<TAB>PATH<TAB>BODY``. Each wrk thread
takes every T-th line starting at its own index, so the servers receive the same
requests in the same order; the list wraps only if a server gets through all of it
(``wrapped`` says how often). Latencies are wrk's own (HdrHistogram, microseconds);
requests that time out are counted as errors and are not in the latencies.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LUA = r"""
local threads = {}
local next_index = 0

function setup(thread)
  thread:set("tindex", next_index)
  next_index = next_index + 1
  table.insert(threads, thread)
end

local list = {}
local i = 0
local step = 1
issued = 0

function init(args)
  step = tonumber(args[2])
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+)\t([^\t]*)\t?(.*)$")
    if method then
      local headers = {}
      if body ~= nil and body ~= "" then
        headers["Content-Type"] = "application/json"
      else
        body = nil
      end
      list[#list + 1] = wrk.format(method, path, headers, body)
    end
  end
  i = tindex
end

function request()
  local r = list[(i % #list) + 1]
  i = i + step
  issued = issued + 1
  return r
end

function done(summary, latency, requests)
  local issued_total = 0
  for _, t in ipairs(threads) do
    issued_total = issued_total + (t:get("issued") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50": %d, "p95": %d, "p99": %d, "mean": %.1f, "max": %d, "issued": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max,
    issued_total))
end
"""


@dataclass
class Result:
    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mb: float = 0.0
    wrapped: float = 0.0
    note: str = ""

    @property
    def ok(self) -> int:
        return self.requests - self.error_kinds.get("status", 0)

    @property
    def rps(self) -> float:
        """Successful responses per second (non-2xx/3xx answers do not count)."""
        return self.ok / self.seconds if self.seconds else 0.0


def write_lua(folder: Path) -> Path:
    path = folder / "walk.lua"
    path.write_text(LUA, encoding="utf-8")
    return path


def write_list(path: Path, lines: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(f"{m}\t{p}\t{b}\n" for m, p, b in lines), encoding="utf-8")
    return path


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian), then run again")
    return found


def run(
    base_url: str, lua: Path, requests: Path, *, seconds: int, connections: int, threads: int, timeout_s: int
) -> Result:
    """One wrk run; a wrk that cannot run at all becomes a Result with a note, never an exception."""
    lines = sum(1 for _ in requests.open(encoding="utf-8"))
    cmd = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(lua),
        base_url,
        "--",
        str(requests),
        str(threads),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout_s + 60)
    found = [ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")]
    if not found:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return Result(note=f"wrk failed: {tail[0][:100]}")
    raw = json.loads(found[-1].removeprefix("WRKJSON "))
    kinds = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    completed = raw["requests"]
    has_latency = completed > 0
    return Result(
        requests=completed,
        seconds=raw["duration_us"] / 1e6,
        errors=sum(kinds.values()),
        error_kinds=kinds,
        p50_ms=raw["p50"] / 1000 if has_latency else None,
        p95_ms=raw["p95"] / 1000 if has_latency else None,
        p99_ms=raw["p99"] / 1000 if has_latency else None,
        mb=raw["bytes"] / 2**20,
        wrapped=raw["issued"] / lines if lines else 0.0,
    )
