"""Flood depth raster (Cloud-Optimised GeoTIFF) over the sample communes.

A coverage for the OGC API Coverages endpoint and the IOC map. The terrain is
a smooth synthetic surface: rice fields lowest, villages on slightly higher
ground, roads on embankments; the flood surface falls away from the river, so
depth is greatest in low fields near the river, nil in villages and on roads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import shapely
from rasterio.features import geometry_mask, rasterize
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from .geometry import Layout
from .parcels import CommuneParcels
from .planning import VILLAGE_CODES
from .rng import stream

RESOLUTION = 5.0  # metres
NODATA = -9999.0


def _blur(a: np.ndarray, r: int) -> np.ndarray:
    """Box blur of radius r (pixels), twice: cheap, separable, close to Gaussian."""
    for _ in range(2):
        for axis in (0, 1):
            pad = np.pad(a, [(r + 1, r) if ax == axis else (0, 0) for ax in (0, 1)], mode="edge")
            c = np.cumsum(pad, axis=axis)
            a = (
                np.take(c, range(2 * r + 1, c.shape[axis]), axis=axis)
                - np.take(c, range(c.shape[axis] - 2 * r - 1), axis=axis)
            ) / (2 * r + 1)
    return a


def flood_depth(seed: int, layout: Layout, communes: list[CommuneParcels]) -> tuple[np.ndarray, object]:
    """Depth grid (float32, NODATA outside the communes) and its affine transform."""
    rng = stream(seed, "flood")
    area = shapely.union_all([c.polygon for c in layout.communes])
    minx, miny, maxx, maxy = area.bounds
    minx, miny = np.floor(minx / 10) * 10 - 20, np.floor(miny / 10) * 10 - 20
    maxx, maxy = np.ceil(maxx / 10) * 10 + 20, np.ceil(maxy / 10) * 10 + 20
    w, h = int((maxx - minx) / RESOLUTION), int((maxy - miny) / RESOLUTION)
    transform = from_origin(minx, maxy, RESOLUTION, RESOLUTION)
    xs = minx + (np.arange(w) + 0.5) * RESOLUTION
    ys = maxy - (np.arange(h) + 0.5) * RESOLUTION
    gx, gy = np.meshgrid(xs, ys)
    trunks = {t.key: t for t in layout.trunks}
    d_river = shapely.distance(shapely.points(gx.ravel(), gy.ravel()), trunks["river"].line).reshape(h, w)

    def burn(geoms) -> np.ndarray:
        geoms = [g for g in geoms if not g.is_empty]
        if not geoms:
            return np.zeros((h, w))
        return rasterize([(g, 1) for g in geoms], out_shape=(h, w), transform=transform, fill=0, dtype="uint8").astype(
            float
        )

    village = burn([g for cp in communes for g, c in zip(cp.geoms, cp.columns["loaiDat"]) if c in VILLAGE_CODES])
    roads = burn([layout.strips["national_road"], layout.strips["provincial_road"]])
    river = burn([layout.strips["river"]])
    ph = rng.uniform(0, 2 * np.pi, 4)
    undulation = 0.22 * np.sin(gx / 410.0 + ph[0]) * np.cos(gy / 530.0 + ph[1]) + 0.12 * np.sin(
        (gx + gy) / 230.0 + ph[2]
    )
    elevation = (
        2.55 + 0.00045 * d_river + 1.0 * _blur(village, 6) + 1.8 * _blur(roads, 2) + undulation - 4.0 * _blur(river, 2)
    )
    level = 3.45 - 0.00022 * d_river
    depth = np.clip(level - elevation, 0.0, None)
    depth = np.round(_blur(depth, 1), 3)
    outside = geometry_mask([area], out_shape=(h, w), transform=transform, invert=False)
    depth = np.where(outside, NODATA, depth).astype("float32")
    return depth, transform


def write_cog(path: Path, depth: np.ndarray, transform, epsg: int) -> None:
    """Write as a COG: tiled 256x256, deflate with float predictor, overviews, nodata -9999."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    profile = dict(
        driver="GTiff",
        width=depth.shape[1],
        height=depth.shape[0],
        count=1,
        dtype="float32",
        crs=f"EPSG:{epsg}",
        transform=transform,
        nodata=NODATA,
    )
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(depth, 1)
            ds.set_band_description(1, "flood_depth_m")
            ds.update_tags(1, units="m", description="Độ sâu ngập (m), kịch bản mưa lớn, dữ liệu mẫu tổng hợp")
        with mem.open() as src:
            rasterio.shutil.copy(
                src,
                path,
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR="YES",
                BLOCKSIZE="256",
                OVERVIEWS="AUTO",
                RESAMPLING="AVERAGE",
            )
