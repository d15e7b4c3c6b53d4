"""Hamlets (thôn, tổ dân phố): the names people give as their address, below the commune.

A Red River Delta commune after the 2025 mergers holds the named villages of its former
communes and, often, numbered ones ("Thôn 3"); a former township (thị trấn) brings its
residential groups ("Tổ dân phố 2"). Each hamlet here is a polygon: the communes are cut
into hamlets by a Voronoi partition around the villages the parcels were drawn around
(so "Thôn Đông" covers the houses addressed "Thôn Đông") and around further seeds for the
numbered ones. The numbered and township names are plausible inventions, like the villages.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from .geometry import Layout
from .parcels import CommuneParcels
from .rng import stream
from .writers import frame

#: Hamlets beyond each commune's villages, by commune code: (unit word, name).
EXTRA: dict[str, tuple[tuple[str, str], ...]] = {
    "12049": tuple(("Thôn", str(i)) for i in range(1, 7)),  # Mễ Sở: the former Bình Minh numbered its thôn
    "12019": tuple(("Tổ dân phố", str(i)) for i in range(1, 6)),  # Văn Giang: the former township's groups
    "12031": (*(("Thôn", str(i)) for i in range(1, 5)), ("Thôn", "Thượng"), ("Thôn", "Hạ")),  # Nghĩa Trụ
}
MIN_SPACING = 0.18  # of the commune's side: how close two hamlet seeds may be
SIMPLIFY_M = 0.5  # the commune boundary's wiggles, kept to half a metre


def _seeds(seed: int, code: str, polygon: shapely.Geometry, taken: list[tuple[float, float]], n: int) -> list:
    """`n` further seed points inside the commune, spaced from the villages and from each other."""
    rng = stream(seed, "hamlets", code)
    minx, miny, maxx, maxy = polygon.bounds
    side = math.sqrt(polygon.area)
    points = list(taken)
    out: list[tuple[float, float]] = []
    spacing = MIN_SPACING * side
    tries = 0
    while len(out) < n:
        tries += 1
        if tries % 400 == 0:
            spacing *= 0.85  # a crowded commune: accept closer hamlets rather than loop
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not polygon.contains(shapely.Point(x, y)):
            continue
        if any(math.hypot(x - px, y - py) < spacing for px, py in points):
            continue
        points.append((x, y))
        out.append((x, y))
    return out


def hamlets_frame(seed: int, layout: Layout, communes: list[CommuneParcels]):
    """thon_to_dan_pho: maThon, tenThon ("Thôn Đông"), loaiThon, maXa; one MultiPolygon each."""
    word_of = layout.prov.village_word_of
    cols: dict[str, list[str]] = {"maThon": [], "tenThon": [], "loaiThon": [], "maXa": []}
    geoms = []
    for cell, cp in zip(layout.communes, communes):
        named = [(word_of(cell.spec), v.name, (v.x, v.y)) for v in cp.villages]
        extra = EXTRA.get(cell.spec.code, ())
        seeds = _seeds(seed, cell.spec.code, cell.polygon, [p for *_, p in named], len(extra))
        hamlets = named + [(word, name, p) for (word, name), p in zip(extra, seeds)]
        points = shapely.multipoints([p for *_, p in hamlets])
        boundary = shapely.simplify(cell.polygon, SIMPLIFY_M)
        cells = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=boundary))
        for i, (word, name, (x, y)) in enumerate(hamlets, start=1):
            region = next(c for c in cells if c.contains(shapely.Point(x, y)))
            part = shapely.intersection(region, boundary)
            cols["maThon"].append(f"{cell.spec.code}-{i:02d}")
            cols["tenThon"].append(f"{word} {name}")
            cols["loaiThon"].append(word)
            cols["maXa"].append(cell.spec.code)
            geoms.append(shapely.multipolygons(shapely.get_parts(part)))
    return frame(cols, np.array(geoms, dtype=object), layout.prov.epsg)
