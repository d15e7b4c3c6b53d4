"""Features from a drawing: polygons built from linework, labels assigned, defects located.

``faces`` snap-rounds every boundary line to the profile's grid and nodes them in one
GEOS overlay (``union_all`` with ``grid_size``: a T-junction within the grid is joined,
a shared edge drawn twice becomes one), then polygonises (``polygonize_full``), so a
gap, a dangling end or a crossing is found rather than papered over. ``closed`` takes
each closed polyline as a polygon; ``lines`` takes polylines as they are. Each
feature takes the label inside it (for lines: the nearest within the profile's
distance). Every defect carries a rule code and the place to fix, in the drawing's
coordinates.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import shapely

from bando.layers.model import CadLabels, CadProfile
from bando.pipelines.cad.drawing import Drawing, Label, Line

#: Rule codes of drawing defects (documented in the README's CAD section).
RULES = {
    "cad.dangling": "a boundary ends without meeting another (an unclosed or overshooting line)",
    "cad.self_crossing": "a boundary line or a zone polyline crosses itself",
    "cad.unclosed": "a zone polyline is not closed",
    "cad.face_unlabelled": "a polygon has no label inside it",
    "cad.label_conflict": "a polygon holds two different labels",
    "cad.label_outside": "a label lies in no polygon (or near no line)",
    "cad.label_unreadable": "a label does not match the profile's pattern",
    "cad.line_unlabelled": "a line has no label within the profile's distance",
}


@dataclass(frozen=True)
class Defect:
    rule: str
    reason: str
    where: shapely.Geometry


@dataclass
class Built:
    geometries: list[shapely.Geometry]
    records: list[dict[str, str]]
    defects: list[Defect]


def build(drawing: Drawing, profile: CadProfile) -> Built:
    lines = [ln for ln in drawing.lines if ln.layer in profile.linework]
    labels, defects = _read_labels([lb for lb in drawing.labels if lb.layer in profile.labels.layers], profile.labels)
    if profile.build == "faces":
        shapes, found = faces([ln.geometry for ln in lines], profile.snap)
    elif profile.build == "closed":
        shapes, found = closed(lines, profile.snap)
    else:
        shapes, found = [ln.geometry for ln in lines], []
    defects += found
    if profile.build == "lines":
        records, found = _label_lines(shapes, labels, profile.label_distance)
    else:
        records, found = _label_faces(shapes, labels)
    defects += found
    return _merge(shapes, records, defects, lines_out=profile.build == "lines")


def faces(lines: list[shapely.LineString], snap: float) -> tuple[list[shapely.Geometry], list[Defect]]:
    """Polygons enclosed by the linework, after snap-rounding and noding; dangles and bad rings as defects."""
    if not lines:
        return [], []
    geoms = np.asarray(lines, dtype=object)
    defects = [
        Defect("cad.self_crossing", f"boundary line crosses itself near {_at(g)}", g)
        for g in geoms[~shapely.is_simple(geoms)]
    ]
    noded = shapely.union_all(geoms, grid_size=snap)
    polygons, cuts, dangles, invalid = shapely.polygonize_full(shapely.get_parts(noded))
    for g in (*shapely.get_parts(dangles), *shapely.get_parts(cuts)):
        defects.append(Defect("cad.dangling", f"boundary ends without closing near {_at(g)}", g))
    for g in shapely.get_parts(invalid):
        defects.append(Defect("cad.self_crossing", f"boundary ring crosses itself near {_at(g)}", g))
    return list(shapely.get_parts(polygons)), defects


def closed(lines: list[Line], snap: float) -> tuple[list[shapely.Geometry], list[Defect]]:
    """One polygon per closed polyline; an open one (ends further apart than the snap) is a defect."""
    shapes, defects = [], []
    for ln in lines:
        coords = np.asarray(ln.geometry.coords)
        gap = float(np.hypot(*(coords[0] - coords[-1])))
        if (ln.closed or gap <= snap) and len(coords) >= 4:
            polygon = shapely.Polygon(coords)
            if polygon.is_valid:
                shapes.append(polygon)
            else:  # never repaired silently: the planner redraws it
                defects.append(
                    Defect("cad.self_crossing", f"zone polyline crosses itself near {_at(polygon)}", polygon)
                )
        else:
            defects.append(Defect("cad.unclosed", f"zone polyline is not closed (ends {gap:.2f} m apart)", ln.geometry))
    return shapes, defects


def _read_labels(labels: list[Label], spec: CadLabels) -> tuple[list[tuple[shapely.Point, dict]], list[Defect]]:
    out: list[tuple[shapely.Point, dict]] = []
    defects: list[Defect] = []
    pattern = re.compile(spec.pattern) if spec.pattern else None
    for lb in labels:
        if pattern is not None and lb.text is not None:
            m = pattern.fullmatch(lb.text.strip())
            if m is None:
                defects.append(
                    Defect("cad.label_unreadable", f"label {lb.text!r} does not match the profile's pattern", lb.point)
                )
                continue
            out.append((lb.point, {k: v for k, v in m.groupdict().items() if v is not None}))
        elif lb.block is not None and lb.block == spec.block:
            out.append((lb.point, {spec.attributes[t]: v for t, v in lb.attributes.items() if t in spec.attributes}))
    return out, defects


def _label_faces(shapes: list, labels: list[tuple[shapely.Point, dict]]) -> tuple[list[dict | None], list[Defect]]:
    """Each polygon's label: the labels inside it must agree; a label goes to the smallest polygon holding it."""
    points = np.asarray([p for p, _ in labels], dtype=object)
    inside: dict[int, list[dict]] = defaultdict(list)
    defects: list[Defect] = []
    if len(points) and shapes:
        tree = shapely.STRtree(shapes)
        li, fi = tree.query(points, predicate="within")
        areas = shapely.area(np.asarray(shapes, dtype=object))
        best: dict[int, int] = {}
        for label_no, face_no in zip(li.tolist(), fi.tolist(), strict=True):
            if label_no not in best or areas[face_no] < areas[best[label_no]]:
                best[label_no] = face_no
        for label_no, face_no in best.items():
            inside[face_no].append(labels[label_no][1])
        placed = set(best)
    else:
        placed = set()
    for k, (p, rec) in enumerate(labels):
        if k not in placed:
            defects.append(Defect("cad.label_outside", f"label {_show(rec)} lies in no polygon, at {_at(p)}", p))
    records: list[dict | None] = []
    for n, shape in enumerate(shapes):
        found = inside.get(n, [])
        distinct = {tuple(sorted(r.items())) for r in found}
        if not found:
            defects.append(
                Defect("cad.face_unlabelled", f"polygon of {shape.area:.1f} m² at {_at(shape)} has no label", shape)
            )
            records.append(None)
        elif len(distinct) > 1:
            shown = "; ".join(_show(dict(d)) for d in sorted(distinct))
            defects.append(
                Defect("cad.label_conflict", f"polygon at {_at(shape)} holds different labels: {shown}", shape)
            )
            records.append(None)
        else:
            records.append(found[0])
    return records, defects


def _label_lines(
    shapes: list, labels: list[tuple[shapely.Point, dict]], distance: float
) -> tuple[list[dict | None], list[Defect]]:
    """Each line takes the nearest label within ``distance``; a label nobody takes is a defect."""
    records: list[dict | None] = [None] * len(shapes)
    used: set[int] = set()
    defects: list[Defect] = []
    if labels and shapes:
        tree = shapely.STRtree(np.asarray([p for p, _ in labels], dtype=object))
        li, ti = tree.query_nearest(np.asarray(shapes, dtype=object), max_distance=distance, all_matches=False)
        for line_no, label_no in zip(li.tolist(), ti.tolist(), strict=True):
            records[line_no] = labels[label_no][1]
            used.add(label_no)
    for n, rec in enumerate(records):
        if rec is None:
            defects.append(
                Defect(
                    "cad.line_unlabelled", f"line near {_at(shapes[n])} has no label within {distance:g} m", shapes[n]
                )
            )
    for k, (p, rec) in enumerate(labels):
        if k not in used:
            defects.append(Defect("cad.label_outside", f"label {_show(rec)} is near no line, at {_at(p)}", p))
    return records, defects


def _merge(shapes: list, records: list[dict | None], defects: list[Defect], lines_out: bool) -> Built:
    """Parts with the same label are one feature (a plot drawn as two polylines, a parcel split by a road)."""
    groups: dict[tuple, list] = {}
    for shape, rec in zip(shapes, records, strict=True):
        if rec is not None:
            groups.setdefault(tuple(sorted(rec.items())), []).append(shape)
    make = shapely.multilinestrings if lines_out else shapely.multipolygons
    geoms = [make([p for s in parts for p in shapely.get_parts(s)]) for parts in groups.values()]
    return Built(geoms, [dict(k) for k in groups], defects)


def _at(g: shapely.Geometry) -> str:
    """A point to look at: inside a polygon, halfway along a line."""
    dims = shapely.get_dimensions(g)
    p = (
        shapely.point_on_surface(g)
        if dims == 2
        else shapely.line_interpolate_point(g, 0.5, normalized=True)
        if dims == 1
        else g
    )
    return f"({p.x:.2f}, {p.y:.2f})"


def _show(rec: dict) -> str:
    return "'" + " ".join(str(v) for v in rec.values()) + "'"
