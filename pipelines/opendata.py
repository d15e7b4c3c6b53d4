"""Open-data downloads: every public vector layer written whole, at publish time, in six formats.

Portals harvest files, not APIs, and a download must not cost a request's worth of work per
client, so the files are made once per publish, right after the swap commits: GeoPackage,
zipped Shapefile (UTF-8, with ``.cpg``), FlatGeobuf and GeoParquet in the layer's storage CRS
(VN-2000 TM-3: legal areas are measured there), GeoJSON (RFC 7946, CRS84) and CSV with WKT
geometry in CRS84. Public fields only — the same list the public API shows — so a restricted
field can never be in a file. A versioned layer's current version has the plain names; each
older version has its own files (``<layer>-<version>.<ext>``).

Everything is written into a new folder, checked, and made current by renaming one link
(:mod:`bando.downloads`); a failure removes the new folder and leaves the previous set. An
export that fails does not undo the publish: it is logged, and the next publish writes again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import pyogrio
import shapely
from psycopg import sql

from bando import downloads
from bando.layers.model import Layer
from bando.province import Province
from bando.publisher import publisher
from bando.settings import Settings

LOG = logging.getLogger("bando.pipelines")
LICENCES = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}
#: extension → (format name, media type)
FORMATS: dict[str, tuple[str, str]] = {
    "gpkg": ("GeoPackage", "application/geopackage+sqlite3"),
    "geojson": ("GeoJSON", "application/geo+json"),
    "csv": ("CSV", "text/csv"),
    "shp.zip": ("Shapefile", "application/zip"),
    "parquet": ("GeoParquet", "application/vnd.apache.parquet"),
    "fgb": ("FlatGeobuf", "application/flatgeobuf"),
}
VERSION_FIELDS = ("version_id", "valid_from", "valid_to")


def export_after_publish(layer: Layer, url: str, settings: Settings, province: Province) -> None:
    """Called once a publish has committed: write the layer's downloads, never failing the load."""
    if layer.kind != "vector" or layer.geometry is None:
        return
    try:
        export(layer, url, settings, province)
    except Exception as exc:  # the publish stands; the previous downloads stay current
        LOG.warning("open-data export of %s failed (%s); the previous downloads stay", layer.id, type(exc).__name__)


def export(layer: Layer, url: str, settings: Settings, province: Province) -> Path:
    """Write every download of ``layer`` into a new folder and make it current; returns the folder."""
    base = downloads.root(settings) / layer.id
    base.mkdir(parents=True, exist_ok=True, mode=0o755)
    folder = Path(tempfile.mkdtemp(prefix=".new-", dir=base))
    try:
        with psycopg.connect(url) as conn:
            state = conn.execute(
                "select lineage_id, published_at from bando.layer_state where layer = %s", (layer.id,)
            ).fetchone()
            if state is None:
                raise LookupError(f"{layer.id} is not published")
            lineage, published = state
            sets: list[tuple[str, dict[str, Any] | None]] = [(layer.id, None)]
            for version, valid_from, valid_to in _old_versions(conn, layer):
                about: dict[str, Any] = {"id": version, "valid_from": valid_from, "valid_to": valid_to}
                if valid_from is not None and valid_from == valid_to:
                    about["draft"] = True  # on view for comment, never in force
                sets.append((f"{layer.id}-{downloads.safe_name(version)}", about))
            files = []
            for stem, which in sets:
                frame = _read(conn, layer, province, str(which["id"]) if which else None)
                files += _write_all(frame, folder, stem, layer.id, which, published.date())
        doc = _manifest(layer, settings, province, lineage, published.date(), files)
        (folder / downloads.MANIFEST).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        final = base / str(lineage)
        if final.exists():
            shutil.rmtree(final)
        folder.chmod(0o755)
        folder.rename(final)
        _point_current(base, final.name)
        _drop_old(base, keep=final.name)
        return final
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _columns(layer: Layer) -> list[str]:
    names = ["fid", *(f.name for f in layer.public_fields)]
    return names + list(VERSION_FIELDS) if layer.versioned else names


def _read(conn: psycopg.Connection, layer: Layer, province: Province, version: str | None) -> gpd.GeoDataFrame:
    """The public columns of the published rows (one version's, or the current ones)."""
    cols = _columns(layer)
    where = sql.SQL("true")
    params: list[Any] = []
    if layer.versioned:
        where = sql.SQL("version_id = %s") if version else sql.SQL("valid_to is null")
        params = [version] if version else []
    query = sql.SQL("select {cols}, st_asbinary(geom) from {table} where {where} order by fid").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
        table=sql.Identifier("data", layer.table),
        where=where,
    )
    rows = conn.execute(query, params).fetchall()
    frame = pd.DataFrame([r[:-1] for r in rows], columns=cols)
    geometry = shapely.from_wkb([bytes(r[-1]) if r[-1] is not None else None for r in rows])
    srid = province.storage_srid(layer.storage_crs)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=f"EPSG:{srid}")


def _old_versions(conn: psycopg.Connection, layer: Layer) -> list[tuple[str, date | None, date | None]]:
    if not layer.versioned:
        return []
    rows = conn.execute(
        sql.SQL(
            "select version_id, min(valid_from), max(valid_to) from {} where valid_to is not null"
            " group by version_id order by 2"
        ).format(sql.Identifier("data", layer.table))
    ).fetchall()
    return [(str(v), f, t) for v, f, t in rows]


def _write_all(
    frame: gpd.GeoDataFrame, folder: Path, stem: str, layer_id: str, version: dict | None, published: date
) -> list[dict[str, Any]]:
    in_crs84 = frame.to_crs("OGC:CRS84")
    writers: dict[str, Callable[[Path], None]] = {
        "gpkg": lambda p: pyogrio.write_dataframe(frame, p, driver="GPKG", layer=layer_id),
        "geojson": lambda p: pyogrio.write_dataframe(in_crs84, p, driver="GeoJSON", layer_options={"RFC7946": "YES"}),
        "csv": lambda p: _csv(in_crs84, p),
        "shp.zip": lambda p: _shapefile_zip(frame, p, stem),
        "parquet": lambda p: frame.to_parquet(p, index=False),
        "fgb": lambda p: pyogrio.write_dataframe(frame, p, driver="FlatGeobuf", layer=layer_id),
    }
    out = []
    for ext, write in writers.items():
        path = folder / f"{stem}.{ext}"
        write(path)
        path.chmod(0o644)
        name, media = FORMATS[ext]
        entry: dict[str, Any] = {
            "name": path.name,
            "format": name,
            "mediaType": media,
            "size": path.stat().st_size,
            "sha256": _sha256(path),
            "features": len(frame),
            "dataDate": (version or {}).get("valid_from") or published,
        }
        if version:
            entry["version"] = version
        out.append(entry)
    return out


def _csv(frame: gpd.GeoDataFrame, path: Path) -> None:
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=7)
    table.to_csv(path, index=False, encoding="utf-8")


def _shapefile_zip(frame: gpd.GeoDataFrame, path: Path, stem: str) -> None:
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        shp = Path(tmp) / f"{stem}.shp"
        with warnings.catch_warnings():  # names over 10 characters are cut: the format's limit, said in the README
            warnings.filterwarnings("ignore", "Normalized/laundered field name", RuntimeWarning)
            pyogrio.write_dataframe(frame, shp, driver="ESRI Shapefile", encoding="UTF-8")
        cpg = shp.with_suffix(".cpg")
        if not cpg.exists():
            cpg.write_text("UTF-8", encoding="ascii")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for part in sorted(Path(tmp).iterdir()):
                z.write(part, part.name)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest(
    layer: Layer, settings: Settings, province: Province, lineage: int, published: date, files: list[dict]
) -> dict[str, Any]:
    who = publisher(settings, province)
    licence = LICENCES.get(layer.metadata.license, settings.licence_url)
    return {
        "layer": layer.id,
        "title": {"vi": layer.title.vi, "en": layer.title.en},
        "lineage": lineage,
        "published": published.isoformat(),
        "licence": {"id": layer.metadata.license, "url": licence},
        "publisher": who.organisation,
        "files": json.loads(json.dumps(files, default=str)),
    }


def _point_current(base: Path, target: str) -> None:
    """Turn ``current`` to ``target`` in one rename (readers never see it missing)."""
    link = base / f".current-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    link.replace(base / downloads.CURRENT)


def _drop_old(base: Path, keep: str) -> None:
    for entry in base.iterdir():
        if entry.is_dir() and not entry.is_symlink() and entry.name != keep and not entry.name.startswith("."):
            shutil.rmtree(entry, ignore_errors=True)
