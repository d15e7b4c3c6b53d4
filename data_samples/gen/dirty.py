"""Deliberately broken parcel files, each defect listed in dirty/defects.yml.

Pipelines are judged on bad input: every rejected row accounted for, with the
right rule, and a clear message instead of a traceback. These files are small
(tens to a hundred and fifty features) cut from the clean parcels, so a test
can assert the exact rule code of each defect. `defects.yml` is written from the
same code that plants the defects, so the two cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

from .writers import write_gpkg, write_legacy_shapefile, write_shapefile

SHORT_NAMES = {  # the old-style DBF field names (10 characters at most)
    "maXa": "MAXA",
    "soHieuToBanDo": "SHBANDO",
    "soThuTuThua": "SOTHUA",
    "dienTich": "DIENTICH",
    "dienTichPhapLy": "DTPHAPLY",
    "loaiDat": "LOAIDAT",
    "diaChi": "DIACHI",
    "tenChu": "TENCHU",
    "soDinhDanh": "SODINHDANH",
}


def short_names(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The parcel schema with the short DBF field names used by legacy Shapefiles."""
    return gdf.rename(columns=SHORT_NAMES)


def _key(row: pd.Series) -> str | None:
    if pd.isna(row["maXa"]) or pd.isna(row["soThuTuThua"]):
        return None
    return f"{row['maXa']}/{int(row['soHieuToBanDo'])}/{int(row['soThuTuThua'])}"


def _bow_tie(g: shapely.Geometry) -> shapely.Geometry:
    """A self-intersecting 'figure of eight' over the parcel's bounding box."""
    minx, miny, maxx, maxy = g.bounds
    return shapely.Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy), (minx, miny)])


def write_dirty(parcels: gpd.GeoDataFrame, out: Path, epsg: int) -> dict:
    """Write every dirty variant under `out` (…/dirty) and return the defects.yml content."""
    out.mkdir(parents=True, exist_ok=True)
    code = parcels["maXa"].iloc[0]
    first = parcels[parcels["maXa"] == code]
    sheet = int(first["soHieuToBanDo"].value_counts().idxmax())
    base = first[first["soHieuToBanDo"] == sheet].sort_values("soThuTuThua").head(150).reset_index(drop=True)
    files: list[dict] = []

    # 1. one GeoPackage with row-level defects
    d = base.copy()
    d["soThuTuThua"] = d["soThuTuThua"].astype("Int64")
    d["maXa"] = d["maXa"].astype(object)
    defects: list[dict] = []

    def mark(i: int, rule: str, note: str) -> None:
        defects.append({"index": i, "fid": i + 1, "key": _key(d.loc[i]), "rule": rule, "note": note})

    d.loc[3, "geometry"] = _bow_tie(d.loc[3, "geometry"])
    mark(3, "geometry.invalid", "self-intersecting bow-tie polygon")
    d.loc[7, "geometry"] = shapely.Polygon()
    mark(7, "geometry.empty", "POLYGON EMPTY")
    d.loc[11, "loaiDat"] = "XYZ"
    mark(11, "domain.unknown_code", "loaiDat 'XYZ' is in no code table")
    d.loc[15, "loaiDat"] = "BHK"
    mark(15, "domain.legacy_code", "legacy 'BHK' → HNK (accepted with a note)")
    d.loc[19, "loaiDat"] = "DTS"
    mark(19, "domain.legacy_code", "legacy 'DTS' → TSC (accepted with a note)")
    was = _key(d.loc[23])
    d.loc[23, "maXa"] = None
    mark(23, "required.missing", f"maXa is null (was {was})")
    was = _key(d.loc[27])
    d.loc[27, "soThuTuThua"] = pd.NA
    mark(27, "required.missing", f"soThuTuThua is null (was {was})")
    d.loc[31, "dienTich"] = round(float(d.loc[31, "dienTich"]) * 1.3, 1)
    mark(31, "area.mismatch", "dienTich 30 % above the geometry's area")
    d.loc[35, "dienTich"] = round(float(d.loc[35, "dienTich"]) * 0.7, 1)
    mark(35, "area.mismatch", "dienTich 30 % below the geometry's area")
    d.loc[44, "soThuTuThua"] = d.loc[43, "soThuTuThua"]
    mark(
        44, "key.duplicate", f"same maXa+soHieuToBanDo+soThuTuThua as index 43 (number {int(d.loc[43, 'soThuTuThua'])})"
    )
    gpkg = out / "parcels_defects.gpkg"
    gpkg.unlink(missing_ok=True)
    write_gpkg(gpd.GeoDataFrame(d, geometry="geometry", crs=f"EPSG:{epsg}"), gpkg, "thua_dat")
    files.append(
        {
            "file": "parcels_defects.gpkg",
            "layer": "thua_dat",
            "catalogue_layer": "parcels",
            "features": len(d),
            "encoding": "utf-8",
            "crs": f"EPSG:{epsg}",
            "description": "row-level defects; every row not listed is clean",
            "defects": defects,
        }
    )

    small = base.head(100).copy()
    # 2. no .prj
    write_shapefile(short_names(small), out / "parcels_no_prj" / "thua_dat.shp", prj=False)
    files.append(
        {
            "file": "parcels_no_prj/thua_dat.shp",
            "catalogue_layer": "parcels",
            "features": len(small),
            "encoding": "utf-8",
            "crs": None,
            "description": "clean rows, but no .prj: the CRS must be declared",
            "defects": [{"scope": "file", "rule": "crs.missing", "note": "no .prj beside the .shp"}],
        }
    )
    # 3. VNI encoding, otherwise clean
    write_legacy_shapefile(short_names(small), out / "parcels_vni" / "thua_dat.shp", "vni")
    files.append(
        {
            "file": "parcels_vni/thua_dat.shp",
            "catalogue_layer": "parcels",
            "features": len(small),
            "encoding": "vni",
            "crs": f"EPSG:{epsg}",
            "description": "clean rows in VNI-Windows bytes, no .cpg: loads after encoding detection",
            "defects": [],
        }
    )
    # 4. wrong CRS declared: true TM-3 numbers, .prj of VN-2000 / UTM 48N
    wrong = short_names(small).set_crs("EPSG:3405", allow_override=True)
    write_shapefile(wrong, out / "parcels_wrong_crs" / "thua_dat.shp")
    files.append(
        {
            "file": "parcels_wrong_crs/thua_dat.shp",
            "catalogue_layer": "parcels",
            "features": len(small),
            "encoding": "utf-8",
            "crs": f"EPSG:3405 (declared; the numbers are really EPSG:{small.crs.to_epsg()})",
            "description": "read as UTM 48N the parcels land ~50 km west of Hưng Yên",
            "defects": [
                {
                    "scope": "file",
                    "features": "all",
                    "rule": "extent.outside",
                    "note": ".prj says EPSG:3405 but coordinates are TM-3 105°30′",
                }
            ],
        }
    )
    # 5. swapped X/Y: easting and northing exchanged, .prj correct
    swapped = short_names(small).copy()
    swapped["geometry"] = shapely.transform(swapped.geometry.values, lambda c: c[:, ::-1])
    write_shapefile(
        gpd.GeoDataFrame(swapped, geometry="geometry", crs=f"EPSG:{epsg}"), out / "parcels_swapped_xy" / "thua_dat.shp"
    )
    files.append(
        {
            "file": "parcels_swapped_xy/thua_dat.shp",
            "catalogue_layer": "parcels",
            "features": len(small),
            "encoding": "utf-8",
            "crs": f"EPSG:{epsg}",
            "description": "X and Y exchanged (northing ~2 310 000 as easting): cannot be in the province",
            "defects": [
                {"scope": "file", "features": "all", "rule": "extent.outside", "note": "easting/northing swapped"}
            ],
        }
    )
    # 6. GeoJSON mixing geometry types for a polygon layer
    mixed = base.head(60).to_crs("EPSG:4326").reset_index(drop=True)
    mdefects = []
    mixed.loc[10, "geometry"] = mixed.loc[10, "geometry"].exterior
    mdefects.append(
        {
            "index": 10,
            "key": _key(mixed.loc[10]),
            "rule": "geometry.mixed_types",
            "note": "LineString (the parcel's outline)",
        }
    )
    mixed.loc[20, "geometry"] = mixed.loc[20, "geometry"].centroid
    mdefects.append(
        {
            "index": 20,
            "key": _key(mixed.loc[20]),
            "rule": "geometry.mixed_types",
            "note": "Point (the parcel's centroid)",
        }
    )
    _write_mixed_geojson(mixed, out / "parcels_mixed.geojson")
    files.append(
        {
            "file": "parcels_mixed.geojson",
            "catalogue_layer": "parcels",
            "features": len(mixed),
            "encoding": "utf-8",
            "crs": "OGC:CRS84 (RFC 7946)",
            "description": "Polygon features with a LineString and a Point among them",
            "defects": mdefects,
        }
    )
    # 7. truncated GeoPackage
    trunc = out / "parcels_truncated.gpkg"
    trunc.unlink(missing_ok=True)
    write_gpkg(gpd.GeoDataFrame(base, geometry="geometry", crs=f"EPSG:{epsg}"), trunc, "thua_dat")
    raw = trunc.read_bytes()
    trunc.write_bytes(raw[: len(raw) // 3])
    files.append(
        {
            "file": "parcels_truncated.gpkg",
            "catalogue_layer": "parcels",
            "features": None,
            "description": f"a {len(base)}-parcel GeoPackage cut to a third of its bytes (interrupted copy)",
            "defects": [{"scope": "file", "rule": "file.corrupt", "note": "truncated SQLite file"}],
        }
    )
    doc = {
        "about": "Deliberate defects in the dirty sample files; paths are relative to this file. "
        "index is the 0-based feature position in read order (GeoPackage fid = index + 1); "
        "key is maXa/soHieuToBanDo/soThuTuThua as written (null when a key field is missing).",
        "files": files,
    }
    with open(out / "defects.yml", "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, allow_unicode=True, sort_keys=False, width=120)
    return doc


def _write_mixed_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """GeoJSON written by hand: OGR refuses to mix geometry types in one layer on purpose."""
    import json

    feats = []
    for _, row in gdf.iterrows():
        props = {
            k: (
                None
                if pd.isna(v)
                else (int(v) if isinstance(v, (np.integer,)) else float(v) if isinstance(v, np.floating) else v)
            )
            for k, v in row.items()
            if k != "geometry"
        }
        geom = json.loads(shapely.to_geojson(shapely.set_precision(row["geometry"], 1e-7)))
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    path.write_text(
        json.dumps(
            {"type": "FeatureCollection", "name": "thua_dat", "features": feats}, ensure_ascii=False, indent=None
        )
        + "\n",
        encoding="utf-8",
    )
