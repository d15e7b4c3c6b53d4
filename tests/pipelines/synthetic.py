"""Small synthetic deliveries for pipeline tests that must not depend on the sample set."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

X0, Y0 = 560_000.0, 2_310_000.0  # inside Hưng Yên, EPSG:9209


def parcel_grid(
    path: Path,
    n: int,
    *,
    size: float = 20.0,
    commune: str = "12345",
    layer: str = "thua_dat",
    origin: tuple[float, float] = (X0, Y0),
    **overrides: list,
) -> Path:
    """n square parcels on a grid, valid and non-overlapping, written as a GeoPackage."""
    cols = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x = origin[0] + (i % cols) * size
    y = origin[1] + (i // cols) * size
    geoms = shapely.box(x, y, x + size, y + size)
    data = {
        "maXa": [commune] * n,
        "soHieuToBanDo": (i // 1000 + 1).astype(int),
        "soThuTuThua": (i % 1000 + 1).astype(int),
        "dienTich": np.full(n, size * size),
        "dienTichPhapLy": np.full(n, size * size),
        "loaiDat": np.where(i % 7 == 0, "ONT", "LUC"),
        "diaChi": ["Thôn Đông, xã Phụng Công"] * n,
        "tenChu": ["Nguyễn Văn An"] * n,
    }
    for key, values in overrides.items():
        data[key] = values
    gdf = gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:9209")
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path, layer=layer, driver="GPKG")
    return path
