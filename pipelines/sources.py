"""Extract: open whatever the surveyors delivered and stream it in Arrow batches.

Streaming (``pyogrio.open_arrow``) keeps memory flat however large the file. Every
file-level defect — missing, empty, corrupt, unknown format, no CRS, ambiguous layer
— is refused here with a stable rule code before a single row is read.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyogrio
import pyogrio.raw
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from bando.crs import parse_crs, recognise_vn2000
from bando.errors import BadInput, LoadRefused
from bando.pipelines import mapinfo

VECTOR_SUFFIXES = {
    ".shp": "ESRI Shapefile",
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".csv": "CSV",
    ".gdb": "OpenFileGDB",
    ".tab": "MapInfo File",
    ".mif": "MapInfo File",
}
#: The files beside the one named that belong to the delivery (checksummed with it).
SIDECARS = {".shp": (), ".tab": (".dat", ".map", ".id"), ".mif": (".mid",)}
RASTER_SUFFIXES = {".tif", ".tiff"}
#: Read text byte-for-byte (every byte one character) so bando can detect legacy encodings.
BYTES = "ISO-8859-1"


class FileRefused(LoadRefused):
    """A file-level defect: the whole file is refused under one rule code."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass
class SourceSpec:
    """What the steward said about a delivery (command line or manifest)."""

    path: Path
    source_layer: str | None = None
    crs: str | None = None
    encoding: str = "auto"
    x_column: str | None = None
    y_column: str | None = None


@dataclass
class Source:
    spec: SourceSpec
    driver: str
    layer: str | None
    crs: CRS | None
    crs_origin: str  # "declared" | "file" | "none"
    feature_count: int | None
    columns: list[str]
    geometry_type: str | None
    read_encoding: str | None  # what pyogrio is asked to decode with (None = its own choice)
    has_cpg: bool = False
    open_options: dict[str, str] = field(default_factory=dict)
    charset: str | None = None  # what a MapInfo file declares
    text_encoding: str = "auto"  # what the file itself says its text is (the steward's --encoding wins)
    crs_note: str | None = None  # how a CRS without a code was recognised
    prebuilt: pa.Table | None = None  # rows already built (a CAD drawing through its profile)

    @property
    def is_spatial(self) -> bool:
        return self.geometry_type is not None


def sha256(path: Path) -> str:
    """Checksum of the delivery (all sidecar files of a Shapefile, every file of a .gdb)."""
    digest = hashlib.sha256()
    files = sorted(path.rglob("*")) if path.is_dir() else _sidecars(path)
    for f in files:
        if f.is_file():
            digest.update(f.name.lower().encode())
            with f.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
    return digest.hexdigest()


def _sidecars(path: Path) -> list[Path]:
    if path.suffix.lower() not in SIDECARS:
        return [path]
    stem = path.with_suffix("")
    kinds = {path.suffix.lower(), *SIDECARS[path.suffix.lower()]}
    found = [
        p
        for p in path.parent.iterdir()
        if p.with_suffix("") == stem and (path.suffix.lower() == ".shp" or p.suffix.lower() in kinds)
    ]
    return sorted(found, key=lambda p: p.suffix.lower())


def _check_file(path: Path) -> str:
    if not path.exists():
        raise FileRefused("file.not_found", f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix in RASTER_SUFFIXES:
        raise BadInput(f"{path.name} is a raster; load it into a raster layer")
    if suffix not in VECTOR_SUFFIXES:
        known = ", ".join(sorted({*VECTOR_SUFFIXES, *RASTER_SUFFIXES}))
        raise FileRefused(
            "file.unsupported", f"{path.name}: unsupported file type {suffix or '(none)'}; bando reads {known}"
        )
    if path.is_file() and path.stat().st_size == 0:
        raise FileRefused("file.empty", f"{path.name} is empty (0 bytes)")
    if suffix == ".gpkg" and path.is_file():
        with path.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise FileRefused("file.corrupt", f"{path.name} is not a GeoPackage (no SQLite header)")
    if suffix == ".shp":
        missing = [s for s in (".dbf", ".shx") if not any(p.suffix.lower() == s for p in _sidecars(path))]
        if missing:
            raise FileRefused("file.incomplete", f"{path.name}: the Shapefile lacks its {' and '.join(missing)} file")
    return VECTOR_SUFFIXES[suffix]


def _choose_layer(path: Path, wanted: str | None) -> str | None:
    try:
        layers = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError) as exc:
        raise FileRefused("file.corrupt", f"{path.name} cannot be read: {_gdal_reason(exc)}") from None
    names = [str(row[0]) for row in layers]
    if wanted:
        if wanted not in names:
            raise FileRefused("file.layer_missing", f"{path.name} has no layer {wanted!r}; it has: {', '.join(names)}")
        return wanted
    if len(names) > 1:
        raise FileRefused(
            "file.layer_ambiguous",
            f"{path.name} holds {len(names)} layers ({', '.join(names)}); choose one with --source-layer",
        )
    return names[0] if names else None


def _gdal_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # GDAL's wording is for programmers: drop its SQL, the full path and its advice on driver prefixes
    text = re.sub(r"^sqlite3_\w+\(.*\) failed: ", "", text).split("; It might help")[0]
    text = re.sub(r"^'[^']*' ", "", text)
    return text[:200]


@contextmanager
def _gdal_limits(path: Path) -> Iterator[None]:
    """pyogrio reports some GDAL limits as Python warnings, which would reach the steward's terminal
    with a source path and silently drop data (a CSV of 100 000 columns is read as its first 2 000):
    refuse such a file instead, and keep other warnings off the terminal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        if m := re.search(r"(\d+) columns detected\. Limiting to (\d+)", str(w.message)):
            raise FileRefused(
                "file.too_many_columns", f"{path.name} has {m[1]} columns; bando reads files of at most {m[2]} columns"
            )


def open_source(spec: SourceSpec) -> Source:
    """Inspect a delivery and decide how to read it; refuses file-level defects."""
    path = spec.path
    driver = _check_file(path)
    with _gdal_limits(path):
        layer = _choose_layer(path, spec.source_layer)
    options: dict[str, str] = {}
    if driver == "CSV":
        options = {"AUTODETECT_TYPE": "NO", "EMPTY_STRING_AS_NULL": "YES"}
        if spec.x_column and spec.y_column:
            options |= {"X_POSSIBLE_NAMES": spec.x_column, "Y_POSSIBLE_NAMES": spec.y_column, "KEEP_GEOM_COLUMNS": "NO"}
    has_cpg = (
        driver == "ESRI Shapefile"
        and path.with_suffix(".cpg").exists()
        or any(p.suffix.lower() == ".cpg" for p in _sidecars(path) if driver == "ESRI Shapefile")
    )
    read_encoding = None
    if driver in ("ESRI Shapefile", "CSV") and (spec.encoding != "auto" or not has_cpg):
        # Read bytes one-to-one so legacy encodings can be detected and decoded by bando.
        read_encoding = BYTES
    charset = mapinfo.declared_charset(path) if driver == "MapInfo File" else None
    if driver == "MapInfo File":
        read_encoding = BYTES  # and undo GDAL's recoding (pipelines/mapinfo.py)
    try:
        with _gdal_limits(path):
            info = pyogrio.read_info(path, layer=layer, encoding=read_encoding, **options)
    except FileRefused:
        raise
    except (DataSourceError, DataLayerError) as exc:
        raise FileRefused("file.corrupt", f"{path.name} cannot be read: {_gdal_reason(exc)}") from None
    except Exception as exc:  # GDAL surfaces truncation as assorted errors
        raise FileRefused("file.corrupt", f"{path.name} cannot be read: {_gdal_reason(exc)}") from None
    geometry_type = info.get("geometry_type")
    if geometry_type in (None, "None"):
        geometry_type = None
    if spec.crs:
        crs, origin = parse_crs(spec.crs), "declared"
    elif info.get("crs"):
        crs, origin = CRS.from_user_input(info["crs"]), "file"
    else:
        crs, origin = None, "none"
    crs_note = None
    try:
        code = recognise_vn2000(crs) if origin == "file" and crs is not None else None
    except BadInput as exc:
        raise FileRefused("crs.ambiguous", f"{path.name}: {exc}") from None
    if code is not None:
        crs_note = f"the file's VN-2000 TM-3 definition (no EPSG code) recognised as EPSG:{code}"
        crs = CRS.from_epsg(code)
    if geometry_type is not None and crs is None:
        hint = " (a Shapefile without its .prj)" if driver == "ESRI Shapefile" else ""
        raise FileRefused(
            "crs.missing",
            f"{path.name} declares no coordinate reference system{hint}; say which one with --crs",
        )
    count = info.get("features")
    return Source(
        spec=spec,
        driver=driver,
        layer=layer,
        crs=crs,
        crs_origin=origin,
        feature_count=int(count) if count is not None and count >= 0 else None,
        columns=[str(c) for c in info["fields"]],
        geometry_type=geometry_type,
        read_encoding=read_encoding,
        has_cpg=has_cpg,
        open_options=options,
        charset=charset,
        text_encoding=mapinfo.text_encoding(charset) if driver == "MapInfo File" else "auto",
        crs_note=crs_note,
    )


def _paged(source: Source, batch_size: int) -> Iterator[tuple[pa.Table, str | None]]:
    """Non-Arrow reading for CSV in a byte-preserving encoding (GDAL's Arrow path is UTF-8 only)."""
    skip = 0
    while True:
        meta, _, geometry, fields = pyogrio.raw.read(
            source.spec.path,
            layer=source.layer,
            encoding=source.read_encoding,
            skip_features=skip,
            max_features=batch_size,
            **source.open_options,
        )
        n = len(fields[0]) if len(fields) else (len(geometry) if geometry is not None else 0)
        if n == 0:
            return
        columns = {str(name): pa.array(values) for name, values in zip(meta["fields"], fields, strict=True)}
        if source.driver == "MapInfo File":
            columns = {
                k: mapinfo.as_file_bytes(v, source.charset) if pa.types.is_string(v.type) else v
                for k, v in columns.items()
            }
        if geometry is not None:
            columns["wkb_geometry"] = pa.array(geometry, type=pa.binary())
        table = pa.table(columns)
        yield table, ("wkb_geometry" if geometry is not None else None)
        if table.num_rows < batch_size:
            return
        skip += table.num_rows


def batches(
    source: Source, batch_size: int = 50_000, skip: int = 0, limit: int | None = None
) -> Iterator[tuple[pa.Table, str | None]]:
    """Yield (attributes + WKB geometry column, geometry column name) batches; rows [skip, skip + limit)."""
    if source.prebuilt is not None:
        table = source.prebuilt.slice(skip, limit) if (skip or limit is not None) else source.prebuilt
        for batch in table.to_batches(batch_size):
            yield pa.Table.from_batches([batch]), "wkb_geometry"
        return
    whole = not skip and limit is None
    if whole and source.driver in ("CSV", "MapInfo File") and source.read_encoding:
        try:
            yield from _paged(source, batch_size)
        except (DataSourceError, DataLayerError, OSError) as exc:
            raise _stopped(source, exc) from None
        return
    yield from _ranged(source, batch_size, skip, limit)


def _stopped(source: Source, exc: Exception) -> FileRefused:
    return FileRefused("file.corrupt", f"{source.spec.path.name}: reading stopped: {_gdal_reason(exc)}")


def _ranged(source: Source, batch_size: int, skip: int, limit: int | None) -> Iterator[tuple[pa.Table, str | None]]:
    """Rows [skip, skip + limit) of a file through GDAL's Arrow reader: the whole file, or a
    partitioned load's slice (each worker reads its own rows)."""
    try:
        with pyogrio.open_arrow(
            source.spec.path,
            layer=source.layer,
            encoding=source.read_encoding,
            batch_size=batch_size,
            use_pyarrow=True,
            skip_features=skip,
            **source.open_options,
        ) as (meta, reader):
            geometry_name = meta.get("geometry_name") or ("wkb_geometry" if source.is_spatial else None)
            left = limit
            for batch in reader:  # GDAL's Arrow reader takes no row limit: stop here
                if left is not None and batch.num_rows >= left:
                    yield pa.Table.from_batches([batch.slice(0, left)]), geometry_name
                    return
                if left is not None:
                    left -= batch.num_rows
                yield pa.Table.from_batches([batch]), geometry_name
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _stopped(source, exc) from None
