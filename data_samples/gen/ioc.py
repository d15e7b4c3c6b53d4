"""Live points for the IOC map: traffic cameras, environmental sensors, readings.

IOC feeds arrive as plain CSV in WGS 84 (kinhDo = longitude, viDo = latitude),
with timestamps in local time (+07:00). A few readings cross the alert
thresholds (PM2.5 > 50 µg/m³, water level > 2.5 m) so that alert styling and
"latest value per sensor" queries have something to show.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import shapely

from .geometry import Layout, transformer
from .parcels import CommuneParcels
from .rng import stream

START = datetime(2025, 10, 1, 0, 0, tzinfo=timezone(timedelta(hours=7)))
HOURS = 72
PM25_ALERT = 50.0
WATER_ALERT = 2.5


def _lonlat(layout: Layout, x: float, y: float) -> tuple[str, str]:
    lon, lat = transformer(layout.prov.epsg).transform(x, y)
    return f"{lon:.7f}", f"{lat:.7f}"


def cameras(seed: int, layout: Layout, communes: list[CommuneParcels]) -> list[tuple]:
    """Cameras at junctions of the provincial/national roads with commune roads."""
    rng = stream(seed, "cameras")
    trunks = {t.key: t for t in layout.trunks}
    rows = []
    pts: list[tuple[str, float, float]] = []
    x = shapely.intersection(trunks["provincial_road"].line, trunks["national_road"].line)
    if not x.is_empty:
        pts.append((f"Camera nút giao {layout.prov.national_road[0]} – {layout.prov.provincial_road[0]}", x.x, x.y))
    for cell, cp in zip(layout.communes, communes):
        k = 0
        for kind, _, line in cp.network:
            if kind != "road":
                continue
            for key in ("provincial_road", "national_road"):
                hit = shapely.intersection(trunks[key].line, line)
                for p in shapely.get_parts(hit):
                    if p.geom_type == "Point":
                        k += 1
                        code = (
                            layout.prov.provincial_road[0] if key == "provincial_road" else layout.prov.national_road[0]
                        )
                        pts.append((f"Camera nút giao {code} – đường xã {cell.spec.name} số {k}", p.x, p.y))
        for v in cp.villages[:1]:
            word = layout.prov.village_word_of(cell.spec).lower()
            pts.append((f"Camera trung tâm {word} {v.name}, {cell.spec.kind.lower()} {cell.spec.name}", v.x, v.y))
    for i, (name, px, py) in enumerate(pts, start=1):
        lon, lat = _lonlat(layout, px, py)
        state = "hoat_dong" if rng.random() < 0.85 else "mat_ket_noi"
        rows.append((f"CAM-{i:03d}", name, lon, lat, state))
    return rows


def sensors(seed: int, layout: Layout, communes: list[CommuneParcels]) -> list[tuple]:
    """Air-quality stations in villages, water-level gauges on the river and canal."""
    rows = []
    k = 0
    for cell, cp in zip(layout.communes, communes):
        for v in cp.villages[:2]:
            k += 1
            lon, lat = _lonlat(layout, v.x + 40.0, v.y - 25.0)
            rows.append(
                (
                    f"PM25-{k:02d}",
                    f"Trạm không khí {layout.prov.village_word_of(cell.spec).lower()} {v.name}, "
                    f"{cell.spec.kind.lower()} {cell.spec.name}",
                    "pm25",
                    lon,
                    lat,
                    "µg/m³",
                )
            )
    trunks = {t.key: t for t in layout.trunks}
    gauges = []
    for key in ("provincial_road", "canal"):
        hit = shapely.intersection(trunks["river"].line, trunks[key].line)
        for p in shapely.get_parts(hit)[:1]:
            gauges.append(
                (
                    f"Trạm đo mực nước {trunks['river'].name} (cầu {layout.prov.provincial_road[0]})"
                    if key == "provincial_road"
                    else f"Trạm đo mực nước {trunks['river'].name} (cửa {trunks['canal'].name})",
                    p.x + 20.0,
                    p.y + 20.0,
                )
            )
    canal = trunks["canal"].line
    mid = shapely.line_interpolate_point(canal, 0.3, normalized=True)
    gauges.append((f"Trạm đo mực nước {trunks['canal'].name}", mid.x, mid.y))
    for i, (name, x, y) in enumerate(gauges, start=1):
        lon, lat = _lonlat(layout, x, y)
        rows.append((f"MN-{i:02d}", name, "muc_nuoc", lon, lat, "m"))
    return rows


def readings(seed: int, sensor_rows: list[tuple]) -> list[tuple]:
    """Hourly readings over three days; one air station and one gauge exceed the alert level."""
    rng = stream(seed, "readings")
    out = []
    hours = np.arange(HOURS)
    pm_ids = [r[0] for r in sensor_rows if r[2] == "pm25"]
    wl_ids = [r[0] for r in sensor_rows if r[2] == "muc_nuoc"]
    for sid, kind in [(s, "pm25") for s in pm_ids] + [(s, "muc_nuoc") for s in wl_ids]:
        if kind == "pm25":
            hod = hours % 24
            base = 24 + 10 * np.exp(-((hod - 7.5) ** 2) / 4) + 14 * np.exp(-((hod - 19.5) ** 2) / 6)
            vals = base + rng.normal(0, 3, HOURS)
            if sid == pm_ids[0]:  # evening straw burning on day 2
                vals += 38 * np.exp(-((hours - 43) ** 2) / 8)
            vals = np.round(np.clip(vals, 3, None), 1)
        else:
            tide = 0.18 * np.sin(2 * math.pi * hours / 24.8 + rng.uniform(0, 6.3))
            vals = 1.35 + tide + rng.normal(0, 0.02, HOURS)
            if sid == wl_ids[0]:  # heavy rain upstream on day 3
                vals += 1.45 / (1 + np.exp(-(hours - 56) / 3.0))
            vals = np.round(vals, 2)
        for h, v in zip(hours.tolist(), vals.tolist()):
            out.append((sid, (START + timedelta(hours=h)).isoformat(), f"{v:g}"))
    return out
