"""The WMS server ``bando serve`` runs: QGIS Server over a project built from the catalogue.

WMS comes from an existing map server, not from bando: QGIS Server (Debian
``qgis-server``; its ``qgis_mapserver`` HTTP front end) serves a project whose layers read
PostGIS as the public role ``bando_api`` through a SQL subquery of public columns, styled
by the catalogue's QML. The password sits in an owner-only ``PGPASSFILE`` under
``BANDO_HOME/wms``, never in the project. ``bando serve`` starts it on a loopback port,
restarts it if it dies (at most once every few seconds), stops it on exit, and the app
forwards ``/wms`` to it (:mod:`bando.api_config.wms`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from bando import db
from bando.errors import BandoError, SetupError
from bando.layers.catalogue import cached
from bando.layers.styles import project
from bando.province import configured
from bando.publisher import publisher
from bando.settings import Settings

LOG = logging.getLogger("bando.wms")
BINARY = "qgis_mapserver"
RESTART_PAUSE_S = 3.0


def available() -> bool:
    return shutil.which(BINARY) is not None


def _pgpass(folder: Path, url: str) -> tuple[Path, project.PgConn]:
    info = conninfo_to_dict(url)
    conn = project.PgConn(
        str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432), str(info["dbname"]), str(info["user"])
    )
    secret = str(info.get("password") or "").replace("\\", "\\\\").replace(":", "\\:")
    path = folder / "pgpass"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"*:{conn.port}:{conn.dbname}:{conn.user}:{secret}\n")
    return path, conn


def _published(layer_ids: list[str]) -> set[str]:
    with db.connect(autocommit=True) as conn:
        return {x for x in layer_ids if db.scalar(conn, "select to_regclass(%s) is not null", (f"data.{x}",))}


def _rasters() -> dict[str, str]:
    """The current file of each published raster layer."""
    with db.connect(autocommit=True) as conn:
        if not db.scalar(conn, "select to_regclass('bando.rasters') is not null"):
            return {}
        rows = conn.execute("select layer, path from bando.rasters where version_id = 'current'").fetchall()
    return {str(layer): str(path) for layer, path in rows if Path(path).is_file()}


def _instance_folder(root: Path) -> Path:
    """A folder of this ``bando serve`` alone under ``BANDO_HOME/wms``.

    QGIS Server re-reads its project when the file changes, and the project names the
    public URL its capabilities advertise: two servers on one home (a rolling restart, a
    second port) must not write each other's project. Folders of servers that are gone
    are removed here."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    for old in root.glob("serve-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"serve-{os.getpid()}-", dir=root))  # mode 0700


def build_project(settings: Settings, service_url: str) -> tuple[Path, dict[str, str]]:
    """Write this server's WMS project under ``BANDO_HOME/wms``; returns it and the environment
    QGIS needs."""
    folder = _instance_folder(Path(settings.home) / "wms")
    pgpass, conn = _pgpass(folder, db.view_url("public", settings))
    env = {"PGPASSFILE": str(pgpass)}
    province = configured(settings)
    catalogue = list(cached())
    styles = folder / "styles"
    styles.mkdir(mode=0o700, exist_ok=True)
    spec = project.wms_spec(
        catalogue,
        conn,
        province.storage_srid("province"),
        publisher(settings, province).title_vi,
        styles,
        service_url,
        _published([x.id for x in catalogue]),
        _rasters(),
    )
    out = folder / "bando-wms.qgz"
    report = project.build(spec, out, workdir=folder, extra_env=env)
    bad = [x["name"] for x in report["layers"] if not x["valid"]]
    if bad:
        raise SetupError(f"the WMS project has layers QGIS cannot read: {', '.join(bad)}")
    return out, env


def _die_with_parent() -> None:
    """Linux: the map server gets SIGTERM when ``bando serve`` dies, however it dies."""
    with contextlib.suppress(OSError):  # not Linux: the finally in `bando serve` still stops it
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WmsServer:
    """One supervised ``qgis_mapserver`` on a loopback port."""

    def __init__(self, project_file: Path, env: dict[str, str], home: Path) -> None:
        self.project_file = project_file
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = project._env(home) | env | {"QGIS_SERVER_LOG_LEVEL": "2", "QGIS_SERVER_LOG_STDERR": "1"}
        self.home = home
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="wms-supervisor", daemon=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        log = open(self.home / "qgis-server.log", "ab")  # noqa: SIM115 — owned by the child
        cmd = [BINARY, "-l", "2", "-p", str(self.project_file), f"127.0.0.1:{self.port}"]
        return subprocess.Popen(
            cmd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    def start(self, wait_s: float = 60) -> None:
        self._proc = self._spawn()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SetupError(f"QGIS Server exited at start (see {self.home / 'qgis-server.log'})")
            try:
                with urllib.request.urlopen(f"{self.url}?SERVICE=WMS&REQUEST=GetCapabilities", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            self.stop()
            raise SetupError("QGIS Server did not answer within a minute")
        self._thread.start()

    def _supervise(self) -> None:
        while not self._stopping.wait(1.0):
            proc = self._proc
            if proc is not None and proc.poll() is not None and not self._stopping.is_set():
                LOG.warning("QGIS Server exited with %s; restarting", proc.returncode)
                time.sleep(RESTART_PAUSE_S)
                if not self._stopping.is_set():
                    self._proc = self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def start(settings: Settings, base_url: str) -> WmsServer | None:
    """Build the project and start QGIS Server; None where WMS is off or QGIS Server is missing."""
    if not settings.wms or settings.wms_upstream:
        return None
    if not available():
        LOG.warning("WMS is off: QGIS Server (Debian qgis-server) is not installed")
        return None
    try:
        project_file, env = build_project(settings, f"{base_url.rstrip('/')}/wms")
        server = WmsServer(project_file, env, project_file.parent)
        server.start()
    except BandoError as exc:
        # The API and the pages do not depend on the map server: serve them, say why /wms is missing.
        LOG.error("WMS is off: %s", exc)
        return None
    except Exception:  # same: never fatal, and the log says where it failed
        LOG.exception("WMS is off: the map server could not be started")
        return None
    return server
