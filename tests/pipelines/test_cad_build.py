"""Polygon building and label checks on small hand-made drawings: every rule code, and what passes."""

from __future__ import annotations

import shapely

from bando.layers.model import CadLabels, CadProfile, Text
from bando.pipelines.cad.build import RULES, build
from bando.pipelines.cad.drawing import Drawing, Label, Line

PATTERN = r"(?P<soThuTuThua>\d+)\s+(?P<loaiDat>[A-Z]{3})\s+(?P<dienTich>\d+(?:[.,]\d+)?)"
ABOUT = Text(vi="thử", en="test")


def profile(build_as: str = "faces", **labels: object) -> CadProfile:
    spec = CadLabels(layers=("13",), **labels) if labels else CadLabels(layers=("13",), pattern=PATTERN)
    return CadProfile(format="dgn", description=ABOUT, build=build_as, linework=("10",), labels=spec)


def line(*xy: tuple[float, float], closed: bool = False) -> Line:
    return Line(shapely.LineString(xy), "10", closed)


def label(x: float, y: float, text: str) -> Label:
    return Label(shapely.Point(x, y), "13", text=text)


def two_squares() -> list[Line]:
    """Two 10 m squares sharing an edge; the middle edge meets the outline 0.4 mm off its vertex."""
    return [
        line((0, 0), (20, 0), (20, 10), (0, 10), (0, 0)),
        line((10.0004, 0), (10, 10.0003)),  # a T-junction drawn to within the 1 mm grid
    ]


def rules(drawing: Drawing, p: CadProfile | None = None) -> list[str]:
    return sorted(d.rule for d in build(drawing, p or profile()).defects)


def test_snap_rounding_joins_t_junctions_and_labels_fill_the_faces() -> None:
    built = build(Drawing(two_squares(), [label(5, 5, "1 ONT 100"), label(15, 5, "2 LUC 100,0")]), profile())
    assert built.defects == []
    assert sorted(r["soThuTuThua"] for r in built.records) == ["1", "2"]
    assert [round(g.area, 2) for g in built.geometries] == [100.0, 100.0]


def test_each_defect_has_its_rule() -> None:
    ok = [label(5, 5, "1 ONT 100"), label(15, 5, "2 LUC 100")]
    assert rules(Drawing(two_squares(), ok[:1])) == ["cad.face_unlabelled"]
    assert rules(Drawing(two_squares(), [*ok, label(6, 6, "3 ONT 100")])) == ["cad.label_conflict"]
    assert rules(Drawing(two_squares(), [*ok, label(6, 6, "1 ONT 100")])) == []  # the same label twice is fine
    assert rules(Drawing(two_squares(), [*ok, label(50, 50, "9 ONT 1")])) == ["cad.label_outside"]
    assert rules(Drawing(two_squares(), [*ok, label(6, 6, "đất ở")])) == ["cad.label_unreadable"]
    overshoot = [*two_squares(), line((20, 5), (23, 5))]
    assert rules(Drawing(overshoot, ok)) == ["cad.dangling"]
    bow = [*two_squares(), line((30, 0), (40, 10), (40, 0), (30, 10))]
    assert "cad.self_crossing" in rules(Drawing(bow, ok))


def test_closed_zones_refuse_open_and_self_crossing_polylines() -> None:
    zones = [
        line((0, 0), (10, 0), (10, 10), (0, 10), closed=True),
        line((20, 0), (30, 0), (30, 10), (20, 10)),  # left open
        line((40, 0), (50, 10), (50, 0), (40, 10), closed=True),  # a bow-tie
    ]
    found = rules(Drawing(zones, [label(5, 5, "1 ONT 100")]), profile("closed"))
    assert found == ["cad.self_crossing", "cad.unclosed"]


def test_lines_take_the_nearest_block_within_the_distance() -> None:
    blocks = CadLabels(layers=("13",), block="CGDD", attributes={"SO": "soThuTuThua"})
    p = CadProfile(format="dxf", description=ABOUT, build="lines", linework=("10",), labels=blocks, label_distance=1.0)
    on_line = Label(shapely.Point(5, 0), "13", block="CGDD", attributes={"SO": "7"})
    far = Label(shapely.Point(5, 30), "13", block="CGDD", attributes={"SO": "8"})
    built = build(Drawing([line((0, 0), (10, 0)), line((0, 10), (10, 10))], [on_line, far]), p)
    assert built.records == [{"soThuTuThua": "7"}]
    assert sorted(d.rule for d in built.defects) == ["cad.label_outside", "cad.line_unlabelled"]


def test_every_rule_is_documented() -> None:
    assert set(RULES) >= {"cad.dangling", "cad.self_crossing", "cad.unclosed", "cad.face_unlabelled"}
