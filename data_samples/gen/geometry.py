"""Where things are: commune boundaries, through-going features, map sheets.

The communes are laid out as a grid of roughly square cells around the
province's centre, in the province's VN-2000 TM-3 plane (metres), so that legal
areas come out right without any reprojection. Neighbouring communes share the
*same* wiggly boundary polyline (built once per edge), which is what makes the
commune layer and the parcels tile without gaps or overlaps.

"Trunk" features — a river, a main irrigation canal, a provincial and a
national road — cross several communes. They are defined once for the whole
layout, so the cadastral strips, the land-use plan, the construction plan, the
infrastructure lines and the flood raster all agree on where they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Polygon

from bando.crs import transformer as bando_transformer

from .province import CommuneSpec, ProvinceSpec
from .rng import stream

# Parcels per km² that the default mix produces; measured on this generator and
# used to size communes for a requested parcel count (see geometry.commune_side).
PARCEL_DENSITY = 1150.0

SHEET_SIZE = 1000.0  # 1:2000 cadastral sheet footprint, 1 km x 1 km (Thông tư 25/2014/TT-BTNMT)


def transformer(epsg: int, to_wgs84: bool = True) -> Transformer:
    """VN-2000 TM-3 <-> WGS 84, pinned to the official EPSG:6960 (bando.crs.transformer).

    Never PROJ's automatic choice: in the south (Tây Ninh, Long An) that is EPSG:5194,
    about 0.8 m away.
    """
    return bando_transformer(epsg, 4326) if to_wgs84 else bando_transformer(4326, epsg)


# Snap-rounding grid applied before a parcel leaves the layout plane for another zone, m.
DELIVERY_GRID = 1e-6


def to_delivery(geoms: np.ndarray, src: int, dst: int, grid: float | None = None) -> np.ndarray:
    """Parcels drawn in EPSG:`src` as delivered in EPSG:`dst` (the same or another TM-3 zone).

    Clipping leaves a few zero-width spikes (a ring running back along its own edge,
    1e-10 m wide): valid in the plane they were drawn in, but the ~1e-10 m noise of any
    reprojection (to another zone, to WGS 84 for the API) can fold them into
    self-intersections. Snap-rounding to a `grid` (GEOS ``set_precision``) collapses
    them (a spike has no area, so no parcel's area changes by more than ~1e-4 m²) and
    moves every other vertex by at most the grid. A delivery in another zone is always
    snap-rounded (to DELIVERY_GRID unless `grid` says otherwise); one in the layout's
    own zone only when `grid` is given (Hưng Yên's committed files predate this).
    """
    if grid is None and src != dst:
        grid = DELIVERY_GRID
    if grid:
        geoms = shapely.set_precision(geoms, grid)
    return reproject(geoms, src, dst)


def reproject(geoms: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Geometries from EPSG:`src` to EPSG:`dst`, vertex by vertex, with bando's pinned transformer.

    Between two VN-2000 zones (e.g. 105°30′ -> 105°45′) this is a pure change of projection on
    the same datum: a round trip returns every vertex to well under a millimetre, so
    edges shared across files in different zones still coincide once reprojected.
    """
    if src == dst:
        return geoms
    t = bando_transformer(src, dst)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


@dataclass(frozen=True)
class CommuneCell:
    """One commune's place in the layout."""

    index: int
    spec: CommuneSpec
    polygon: Polygon
    col: int
    row: int


@dataclass(frozen=True)
class Trunk:
    """A through-going linear feature, as a centreline plus a cadastral strip width."""

    key: str  # "river", "canal", "provincial_road", "national_road"
    name: str
    code: str  # land-use code of its cadastral strip
    width: float  # width of the cadastral strip, metres
    line: LineString


@dataclass(frozen=True)
class Layout:
    """The whole sample area: communes, trunk features and their strips."""

    prov: ProvinceSpec
    side: float  # nominal commune side, metres
    origin: tuple[float, float]  # lower-left corner of the commune grid
    ncols: int
    nrows: int
    communes: list[CommuneCell]
    trunks: list[Trunk]
    strips: dict[str, shapely.Geometry]  # trunk key -> strip polygon, higher classes cut lower ones

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        x0, y0 = self.origin
        pad = 0.1 * self.side
        return (x0 - pad, y0 - pad, x0 + self.ncols * self.side + pad, y0 + self.nrows * self.side + pad)


def _wiggly_edge(seed: int, key: tuple, p0: tuple[float, float], p1: tuple[float, float], amp: float) -> np.ndarray:
    """A boundary polyline from p0 to p1 that meanders sideways but keeps its end points.

    The envelope sin(pi t) pins both ends, so the four edges of a cell always meet
    at the exact grid nodes and neighbours can share edges vertex for vertex.
    """
    rng = stream(seed, "edge", *key)
    n = 48
    t = np.linspace(0.0, 1.0, n + 1)
    phase = rng.uniform(0, 2 * math.pi, 2)
    off = (
        amp
        * np.sin(math.pi * t)
        * (0.7 * np.sin(2 * math.pi * 1.5 * t + phase[0]) + 0.3 * np.sin(2 * math.pi * 4.0 * t + phase[1]))
    )
    p0a, p1a = np.asarray(p0, float), np.asarray(p1, float)
    d = p1a - p0a
    normal = np.array([-d[1], d[0]]) / np.hypot(*d)
    pts = p0a + t[:, None] * d + off[:, None] * normal
    pts[0], pts[-1] = p0a, p1a
    return np.round(pts, 3)


def commune_side(parcels_per_commune: float) -> float:
    """Commune side (m) so that a commune holds about `parcels_per_commune` parcels.

    PARCEL_DENSITY was measured on the generator itself (parcels per km² for the
    default mix of villages, fields, roads and canals).
    """
    side_km = math.sqrt(max(parcels_per_commune, 50.0) / PARCEL_DENSITY)
    return round(side_km * 1000.0 / 10.0) * 10.0


def build_layout(seed: int, prov: ProvinceSpec, n_communes: int, side: float) -> Layout:
    """Lay out `n_communes` communes of nominal side `side` around the province centre."""
    specs = prov.communes_for(n_communes)
    if prov.grid_cols and n_communes <= len(prov.communes):
        ncols = prov.grid_cols
    else:
        ncols = n_communes if n_communes <= 4 else math.ceil(math.sqrt(n_communes))
    nrows = math.ceil(n_communes / ncols)
    cx, cy = transformer(prov.epsg, to_wgs84=False).transform(*prov.centre_lonlat)
    x0 = round((cx - ncols * side / 2) / 10.0) * 10.0
    y0 = round((cy - nrows * side / 2) / 10.0) * 10.0
    amp = 0.04 * side

    def node(c: int, r: int) -> tuple[float, float]:
        return (x0 + c * side, y0 + r * side)

    edges: dict[tuple, np.ndarray] = {}

    def h_edge(c: int, r: int) -> np.ndarray:  # west -> east, along grid row line r
        k = ("h", c, r)
        if k not in edges:
            edges[k] = _wiggly_edge(seed, k, node(c, r), node(c + 1, r), amp)
        return edges[k]

    def v_edge(c: int, r: int) -> np.ndarray:  # south -> north, along grid column line c
        k = ("v", c, r)
        if k not in edges:
            edges[k] = _wiggly_edge(seed, k, node(c, r), node(c, r + 1), amp)
        return edges[k]

    cells: list[CommuneCell] = []
    for i, spec in enumerate(specs):
        col, row_from_top = i % ncols, i // ncols
        r = nrows - 1 - row_from_top
        ring = np.concatenate(
            [h_edge(col, r)[:-1], v_edge(col + 1, r)[:-1], h_edge(col, r + 1)[::-1][:-1], v_edge(col, r)[::-1]]
        )
        poly = shapely.make_valid(Polygon(ring))
        cells.append(CommuneCell(i, spec, poly, col, row_from_top))

    trunks = _trunks(seed, prov, (x0, y0), ncols, nrows, side)
    strips = _trunk_strips(trunks)
    return Layout(prov, side, (x0, y0), ncols, nrows, cells, trunks, strips)


def _trunks(
    seed: int, prov: ProvinceSpec, origin: tuple[float, float], ncols: int, nrows: int, side: float
) -> list[Trunk]:
    """River (N-S, meandering), canal and provincial road (W-E), national road (N-S).

    Positions are relative to the grid so the same recipe works for 3 communes or
    600: with the default row of three communes the river runs through the middle
    commune, the national road through the eastern one.
    """
    rng = stream(seed, "trunks")
    x0, y0 = origin
    width, height = ncols * side, nrows * side
    pad = 0.2 * side
    ys = np.arange(y0 - pad, y0 + height + pad + 1, 20.0)
    xs = np.arange(x0 - pad, x0 + width + pad + 1, 20.0)

    ph = rng.uniform(0, 2 * math.pi, 6)
    xr = x0 + min(1.45, ncols * 0.48) * side
    river_x = (
        xr
        + 0.09 * side * np.sin(2 * math.pi * (ys - y0) / (0.95 * side) + ph[0])
        + 0.035 * side * np.sin(2 * math.pi * (ys - y0) / (0.37 * side) + ph[1])
    )
    river = LineString(np.round(np.column_stack([river_x, ys]), 2))

    yc = y0 + 0.28 * height
    canal_y = yc + 0.05 * side * np.sin(2 * math.pi * (xs - x0) / (2.3 * side) + ph[2])
    canal = shapely.simplify(LineString(np.round(np.column_stack([xs, canal_y]), 2)), 2.0)

    yp = y0 + 0.63 * height
    road_y = yp + 0.06 * side * np.sin(2 * math.pi * (xs - x0) / (3.1 * side) + ph[3])
    provincial = shapely.simplify(LineString(np.round(np.column_stack([xs, road_y]), 2)), 1.0)

    xn = x0 + min(2.55, ncols * 0.85) * side
    nat_x = xn + 0.08 * (ys - y0 - height / 2) + 0.03 * side * np.sin(2 * math.pi * (ys - y0) / (2.0 * side) + ph[4])
    national = shapely.simplify(LineString(np.round(np.column_stack([nat_x, ys]), 2)), 1.0)

    return [
        Trunk("national_road", prov.national_road[1], "DGT", 22.0, national),
        Trunk("provincial_road", prov.provincial_road[1], "DGT", 14.0, provincial),
        Trunk("river", prov.river_name, "SON", 64.0, river),
        Trunk("canal", prov.canal_name, "DTL", 16.0, canal),
    ]


def _trunk_strips(trunks: list[Trunk]) -> dict[str, shapely.Geometry]:
    """Cadastral strips of the trunk features; a higher-ranked strip cuts lower ones.

    The order of `trunks` is the precedence: roads cross the river on bridges, and
    on the cadastral map the bridge deck is transport land, not river.
    """
    out: dict[str, shapely.Geometry] = {}
    taken: shapely.Geometry | None = None
    for t in trunks:
        strip = shapely.buffer(t.line, t.width / 2, cap_style="flat", join_style="round", quad_segs=4)
        if taken is not None:
            strip = shapely.difference(strip, taken)
        out[t.key] = strip
        taken = strip if taken is None else shapely.union(taken, strip)
    return out


def sheet_index(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global 1:2000 sheet column/row of points (sheets on a 1 km national grid)."""
    return np.floor(x / SHEET_SIZE).astype(np.int64), np.floor(y / SHEET_SIZE).astype(np.int64)
