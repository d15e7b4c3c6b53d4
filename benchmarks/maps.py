"""Maps benchmark: WMS GetMap (QGIS Server behind /wms) next to bando's vector tiles, same extents.

Run with `make bench-maps` (or `.venv/bin/python -m benchmarks.maps [--clients 4 --passes 1]`).
A benchmark-only cluster (benchmarks/out/maps) gets the committed samples (Hưng Yên); then
`bando serve` (with its QGIS Server) answers, for every z16 WebMercatorQuad tile over the
published parcels (bounds from the TileJSON), both

* ``/wms?REQUEST=GetMap&LAYERS=parcels&CRS=EPSG:3857&BBOX=<the tile>&WIDTH=256&HEIGHT=256`` (PNG), and
* ``/ogc/collections/parcels/tiles/WebMercatorQuad/16/{y}/{x}?f=mvt``,

with the same number of concurrent clients, each extent once per pass (the first pass of
the tiles is therefore uncached, like the WMS, which has no cache). It prints requests per
second and latency percentiles side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import morecantile

from benchmarks.api_peers import free_port, stop_server
from benchmarks.common import BIN, ROOT, cluster_env

ZOOM = 16


def _bando(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "bando"), *args], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def _server(env: dict[str, str]):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(env["BANDO_HOME"] + "/serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "bando"), "serve", "--port", str(port)],
        env=env | {"BANDO_RATE_LIMIT": "0"},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/wms?SERVICE=WMS&REQUEST=GetCapabilities", timeout=5).status_code == 200:
                    break
            if proc.poll() is not None:
                raise SystemExit(f"bando serve exited with {proc.returncode}; see {log.name}")
            time.sleep(0.5)
        else:
            raise SystemExit("bando serve with its WMS did not answer within 3 minutes")
        yield base
    finally:
        stop_server(proc)
        log.close()


def _tiles(base: str) -> list[morecantile.Tile]:
    tj = httpx.get(f"{base}/ogc/collections/parcels/tiles/WebMercatorQuad?f=tilejson", timeout=30).json()
    w, s, e, n = tj["bounds"]
    return list(morecantile.tms.get("WebMercatorQuad").tiles(w, s, e, n, [ZOOM]))


def _wms_url(base: str, t: morecantile.Tile) -> str:
    b = morecantile.tms.get("WebMercatorQuad").xy_bounds(t)
    return (
        f"{base}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=parcels&STYLES=&CRS=EPSG:3857"
        f"&BBOX={b.left},{b.bottom},{b.right},{b.top}&WIDTH=256&HEIGHT=256&FORMAT=image/png"
    )


def _tile_url(base: str, t: morecantile.Tile) -> str:
    return f"{base}/ogc/collections/parcels/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}?f=mvt"


def _measure(urls: list[str], clients: int) -> dict[str, float]:
    with httpx.Client(timeout=120, limits=httpx.Limits(max_connections=clients)) as client:

        def one(url: str) -> tuple[float, bool]:
            started = time.perf_counter()
            r = client.get(url)
            return time.perf_counter() - started, r.status_code in (200, 204)

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(one, urls))
        wall = time.perf_counter() - started
    times = sorted(t for t, _ in results)
    return {
        "requests": len(urls),
        "errors": sum(1 for _, ok in results if not ok),
        "rps": len(urls) / wall,
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--passes", type=int, default=1, help="times each extent is asked for")
    args = parser.parse_args()
    env = cluster_env("maps")
    os.makedirs(env["BANDO_HOME"], exist_ok=True)
    _bando(env, "db", "up")
    _bando(env, "load-all", "data_samples/manifest.yml")
    with _server(env) as base:
        tiles = _tiles(base)
        print(
            f"{len(tiles)} z{ZOOM} extents over the published parcels, {args.clients} clients, {args.passes} pass(es)"
        )
        _measure([_wms_url(base, t) for t in tiles[:4]], 2)  # warm QGIS Server's project and connections
        rows = {
            "WMS GetMap (QGIS Server), 256 px PNG": _measure(
                [_wms_url(base, t) for t in tiles] * args.passes, args.clients
            ),
            "vector tile (bando), MVT": _measure([_tile_url(base, t) for t in tiles] * args.passes, args.clients),
        }
    print(f"{'':<40} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    for name, r in rows.items():
        print(f"{name:<40} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['errors']:>7}")
    wms, mvt = rows.values()
    print(f"vector tiles answer {mvt['rps'] / wms['rps']:.1f}× as many requests per second as WMS GetMap")


if __name__ == "__main__":
    main()
