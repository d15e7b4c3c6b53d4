"""Technical infrastructure: roads, water pipes, drainage, power lines, point assets.

Lines follow the same roads as the cadastre (pipes and drains offset to either
side, power along the verge), so overlays look right. Each dataset is delivered
in the format a real provider of that network tends to use, which is the point
of the exercise for the pipelines: GeoJSON in WGS 84 from a transport app,
Shapefiles in VN-2000 from the water and power companies, and a CSV of asset
points with surveyor's X (northing) / Y (easting) columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from .geometry import Layout
from .parcels import CommuneParcels
from .rng import stream
from .writers import frame


@dataclass
class Network:
    """All infrastructure lines and points, as column dicts ready for writing."""

    roads: dict[str, list] = field(default_factory=dict)
    pipes: dict[str, list] = field(default_factory=dict)
    drains: dict[str, list] = field(default_factory=dict)
    power: dict[str, list] = field(default_factory=dict)
    points: list[tuple] = field(default_factory=list)


def _append(cols: dict[str, list], **values) -> None:
    for k, v in values.items():
        cols.setdefault(k, []).append(v)


def _pick(rng: np.random.Generator, options: tuple, weights: tuple) -> Any:
    p = np.asarray(weights, float)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _offset(line: shapely.Geometry, d: float) -> shapely.Geometry:
    parts = [shapely.offset_curve(p, d, join_style="mitre") for p in shapely.get_parts(line) if p.length > 1]
    parts = [p for q in parts for p in shapely.get_parts(q) if p.length > 1]
    if not parts:
        return shapely.LineString()
    return parts[0] if len(parts) == 1 else shapely.multilinestrings(parts)


def _along(line: shapely.Geometry, step: float, start: float) -> list[tuple[float, float]]:
    out = []
    for p in shapely.get_parts(line):
        d = np.arange(start, p.length, step)
        pts = shapely.line_interpolate_point(p, d)
        out += list(zip(shapely.get_x(pts).tolist(), shapely.get_y(pts).tolist()))
    return out


def build_network(seed: int, layout: Layout, communes: list[CommuneParcels]) -> Network:
    """Derive every infrastructure dataset from the road/canal grid and the villages."""
    rng = stream(seed, "infrastructure")
    net = Network()
    area = shapely.union_all([c.polygon for c in layout.communes])
    trunks = {t.key: t for t in layout.trunks}
    # --- trunk roads
    for key, cap in (("national_road", layout.prov.national_road_class), ("provincial_road", "Đường tỉnh")):
        t = trunks[key]
        code = layout.prov.national_road[0] if key == "national_road" else layout.prov.provincial_road[0]
        line = shapely.intersection(t.line, area)
        _append(
            net.roads, maDuong=code, tenDuong=t.name, capDuong=cap, beRong=t.width, ketCau="Bê tông nhựa", geometry=line
        )
    prov_road = trunks["provincial_road"]
    pr_line = shapely.intersection(prov_road.line, area)
    _append(
        net.pipes,
        MAONG="CN-TR-001",
        DUONGKINH=315,
        VATLIEU="HDPE",
        NAMXD=2016,
        TRANGTHAI="Đang sử dụng",
        geometry=_offset(pr_line, prov_road.width / 2 + 2.0),
    )
    _append(
        net.drains,
        maTuyen="TN-TR-001",
        loai="Cống hộp",
        kichThuoc="B1200x1000",
        namXD=2016,
        geometry=_offset(pr_line, -(prov_road.width / 2 + 1.0)),
    )
    _append(
        net.power,
        MADZ="DZ35-001",
        CAPDIENAP=35.0,
        LOAI="Đi nổi",
        NAMXD=2005,
        geometry=_offset(pr_line, -(prov_road.width / 2 + 6.0)),
    )
    x0, y0, x1, y1 = area.bounds
    hv = shapely.intersection(
        shapely.LineString(
            [
                (x0 - 100, y0 + 0.2 * (y1 - y0)),
                (x0 + 0.45 * (x1 - x0), y0 + 0.55 * (y1 - y0)),
                (x1 + 100, y0 + 0.75 * (y1 - y0)),
            ]
        ),
        area,
    )
    _append(net.power, MADZ="DZ110-001", CAPDIENAP=110.0, LOAI="Đi nổi", NAMXD=2008, geometry=hv)
    for pt in _along(pr_line, 40.0, 10.0):
        net.points.append(("cot_den", *pt))
    for pt in _along(_offset(pr_line, prov_road.width / 2 + 2.0), 150.0, 60.0):
        net.points.append(("tru_cuu_hoa", *pt))
    for pt in _along(_offset(pr_line, -(prov_road.width / 2 + 1.0)), 50.0, 25.0):
        net.points.append(("ho_ga", *pt))

    # --- per commune: commune roads, village alleys
    for cell, cp in zip(layout.communes, communes):
        spec = cell.spec
        village = shapely.buffer(shapely.union_all(cp.geoms[cp.columns["loaiDat"] == "ONT"]), 25.0)
        k_road = k_alley = k_pipe = k_drain = k_pow = 0
        for kind, width, line in cp.network:
            in_village = shapely.intersection(line, village).length > 0.3 * line.length
            if kind == "road":
                k_road += 1
                surface = _pick(rng, ("Bê tông xi măng", "Bê tông nhựa", "Đá dăm"), (0.7, 0.2, 0.1))
                _append(
                    net.roads,
                    maDuong=f"DX.{spec.code}.{k_road:02d}",
                    tenDuong=f"Đường xã {spec.name} số {k_road}",
                    capDuong="Đường xã",
                    beRong=width,
                    ketCau=surface,
                    geometry=line,
                )
                if in_village or rng.random() < 0.3:
                    k_pipe += 1
                    mat = _pick(rng, ("uPVC", "HDPE", "Gang"), (0.5, 0.42, 0.08))
                    _append(
                        net.pipes,
                        MAONG=f"CN-{spec.code}-{k_pipe:04d}",
                        DUONGKINH=int(_pick(rng, (110, 160, 200), (0.4, 0.45, 0.15))),
                        VATLIEU=mat,
                        NAMXD=int(rng.integers(1998, 2025)) if mat != "Gang" else int(rng.integers(1985, 1998)),
                        TRANGTHAI=_pick(rng, ("Đang sử dụng", "Ngừng sử dụng", "Đang sửa chữa"), (0.9, 0.04, 0.06)),
                        geometry=_offset(line, width / 2 + 1.0),
                    )
                    k_drain += 1
                    loai = "Cống tròn" if in_village else "Mương hở"
                    size = (
                        _pick(rng, ("D600", "D800"), (0.6, 0.4))
                        if in_village
                        else _pick(rng, ("B800", "B1000"), (0.6, 0.4))
                    )
                    drain = _offset(line, -(width / 2 + 0.8))
                    _append(
                        net.drains,
                        maTuyen=f"TN-{spec.code}-{k_drain:04d}",
                        loai=loai,
                        kichThuoc=size,
                        namXD=int(rng.integers(2000, 2025)),
                        geometry=drain,
                    )
                    k_pow += 1
                    _append(
                        net.power,
                        MADZ=f"DZ22-{spec.code}-{k_pow:03d}",
                        CAPDIENAP=22.0,
                        LOAI="Đi nổi",
                        NAMXD=int(rng.integers(2000, 2020)),
                        geometry=_offset(line, width / 2 + 3.0),
                    )
                    pipe = _offset(line, width / 2 + 1.0)
                    for pt in _along(pipe, 150.0, 40.0):
                        net.points.append(("tru_cuu_hoa", *pt))
                    if loai == "Cống tròn":
                        for pt in _along(drain, 40.0, 20.0):
                            net.points.append(("ho_ga", *pt))
                    if in_village:
                        for pt in _along(_offset(line, -(width / 2 + 0.3)), 35.0, 15.0):
                            net.points.append(("cot_den", *pt))
            elif kind == "alley":
                k_alley += 1
                c = line.centroid
                vil = min(cp.villages, key=lambda v: float(v.distance(c.x, c.y))).name if cp.villages else spec.name
                _append(
                    net.roads,
                    maDuong=f"DT.{spec.code}.{k_alley:03d}",
                    tenDuong=f"Đường {layout.prov.village_word_of(spec).lower()} {vil} số {k_alley}",
                    capDuong="Đường thôn",
                    beRong=width,
                    ketCau=_pick(rng, ("Bê tông xi măng", "Gạch", "Đất"), (0.8, 0.12, 0.08)),
                    geometry=line,
                )
                k_pipe += 1
                _append(
                    net.pipes,
                    MAONG=f"CN-{spec.code}-{k_pipe:04d}",
                    DUONGKINH=int(_pick(rng, (63, 90), (0.5, 0.5))),
                    VATLIEU="HDPE",
                    NAMXD=int(rng.integers(2005, 2025)),
                    TRANGTHAI=_pick(rng, ("Đang sử dụng", "Ngừng sử dụng", "Đang sửa chữa"), (0.92, 0.03, 0.05)),
                    geometry=_offset(line, width / 2 + 0.5),
                )
                k_drain += 1
                piped = rng.random() < 0.35  # newer alleys get a pipe with manholes, older a covered ditch
                drain = _offset(line, -(width / 2 + 0.3))
                _append(
                    net.drains,
                    maTuyen=f"TN-{spec.code}-{k_drain:04d}",
                    loai="Cống tròn" if piped else "Rãnh xây nắp đan",
                    kichThuoc=_pick(rng, ("D400", "D600"), (0.6, 0.4))
                    if piped
                    else _pick(rng, ("B300", "B400"), (0.6, 0.4)),
                    namXD=int(rng.integers(2010, 2025)) if piped else int(rng.integers(1998, 2020)),
                    geometry=drain,
                )
                if piped:
                    for pt in _along(drain, 30.0, 15.0):
                        net.points.append(("ho_ga", *pt))
                k_pow += 1
                _append(
                    net.power,
                    MADZ=f"DZ04-{spec.code}-{k_pow:03d}",
                    CAPDIENAP=0.4,
                    LOAI=_pick(rng, ("Đi nổi", "Đi ngầm"), (0.75, 0.25)),
                    NAMXD=int(rng.integers(2000, 2025)),
                    geometry=_offset(line, width / 2 + 0.3),
                )
    return net


def network_frames(seed: int, net: Network, epsg: int) -> dict[str, Any]:
    """GeoDataFrames (in EPSG:`epsg`) plus the point-asset CSV rows."""
    out = {}
    for name, cols in (("roads", net.roads), ("pipes", net.pipes), ("drains", net.drains), ("power", net.power)):
        cols = dict(cols)
        geoms = cols.pop("geometry")
        keep = [i for i, g in enumerate(geoms) if not g.is_empty]
        out[name] = frame({k: [v[i] for i in keep] for k, v in cols.items()}, [geoms[i] for i in keep], epsg)
    rng = stream(seed, "point_assets")
    prefix = {"tru_cuu_hoa": "TCH", "ho_ga": "HG", "cot_den": "CD"}
    counters: dict[str, int] = {}
    rows = []
    for kind, x, y in net.points:
        counters[kind] = counters.get(kind, 0) + 1
        state = _pick(rng, ("tot", "hu_hong", "dang_sua"), (0.86, 0.09, 0.05))
        # Vietnamese surveying convention: X is the northing, Y the easting
        rows.append(
            (f"{prefix[kind]}-{counters[kind]:05d}", kind, state, int(rng.integers(2005, 2025)), f"{y:.3f}", f"{x:.3f}")
        )
    out["point_rows"] = rows
    return out
