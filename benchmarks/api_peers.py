"""The servers the API benchmark compares, each started and stopped by the benchmark itself.

* ``bando`` — ``bando serve --workers N`` as shipped (public API at ``/ogc``).
* ``bando, tile cache off`` — the same app under the same uvicorn settings with its
  in-process tile cache emptied (:func:`bando_app_without_tile_cache`), so the tile
  comparison with the peers (which cache nothing) measures rendering, not cache hits.
* ``tipg`` — ``uvicorn tipg.main:app`` on the same database, schema ``data``.
* ``pygeoapi`` — pygeoapi's Starlette app with its stock ``PostgreSQL`` feature and
  ``MVT-postgresql`` tile providers on the same table, from a config file written to
  ``benchmarks/out/api/``.

Each server gets a free loopback port and runs in its own process group, so stopping it
stops its uvicorn workers too. Where a knob changes the work a request does, the peers
are set like bando's catalogue (public fields only, 20 000 features and a 64-unit
buffer per tile, a 16-connection pool per process) and the README says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from benchmarks.common import BIN, ROOT

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
PUBLIC_FIELDS = ["maXa", "soHieuToBanDo", "soThuTuThua", "dienTich", "dienTichPhapLy", "loaiDat"]
TILE_FIELDS = ["maXa", "soHieuToBanDo", "soThuTuThua", "loaiDat"]  # layers/parcels.yml tiles.properties
POOL = 16  # bando's default BANDO_POOL_SIZE


def bando_app_without_tile_cache():
    """uvicorn factory: bando's app with the tile cache keeping nothing (benchmark only)."""
    from bando.api_config import tile_cache
    from bando.cli.server import app_from_settings

    tile_cache.CACHE.off()
    return app_from_settings()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Db:
    url: str
    srid: int
    bbox: list[float]

    @property
    def parts(self) -> dict[str, object]:
        u = urlsplit(self.url)
        return {
            "host": u.hostname,
            "port": u.port or 5432,
            "dbname": u.path.lstrip("/"),
            "user": u.username,
            "password": u.password,
        }


class Server:
    name = ""
    scenarios: tuple[str, ...] = ("items", "tiles")
    ready_path = "/"

    def __init__(self, db: Db, env: dict[str, str], workers: int, out: Path) -> None:
        self.db, self.base_env, self.workers, self.out = db, env, workers, out

    def command(self, port: int) -> list[str]:
        raise NotImplementedError

    def env(self, port: int) -> dict[str, str]:
        return dict(self.base_env)

    def prepare(self, port: int) -> None:
        """Write whatever the server reads at start (config files)."""

    def render(self, scenario: str, spec: dict) -> tuple[str, str, str]:
        raise NotImplementedError

    def uvicorn(self, app: str, port: int, *extra: str) -> list[str]:
        return [
            str(BIN / "uvicorn"),
            app,
            *extra,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--no-server-header",
        ]


def _bbox(spec: dict) -> str:
    return ",".join(f"{v:.6f}" for v in spec["bbox"])


class Bando(Server):
    name = "bando"
    scenarios = ("items", "tiles", "reports")
    ready_path = "/ogc/collections/parcels?f=json"

    def command(self, port: int) -> list[str]:
        return [str(BIN / "bando"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(self.workers)]

    def env(self, port: int) -> dict[str, str]:
        return self.base_env | {"BANDO_POOL_SIZE": str(POOL)}

    def render(self, scenario: str, spec: dict) -> tuple[str, str, str]:
        if scenario == "items":
            return "GET", f"/ogc/collections/parcels/items?f=json&limit=100&bbox={_bbox(spec)}", ""
        if scenario == "tiles":
            return (
                "GET",
                f"/ogc/collections/parcels/tiles/WebMercatorQuad/{spec['z']}/{spec['y']}/{spec['x']}?f=mvt",
                "",
            )
        body = json.dumps({"inputs": spec["inputs"]}, ensure_ascii=False, separators=(",", ":"))
        return "POST", "/ogc/processes/planning-report/execution", body


class BandoNoTileCache(Bando):
    name = "bando, tile cache off"
    scenarios = ("tiles",)

    def command(self, port: int) -> list[str]:
        # the same uvicorn settings as `bando serve`, with the benchmark's factory
        return [
            *self.uvicorn("benchmarks.api_peers:bando_app_without_tile_cache", port, "--factory"),
            "--proxy-headers",
            "--timeout-graceful-shutdown",
            "5",
        ]

    def env(self, port: int) -> dict[str, str]:
        return super().env(port) | {"BANDO_BASE_URL": f"http://127.0.0.1:{port}"}


class Tipg(Server):
    name = "tipg"
    ready_path = "/collections/data.parcels?f=json"

    def command(self, port: int) -> list[str]:
        return self.uvicorn("tipg.main:app", port)

    def env(self, port: int) -> dict[str, str]:
        # tipg.settings: PostgresSettings reads DATABASE_URL (no prefix), DatabaseSettings TIPG_DB_*
        return self.base_env | {
            "DATABASE_URL": self.db.url,
            "DB_MIN_CONN_SIZE": "1",
            "DB_MAX_CONN_SIZE": str(POOL),
            "TIPG_DB_SCHEMAS": '["data"]',
            "TIPG_DB_TABLES": '["data.parcels"]',
            "TIPG_TABLE_CONFIG__data_parcels__pk": "fid",
            "TIPG_TABLE_CONFIG__data_parcels__geomcol": "geom",
            "TIPG_TABLE_CONFIG__data_parcels__properties": json.dumps(["fid", *PUBLIC_FIELDS, "geom"]),
            "TIPG_MAX_FEATURES_PER_TILE": "20000",
            "TIPG_TILE_BUFFER": "64",
            "TIPG_CATALOG_TTL": "86400",
        }

    def render(self, scenario: str, spec: dict) -> tuple[str, str, str]:
        if scenario == "items":
            return "GET", f"/collections/data.parcels/items?f=geojson&limit=100&bbox={_bbox(spec)}", ""
        props = ",".join(TILE_FIELDS)
        return (
            "GET",
            f"/collections/data.parcels/tiles/WebMercatorQuad/{spec['z']}/{spec['x']}/{spec['y']}?properties={props}",
            "",
        )


class Pygeoapi(Server):
    name = "pygeoapi (stock PostgreSQL)"
    ready_path = "/collections/parcels?f=json"

    @property
    def config_path(self) -> Path:
        return self.out / "pygeoapi-stock.yml"

    @property
    def openapi_path(self) -> Path:
        return self.out / "pygeoapi-stock-openapi.yml"

    def command(self, port: int) -> list[str]:
        return self.uvicorn("pygeoapi.starlette_app:APP", port)

    def env(self, port: int) -> dict[str, str]:
        return self.base_env | {"PYGEOAPI_CONFIG": str(self.config_path), "PYGEOAPI_OPENAPI": str(self.openapi_path)}

    def config(self, port: int) -> dict:
        url = f"http://127.0.0.1:{port}"
        data = self.db.parts | {"search_path": ["data", "public"]}
        storage = f"http://www.opengis.net/def/crs/EPSG/0/{self.db.srid}"
        common = {"data": data, "id_field": "fid", "table": "parcels", "geom_field": "geom"}
        return {
            "server": {
                "bind": {"host": "127.0.0.1", "port": port},
                "url": url,
                "mimetype": "application/json; charset=UTF-8",
                "encoding": "utf-8",
                "language": "en-US",
                "pretty_print": False,
                "limits": {"default_items": 100, "max_items": 1000},
                "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
            },
            "logging": {"level": "ERROR"},
            "metadata": {
                "identification": {
                    "title": "bando benchmark: stock pygeoapi",
                    "description": "benchmark only",
                    "keywords": ["benchmark"],
                    "keywords_type": "theme",
                    "terms_of_service": url,
                    "url": url,
                },
                "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
                "provider": {"name": "bando", "url": url},
                "contact": {
                    "name": "bando",
                    "position": "benchmark",
                    "email": "bench@example.org",
                    "role": "pointOfContact",
                },
            },
            "resources": {
                "parcels": {
                    "type": "collection",
                    "title": "Parcels",
                    "description": "data.parcels, stock providers",
                    "keywords": ["parcels"],
                    "links": [],
                    "extents": {"spatial": {"bbox": self.db.bbox, "crs": CRS84}},
                    "providers": [
                        common
                        | {
                            "type": "feature",
                            "name": "PostgreSQL",
                            "storage_crs": storage,
                            "crs": [CRS84, "http://www.opengis.net/def/crs/EPSG/0/4326", storage],
                            "properties": PUBLIC_FIELDS,
                        },
                        common
                        | {
                            "type": "tile",
                            "name": "MVT-postgresql",
                            "storage_crs": storage,
                            "options": {"zoom": {"min": 0, "max": 22}},
                            "format": {"name": "mvt", "mimetype": "application/vnd.mapbox-vector-tile"},
                        },
                    ],
                }
            },
        }

    def prepare(self, port: int) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config(port), sort_keys=False), encoding="utf-8")
        proc = subprocess.run(
            [
                str(BIN / "pygeoapi"),
                "openapi",
                "generate",
                str(self.config_path),
                "--output-file",
                str(self.openapi_path),
            ],
            env=self.env(port),
            capture_output=True,
            text=True,
            cwd=self.out,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"pygeoapi openapi generate failed: {tail[0][:160]}")

    def render(self, scenario: str, spec: dict) -> tuple[str, str, str]:
        if scenario == "items":
            return "GET", f"/collections/parcels/items?f=json&limit=100&bbox={_bbox(spec)}", ""
        return "GET", f"/collections/parcels/tiles/WebMercatorQuad/{spec['z']}/{spec['y']}/{spec['x']}?f=mvt", ""


def get(url: str, timeout: float = 10.0, data: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server's own process group (its uvicorn workers included)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _tail(path: Path, n: int = 1) -> str:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return " | ".join(lines[-n:])[:200] if lines else "no output"


@contextlib.contextmanager
def serving(server: Server, start_timeout_s: float = 120.0) -> Iterator[str]:
    """Start the server on a free port, wait until its collection answers, yield its base URL."""
    port = free_port()
    server.prepare(port)
    log = server.out / "logs" / f"{server.name.split()[0].strip(',')}-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            server.command(port),
            env=server.env(port),
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        status = 0
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode}: {_tail(log)}")
            with contextlib.suppress(OSError):
                status, _ = get(base + server.ready_path, timeout=5)
                if status == 200:
                    break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"not ready after {start_timeout_s:.0f} s (last status {status}): {_tail(log)}")
        yield base
    finally:
        stop_server(proc)
