"""Writing files the way real deliveries look, deterministically.

Kept apart from the generators so that "what the data is" and "how a provider
happened to deliver it" (GeoPackage, UTF-8 Shapefile, TCVN3 Shapefile without a
.cpg, RFC 7946 GeoJSON, CSV with surveyor's X/Y) stay separate concerns.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from .geometry import reproject

SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")

# GeoPackage writes go faster with no fsync per transaction; the files are
# rebuilt from the seed anyway.
os.environ.setdefault("OGR_SQLITE_SYNCHRONOUS", "OFF")


def remove_dataset(path: Path) -> None:
    """Delete a file (and, for a Shapefile, its sidecars) so a rerun starts clean."""
    if path.suffix == ".shp":
        for ext in SHAPEFILE_SIDECARS:
            path.with_suffix(ext).unlink(missing_ok=True)
    else:
        path.unlink(missing_ok=True)


def write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str, *, append: bool = False, multi: bool = False) -> None:
    """One GeoPackage layer; `multi` promotes Polygon/LineString to their Multi types."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(
        gdf,
        path,
        layer=layer,
        driver="GPKG",
        append=append,
        promote_to_multi=multi or None,
        # GeoPackage 1.2: readable by every GDAL still in service (3.6 warns on 1.4)
        dataset_options=None if append or path.exists() else {"VERSION": "1.2"},
    )


def write_shapefile(gdf: gpd.GeoDataFrame, path: Path, *, encoding: str = "UTF-8", prj: bool = True) -> None:
    """A Shapefile with a .cpg naming `encoding`; `prj=False` drops the .prj (a classic defect)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dataset(path)
    pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding=encoding)
    if not prj:
        path.with_suffix(".prj").unlink(missing_ok=True)


def write_legacy_shapefile(
    gdf: gpd.GeoDataFrame, path: Path, legacy: Literal["tcvn3", "vni"], *, prj: bool = True
) -> None:
    """A Shapefile whose text is in TCVN3 or VNI bytes, with no .cpg (none can name them).

    Each text value is encoded with bando.encodings.encode_legacy, the bytes are
    viewed as latin-1 characters and written as ISO-8859-1 (latin-1), so the DBF
    holds exactly the legacy bytes; the .cpg GDAL writes is then removed and the
    DBF language-driver byte cleared, as in files made by old desktop GIS.
    """
    from bando.encodings import encode_legacy

    out = gdf.copy()
    for col in out.columns:
        if col != out.geometry.name and (out[col].dtype == object or pd.api.types.is_string_dtype(out[col])):
            out[col] = [None if v is None else encode_legacy(str(v), legacy).decode("latin-1") for v in out[col]]
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dataset(path)
    pyogrio.write_dataframe(out, path, driver="ESRI Shapefile", encoding="ISO-8859-1")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = path.with_suffix(".dbf")
    with open(dbf, "r+b") as fh:  # byte 29: language driver id; 0 = "not stated"
        fh.seek(29)
        fh.write(b"\x00")
    if not prj:
        path.with_suffix(".prj").unlink(missing_ok=True)


def write_geojson(gdf: gpd.GeoDataFrame, path: Path, precision: int = 7) -> None:
    """RFC 7946 GeoJSON: WGS 84 lon/lat, 7 decimals (about 1 cm), no "crs" member."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    wgs = to_wgs84(gdf)
    pyogrio.write_dataframe(
        wgs, path, driver="GeoJSON", layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": str(precision)}
    )


def to_wgs84(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame in WGS 84 lon/lat through bando's pinned VN-2000 transformation (EPSG:6960).

    Not ``gdf.to_crs(4326)``: that takes PROJ's automatic choice, which in the south is
    EPSG:5194, about 0.8 m away from the official transformation.
    """
    epsg = gdf.crs.to_epsg()
    if epsg == 4326:
        return gdf
    geoms = reproject(np.asarray(gdf.geometry.values), epsg, 4326)
    return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs="EPSG:4326"))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """UTF-8 CSV (no BOM, '\\n' line ends); returns the number of data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def frame(columns: Mapping[str, Any], geoms: Any, epsg: int | str) -> gpd.GeoDataFrame:
    """A GeoDataFrame with columns in the given order and a `geometry` column."""
    crs = epsg if isinstance(epsg, str) else f"EPSG:{epsg}"
    return gpd.GeoDataFrame(pd.DataFrame(columns), geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)
