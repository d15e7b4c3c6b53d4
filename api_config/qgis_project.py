"""The planners' QGIS project, from the catalogue and what is published: ``bando qgis-project``
and the download at ``/ogc/resources/bando.qgz``.

It reads which versions of versioned layers are published (the database), the province's
TM-3 zone and title (settings), and hands them to :mod:`bando.layers.styles.project`,
which has QGIS build the ``.qgz``. QGIS checks every layer against the running API while
it builds, so the server builds its download in the background once, after start-up, and
answers 503 with ``Retry-After`` until it is ready.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from psycopg import sql

from bando import db
from bando.layers.catalogue import cached
from bando.layers.styles import project
from bando.province import configured
from bando.publisher import publisher
from bando.settings import Settings, get_settings

LOG = logging.getLogger("bando.api")


def published_versions(layer_ids: list[str]) -> dict[str, list[project.Version]]:
    """Each versioned layer's published versions, oldest first (none where nothing is loaded)."""
    out: dict[str, list[project.Version]] = {}
    with db.connect(autocommit=True) as conn:
        for layer_id in layer_ids:
            exists = db.scalar(conn, "select to_regclass(%s) is not null", (f"data.{layer_id}",))
            if not exists:
                continue
            rows = conn.execute(
                sql.SQL(
                    "select version_id, min(valid_from)::text, bool_or(valid_to is null) from {} group by 1 order by 2, 1"
                ).format(sql.Identifier("data", layer_id))
            ).fetchall()
            out[layer_id] = [
                project.Version(str(v), f"{v} ({start or '?'}{', hiện hành' if current else ''})", bool(current))
                for v, start, current in rows
            ]
    return out


def write_project(out: Path, base_url: str) -> dict[str, Any]:
    """Build ``out`` (a ``.qgz``) for a server at ``base_url``; returns QGIS's report."""
    settings = get_settings()
    province = configured(settings)
    catalogue = list(cached())
    versions = published_versions([x.id for x in catalogue if x.versioned])
    srid = province.storage_srid("province")
    title = publisher(settings, province).title_vi
    out.parent.mkdir(parents=True, exist_ok=True)
    styles = out.parent / f".{out.stem}-styles"
    styles.mkdir(exist_ok=True)
    try:
        spec = project.spec(catalogue, f"{base_url.rstrip('/')}/ogc", srid, title, styles, versions)
        return project.build(spec, out)
    finally:
        for f in styles.iterdir():
            f.unlink()
        styles.rmdir()


class ProjectDownload:
    """The server's copy of the project, built once in the background on first demand."""

    def __init__(self, settings: Settings, base_url: str) -> None:
        self.path = Path(settings.home) / "qgis" / "bando.qgz"
        self.base_url = base_url
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.failed = False

    def ready(self) -> Path | None:
        """The file when it is built; otherwise starts building it (once) and returns None."""
        with self._lock:
            if self._thread is not None and not self._thread.is_alive() and self.path.is_file():
                return self.path
            if self._thread is None or (not self._thread.is_alive() and self.failed):
                self.failed = False
                self._thread = threading.Thread(target=self._build, name="qgis-project", daemon=True)
                self._thread.start()
        return None

    def _build(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.path.with_name("building.qgz")
            write_project(tmp, self.base_url)
            tmp.replace(self.path)
        except Exception:  # the API goes on; the next request tries again
            LOG.exception("could not build the QGIS project")
            self.failed = True
