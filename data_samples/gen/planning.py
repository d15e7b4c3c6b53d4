"""Land-use status (hiện trạng) and the land-use plan to 2030 in two versions.

The status layer is the parcels dissolved by commune and code (what an
inventory, kiểm kê, delivers). The plan is drawn the way a planner draws one: at
a coarser scale than the cadastre, so its zones cut through parcels and a parcel
can fall into one, two or three planned zones — exactly the case the citizen's
"what is planned on my parcel?" report must handle. Version 2 is a later
adjustment (điều chỉnh) that converts rice land to an industrial cluster and to
a new residential area and adds a road corridor, so the catalogue's versioning
has something real to show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import LineString

from .geometry import Layout
from .parcels import CommuneParcels
from .province import Decision
from .rng import stream
from .writers import frame

AGRI = ("LUC", "HNK", "CLN", "NTS", "LUK")
VILLAGE_CODES = ("ONT", "TIN", "TON", "DVH", "DCH", "DKV", "TSC", "DGD", "DYT")
MIN_ZONE_AREA = 400.0
STATUS_YEAR = 2024


def status_frame(communes: list[CommuneParcels], epsg: int):
    """hien_trang_sdd: one MultiPolygon per commune and land-use code."""
    rows: dict[str, list] = {"maXa": [], "loaiDat": [], "dienTich": [], "namKiemKe": []}
    geoms = []
    for cp in communes:
        codes = cp.columns["loaiDat"]
        for code in sorted(set(codes.tolist())):
            g = shapely.union_all(cp.geoms[codes == code], grid_size=0.001)
            g = shapely.force_2d(shapely.make_valid(g))
            g = shapely.multipolygons(shapely.get_parts(g)[shapely.get_type_id(shapely.get_parts(g)) == 3])
            rows["maXa"].append(cp.code)
            rows["loaiDat"].append(code)
            rows["dienTich"].append(round(float(g.area), 1))
            rows["namKiemKe"].append(STATUS_YEAR)
            geoms.append(g)
    return frame(rows, geoms, epsg)


def planned_road(layout: Layout) -> LineString:
    """Centreline of the new road corridor of plan v2 (also road D3 of the 1/2000 plan).

    It runs diagonally from the western commune across the river into the
    middle one, through rice fields, as new roads in the delta usually do.
    """
    x0, y0 = layout.origin
    s, h = layout.side, layout.nrows * layout.side
    n = min(layout.ncols, 3)
    return LineString(
        [
            (x0 + 0.30 * s, y0 + 0.12 * h),
            (x0 + 0.55 * n / 3 * s + 0.5 * s, y0 + 0.42 * h),
            (x0 + 1.70 * s * n / 3, y0 + 0.95 * h),
        ]
    )


@dataclass
class Zone:
    """One planned zone (vùng quy hoạch)."""

    id: str
    commune: str
    code: str
    geom: shapely.Geometry


def _parts(g: shapely.Geometry, min_area: float = MIN_ZONE_AREA) -> list[shapely.Geometry]:
    parts = shapely.get_parts(g)
    return [p for p in parts if shapely.get_type_id(p) == 3 and p.area >= min_area]


def _dominant(
    cell: shapely.Geometry, tree: STRtree, geoms: np.ndarray, codes: np.ndarray, prefer: tuple[str, ...]
) -> str:
    """Code covering most of `cell`, preferring the codes in `prefer` (farmland zones)."""
    idx = tree.query(cell, predicate="intersects")
    if len(idx) == 0:
        return "LUC"
    areas = shapely.area(shapely.intersection(geoms[idx], cell))
    tally: dict[str, float] = {}
    for c, a in zip(codes[idx].tolist(), areas.tolist()):
        tally[c] = tally.get(c, 0.0) + a
    pref = {c: a for c, a in tally.items() if c in prefer}
    pool = pref or tally
    return max(sorted(pool), key=lambda c: pool[c])


def _absorb_small(zones: list[Zone]) -> list[Zone]:
    """Merge zones under MIN_ZONE_AREA into the neighbour sharing the longest border.

    Dropping them would leave holes in the plan; a planner would not draw them.
    """
    big = [z for z in zones if z.geom.area >= MIN_ZONE_AREA]
    small = sorted((z for z in zones if z.geom.area < MIN_ZONE_AREA), key=lambda z: -z.geom.area)
    if not big:
        return zones
    tree = STRtree([z.geom for z in big])
    for z in small:
        near = shapely.buffer(z.geom, 0.05)
        cand = tree.query(near, predicate="intersects")
        if len(cand) == 0:
            big.append(z)
            continue
        shared = [shapely.intersection(shapely.boundary(big[i].geom), near).length for i in cand]
        target = big[int(cand[int(np.argmax(shared))])]
        merged = shapely.union(target.geom, z.geom, grid_size=0.01)
        parts = _parts(merged, 0.5)
        target.geom = parts[0] if len(parts) == 1 else shapely.multipolygons(parts)
    return big


def _number(zones: list[Zone], commune: str, start: int = 1) -> None:
    """Zone ids numbered from the north-west, like the plan's map legend."""
    order = sorted(zones, key=lambda z: (-round(z.geom.centroid.y, -2), z.geom.centroid.x))
    for k, z in enumerate(order, start=start):
        z.id = f"QH{commune}-{k:03d}"


def plan_v1(seed: int, layout: Layout, communes: list[CommuneParcels]) -> list[Zone]:
    """Plan zones per commune: corridors, cemetery, public land, villages, then farmland cells."""
    out: list[Zone] = []
    margins = {"national_road": 8.0, "provincial_road": 6.0, "river": 0.0, "canal": 2.0}
    for cell, cp in zip(layout.communes, communes):
        poly = shapely.set_precision(cell.polygon, 0.01)  # one 1 cm grid for every overlay below
        rng = stream(seed, "plan", cp.code)
        codes, geoms = cp.columns["loaiDat"], cp.geoms
        tree = STRtree(geoms)
        zones: list[Zone] = []
        taken = shapely.Polygon()

        def add(code: str, geom: shapely.Geometry, poly=poly, zones=zones, commune=cp.code) -> None:
            nonlocal taken
            g = shapely.difference(shapely.intersection(geom, poly, grid_size=0.01), taken, grid_size=0.01)
            for p in _parts(g, 0.5):
                zones.append(Zone("", commune, code, p))
            taken = shapely.union(taken, g, grid_size=0.01)

        for t in layout.trunks:
            add(t.code, shapely.buffer(t.line, t.width / 2 + margins.get(t.key, 0.0), cap_style="flat"))
        if (codes == "NTD").any():  # cemetery with room to grow
            add("NTD", shapely.buffer(shapely.union_all(geoms[codes == "NTD"]), 30.0, join_style="mitre"))
        for code in ("DGD", "TSC", "DYT"):
            if (codes == code).any():
                add(code, shapely.buffer(shapely.union_all(geoms[codes == code]), 6.0, join_style="mitre"))
        village = shapely.union_all(geoms[np.isin(codes, VILLAGE_CODES)])
        village = shapely.simplify(shapely.buffer(shapely.buffer(village, 15.0), -12.0), 2.0)
        add("ONT", village)
        # the rest in irregular planner's cells, coded by what mostly lies beneath
        minx, miny, maxx, maxy = poly.bounds
        k = max(4, int(round(poly.area / 200_000)))
        pts = shapely.points(rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k))
        cells = shapely.get_parts(
            shapely.voronoi_polygons(
                shapely.multipoints(pts), extend_to=shapely.box(minx - 500, miny - 500, maxx + 500, maxy + 500)
            )
        )
        rest = shapely.difference(poly, taken, grid_size=0.01)
        for c in cells:
            for p in _parts(shapely.intersection(c, rest, grid_size=0.01), 0.5):
                zones.append(Zone("", cp.code, _dominant(p, tree, geoms, codes, AGRI), p))
        zones = _absorb_small(zones)
        _number(zones, cp.code)
        out.extend(zones)
    return out


def plan_v2(seed: int, layout: Layout, communes: list[CommuneParcels], v1: list[Zone]) -> tuple[list[Zone], list[str]]:
    """The adjustment: industrial cluster, residential expansion, new road corridor.

    Returns the zones and a list of human-readable changes (for the README).
    """
    zones = [Zone(z.id, z.commune, z.code, z.geom) for z in v1]
    changes: list[str] = []
    next_id: dict[str, int] = {}

    def new_id(commune: str) -> str:
        next_id[commune] = next_id.get(commune, 100) + 1
        return f"QH{commune}-{next_id[commune]:03d}"

    def carve(region: shapely.Geometry, code: str, commune: str | None, only: tuple[str, ...] | None) -> float:
        """Give `region` the planned `code`, taking it from zones (of codes `only`)."""
        total = 0.0
        pieces: dict[str, list] = {}
        for z in zones:
            if (commune and z.commune != commune) or (only and z.code not in only) or z.code == code:
                continue
            if not shapely.intersects(z.geom, region):
                continue
            inter = shapely.intersection(z.geom, region, grid_size=0.01)
            if inter.area < 1.0:
                continue
            z.geom = shapely.difference(z.geom, region, grid_size=0.01)
            pieces.setdefault(z.commune, []).append(inter)
        for com, parts in pieces.items():
            for p in _parts(shapely.union_all(parts, grid_size=0.01), 0.5):
                zones.append(Zone(new_id(com), com, code, p))
                total += p.area
        return total

    codes = [c.spec.code for c in layout.communes]
    # 1. a new road corridor, 30 m, across the first two communes
    road = planned_road(layout)
    a = carve(shapely.buffer(road, 15.0, cap_style="flat"), "DGT", None, None)
    changes.append(f"new DGT road corridor (30 m wide, {a / 10_000:.2f} ha) across communes {', '.join(codes[:2])}")
    # 2. residential expansion around the biggest village of the middle commune
    mid = codes[min(1, len(codes) - 1)]
    ont = [z for z in zones if z.commune == mid and z.code == "ONT"]
    if ont:
        biggest = max(ont, key=lambda z: z.geom.area)
        ring = shapely.difference(shapely.buffer(biggest.geom, 80.0), biggest.geom)
        a = carve(ring, "ONT", mid, AGRI)
        changes.append(
            f"ONT expansion ({a / 10_000:.2f} ha) around zone {biggest.id} in commune {mid}, taken from farmland"
        )
    # 3. an industrial cluster on rice land south of the provincial road, in the last commune
    east = layout.communes[min(2, len(layout.communes) - 1)]
    prov_road = next(t.line for t in layout.trunks if t.key == "provincial_road")
    cx = east.polygon.centroid.x - 0.1 * layout.side
    window = shapely.box(cx - 260, prov_road.bounds[1] - 2000, cx + 260, prov_road.bounds[3] + 2000)
    seg = shapely.intersection(prov_road, window)
    if not seg.is_empty and seg.geom_type == "LineString":
        near, far = shapely.offset_curve(seg, -14.0), shapely.offset_curve(seg, -360.0)
        region = shapely.Polygon(list(near.coords) + list(far.coords)[::-1])
        a = carve(shapely.make_valid(region), "SKN", east.spec.code, AGRI)
        changes.append(
            f"SKN industrial cluster ({a / 10_000:.2f} ha) on farmland south of the provincial road, "
            f"commune {east.spec.code}"
        )
    for z in zones:  # a carve can split a zone: it keeps its id as a MultiPolygon
        parts = _parts(z.geom, 0.5)
        z.geom = shapely.multipolygons(parts) if len(parts) > 1 else (parts[0] if parts else shapely.Polygon())
    zones = [z for z in zones if z.geom.area > 0]
    by_commune: dict[str, list[Zone]] = {}
    for z in zones:
        by_commune.setdefault(z.commune, []).append(z)
    zones = [z for c in by_commune.values() for z in _absorb_small(c)]
    return zones, changes


def plan_frame(zones: list[Zone], decision: Decision, epsg: int):
    """quy_hoach_sdd rows in zone-id order."""
    zones = sorted(zones, key=lambda z: z.id)
    cols = {
        "maVung": [z.id for z in zones],
        "maXa": [z.commune for z in zones],
        "loaiDatQH": [z.code for z in zones],
        "dienTich": [round(float(z.geom.area), 1) for z in zones],
        "soQuyetDinh": [decision.number] * len(zones),
        "ngayQuyetDinh": [decision.date] * len(zones),
        "coQuanPheDuyet": [decision.authority] * len(zones),
    }
    geoms = [shapely.multipolygons([z.geom]) if z.geom.geom_type == "Polygon" else z.geom for z in zones]
    return frame(cols, geoms, epsg)
