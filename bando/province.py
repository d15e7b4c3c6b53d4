"""The deployment's province: its VN-2000 TM-3 zone and the extent data must fall in.

A dataset declares its own CRS; the province only decides the *storage* CRS of layers
marked ``storage_crs: province`` and the box that catches a wrongly declared CRS.
The extent comes from ``bando/data/province_extents.csv`` and, failing that, from the
EPSG area of use of the province's TM-3 CRS (coarser, but never absent).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pyproj import CRS

from bando.crs import fold_name, tm3_for_province, transformer

DATA = Path(__file__).with_name("data")


@dataclass(frozen=True)
class Province:
    name: str
    tm3_epsg: int
    bbox_lonlat: tuple[float, float, float, float]

    def storage_srid(self, storage_crs: str) -> int:
        """Resolve a catalogue ``storage_crs`` ('province' or 'EPSG:n') to an SRID."""
        return self.tm3_epsg if storage_crs == "province" else int(storage_crs.split(":")[1])

    def bbox_in(self, srid: int, margin_m: float = 2_000.0) -> tuple[float, float, float, float]:
        """The extent in another CRS (densified edges), grown by a margin."""
        if srid == 4326:
            pad = margin_m / 100_000
            x0, y0, x1, y1 = self.bbox_lonlat
            return x0 - pad, y0 - pad, x1 + pad, y1 + pad
        x0, y0, x1, y1 = transformer(4326, srid).transform_bounds(*self.bbox_lonlat, densify_pts=21)
        return x0 - margin_m, y0 - margin_m, x1 + margin_m, y1 + margin_m


@lru_cache(maxsize=8)
def resolve(name: str) -> Province:
    zone = tm3_for_province(name)
    with (DATA / "province_extents.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if fold_name(row["province"]) == fold_name(name):
                box = tuple(float(row[k]) for k in ("min_lon", "min_lat", "max_lon", "max_lat"))
                return Province(row["province"], zone.epsg, box)  # type: ignore[arg-type]
    area = CRS.from_epsg(zone.epsg).area_of_use
    assert area is not None
    return Province(name, zone.epsg, (area.west, area.south, area.east, area.north))
