"""``bando qgis-project``: the planners' QGIS project, from the catalogue and what is published.

The composition root's part: it reads which versions of versioned layers are published
(the database), the province's TM-3 zone and title (settings), and hands them to
:mod:`bando.layers.styles.project`, which has QGIS build the ``.qgz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psycopg import sql

from bando import db
from bando.layers.catalogue import cached
from bando.layers.styles import project
from bando.province import configured
from bando.publisher import publisher
from bando.settings import get_settings


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
