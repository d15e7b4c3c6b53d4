"""Construction planning 1/2000 in the shape Thông tư 16/2025/TT-BXD asks for.

One zoning plan (quy hoạch phân khu) over one commune, delivered as a
GeoPackage with the circular's no-diacritic CamelCase classes and geometry
suffixes. Its planned roads are chosen so that the citizen's question "does a
road widening cut my parcel?" has real answers: an existing village road
widened to 24 m through house lots, the provincial road widened to 36 m, a new
road across rice fields (the same corridor as land-use plan v2) and a 13.5 m
inter-village road.

Red lines come in pairs, one per edge of the planned road (maDoiTuong
``DD-NN-T`` left / ``DD-NN-P`` right, both digitised in the same direction), so
the land taken is the polygon between them — see the README.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

from .geometry import Layout
from .parcels import CommuneParcels
from .planning import AGRI, VILLAGE_CODES, _dominant, planned_road
from .province import ProvinceSpec
from .rng import stream
from .writers import frame

# function -> (group label, coverage %, storeys min, storeys max, FAR, setback m)
INDICATORS: dict[str, tuple[str, float, int, int, float, float]] = {
    "ONT": ("Đất ở", 75.0, 1, 5, 3.0, 0.0),
    "TMD": ("Đất thương mại dịch vụ", 50.0, 3, 9, 3.5, 6.0),
    "DGD": ("Đất công trình công cộng", 40.0, 1, 4, 1.2, 6.0),
    "DYT": ("Đất công trình công cộng", 40.0, 1, 5, 1.6, 6.0),
    "TSC": ("Đất công trình công cộng", 40.0, 1, 5, 1.5, 6.0),
    "DTT": ("Đất công trình công cộng", 30.0, 1, 3, 0.6, 6.0),
    "DVH": ("Đất công trình công cộng", 40.0, 1, 3, 1.0, 6.0),
    "TIN": ("Đất tôn giáo tín ngưỡng", 30.0, 1, 2, 0.5, 3.0),
    "TON": ("Đất tôn giáo tín ngưỡng", 30.0, 1, 2, 0.5, 3.0),
    "DKV": ("Đất cây xanh", 5.0, 1, 1, 0.05, 3.0),
    "NTD": ("Đất hạ tầng kỹ thuật", 0.0, 0, 0, 0.0, 0.0),
    "DGT": ("Đất giao thông", 0.0, 0, 0, 0.0, 0.0),
    "DTL": ("Đất hạ tầng kỹ thuật", 0.0, 0, 0, 0.0, 0.0),
    "SON": ("Đất mặt nước", 0.0, 0, 0, 0.0, 0.0),
    "LUC": ("Đất nông nghiệp", 0.0, 0, 0, 0.0, 0.0),
    "HNK": ("Đất nông nghiệp", 0.0, 0, 0, 0.0, 0.0),
    "CLN": ("Đất nông nghiệp", 0.0, 0, 0, 0.0, 0.0),
    "NTS": ("Đất nông nghiệp", 0.0, 0, 0, 0.0, 0.0),
}
# what fields near the new roads become, and how often (a commune centre gets mostly housing)
NEW_USES = ("ONT", "TMD", "DKV", "DGD", "DTT")
NEW_USE_WEIGHTS = (0.55, 0.15, 0.16, 0.07, 0.07)


@dataclass(frozen=True)
class PlannedRoad:
    """A planned road: centreline, right-of-way width (lộ giới), setback, note."""

    number: int
    name: str
    lo_gioi: float
    khoang_lui: float
    centre: shapely.Geometry
    note: str


def planned_roads(layout: Layout, cp: CommuneParcels) -> list[PlannedRoad]:
    """The four planned roads of the plan (see module docstring)."""
    poly = next(c.polygon for c in layout.communes if c.spec.code == cp.code)
    codes = cp.columns["loaiDat"]
    village = shapely.buffer(shapely.union_all(cp.geoms[np.isin(codes, ("ONT",))]), 10.0)
    roads = [ln for kind, _, ln in cp.network if kind == "road"]
    by_village = sorted(roads, key=lambda ln: -shapely.length(shapely.intersection(ln, village)))
    commune = next(c.spec for c in layout.communes if c.spec.code == cp.code)
    out = []
    if by_village:
        out.append(
            PlannedRoad(
                1,
                f"Đường trục trung tâm {commune.kind.lower()} {commune.name}",
                24.0,
                3.0,
                by_village[0],
                "Mở rộng đường xã hiện trạng 4-7 m lên lộ giới 24 m",
            )
        )
    prov_road = next(t for t in layout.trunks if t.key == "provincial_road")
    out.append(
        PlannedRoad(
            2,
            f"{prov_road.name} (đoạn qua {commune.kind.lower()} {commune.name})",
            36.0,
            6.0,
            shapely.intersection(prov_road.line, poly),
            "Mở rộng đường tỉnh hiện trạng lên lộ giới 36 m",
        )
    )
    out.append(
        PlannedRoad(
            3,
            "Đường D3 (xây dựng mới)",
            30.0,
            5.0,
            shapely.intersection(planned_road(layout), poly),
            "Tuyến mới theo điều chỉnh quy hoạch sử dụng đất",
        )
    )
    if len(by_village) > 1:
        out.append(
            PlannedRoad(4, "Đường liên thôn D4", 13.5, 2.0, by_village[1], "Mở rộng đường liên thôn lên lộ giới 13,5 m")
        )
    return [r for r in out if not r.centre.is_empty]


def _edges(centre: shapely.Geometry, dist: float) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Left and right offset lines of a (multi)line centreline, same direction as it."""
    parts = [p for p in shapely.get_parts(shapely.line_merge(centre)) if p.length > 1]
    left = shapely.multilinestrings([shapely.offset_curve(p, dist, join_style="mitre") for p in parts])
    right = shapely.multilinestrings([shapely.offset_curve(p, -dist, join_style="mitre") for p in parts])
    return left, right


def construction_layers(
    seed: int, layout: Layout, cp: CommuneParcels, prov: ProvinceSpec
) -> tuple[dict, list[PlannedRoad]]:
    """The four TT16 classes as GeoDataFrames keyed by class name."""
    dec = prov.construction_plan
    year = dec.date[:4]
    common_id = f"{prov.code}-QHPK-{year}-{cp.code}"
    dossier = f"HSQH-{prov.code}-{dec.number.split('/')[0]}-{year}"
    poly = next(c.polygon for c in layout.communes if c.spec.code == cp.code)
    rng = stream(seed, "construction", cp.code)
    roads = planned_roads(layout, cp)

    def common(n: int, ids: list[str], names: list[str], kinds: list[str], notes: list[str]) -> dict[str, list]:
        return {
            "maThongTinQH": [common_id] * n,
            "maHoSoQH": [dossier] * n,
            "maDoiTuong": ids,
            "tenDoiTuong": names,
            "phanLoai": kinds,
            "ghiChu": notes,
        }

    # red lines and building lines: a pair of edges per planned road
    red: dict[str, list] = {k: [] for k in ("ids", "names", "notes", "ten", "lg", "geom")}
    bld: dict[str, list] = {k: [] for k in ("ids", "names", "notes", "kl", "geom")}
    for r in roads:
        for side, label, g in zip("TP", ("cạnh trái", "cạnh phải"), _edges(r.centre, r.lo_gioi / 2)):
            red["ids"].append(f"DD-{r.number:02d}-{side}")
            red["names"].append(f"Chỉ giới đường đỏ {r.name} ({label})")
            red["notes"].append(r.note)
            red["ten"].append(r.name)
            red["lg"].append(r.lo_gioi)
            red["geom"].append(g)
        for side, label, g in zip("TP", ("cạnh trái", "cạnh phải"), _edges(r.centre, r.lo_gioi / 2 + r.khoang_lui)):
            bld["ids"].append(f"XD-{r.number:02d}-{side}")
            bld["names"].append(f"Chỉ giới xây dựng {r.name} ({label})")
            bld["notes"].append(f"Lùi {r.khoang_lui:g} m so với chỉ giới đường đỏ")
            bld["kl"].append(r.khoang_lui)
            bld["geom"].append(g)
    n = len(red["ids"])
    red_cols = common(n, red["ids"], red["names"], ["Chỉ giới đường đỏ"] * n, red["notes"]) | {
        "tenDuong": red["ten"],
        "loGioi": red["lg"],
    }
    n = len(bld["ids"])
    bld_cols = common(n, bld["ids"], bld["names"], ["Chỉ giới xây dựng"] * n, bld["notes"]) | {"khoangLui": bld["kl"]}

    # plots: the area less the planned road strips, cut into planner's cells
    strips = shapely.intersection(
        shapely.union_all(
            [shapely.buffer(r.centre, r.lo_gioi / 2, cap_style="flat", join_style="mitre") for r in roads]
        ),
        poly,
        grid_size=0.01,
    )
    plots: list[tuple[str, shapely.Geometry]] = []
    taken = strips
    for key, fn in (("river", "SON"), ("canal", "DTL")):  # water stays water, whatever the cells say
        g = shapely.difference(shapely.intersection(layout.strips[key], poly, grid_size=0.01), taken, grid_size=0.01)
        plots += [(fn, p) for p in shapely.get_parts(g) if shapely.get_type_id(p) == 3 and p.area >= 50]
        taken = shapely.union(taken, g, grid_size=0.01)
    rest = shapely.difference(poly, taken, grid_size=0.01)
    codes, geoms = cp.columns["loaiDat"], cp.geoms
    tree = STRtree(geoms)
    new_roads = shapely.union_all([r.centre for r in roads if r.number in (1, 3)])
    for piece in shapely.get_parts(rest):
        if piece.area < 50:
            continue
        k = max(1, int(round(piece.area / 25_000)))  # plots of ~2.5 ha
        minx, miny, maxx, maxy = piece.bounds
        cells = (
            [piece]
            if k == 1
            else shapely.get_parts(
                shapely.voronoi_polygons(
                    shapely.multipoints(shapely.points(rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k))),
                    extend_to=shapely.box(minx - 100, miny - 100, maxx + 100, maxy + 100),
                )
            )
        )
        for c in cells:
            for p in shapely.get_parts(shapely.intersection(c, piece, grid_size=0.01)):
                if shapely.get_type_id(p) != 3 or p.area < 50:
                    continue
                dom = _dominant(p, tree, geoms, codes, ())
                if dom in VILLAGE_CODES:
                    fn = dom if dom in INDICATORS and dom != "DKV" else "ONT"
                elif dom in AGRI:
                    near = shapely.distance(p, new_roads) < 150
                    fn = str(rng.choice(NEW_USES, p=NEW_USE_WEIGHTS)) if near else dom
                else:
                    fn = dom if dom in INDICATORS else "DKV"
                plots.append((fn, p))
    plots.sort(key=lambda fp: (fp[0], -round(fp[1].centroid.y, -1), fp[1].centroid.x))
    counters: dict[str, int] = {}
    pc: dict[str, list] = {
        k: [] for k in ("ids", "names", "kinds", "notes", "ky", "fn", "dt", "md", "tmin", "tmax", "far", "kl", "geom")
    }
    for i, (fn, p) in enumerate(plots, start=1):
        counters[fn] = counters.get(fn, 0) + 1
        ky = f"{fn}-{counters[fn]:02d}"
        group, md, tmin, tmax, far, kl = INDICATORS[fn]
        pc["ids"].append(f"PO-{i:04d}")
        pc["names"].append(f"Ô quy hoạch {ky}")
        pc["kinds"].append(group)
        pc["notes"].append("")
        pc["ky"].append(ky)
        pc["fn"].append(fn)
        pc["dt"].append(round(p.area, 1))
        pc["md"].append(md)
        pc["tmin"].append(tmin)
        pc["tmax"].append(tmax)
        pc["far"].append(far)
        pc["kl"].append(kl)
        pc["geom"].append(shapely.multipolygons([p]))
    n = len(pc["ids"])
    plot_cols = common(n, pc["ids"], pc["names"], pc["kinds"], pc["notes"]) | {
        "kyHieuO": pc["ky"],
        "chucNang": pc["fn"],
        "dienTich": pc["dt"],
        "matDoXayDung": pc["md"],
        "tangCaoMin": pc["tmin"],
        "tangCaoMax": pc["tmax"],
        "heSoSuDungDat": pc["far"],
        "khoangLui": pc["kl"],
    }

    # land-use functions: plots dissolved by function, plus the road strips
    fn_geoms: dict[str, list] = {}
    for fn, p in plots:
        fn_geoms.setdefault(fn, []).append(p)
    fn_geoms.setdefault("DGT", []).append(strips)
    fc: dict[str, list] = {k: [] for k in ("fn", "dt", "geom")}
    for fn in sorted(fn_geoms):
        g = shapely.union_all(fn_geoms[fn], grid_size=0.01)
        parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) == 3]
        fc["fn"].append(fn)
        fc["geom"].append(shapely.multipolygons(parts))
        fc["dt"].append(round(sum(p.area for p in parts), 1))
    n = len(fc["fn"])
    fn_cols = common(
        n,
        [f"CN-{i:03d}" for i in range(1, n + 1)],
        [INDICATORS[f][0] + f" ({f})" for f in fc["fn"]],
        [INDICATORS[f][0] for f in fc["fn"]],
        [""] * n,
    ) | {"chucNang": fc["fn"], "dienTich": fc["dt"]}

    epsg = prov.epsg
    return {
        "PhanOQuyHoach_A": frame(plot_cols, pc["geom"], epsg),
        "ChucNangSuDungDat_A": frame(fn_cols, fc["geom"], epsg),
        "ChiGioiDuongDo_L": frame(red_cols, red["geom"], epsg),
        "ChiGioiXayDung_L": frame(bld_cols, bld["geom"], epsg),
    }, roads
