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
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyogrio
import shapely
from psycopg import sql
from pyproj import CRS, Transformer

from bando import downloads
from bando.crs import transformer
from bando.layers.model import Layer
from bando.layers.tables import VERSION_COLUMNS
from bando.pipelines.rows import arrow_schema
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
BATCH = 50_000  # rows per round trip and per written batch: memory follows this, not the layer


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
            srid = province.storage_srid(layer.storage_crs)
            spool = folder / ".rows.arrow"
            for stem, which in sets:
                count = _spool(conn, layer, str(which["id"]) if which else None, spool)
                files += _write_all(layer, spool, count, srid, folder, stem, which, published.date())
            spool.unlink()
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
    return names + list(VERSION_COLUMNS) if layer.versioned else names


def _schema(layer: Layer) -> pa.Schema:
    return arrow_schema(layer, _columns(layer)).append(pa.field("geometry", pa.binary()))


def _spool(conn: psycopg.Connection, layer: Layer, version: str | None, path: Path) -> int:
    """The public columns of the published rows (one version's, or the current ones) into an Arrow
    file, batch by batch: every format is then written from it without holding the layer in memory."""
    schema = _schema(layer)
    where = sql.SQL("true")
    params: list[Any] = []
    if layer.versioned:
        where = sql.SQL("version_id = %s") if version else sql.SQL("valid_to is null")
        params = [version] if version else []
    query = sql.SQL("select {cols}, st_asbinary(geom) from {table} where {where} order by fid").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in _columns(layer)),
        table=sql.Identifier("data", layer.table),
        where=where,
    )
    count = 0
    with conn.cursor(name="bando_downloads") as cur, pa.ipc.new_file(str(path), schema) as out:
        cur.itersize = BATCH
        cur.execute(query, params)
        while rows := cur.fetchmany(BATCH):
            columns = list(zip(*rows, strict=True))
            columns[-1] = tuple(bytes(g) if g is not None else None for g in columns[-1])
            out.write_batch(
                pa.record_batch([pa.array(c, type=t.type) for c, t in zip(columns, schema, strict=True)], schema)
            )
            count += len(rows)
    return count


def _batches(spool: Path, to_crs84: Transformer | None = None) -> pa.RecordBatchReader:
    """The spooled rows again, one batch in memory at a time, optionally in CRS84.

    Read, not memory-mapped: GDAL's GeoPackage writer touches its input buffers, and a
    read-only mapping makes that a crash."""
    source = pa.ipc.open_file(pa.OSFile(str(spool)))

    def each() -> Iterator[pa.RecordBatch]:
        for k in range(source.num_record_batches):
            batch = source.get_batch(k)
            if to_crs84 is not None:
                geoms = shapely.from_wkb(batch.column("geometry").to_numpy(zero_copy_only=False))
                moved = shapely.transform(geoms, lambda xy: np.column_stack(to_crs84.transform(xy[:, 0], xy[:, 1])))
                batch = batch.set_column(
                    batch.num_columns - 1, "geometry", pa.array(shapely.to_wkb(moved), pa.binary())
                )
            yield batch

    return pa.RecordBatchReader.from_batches(source.schema, each())


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
    layer: Layer, spool: Path, count: int, srid: int, folder: Path, stem: str, version: dict | None, published: date
) -> list[dict[str, Any]]:
    storage = CRS.from_epsg(srid)
    crs84 = transformer(storage, "OGC:CRS84")
    kind = layer.geometry or "Unknown"
    arrow: dict[str, Any] = {"geometry_name": "geometry", "geometry_type": kind, "layer": layer.id}

    def ogr(path: Path, driver: str, to_crs84: bool = False, **options: Any) -> None:
        crs = CRS.from_user_input("OGC:CRS84") if to_crs84 else storage
        reader = _batches(spool, crs84 if to_crs84 else None)
        pyogrio.write_arrow(reader, path, driver=driver, crs=crs.to_wkt(), **arrow, **options)

    writers: dict[str, Callable[[Path], None]] = {
        "gpkg": lambda p: ogr(p, "GPKG"),
        "geojson": lambda p: ogr(p, "GeoJSON", True, layer_options={"RFC7946": "YES"}),
        "csv": lambda p: _csv(_batches(spool, crs84), p),
        "shp.zip": lambda p: _shapefile_zip(lambda shp: ogr(shp, "ESRI Shapefile", encoding="UTF-8"), p, stem),
        "parquet": lambda p: _parquet(_batches(spool), p, storage, kind),
        "fgb": lambda p: ogr(p, "FlatGeobuf"),
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
            "features": count,
            "dataDate": (version or {}).get("valid_from") or published,
        }
        if version:
            entry["version"] = version
        out.append(entry)
    return out


def _csv(reader: pa.RecordBatchReader, path: Path) -> None:
    """CSV with the geometry as WKT (7 decimals of a degree: about a centimetre)."""
    schema = reader.schema.remove(reader.schema.get_field_index("geometry")).append(pa.field("wkt", pa.string()))
    with pacsv.CSVWriter(str(path), schema, write_options=pacsv.WriteOptions(quoting_style="needed")) as out:
        for batch in reader:
            wkt = shapely.to_wkt(
                shapely.from_wkb(batch.column("geometry").to_numpy(zero_copy_only=False)), rounding_precision=7
            )
            rest = batch.drop_columns(["geometry"])
            out.write_batch(pa.record_batch([*rest.columns, pa.array(wkt, pa.string())], schema))


def _parquet(reader: pa.RecordBatchReader, path: Path, crs: CRS, kind: str) -> None:
    """GeoParquet 1.0: WKB geometry, its CRS as PROJJSON in the file's ``geo`` metadata."""
    geo = {
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": [kind], "crs": crs.to_json_dict()}},
    }
    schema = reader.schema.with_metadata({b"geo": json.dumps(geo).encode()})
    with pq.ParquetWriter(str(path), schema) as out:
        for batch in reader:
            out.write_batch(batch.replace_schema_metadata(schema.metadata))


def _shapefile_zip(write: Callable[[Path], None], path: Path, stem: str) -> None:
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        shp = Path(tmp) / f"{stem}.shp"
        with warnings.catch_warnings():  # names over 10 characters are cut: the format's limit, said in the README
            warnings.filterwarnings("ignore", "Normalized/laundered field name", RuntimeWarning)
            write(shp)
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
