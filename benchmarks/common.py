"""Shared benchmark plumbing: sample data on demand, a private cluster, timing a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
BIN = Path(sys.executable).parent


@dataclass
class Run:
    name: str
    rows: int
    wall_s: float
    peak_rss_mb: float
    ok: bool
    note: str = ""

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s else 0.0


def parcels_file(n: int, seed: int = 2026, clean_grid: bool = False) -> Path:
    """A GeoPackage of n parcels, generated once and kept under benchmarks/out/ (not committed).

    ``clean_grid``: rectangular parcels sharing their vertices exactly (the generator's
    ``--clean-grid``), instead of the realistic ones whose shared edges carry float noise.
    """
    folder = OUT / (f"grid-{n}-{seed}" if clean_grid else f"parcels-{n}-{seed}")
    name = "parcels_grid.gpkg" if clean_grid else "parcels.gpkg"
    found = sorted(folder.rglob(name))
    if not found:
        print(f"generating {n:,} parcels into {folder} …", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "data_samples" / "generate.py"),
                "--parcels",
                str(n),
                "--seed",
                str(seed),
                "--out",
                str(folder),
                *(["--clean-grid"] if clean_grid else ["--datasets", "parcels"]),
            ],
            check=True,
        )
        found = sorted(folder.rglob(name))
    if not found:
        raise SystemExit(f"the generator wrote no {name} under {folder}")
    return found[0]


def cluster_env(name: str = "cluster") -> dict[str, str]:
    """Environment for a benchmark-only embedded cluster (never the demo's)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BANDO_HOME"] = str(OUT / name)
    env["BANDO_DB_DURABLE"] = "false"
    return env


def timed(name: str, cmd: list[str], rows: int, env: dict[str, str] | None = None) -> Run:
    """Run a command, measuring wall time and the child's peak resident memory (wait4)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    ok = proc.returncode == 0
    note = "" if ok else output.decode(errors="replace").strip().splitlines()[-1][:120]
    return Run(name, rows, wall, usage.ru_maxrss / 1024, ok, note)


def table(runs: list[Run], reference: str) -> str:
    ref = next((r for r in runs if r.name == reference), None)
    lines = [f"{'tool':<34} {'rows':>10} {'wall s':>9} {'rows/s':>10} {'peak RSS MB':>12} {'vs ' + reference:>14}"]
    for r in runs:
        ratio = f"{r.wall_s / ref.wall_s:.2f}×" if ref and ref.wall_s else "—"
        flag = "" if r.ok else f"  FAILED: {r.note}"
        lines.append(
            f"{r.name:<34} {r.rows:>10,} {r.wall_s:>9.1f} {r.rows_per_s:>10,.0f} {r.peak_rss_mb:>12.0f} {ratio:>14}{flag}"
        )
    return "\n".join(lines)
