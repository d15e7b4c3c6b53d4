"""Raster layers: a GeoTIFF becomes a Cloud-Optimised GeoTIFF in the storage CRS.

The file is written beside the database (``BANDO_HOME/rasters/<layer>/``) and
registered in ``bando.rasters`` in one transaction, so the API switches from the
old file to the new one at COMMIT. Reprojection uses the pinned VN-2000 definition,
like the vector pipeline; GDAL's own choice is never asked for.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import rasterio
import rasterio.shutil
from rasterio.crs import CRS as RioCRS
from rasterio.errors import RasterioIOError
from rasterio.warp import Resampling, calculate_default_transform, reproject

from bando.crs import parse_crs, pinned
from bando.layers.model import Layer
from bando.pipelines.publish import record_state
from bando.pipelines.report import LoadResult
from bando.pipelines.sources import FileRefused
from bando.province import Province
from bando.settings import Settings

MAX_PIXELS = 400_000_000


def convert_and_publish(
    layer: Layer,
    path: Path,
    opts,
    s: Settings,
    url: str,
    province: Province,
    result: LoadResult,
) -> None:
    """Write the COG in the storage CRS and register it, in one transaction."""
    srid = province.storage_srid(layer.storage_crs)
    if not path.is_file():
        raise FileRefused("file.not_found", f"{path} does not exist")
    if path.stat().st_size == 0:
        raise FileRefused("file.empty", f"{path.name} is empty (0 bytes)")
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise FileRefused("file.corrupt", f"{path.name} is not a readable raster: {str(exc)[:160]}") from None
    with src:
        if src.width * src.height > MAX_PIXELS:
            raise FileRefused(
                "file.too_large", f"{path.name} has {src.width}×{src.height} pixels; the limit is {MAX_PIXELS}"
            )
        if opts.crs:
            src_crs = parse_crs(opts.crs)
        elif src.crs:
            src_crs = parse_crs(src.crs.to_wkt())
        else:
            raise FileRefused("crs.missing", f"{path.name} declares no CRS; give one with --crs")
        result.crs = src_crs.to_string()
        result.rows_read = 1
        target = pinned(parse_crs(srid))
        source_pinned = pinned(src_crs)
        dst_crs = RioCRS.from_wkt(target.to_wkt())
        transform, width, height = calculate_default_transform(
            RioCRS.from_wkt(source_pinned.to_wkt()), dst_crs, src.width, src.height, *src.bounds
        )
        x0, y0, x1, y1 = province.bbox_in(srid)
        left, top = transform.c, transform.f
        right, bottom = left + width * transform.a, top + height * transform.e
        if right < x0 or left > x1 or top < y0 or bottom > y1:
            raise FileRefused(
                "extent.outside", f"{path.name} lies outside the province: is its CRS ({result.crs}) right?"
            )
        out_dir = s.home / "rasters" / layer.id
        out_dir.mkdir(parents=True, exist_ok=True)
        final = out_dir / f"{result.lineage_id}.tif"
        tmp = out_dir / f".{result.lineage_id}.tmp.tif"
        nodata = layer.raster.nodata if layer.raster and layer.raster.nodata is not None else src.nodata
        mem_profile = {
            "driver": "GTiff",
            "dtype": src.dtypes[0],
            "count": src.count,
            "crs": dst_crs,
            "transform": transform,
            "width": width,
            "height": height,
            "nodata": nodata,
            "tiled": True,
            "compress": "deflate",
        }
        with rasterio.open(tmp, "w", **mem_profile) as dst:
            for band in range(1, src.count + 1):
                reproject(
                    rasterio.band(src, band),
                    rasterio.band(dst, band),
                    src_crs=RioCRS.from_wkt(source_pinned.to_wkt()),
                    dst_crs=dst_crs,
                    resampling=Resampling.bilinear,
                    src_nodata=src.nodata,
                    dst_nodata=nodata,
                )
        with rasterio.open(tmp) as staged:
            rasterio.shutil.copy(staged, final, driver="COG", compress="deflate", overview_resampling="average")
        tmp.unlink(missing_ok=True)
    if opts.dry_run:
        final.unlink(missing_ok=True)
        result.outcome, result.message = "dry-run", "dry run: the raster converts cleanly; nothing was published"
        return
    with psycopg.connect(url) as conn:
        old = conn.execute(
            "select path from bando.rasters where layer = %s and version_id = 'current'", (layer.id,)
        ).fetchone()
        conn.execute(
            "insert into bando.rasters (layer, path, srid, width, height, bounds, lineage_id)"
            " values (%s, %s, %s, %s, %s, %s, %s) on conflict (layer, version_id) do update set"
            " path = excluded.path, srid = excluded.srid, width = excluded.width, height = excluded.height,"
            " bounds = excluded.bounds, lineage_id = excluded.lineage_id, published_at = now()",
            (layer.id, str(final), srid, width, height, [left, bottom, right, top], result.lineage_id),
        )
        assert result.lineage_id is not None, "a raster is published under its lineage row"
        record_state(conn, layer.id, result.lineage_id, srid, 1)
        conn.commit()
    if old and old[0] != str(final):
        Path(old[0]).unlink(missing_ok=True)
    result.rows_loaded = 1
    result.outcome, result.message = "published", f"published {width}×{height} COG at {final}"
