"""Cadastral parcels (thửa đất) for one commune, tiling it without gaps or overlaps.

Steps, each kept simple so the million-parcel run stays fast:
1. villages (thôn) as noisy ellipses — they decide where house lots go;
2. a local grid of field roads and canals cuts the commune's bounding box into
   blocks (`blocks.py`), each block is cut into bands and lots;
3. lots are clipped to the commune boundary and the trunk strips (river, canal,
   provincial and national road) are cut out and added as their own parcels;
4. crumbs left by clipping are merged into the neighbour they share most border
   with (a real surveyor would not number a 3 m² sliver);
5. parcels get a 1:2000 sheet number and a number within the sheet, then owners,
   addresses and areas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely import STRtree

from .blocks import ALLEY, FIELD, LOT, ROAD, WIDE, Pieces, cross, make_lines, subdivide_block
from .geometry import SHEET_SIZE, CommuneCell, Layout, to_delivery
from .names import people
from .rng import stream
from .writers import frame

TARGET_PER_COMMUNE = 1700  # communes added beyond the real ones hold about this many parcels
MIN_PARCEL_AREA = 25.0  # smaller clipping crumbs are merged into a neighbour

STATE_CODES = frozenset({"DGT", "DTL", "SON", "NTD", "TSC", "DGD", "DYT", "DVH", "DCH", "DKV"})
VILLAGE_KINDS = frozenset({LOT, WIDE, ALLEY})
COLUMNS = [
    "maXa",
    "soHieuToBanDo",
    "soThuTuThua",
    "dienTich",
    "dienTichPhapLy",
    "loaiDat",
    "diaChi",
    "tenChu",
    "soDinhDanh",
]


@dataclass(frozen=True)
class Village:
    """A thôn: a noisy ellipse of house lots around a centre."""

    name: str
    x: float
    y: float
    rx: float
    ry: float
    angle: float
    phase: float

    def distance(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """Normalised distance: < 1 inside the village."""
        dx, dy = np.asarray(x) - self.x, np.asarray(y) - self.y
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        u, v = (dx * ca + dy * sa) / self.rx, (-dx * sa + dy * ca) / self.ry
        theta = np.arctan2(v, u)
        return np.hypot(u, v) / (1.0 + 0.18 * np.sin(3 * theta + self.phase))

    def contains(self, x: float, y: float) -> bool:
        """Scalar, math-only version of ``distance(x, y) < 1`` (called ~10⁶ times at scale)."""
        dx, dy = x - self.x, y - self.y
        if abs(dx) > 1.2 * self.rx + 1.2 * self.ry or abs(dy) > 1.2 * self.rx + 1.2 * self.ry:
            return False
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        u, v = (dx * ca + dy * sa) / self.rx, (-dx * sa + dy * ca) / self.ry
        return math.hypot(u, v) < 1.0 + 0.18 * math.sin(3 * math.atan2(v, u) + self.phase)


@dataclass
class CommuneParcels:
    """One commune's parcels (columns as arrays) and what other datasets reuse."""

    code: str
    geoms: np.ndarray
    columns: dict[str, Any]
    villages: list[Village]
    network: list[tuple[str, float, shapely.Geometry]] = field(default_factory=list)  # (kind, width, line)
    facilities: list[tuple[str, float, float]] = field(default_factory=list)  # (code, x, y)

    def __len__(self) -> int:
        return len(self.geoms)


def make_villages(seed: int, cell: CommuneCell, side: float, river: shapely.Geometry | None = None) -> list[Village]:
    """3-4 villages spread over the commune, 9-15 % of the side in radius."""
    rng = stream(seed, "villages", cell.spec.code)
    minx, miny, maxx, maxy = cell.polygon.bounds
    out: list[Village] = []
    tries = 0
    while len(out) < min(4, len(cell.spec.villages)) and tries < 200:
        tries += 1
        x, y = rng.uniform(minx + 0.2 * side, maxx - 0.2 * side), rng.uniform(miny + 0.2 * side, maxy - 0.2 * side)
        if any(math.hypot(x - v.x, y - v.y) < 0.38 * side for v in out):
            continue
        r = rng.uniform(0.09, 0.15) * side
        if river is not None and shapely.distance(river, shapely.Point(x, y)) < 1.4 * r + 40.0:
            continue  # villages sit beside the river, not in it
        out.append(
            Village(
                cell.spec.villages[len(out)],
                x,
                y,
                r * rng.uniform(1.0, 1.5),
                r * rng.uniform(0.7, 1.0),
                rng.uniform(0, math.pi),
                rng.uniform(0, 2 * math.pi),
            )
        )
    return out


def _pieces(seed: int, cell: CommuneCell, villages: list[Village], river, side: float, want_lines: bool) -> Pieces:
    """Blocks, road/canal strips and lots over the commune's bounding box."""
    rng = stream(seed, "grid", cell.spec.code)
    minx, miny, maxx, maxy = cell.polygon.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    v = make_lines(rng, minx, maxx, cy)
    h = make_lines(rng, miny, maxy, cx)
    out = Pieces()

    def village_pt(x: float, y: float) -> bool:
        return any(vil.contains(x, y) for vil in villages)

    nv, nh = len(v.pos), len(h.pos)
    # strips of the local grid
    for i in range(nv):
        if v.width[i] > 0:
            hw = v.width[i] / 2
            q = [
                [
                    cross(v, i, -hw, h, j, 0),
                    cross(v, i, hw, h, j, 0),
                    cross(v, i, hw, h, j + 1, 0),
                    cross(v, i, -hw, h, j + 1, 0),
                ]
                for j in range(nh - 1)
            ]
            out.add(np.array(q), v.kind[i], "DGT" if v.kind[i] == ROAD else "DTL")
            if want_lines:
                out.lines.append(
                    (v.kind[i], v.width[i], np.array([cross(v, i, 0, h, 0, 0), cross(v, i, 0, h, nh - 1, 0)]))
                )
    for j in range(nh):
        if h.width[j] > 0:
            hw = h.width[j] / 2
            q = [
                [
                    cross(v, i, v.width[i] / 2, h, j, -hw),
                    cross(v, i + 1, -v.width[i + 1] / 2, h, j, -hw),
                    cross(v, i + 1, -v.width[i + 1] / 2, h, j, hw),
                    cross(v, i, v.width[i] / 2, h, j, hw),
                ]
                for i in range(nv - 1)
            ]
            out.add(np.array(q), h.kind[j], "DGT" if h.kind[j] == ROAD else "DTL")
            if want_lines:
                out.lines.append(
                    (h.kind[j], h.width[j], np.array([cross(v, 0, 0, h, j, 0), cross(v, nv - 1, 0, h, j, 0)]))
                )
    # blocks
    for i in range(nv - 1):
        for j in range(nh - 1):
            brng = stream(seed, "block", cell.spec.code, i, j)
            lv, rv = v.width[i] / 2, -v.width[i + 1] / 2
            bh, th = h.width[j] / 2, -h.width[j + 1] / 2
            corners = np.array(
                [
                    cross(v, i, lv, h, j, bh),
                    cross(v, i + 1, rv, h, j, bh),
                    cross(v, i + 1, rv, h, j + 1, th),
                    cross(v, i, lv, h, j + 1, th),
                ]
            )
            bx, by = corners.mean(axis=0)
            near_river = river is not None and shapely.distance(river, shapely.Point(bx, by)) < 0.22 * side
            d = brng.random()
            if near_river:  # alluvial land by the river: ornamental plants and annual crops
                code = "HNK" if d < 0.45 else "CLN" if d < 0.8 else "LUC"
            else:
                code = "LUC" if d < 0.84 else "HNK" if d < 0.91 else "NTS" if d < 0.96 else "CLN"
            subdivide_block(brng, corners, village_pt, code, out, want_lines)
    return out


def _assign_specials(
    rng: np.random.Generator, codes: np.ndarray, kinds: np.ndarray, cxy: np.ndarray, villages: list[Village]
) -> None:
    """Public buildings on wide village lots, a cemetery in the fields, scattered exceptions."""
    wide = np.flatnonzero(kinds == WIDE)
    free = set(wide.tolist())

    def take_nearest(x: float, y: float) -> int | None:
        if not free:
            return None
        cand = np.fromiter(free, dtype=np.int64)
        k = int(cand[np.argmin(np.hypot(cxy[cand, 0] - x, cxy[cand, 1] - y))])
        free.discard(k)
        return k

    if villages:
        main = villages[0]
        for code in ("TSC", "DGD", "DGD", "DYT", "DCH", "DKV"):
            k = take_nearest(main.x, main.y)
            if k is not None:
                codes[k] = code
        for n, vil in enumerate(villages):
            for code in ("DVH", "TIN") + (("TON",) if n % 2 == 0 else ()):
                k = take_nearest(vil.x, vil.y)
                if k is not None:
                    codes[k] = code
    rest = np.array(sorted(free), dtype=np.int64)
    if len(rest):
        d = rng.random(len(rest))
        codes[rest] = np.where(d < 0.5, "CLN", np.where(d < 0.8, "NTS", "ONT"))
    # scattered exceptions in the fields
    fields = np.flatnonzero((kinds == FIELD) & (codes == "LUC"))
    d = rng.random(len(fields))
    codes[fields[d < 0.03]] = "HNK"
    codes[fields[(d >= 0.03) & (d < 0.045)]] = "NTS"
    # cemetery: a few field lots just outside a village
    if villages and len(fields):
        vil = villages[int(rng.integers(len(villages)))]
        ang = rng.uniform(0, 2 * math.pi)
        px, py = vil.x + 1.5 * vil.rx * math.cos(ang), vil.y + 1.5 * vil.rx * math.sin(ang)
        allf = np.flatnonzero(kinds == FIELD)
        dist = np.hypot(cxy[allf, 0] - px, cxy[allf, 1] - py)
        first = allf[np.argmin(dist)]
        near = allf[np.hypot(cxy[allf, 0] - cxy[first, 0], cxy[allf, 1] - cxy[first, 1]) < 70.0]
        codes[near[:4]] = "NTD"


def _merge_crumbs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge pieces below MIN_PARCEL_AREA into the neighbour sharing the longest border.

    Neighbours are tried by decreasing shared border until the union is a single
    polygon; a few passes let chains of crumbs collapse. Returns the new
    geometries and a mask of the pieces that survive.
    """
    geoms = geoms.copy()
    alive = np.ones(len(geoms), bool)
    for _ in range(3):
        area = shapely.area(geoms)
        small = np.flatnonzero(alive & (area < MIN_PARCEL_AREA))
        if len(small) == 0:
            break
        big = np.flatnonzero(alive & (area >= MIN_PARCEL_AREA))
        if len(big) == 0:
            break
        tree = STRtree(geoms[big])
        for s in small:
            cand = big[tree.query(shapely.buffer(geoms[s], 0.05), predicate="intersects")]
            if len(cand) == 0:
                continue
            # border shared within 2 cm: clipping leaves vertices a hair off the neighbour's edge
            near = shapely.buffer(geoms[s], 0.02)
            shared = shapely.length(shapely.intersection(shapely.boundary(geoms[cand]), near))
            for k in np.argsort(-shared, kind="stable"):
                if shared[k] <= 0.05:
                    break
                target = cand[k]
                merged = shapely.union(geoms[target], shapely.snap(geoms[s], geoms[target], 0.02))
                if merged.geom_type == "Polygon":
                    geoms[target] = merged
                    alive[s] = False
                    break
    return geoms, alive


def _explode(geoms: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    parts, idx = shapely.get_parts(geoms, return_index=True)
    ok = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0.01)
    return (parts[ok], *(c[idx[ok]] for c in cols))


def commune_parcels(seed: int, layout: Layout, cell: CommuneCell, want_network: bool = False) -> CommuneParcels:
    """All parcels of one commune, numbered and attributed."""
    spec, prov, side = cell.spec, layout.prov, layout.side
    poly = cell.polygon
    shapely.prepare(poly)
    river = next((t.line for t in layout.trunks if t.key == "river"), None)
    villages = make_villages(seed, cell, side, river)
    pieces = _pieces(seed, cell, villages, river, side, want_network)
    quads, kinds, codes = pieces.arrays()

    rings = np.concatenate([quads, quads[:, :1]], axis=1)
    geoms = shapely.polygons(rings)
    inter = shapely.intersects(poly, geoms)
    geoms, kinds, codes = geoms[inter], kinds[inter], codes[inter]
    inside = shapely.contains_properly(poly, geoms)
    geoms[~inside] = shapely.intersection(geoms[~inside], poly)
    box = shapely.box(*poly.bounds)
    trunk_parts = [(k, s) for k, s in layout.strips.items() if shapely.intersects(s, box)]
    if trunk_parts:
        cut = shapely.union_all([shapely.intersection(s, box) for _, s in trunk_parts])
        shapely.prepare(cut)
        hit = shapely.intersects(cut, geoms)
        geoms[hit] = shapely.difference(geoms[hit], cut)
    geoms, kinds, codes = _explode(geoms, kinds, codes)
    rep = shapely.point_on_surface(geoms)
    cxy = np.column_stack([shapely.get_x(rep), shapely.get_y(rep)])
    _assign_specials(stream(seed, "specials", spec.code), codes, kinds, cxy, villages)

    # trunk strips become their own parcels, cut into ~500 m pieces
    trunk_code = {t.key: t.code for t in layout.trunks}
    extra_g, extra_k, extra_c = [], [], []
    for key, strip in trunk_parts:
        part = shapely.intersection(strip, poly)
        if part.is_empty:
            continue
        minx, miny, maxx, maxy = part.bounds
        step = SHEET_SIZE / 2
        xs = np.arange(math.floor(minx / step) * step, maxx, step)
        ys = np.arange(math.floor(miny / step) * step, maxy, step)
        gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
        grid = shapely.box(gx, gy, gx + step, gy + step)
        pcs = shapely.intersection(part, grid)
        extra_g.append(pcs)
        extra_k.append(np.full(len(pcs), "trunk", dtype=object))
        extra_c.append(np.full(len(pcs), trunk_code[key], dtype=object))
    if extra_g:
        tg, tk, tc = _explode(np.concatenate(extra_g), np.concatenate(extra_k), np.concatenate(extra_c))
        geoms, kinds, codes = np.concatenate([geoms, tg]), np.concatenate([kinds, tk]), np.concatenate([codes, tc])

    geoms, alive = _merge_crumbs(geoms)
    geoms, kinds, codes = geoms[alive], kinds[alive], codes[alive]

    cp = _attributes(seed, prov, cell, villages, geoms, kinds, codes)
    if want_network:
        for kind, width, seg in pieces.lines:
            line = shapely.intersection(shapely.linestrings(seg), poly)
            if not line.is_empty and line.length > 20:
                cp.network.append((kind, float(width), line))
        pts = shapely.point_on_surface(cp.geoms)
        for code in ("TSC", "DGD", "DYT", "DVH", "TIN", "TON", "DCH", "DKV", "NTD"):
            for k in np.flatnonzero(cp.columns["loaiDat"] == code):
                cp.facilities.append((code, float(shapely.get_x(pts[k])), float(shapely.get_y(pts[k]))))
    return cp


def _attributes(
    seed: int, prov, cell: CommuneCell, villages: list[Village], geoms: np.ndarray, kinds: np.ndarray, codes: np.ndarray
) -> CommuneParcels:
    """Sheet and parcel numbers, areas, addresses and owners.

    Sheets, parcel numbers and areas are those of the commune's own cadastral plane:
    the TM-3 zone of the file its parcels are delivered in (for a former Long An
    commune of today's Tây Ninh, TM-3 105°45′, not the layout's 105°30′), as a surveyor of
    that former province would have computed them.
    """
    spec = cell.spec
    rng = stream(seed, "attributes", spec.code)
    n = len(geoms)
    plane = to_delivery(geoms, prov.epsg, prov.delivery_for(spec).epsg, prov.parcel_grid)
    rep_plane = shapely.point_on_surface(plane)
    px, py = shapely.get_x(rep_plane), shapely.get_y(rep_plane)
    scol, srow = np.floor(px / SHEET_SIZE).astype(np.int64), np.floor(py / SHEET_SIZE).astype(np.int64)
    # sheets numbered from the north-west, row by row
    sheets = sorted(set(zip((-srow).tolist(), scol.tolist())))
    sheet_no = {s: i + 1 for i, s in enumerate(sheets)}
    sheet = np.array([sheet_no[(-r, c)] for r, c in zip(srow.tolist(), scol.tolist())], dtype=np.int64)
    # parcels numbered within a sheet in 60 m rows from the north, west to east
    band = np.floor(((srow + 1) * SHEET_SIZE - py) / 60.0).astype(np.int64)
    order = np.lexsort((px, band, sheet))
    number = np.empty(n, dtype=np.int64)
    s_sorted = sheet[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s_sorted)) + 1]
    seq = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    number[order] = seq + 1

    area = shapely.area(plane)
    dien_tich = np.round(area, 1)
    state = np.isin(codes, list(STATE_CODES))
    shrink = (rng.random(n) < 0.25) & ~state
    legal = np.where(shrink, np.round(dien_tich * (1.0 - rng.uniform(0.002, 0.03, n)), 1), dien_tich)

    # addresses: village lots by nearest thôn (ấp), fields by quarter of the commune
    rep = rep_plane if plane is geoms else shapely.point_on_surface(geoms)
    x, y = shapely.get_x(rep), shapely.get_y(rep)
    vword = prov.village_word_of(spec)
    commune_part = f"{spec.kind.lower()} {spec.name}, {prov.province_label}"
    if villages:
        dist = np.stack([v.distance(x, y) for v in villages])
        nearest = np.argmin(dist, axis=0)
    else:
        nearest = np.zeros(n, dtype=np.int64)
    ccx, ccy = cell.polygon.centroid.x, cell.polygon.centroid.y
    quarter = ((np.arctan2(y - ccy, x - ccx) + math.pi) / (math.pi / 2)).astype(np.int64) % 4
    village_like = np.isin(kinds, list(VILLAGE_KINDS))
    vnames = [v.name for v in villages] or list(spec.villages)
    addr = [
        f"{vword} {vnames[v]}, {commune_part}"
        if vl
        else (
            f"{prov.field_word} {spec.fields[q]}, {commune_part}"
            if k == FIELD
            else f"{spec.kind} {spec.name}, {prov.province_label}"
        )
        for vl, v, q, k in zip(village_like.tolist(), nearest.tolist(), quarter.tolist(), kinds.tolist())
    ]

    names, ids = people(rng, n, prov.cccd_prefix_of(spec))
    owner = np.array(names, dtype=object)
    ident = np.array(ids, dtype=object)
    communal_pond = (codes == "NTS") & (rng.random(n) < 0.2)
    org = state | communal_pond | np.isin(codes, ["TON", "TIN"])
    owner[state | communal_pond] = spec.authority
    for code, label in (("TON", f"Chùa {vword.lower()} {{}}"), ("TIN", f"Cộng đồng dân cư {vword.lower()} {{}}")):
        for k in np.flatnonzero(codes == code):
            owner[k] = label.format(vnames[nearest[k]])
    ident[org] = ""

    cols = {
        "maXa": np.full(n, spec.code, dtype=object),
        "soHieuToBanDo": sheet.astype(np.int32),  # OGR Integer, as in national exports
        "soThuTuThua": number.astype(np.int32),
        "dienTich": dien_tich,
        "dienTichPhapLy": legal,
        "loaiDat": codes.astype(object),
        "diaChi": np.array(addr, dtype=object),
        "tenChu": owner,
        "soDinhDanh": ident,
    }
    # store in sheet/number order: diffs and eyeballing are easier
    order = np.lexsort((number, sheet))
    return CommuneParcels(spec.code, geoms[order], {k: v[order] for k, v in cols.items()}, villages)


def parcels_frame(batch: list[CommuneParcels], epsg: int, out_epsg: int | None = None, grid: float | None = None):
    """GeoDataFrame of several communes' parcels, columns in the delivered order.

    The parcels are generated in the layout plane, EPSG:`epsg`; `out_epsg` (a parcel
    delivery's own TM-3 zone) reprojects them with bando's pinned transformer
    (`geometry.to_delivery`).
    """
    geoms = np.concatenate([cp.geoms for cp in batch]) if batch else np.zeros(0, dtype=object)
    if out_epsg is not None:
        geoms, epsg = to_delivery(geoms, epsg, out_epsg, grid), out_epsg
    cols = {c: np.concatenate([np.asarray(cp.columns[c]) for cp in batch]) for c in COLUMNS}
    for c in ("maXa", "loaiDat", "diaChi", "tenChu", "soDinhDanh"):
        cols[c] = cols[c].astype(object)
    return frame(cols, geoms, epsg)
