"""Session fixtures: a real embedded PostGIS cluster of the suite's own.

The cluster is started through the same code path as ``bando db up``, in a fresh
temporary folder, so the suite never touches a running demo's database.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def serving(
    bando_bin: str,
    extra: dict[str, str | None] | None = None,
    *,
    env: dict[str, str] | None = None,
    log: str | None = None,
    ready: str = "/ogc/conformance",
    wait_s: float = 60,
) -> Iterator[str]:
    """A real `bando serve` on a free port; yields its base URL once ``ready`` answers 200.

    ``env`` is the whole environment (default: the suite's, :func:`cli_env`), ``extra`` adds to
    it (a None value removes a variable); ``log`` names a file in BANDO_HOME for its output.
    """
    import subprocess
    import time
    import urllib.request

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    merged: dict[str, str | None] = {**(env if env is not None else cli_env()), "BANDO_BASE_URL": url, **(extra or {})}
    full = {k: v for k, v in merged.items() if v is not None}
    out = open(Path(full["BANDO_HOME"]) / log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen([bando_bin, "serve", "--port", str(port)], env=full, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}{ready}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
            if proc.poll() is not None:
                raise RuntimeError(f"bando serve exited with {proc.returncode}" + (f"; see {log}" if log else ""))
            if time.monotonic() > deadline:
                raise RuntimeError(f"bando serve did not answer {ready} within {wait_s:.0f} s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()  # type: ignore[union-attr]


@pytest.fixture(scope="session")
def server(loaded: list, bando_bin: str) -> Iterator[str]:
    """A real `bando serve` on a free port, over the loaded samples; yields its base URL."""
    with serving(bando_bin, {"BANDO_INTERNAL_TOKENS": INTERNAL_TOKEN}, log="server.log") as url:
        yield url
