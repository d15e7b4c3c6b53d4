"""The API benchmark's request sets: drawn once from the published parcels, with a fixed seed.

A request set is a list of server-neutral request specifications (JSON lines under
``benchmarks/out/api/requests/``): an item page around a parcel, a vector tile over a
parcel, a planning report for a parcel. :mod:`benchmarks.api_peers` renders each spec
into one server's URL; every server replays the same list in the same order.

Parcels are drawn by position in ``fid`` order with :class:`random.Random(seed)`, so
the same table and seed give the same files. Tiles are drawn over random parcels (dense
areas get more tiles, as real map traffic does) and repeat as they would in real
traffic; :class:`Sets` reports how many distinct tiles a list holds, because bando keeps
an in-process tile cache (see ``api_config/tile_cache.py``) and the peers keep none.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import psycopg

SCENARIOS = ("items", "tiles", "reports")
ZOOMS = (14, 15, 16)
M_PER_DEG = 111_320.0


@dataclass
class Sets:
    folder: Path
    counts: dict[str, int]
    distinct_tiles: int
    reports_under_plan: int | None

    def path(self, scenario: str, warmup: bool = False) -> Path:
        return self.folder / f"{scenario}{'-warmup' if warmup else ''}.jsonl"

    def specs(self, scenario: str, warmup: bool = False) -> list[dict]:
        with self.path(scenario, warmup).open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """WebMercatorQuad column and row of a lon/lat at zoom z."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.log(math.tan(r) + 1.0 / math.cos(r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _bbox(lon: float, lat: float, size_m: float) -> list[float]:
    half_lat = size_m / 2 / M_PER_DEG
    half_lon = size_m / 2 / (M_PER_DEG * math.cos(math.radians(lat)))
    return [round(lon - half_lon, 6), round(lat - half_lat, 6), round(lon + half_lon, 6), round(lat + half_lat, 6)]


def _parcels(conn: psycopg.Connection, fids: list[int], rng: random.Random, n: int) -> list[tuple]:
    """n random parcels, drawn with replacement: fid, key and a point on the parcel in CRS84."""
    chosen = [fids[rng.randrange(len(fids))] for _ in range(n)]
    rows = conn.execute(
        'select fid, "maXa", "soHieuToBanDo", "soThuTuThua", st_x(p), st_y(p)'
        ' from (select fid, "maXa", "soHieuToBanDo", "soThuTuThua",'
        " st_transform(st_pointonsurface(geom), 4326) as p from data.parcels where fid = any(%s)) s",
        (list(set(chosen)),),
    ).fetchall()
    by_fid = {r[0]: r for r in rows}
    return [by_fid[f] for f in chosen]


def _write(path: Path, specs: list[dict]) -> None:
    path.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in specs), encoding="utf-8")


def _specs(rng: random.Random, parcels: list[tuple], scenario: str) -> list[dict]:
    out = []
    for _fid, maxa, sheet, num, lon, lat in parcels:
        if scenario == "items":
            out.append({"bbox": _bbox(lon, lat, rng.uniform(150.0, 300.0))})
        elif scenario == "tiles":
            z = rng.choice(ZOOMS)
            x, y = _tile(lon, lat, z)
            out.append({"z": z, "x": x, "y": y})
        else:
            out.append({"inputs": {"maXa": maxa, "soHieuToBanDo": sheet, "soThuTuThua": num}})
    return out


def generate(url: str, folder: Path, seed: int, counts: dict[str, int], warmup: int) -> Sets:
    """Write every scenario's list (and a smaller warm-up list from another seed) under folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(url) as conn:
        fids = [r[0] for r in conn.execute("select fid from data.parcels order by fid")]
        for i, scenario in enumerate(SCENARIOS):
            for is_warmup, n, s in ((False, counts[scenario], seed + i), (True, warmup, seed + 100 + i)):
                rng = random.Random(s)
                parcels = _parcels(conn, fids, rng, n)
                specs = _specs(rng, parcels, scenario)
                name = f"{scenario}{'-warmup' if is_warmup else ''}.jsonl"
                _write(folder / name, specs)
                if scenario == "reports" and not is_warmup:
                    report_fids = [p[0] for p in parcels]
        under_plan = None
        if conn.execute("select to_regclass('data.land_use_plan')").fetchone()[0]:
            under_plan = conn.execute(
                "select count(*) from unnest(%s::bigint[]) f(fid) join data.parcels p using (fid)"
                " where exists (select 1 from data.land_use_plan q where q.geom && p.geom and st_intersects(q.geom, p.geom))",
                (report_fids,),
            ).fetchone()[0]
    tiles = [json.loads(line) for line in (folder / "tiles.jsonl").read_text(encoding="utf-8").splitlines()]
    distinct = len({(t["z"], t["x"], t["y"]) for t in tiles})
    meta = {"seed": seed, "counts": counts, "distinct_tiles": distinct, "reports_under_plan": under_plan}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return Sets(folder, counts, distinct, under_plan)
