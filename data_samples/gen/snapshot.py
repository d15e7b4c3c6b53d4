"""Read a generated tree back into comparable tables (used by the tests).

GeoPackages embed timestamps, so two identical runs never give identical
bytes; comparing what a reader gets back (attribute values and WKB geometry,
layer by layer) is what "the same data" means. Plain-text files (CSV, YAML,
GeoJSON) are compared byte for byte, rasters by their pixels and georeferencing.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import shapely

TEXT_SUFFIXES = {".csv", ".yml", ".yaml", ".geojson", ".prj", ".cpg"}


@dataclass
class Table:
    """One layer (or file) as read back."""

    columns: list[str]
    rows: list[tuple]
    geoms: np.ndarray | None = None
    raw: bytes | None = None  # text files and rasters: canonical bytes

    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(repr((self.columns, self.rows)).encode())
        if self.geoms is not None:
            for w in shapely.to_wkb(self.geoms, output_dimension=2):
                h.update(b"\0" if w is None else w)
        if self.raw is not None:
            h.update(self.raw)
        return h.hexdigest()


def _value(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    return v


def _vector(path: Path, layer: str | None = None, encoding: str | None = None) -> Table:
    df = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    cols = [c for c in df.columns if c != "geometry"]
    rows = [tuple(_value(v) for v in r) for r in df[cols].itertuples(index=False, name=None)]
    return Table(cols, rows, np.asarray(df.geometry.values))


def read_tree(root: Path) -> dict[str, Table]:
    """Every dataset under `root`, keyed by relative path (and ::layer for GeoPackages)."""
    out: dict[str, Table] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        suffix = p.suffix.lower()
        if p.is_dir() and suffix == ".gdb":  # a File Geodatabase: its layers, not its files
            for layer in [name for name, _ in pyogrio.list_layers(p)]:
                out[f"{rel}::{layer}"] = _vector(p, layer)
            continue
        if not p.is_file() or any(q.suffix.lower() == ".gdb" for q in p.parents):
            continue
        if suffix in {".tab", ".dgn", ".dxf"}:  # binary or timestamped: compare what a reader gets
            out[rel] = _vector(p, encoding="ISO-8859-1" if suffix == ".tab" else None)
            continue
        if suffix in {".dat", ".map", ".id"}:
            continue  # read through the .tab
        if suffix == ".gpkg":
            try:
                layers = [name for name, _ in pyogrio.list_layers(p)]
                for layer in layers:
                    out[f"{rel}::{layer}"] = _vector(p, layer)
            except Exception as exc:  # the deliberately truncated file
                out[rel] = Table(["unreadable"], [(type(exc).__name__, p.stat().st_size > 0)])
        elif suffix == ".shp":
            # legacy Shapefiles hold TCVN3/VNI bytes: read them as ISO-8859-1 so nothing is altered
            enc = None if p.with_suffix(".cpg").exists() else "ISO-8859-1"
            out[rel] = _vector(p, encoding=enc)
        elif suffix == ".tif":
            import rasterio

            with rasterio.open(p) as ds:
                meta = (ds.crs.to_epsg(), tuple(ds.transform), ds.nodata, ds.dtypes, ds.width, ds.height)
                out[rel] = Table(["meta"], [meta], raw=ds.read().tobytes())
        elif suffix in TEXT_SUFFIXES:
            out[rel] = Table([], [], raw=p.read_bytes())
        elif suffix in {".dbf", ".shx"}:
            continue  # read through the .shp
        else:
            out[rel] = Table([], [], raw=p.read_bytes())
    return out
