"""Faults: PostgreSQL restarted under load, loads killed at random moments, a data folder
that cannot be written, a database disk that fills up.

Runs on a private embedded cluster (its own BANDO_HOME, province 33) because it stops,
restarts and fills that cluster; a real `bando serve` and real `bando load` processes.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from bando.cluster import Cluster, find_bindir
from tests.hardening.cluster import BANDO, LEAKS, ROOT, PrivateCluster, layer_fingerprint, staging_tables
from tests.pipelines.synthetic import parcel_grid

SUBSET = ("parcels", "land_use_plan", "planning_plots")  # what the planning report reads, and tiles/items
KILL_TRIALS = 20
KILL_PARCELS = 30_000
SEED = int(os.environ.get("BANDO_HARDENING_SEED", "2026"))


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    """A private cluster with the sample parcels and plans loaded through `bando load-all`."""
    c = PrivateCluster()
    try:
        c.up()
        manifest = yaml.safe_load((ROOT / "data_samples" / "manifest.yml").read_text(encoding="utf-8"))
        here = ROOT / "data_samples"
        deliveries = [
            d
            | {"source": str((here / d["source"]).resolve())}
            | {"documents": [str((here / p).resolve()) for p in d.get("documents", [])]}
            for d in manifest["deliveries"]
            if d["layer"] in SUBSET
        ]
        subset = c.home / "subset.yml"
        subset.write_text(
            yaml.safe_dump({"province": manifest["province"], "deliveries": deliveries}, allow_unicode=True),
            encoding="utf-8",
        )
        proc = c.bando("load-all", str(subset))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        yield c
    finally:
        c.destroy()


@pytest.fixture(scope="module")
def served(cluster: PrivateCluster) -> Iterator[tuple[str, subprocess.Popen]]:
    with cluster.serve() as (url, proc):
        yield url, proc


@pytest.fixture(scope="module")
def grids(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two different deliveries of the same commune, so every load changes the layer."""
    folder = tmp_path_factory.mktemp("grids")
    return (
        parcel_grid(folder / "a.gpkg", KILL_PARCELS, size=10.0),
        parcel_grid(folder / "b.gpkg", KILL_PARCELS, size=12.0),
    )


# -- PostgreSQL restarted under load ------------------------------------------------------


@dataclass
class Answer:
    kind: str
    started: float
    ended: float
    status: int  # -1: no HTTP answer at all
    body: str

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    r = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)


class Hammer:
    """Client threads requesting items, tiles and planning reports until stopped."""

    def __init__(self, base: str, parcels: list[tuple], per_kind: int = 2) -> None:
        self.base, self.parcels = base, parcels
        self.answers: list[Answer] = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(kind, SEED + i), daemon=True)
            for i, kind in enumerate(("items", "tiles", "reports") * per_kind)
        ]

    def _request(self, client: httpx.Client, kind: str, rng: random.Random) -> httpx.Response:
        maxa, sheet, num, lon, lat = rng.choice(self.parcels)
        if kind == "items":
            d = 0.001
            return client.get(
                "/ogc/collections/parcels/items",
                params={"bbox": f"{lon - d},{lat - d},{lon + d},{lat + d}", "limit": 50},
            )
        if kind == "tiles":  # spread over many parcels' tiles (inside the limits), so most are not cached
            z = rng.choice((15, 16, 17))
            x, y = _tile(lon, lat, z)
            return client.get(f"/ogc/collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt")
        body = {"inputs": {"maXa": maxa, "soHieuToBanDo": sheet, "soThuTuThua": num}}
        return client.post("/ogc/processes/planning-report/execution", json=body)

    def _run(self, kind: str, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base, timeout=20) as client:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    r = self._request(client, kind, rng)
                    answer = Answer(
                        kind, started, time.monotonic(), r.status_code, "" if r.status_code == 200 else r.text[:500]
                    )
                except httpx.HTTPError as exc:
                    answer = Answer(kind, started, time.monotonic(), -1, repr(exc))
                self.answers.append(answer)

    def __enter__(self) -> Hammer:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def test_postgres_restart_under_load_fails_fast_with_503_and_recovers_without_restarting_bando(
    cluster: PrivateCluster, served: tuple[str, subprocess.Popen]
) -> None:
    base, proc = served
    with cluster.connect() as conn:
        parcels = conn.execute(
            'select "maXa", "soHieuToBanDo", "soThuTuThua", st_x(p), st_y(p) from (select *,'
            " st_transform(st_pointonsurface(geom), 4326) p from data.parcels where \"maXa\" <> '12345'"
            " order by fid limit 400) s"
        ).fetchall()
    # the same code path as `bando db down` / `bando db up` (pg_ctl as the postgres user), in-process
    pg = Cluster(cluster.home, find_bindir(), durable=False)
    with Hammer(base, parcels) as hammer:
        time.sleep(2.0)
        pg.stop()
        down = time.monotonic()
        time.sleep(4.0)
        back_from = time.monotonic()
        pg.start()
        back = time.monotonic()
        time.sleep(8.0)
    answers = hammer.answers
    summary = {k: sorted({a.status for a in answers if a.kind == k}) for k in ("items", "tiles", "reports")}

    assert proc.poll() is None, "bando serve died"
    no_answer = [a for a in answers if a.status == -1]
    assert not no_answer, f"requests got no HTTP answer: {no_answer[:3]}"
    wrong = [a for a in answers if a.status not in (200, 503)]
    assert not wrong, f"only 200 or 503 expected: {[(a.kind, a.status, a.body[:120]) for a in wrong[:5]]}"
    leaking = [a for a in answers if any(leak in a.body.lower() for leak in LEAKS)]
    assert not leaking, f"error bodies leak internals: {leaking[0].body[:300]}"
    slow = sorted((a for a in answers if a.seconds > 4.5), key=lambda a: -a.seconds)
    assert not slow, (
        f"{len(slow)} requests took more than 4.5 s, e.g. {[(a.kind, round(a.seconds, 1), a.status) for a in slow[:5]]}"
    )

    during = [a for a in answers if a.started >= down and a.ended <= back_from]
    for kind in ("items", "tiles", "reports"):
        mine = [a for a in during if a.kind == kind]
        assert any(a.status == 503 for a in mine), (kind, summary)
        if kind != "tiles":  # a tile may come from the in-process cache while the database is down
            assert all(a.status == 503 for a in mine), (kind, [a.status for a in mine])
    outage = [a.seconds for a in during if a.status == 503]
    assert statistics.median(outage) < 1.5, f"outage answers are not fast: median {statistics.median(outage):.2f} s"

    recovered = [a for a in answers if a.started >= back + 5.0]
    for kind in ("items", "tiles", "reports"):
        mine = [a for a in recovered if a.kind == kind]
        assert len(mine) >= 3, (kind, len(mine))
        assert all(a.status == 200 for a in mine), (
            kind,
            [(a.status, a.body[:100]) for a in mine if a.status != 200][:3],
        )
    with httpx.Client(base_url=base, timeout=20) as client:
        assert client.get("/ogc/collections/parcels/items?limit=1").status_code == 200


# -- loads killed at random moments --------------------------------------------------------


def _load(cluster: PrivateCluster, src: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [BANDO, "load", "parcels", str(src), "--force"],
        env=cluster.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _quiet(conn: psycopg.Connection) -> None:
    """Wait until a killed load's backends are gone: statements rolled back, load lock released."""
    deadline = time.monotonic() + 60
    busy = (
        "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
        " and backend_type = 'client backend' and state <> 'idle'"
    )
    locked = "select count(*) from pg_locks where locktype = 'advisory'"
    while time.monotonic() < deadline:
        if conn.execute(busy).fetchone()[0] == 0 and conn.execute(locked).fetchone()[0] == 0:
            return
        time.sleep(0.05)
    raise AssertionError("a killed load's backend is still at work after 60 s")


def test_loads_killed_at_random_moments_leave_the_published_layer_unchanged(
    cluster: PrivateCluster, grids: tuple[Path, Path]
) -> None:
    rng = random.Random(SEED)
    durations = []
    for src in grids:  # publish both once: the faster run estimates a load's life
        started = time.monotonic()
        proc = cluster.bando("load", "parcels", str(src), "--force")
        durations.append(time.monotonic() - started)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    other, published = grids
    estimate = min(durations)
    # one random moment in each of KILL_TRIALS equal slices of a load's life, in random order
    fractions = [(i + rng.random()) / KILL_TRIALS * 0.9 for i in range(KILL_TRIALS)]
    rng.shuffle(fractions)
    killed: list[int] = []  # lineage rows of killed loads
    kills, finished = [], []  # (fraction, delay) of each kill; lineage ids of loads that finished first
    with cluster.connect() as conn:
        last_id = conn.execute("select max(id) from bando.lineage").fetchone()[0]
        before = layer_fingerprint(conn)
        for attempt in range(KILL_TRIALS + 10):  # a load that beats its kill does not count: draw again
            if len(kills) == KILL_TRIALS:
                break
            fraction = fractions[len(kills)]
            delay = fraction * estimate
            proc = _load(cluster, other)
            started = time.monotonic()
            while time.monotonic() - started < delay and proc.poll() is None:
                time.sleep(0.01)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            code = proc.wait()
            ran = time.monotonic() - started
            _quiet(conn)
            new = conn.execute(
                "select id, outcome from bando.lineage where layer = 'parcels' and id > %s order by id", (last_id,)
            ).fetchall()
            last_id = max([last_id, *(r[0] for r in new)])
            after = layer_fingerprint(conn)
            where = f"attempt {attempt} (seed {SEED}): killed {delay:.2f} s into a load of ~{estimate:.1f} s"
            assert staging_tables(conn) == [], where
            if code == 0 or (new and after[2] == new[-1][0]):
                # the load finished (or committed) before the kill: it published, completely
                assert after[0] == before[0] and after != before and after[2] == new[-1][0], where
                finished.append(after[2])
                before, (published, other) = after, (other, published)
                estimate = min(estimate, ran)  # the machine got faster: aim earlier
            else:
                assert after == before, where
                killed += [r[0] for r in new]
                kills.append((fraction, delay))
        final = cluster.bando("load", "parcels", str(other), "--force")
        assert final.returncode == 0 and "published" in final.stdout, final.stdout + final.stderr
        assert layer_fingerprint(conn) != before
        assert staging_tables(conn) == []
        rows = conn.execute("select id, outcome, message from bando.lineage where id = any(%s)", (killed,)).fetchall()
        done = conn.execute("select id, outcome from bando.lineage where id = any(%s)", (finished,)).fetchall()
        still = conn.execute(
            "select count(*) from bando.lineage where layer = 'parcels' and outcome = 'running'"
        ).fetchone()[0]
    assert len(kills) == KILL_TRIALS, f"only {len(kills)} loads were killed; {len(finished)} finished before their kill"
    assert still == 0
    assert all(outcome == "failed" and "interrupted" in message for _, outcome, message in rows), rows
    assert all(outcome == "published" for _, outcome in done), done  # finished, or killed after the commit
    print(
        f"{len(kills)} kills over a ~{estimate:.1f} s load ({len(rows)} had opened a lineage row); "
        f"{len(finished)} loads finished before their kill"
    )


# -- a data folder that cannot be written, a full disk ----------------------------------------


def _mount_tmpfs(where: Path, options: str) -> None:
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()[:100]}); needs root with CAP_SYS_ADMIN")


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True, check=False)


def _fill(folder: Path) -> None:
    with contextlib.suppress(OSError), (folder / "filler").open("wb") as fh:
        while True:
            fh.write(bytes(4096))
            fh.flush()


@contextlib.contextmanager
def _reports_folder(cluster: PrivateCluster, kind: str) -> Iterator[None]:
    reports = cluster.home / "reports"
    reports.mkdir(exist_ok=True)
    if kind == "not-a-folder":  # the reports path is taken by a file: ENOTDIR/EEXIST even for root
        aside = cluster.home / "reports.aside"
        reports.rename(aside)
        reports.write_text("not a folder")
        try:
            yield
        finally:
            reports.unlink()
            aside.rename(reports)
        return
    _mount_tmpfs(reports, "ro,size=1m" if kind == "read-only" else "size=256k")
    try:
        if kind == "full":
            _fill(reports)
        yield
    finally:
        _umount(reports)


def _assert_clean_refusal(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 70), (proc.returncode, text)
    assert "traceback" not in text.lower() and 'file "' not in text.lower(), text
    assert any(all(w.lower() in line.lower() for w in words) for line in text.splitlines()), (words, text)


@pytest.mark.parametrize("kind", ["read-only", "full", "not-a-folder"])
def test_a_reports_folder_that_cannot_be_written_refuses_the_load_before_anything_is_published(
    cluster: PrivateCluster, tmp_path: Path, kind: str
) -> None:
    src = parcel_grid(tmp_path / "delivery.gpkg", 60, commune="54321", origin=(566_000, 2_312_000))
    with cluster.connect() as conn:
        before = layer_fingerprint(conn)
        with _reports_folder(cluster, kind):
            proc = cluster.bando("load", "parcels", str(src), "--force")
        _quiet(conn)
        assert layer_fingerprint(conn) == before
        assert staging_tables(conn) == []
    _assert_clean_refusal(proc, "reports", "nothing was loaded")


def test_a_database_disk_that_fills_up_during_a_load_fails_it_cleanly(
    cluster: PrivateCluster, grids: tuple[Path, Path]
) -> None:
    """The staging table lives on a 2 MB tablespace: COPY hits 'No space left on device'."""
    tiny = cluster.home / "tiny-tablespace"
    tiny.mkdir()
    uid, gid = Cluster(cluster.home, find_bindir())._server_ids()
    _mount_tmpfs(tiny, f"size=2m,uid={uid},gid={gid},mode=0700")
    try:
        with cluster.connect("admin") as admin:  # a tablespace is a superuser's to make; loads run as the owner
            admin.execute(f"create tablespace hardening_tiny location '{tiny}'")
            admin.execute("grant create on tablespace hardening_tiny to bando_owner")
        with cluster.connect() as conn:
            before = layer_fingerprint(conn)
            env = cluster.env | {"PGOPTIONS": "-c default_tablespace=hardening_tiny"}
            proc = cluster.bando("load", "parcels", str(grids[1]), "--force", env=env)
            _quiet(conn)
            assert layer_fingerprint(conn) == before
            assert staging_tables(conn) == []
            outcome = conn.execute("select outcome, message from bando.lineage order by id desc limit 1").fetchone()
        with cluster.connect("admin") as admin:
            admin.execute("drop tablespace hardening_tiny")
    finally:
        _umount(tiny)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    _assert_clean_refusal(proc, "disk space", "nothing was published")
    assert outcome[0] == "failed" and "disk space" in outcome[1], outcome
