"""Session fixtures: a real embedded PostGIS cluster of the suite's own.

The cluster is started through the same code path as ``bando db up``, in a fresh
temporary folder, so the suite never touches a running demo's database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bando import db
from bando.settings import Settings, get_settings, reset_settings

ROOT = Path(__file__).resolve().parent.parent
#: Tests that need one of these are the slow tier: a real `bando serve`, a browser, QGIS, or
#: clusters of their own. `make test-fast` leaves them out (`-m "not slow"`).
SLOW_FIXTURES = {"server", "web", "browser", "page_factory", "tay_ninh", "private_home"}
SLOW_FOLDERS = {"clients", "notebooks", "hardening"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if folder in SLOW_FOLDERS or SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def bando_env() -> Iterator[dict[str, str]]:
    """Environment for this suite's cluster: private home, fast (non-durable) storage."""
    home = Path(tempfile.mkdtemp(prefix="bando-test-"))
    saved = {k: os.environ.get(k) for k in ("BANDO_HOME", "BANDO_DB_DURABLE", "DATABASE_URL")}
    os.environ.pop("DATABASE_URL", None)
    os.environ["BANDO_HOME"] = str(home)
    os.environ["BANDO_DB_DURABLE"] = "false"
    reset_settings()
    yield {"BANDO_HOME": str(home), "BANDO_DB_DURABLE": "false"}
    try:
        db.down(get_settings())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def database(bando_env: dict[str, str]) -> str:
    """URL of the suite's running database (migrated, PostGIS, VN-2000 rows)."""
    from bando.layers import catalogue

    layers = catalogue.load(get_settings().layers_dir)
    db.up(get_settings(), edit_tables=[layer.table for layer in layers if layer.kind != "raster"])
    return db.database_url()


@pytest.fixture(scope="session")
def settings(database: str) -> Settings:
    return get_settings()


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a `bando` subprocess needs to see the suite's cluster."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return env | (extra or {})


@pytest.fixture(scope="session")
def bando_bin() -> str:
    path = Path(os.sys.executable).with_name("bando")
    assert path.exists(), "the bando entry point is not installed in this environment"
    return str(path)


INTERNAL_TOKEN = "test-internal-token-0123456789abcdef"
MANIFEST = ROOT / "data_samples" / "manifest.yml"


@pytest.fixture(scope="session")
def loaded(database: str) -> list:
    """Every sample delivery of the manifest, loaded once for the session (as `make demo` does)."""
    from bando.pipelines.manifest import run_manifest

    results = run_manifest(MANIFEST)
    bad = [(r.layer, r.outcome, r.message) for r in results if r.outcome not in ("published", "noop")]
    assert not bad, bad
    return results


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(loaded: list, bando_bin: str) -> Iterator[str]:
    """A real `bando serve` on a free port, over the loaded samples; yields its base URL."""
    import subprocess
    import time
    import urllib.request

    port = _free_port()
    env = cli_env({"BANDO_INTERNAL_TOKENS": INTERNAL_TOKEN, "BANDO_BASE_URL": f"http://127.0.0.1:{port}"})
    log = open(Path(os.environ["BANDO_HOME"]) / "server.log", "wb")
    proc = subprocess.Popen([bando_bin, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/ogc/conformance", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError(f"bando serve exited with {proc.returncode}; see {log.name}")
    else:
        proc.kill()
        raise RuntimeError("bando serve did not answer within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
