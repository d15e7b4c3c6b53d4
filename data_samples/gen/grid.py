"""A topologically clean delivery: rectangular parcels on one grid, sharing vertices exactly.

The realistic parcels carry float noise along shared edges, as surveys do; the clean
grid is the other end of the scale — every neighbour shares its corners bit for bit
(all coordinates are whole metres), so nothing overlaps and every pair merely
touches. It measures what the set checks cost when there is nothing to find.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import shapely

from .geometry import Layout
from .rng import stream
from .writers import frame, remove_dataset, write_gpkg

DX, DY = 25.0, 20.0  # parcel size, m: 500 m², whole metres so shared corners are exact
CODES = np.array(["LUC", "LUC", "LUC", "ONT", "HNK", "CLN", "NTS"], dtype=object)


def commune_grid(seed: int, layout: Layout, index: int, per_side: int) -> dict:
    """One commune's parcels as columns: a per_side × per_side block of the province grid."""
    cell = layout.communes[index]
    x0, y0 = round(layout.origin[0]), round(layout.origin[1])
    i, j = np.meshgrid(np.arange(per_side), np.arange(per_side))
    gx, gy = (cell.col * per_side + i.ravel()), (cell.row * per_side + j.ravel())
    xs, ys = x0 + gx * DX, y0 + gy * DY
    n = per_side * per_side
    k = np.arange(n)
    rng = stream(seed, "grid", cell.spec.code)
    return {
        "maXa": np.full(n, cell.spec.code, dtype=object),
        "soHieuToBanDo": 1 + k // 1000,
        "soThuTuThua": 1 + k % 1000,
        "dienTich": np.full(n, DX * DY),
        "dienTichPhapLy": np.full(n, DX * DY),
        "loaiDat": CODES[rng.integers(0, len(CODES), n)],
        "diaChi": np.full(n, f"xã {cell.spec.name}", dtype=object),
        "geometry": shapely.box(xs, ys, xs + DX, ys + DY),
    }


def chunks(seed: int, layout: Layout, parcels: int, rows: int) -> Iterator[dict]:
    """Columns of about ``rows`` parcels at a time, commune by commune."""
    per_side = max(1, round(math.sqrt(parcels / len(layout.communes))))
    pending: list[dict] = []
    count = 0
    for index in range(len(layout.communes)):
        pending.append(commune_grid(seed, layout, index, per_side))
        count += per_side * per_side
        if count >= rows or index == len(layout.communes) - 1:
            yield {c: np.concatenate([p[c] for p in pending]) for c in pending[0]}
            pending, count = [], 0


def write(seed: int, layout: Layout, parcels: int, path: Path, epsg: int, log: Callable[[str], None]) -> int:
    """Write the clean grid as one GeoPackage layer ``thua_dat``; returns the parcel count."""
    remove_dataset(path)
    written = 0
    for cols in chunks(seed, layout, parcels, 100_000):
        geoms = cols.pop("geometry")
        write_gpkg(frame(cols, geoms, epsg), path, "thua_dat", append=written > 0)
        written += len(cols["maXa"])
        log(f"  clean grid: {written:,} parcels written")
    return written
