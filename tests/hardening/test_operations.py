"""Operating bando: readiness while the database is down, one tile cache for several servers,
and reads spread over a streaming replica that may stop under load.

One private cluster (its own BANDO_HOME) with communes and roads loaded, real `bando serve`
processes, a real hot standby made by `bando db replica create`.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pytest

from tests.conftest import ROOT
from tests.hardening.cluster import PrivateCluster

SAMPLES = ROOT / "data_samples" / "hung_yen"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    c = PrivateCluster()
    c.up()
    for args in (
        ("communes", str(SAMPLES / "communes.gpkg"), "--source-layer", "ranh_gioi_xa", "--crs", "EPSG:9209"),
        ("roads", str(SAMPLES / "roads.geojson"), "--encoding", "utf-8"),
    ):
        proc = c.bando("load", *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    yield c
    for folder in c.home.parent.glob(f"{c.home.name}-replica*"):
        c.bando("db", "replica", "stop", str(folder))
    c.destroy()
    for folder in c.home.parent.glob(f"{c.home.name}-replica*"):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def metric(base: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    _, body = get(f"{base}/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_health_and_metrics(cluster: PrivateCluster) -> None:
    with cluster.serve() as (url, _):
        assert get(f"{url}/healthz")[0] == 200
        status, body = get(f"{url}/readyz")
        assert status == 200 and b'"ready"' in body
        assert get(f"{url}/ogc/collections/roads/items?limit=2")[0] == 200
        assert get(f"{url}/ogc/collections/roads/items/no-such-road")[0] == 404
        text = get(f"{url}/metrics")[1].decode()
        assert 'route="/ogc/collections/{collectionId}/items",status="200"' in text
        assert 'route="/ogc/collections/{collectionId}/items/{featureId}",status="404"' in text
        assert "no-such-road" not in text, "a path as sent never becomes a label"
        assert 'bando_loads{layer="roads",outcome="published"} 1.0' in text
        assert "bando_http_request_duration_seconds_bucket" in text
        assert 'bando_db_pool_connections{pool="public",state="open"}' in text


def test_readyz_is_503_while_the_database_is_down_and_200_within_2_s_after(cluster: PrivateCluster) -> None:
    with cluster.serve() as (url, _):
        assert get(f"{url}/readyz")[0] == 200
        cluster.down()
        try:
            time.sleep(0.6)  # past the shared answer's lifetime
            status, body = get(f"{url}/readyz")
            assert status == 503, body
            assert get(f"{url}/healthz")[0] == 200, "the process itself is alive"
        finally:
            cluster.up()
        back = time.monotonic()
        while get(f"{url}/readyz")[0] != 200:
            assert time.monotonic() - back < 2.0, "/readyz still 503 two seconds after the database came back"
            time.sleep(0.05)


def tile_urls(base: str, count: int) -> list[str]:
    """``count`` distinct WebMercatorQuad road tiles inside the tile set's limits, from z13 up
    (a tile outside them is a 404, not an empty tile)."""
    _, body = get(f"{base}/ogc/collections/roads/tiles/WebMercatorQuad?f=json")
    urls: list[str] = []
    for m in json.loads(body)["tileMatrixSetLimits"]:
        for y in range(m["minTileRow"], m["maxTileRow"] + 1):
            for x in range(m["minTileCol"], m["maxTileCol"] + 1):
                urls.append(f"/ogc/collections/roads/tiles/WebMercatorQuad/{m['tileMatrix']}/{y}/{x}?f=mvt")
                if len(urls) == count:
                    return urls
    raise AssertionError(f"only {len(urls)} tiles inside the limits")


def test_two_servers_share_one_tile_cache_each_tile_computed_once(cluster: PrivateCluster) -> None:
    limit_mb = 2
    env = cluster.env | {"BANDO_TILE_CACHE_MB": str(limit_mb)}
    with cluster.serve(env=env) as (one, _), cluster.serve(env=env) as (two, _):
        paths = tile_urls(one, 1000)
        bodies: dict[str, bytes] = {}
        for path in paths[:500]:  # the first half: server one builds, server two finds them
            status, body = get(one + path)
            assert status == 200
            bodies[path] = body
        for path in paths:
            status, body = get(two + path)
            assert status == 200
            if path in bodies:
                assert body == bodies[path]
        for path in paths[500:]:
            assert get(one + path)[0] == 200
        computed = metric(one, "bando_tiles_computed_total") + metric(two, "bando_tiles_computed_total")
        assert computed == 1000, f"{computed:.0f} tiles built for 1000 distinct tiles"
        assert metric(one, "bando_tile_cache_bytes") <= limit_mb * 2**20
        assert any(mapbox_vector_tile.decode(b) for b in bodies.values()), "some tiles hold roads"

        # a publish changes the layer's clock: the next request builds the tile again
        proc = cluster.bando("load", "roads", str(SAMPLES / "roads.geojson"), "--encoding", "utf-8", "--force")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        time.sleep(1.2)  # the layers' clock is read at most once a second
        before = metric(two, "bando_tiles_computed_total")
        assert get(two + paths[0])[0] == 200
        assert metric(two, "bando_tiles_computed_total") == before + 1


@contextlib.contextmanager
def hammering(url: str, clients: int = 64) -> Iterator[Counter[int]]:
    """``clients`` threads asking for items as fast as they can; yields the statuses seen so far."""
    statuses: Counter[int] = Counter()
    stop = threading.Event()
    lock = threading.Lock()

    def client(i: int) -> None:
        while not stop.is_set():
            status, _ = get(f"{url}/ogc/collections/roads/items?limit=5&offset={i % 50}", timeout=30)
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    try:
        yield statuses
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)


def replica_port(folder: Path) -> str:
    conf = (folder / "pgdata" / "bando.conf").read_text()
    return re.search(r"^port = (\d+)$", conf, re.M).group(1)  # type: ignore[union-attr]


def replica_reads(cluster: PrivateCluster, folder: Path) -> int:
    """Transactions the replica has answered in bando's database (its statistics lag by up to seconds)."""
    port = replica_port(folder)
    url = re.sub(r":\d+/", f":{port}/", cluster.bando("db", "url", "--role", "admin").stdout.strip())
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return int(conn.execute("select xact_commit from pg_stat_database where datname = 'bando'").fetchone()[0])  # type: ignore[index]


def wait_for(predicate, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"{what} did not happen within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_reads_go_to_a_replica_and_move_to_the_primary_when_it_stops(cluster: PrivateCluster) -> None:
    folder = cluster.home.parent / f"{cluster.home.name}-replica1"
    made = cluster.bando("db", "replica", "create", str(folder))
    assert made.returncode == 0, made.stdout + made.stderr
    env = cluster.env | {"BANDO_QUEUE_SIZE": "128", "BANDO_MAX_LAG_S": "5"}
    with cluster.serve(env=env) as (url, _):
        wait_for(lambda: b'"read_from":true' in get(f"{url}/readyz")[1], 5, "the replica being read from")

        # a delivery loaded on the primary is served from the replica within the allowed lag
        proc = cluster.bando("load", "drainage_lines", str(SAMPLES / "drainage.geojson"), "--encoding", "utf-8")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        loaded = time.monotonic()
        wait_for(lambda: get(f"{url}/ogc/collections/drainage_lines/items?limit=1")[0] == 200, 5, "the new layer")
        assert time.monotonic() - loaded <= 5
        replica = f"127.0.0.1:{replica_port(folder)}"
        before = metric(url, "bando_public_reads_total", server=replica)
        for _ in range(20):
            assert get(f"{url}/ogc/collections/drainage_lines/items?limit=1")[0] == 200
        assert metric(url, "bando_public_reads_total", server=replica) >= before + 20, "read from the replica"
        assert replica_reads(cluster, folder) > 0, "the replica answers bando's database"

        with hammering(url) as statuses:
            time.sleep(2)
            stopped = cluster.bando("db", "replica", "stop", str(folder))
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr
            moved = wait_for(lambda: b'"read_from":false' in get(f"{url}/readyz")[1], 2, "reads moving to the primary")
            fallbacks = metric(url, "bando_replica_fallbacks_total")
            time.sleep(1)
            assert metric(url, "bando_replica_fallbacks_total") > fallbacks, "reads go to the primary"
            started = cluster.bando("db", "replica", "start", str(folder))
            assert started.returncode == 0, started.stdout + started.stderr
            wait_for(lambda: b'"read_from":true' in get(f"{url}/readyz")[1], 30, "reads returning to the replica")
            before = metric(url, "bando_public_reads_total", server=replica)
            time.sleep(1)
            assert metric(url, "bando_public_reads_total", server=replica) > before + 10, "reads return to the replica"
        answered = sum(statuses.values())
        assert answered > 100 and set(statuses) == {200}, f"{dict(statuses)} (moved after {moved:.2f} s)"
