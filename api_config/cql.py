"""CQL2 (text or JSON, parsed by pygeofilter) → parameterised PostgreSQL.

Every value from a request becomes a bind parameter and every property name must be
one of the view's fields (quoted with ``sql.Identifier``); nothing from the request
is pasted into SQL text. Each handler returns ``(fragment, params)`` with the params
in the order their placeholders appear, so composition can never misalign them.

The work a filter may cause is bounded here. A geometry in a filter has at most
``BANDO_MAX_VERTICES`` vertices. PostGIS answers ``S_INTERSECTS``, ``S_WITHIN`` and
``S_CONTAINS`` with the index and a prepared geometry (built once per statement), so a big
literal stays cheap; ``S_DISJOINT`` is written as ``NOT st_intersects`` to get the same.
``S_TOUCHES``, ``S_CROSSES``, ``S_OVERLAPS`` and ``S_EQUALS`` have no prepared form: each
row costs a full relate against the literal (measured: 27 s for a 3,000-vertex star over
5,000 parcels), so their literal is capped at :data:`RELATE_MAX_VERTICES` and rows are
first narrowed by the index and by prepared ``st_intersects``/``st_containsproperly``.
"""

from __future__ import annotations

import json
import math
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

from psycopg import sql
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import Evaluator, handle

from bando.errors import BadInput

Frag = tuple[sql.Composable, list[Any]]
MAX_NODES = 200
MAX_VERTICES = 2_000  # the default of BANDO_MAX_VERTICES
RELATE_MAX_VERTICES = 200
RELATE_ONLY = {
    ast.SpatialComparisonOp.TOUCHES,
    ast.SpatialComparisonOp.CROSSES,
    ast.SpatialComparisonOp.OVERLAPS,
    ast.SpatialComparisonOp.EQUALS,
}
#: Predicates that cannot narrow rows by the index: counting their matches is not worth it.
COSTLY = {*RELATE_ONLY, ast.SpatialComparisonOp.DISJOINT}
LITERALS = (values.Geometry, values.Envelope)

COMPARISON = {
    ast.ComparisonOp.EQ: "=",
    ast.ComparisonOp.NE: "<>",
    ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LE: "<=",
    ast.ComparisonOp.GT: ">",
    ast.ComparisonOp.GE: ">=",
}
ARITHMETIC = {
    ast.ArithmeticOp.ADD: "+",
    ast.ArithmeticOp.SUB: "-",
    ast.ArithmeticOp.MUL: "*",
    ast.ArithmeticOp.DIV: "/",
}
SPATIAL = {
    ast.SpatialComparisonOp.INTERSECTS: "st_intersects",
    ast.SpatialComparisonOp.DISJOINT: "st_disjoint",
    ast.SpatialComparisonOp.CONTAINS: "st_contains",
    ast.SpatialComparisonOp.WITHIN: "st_within",
    ast.SpatialComparisonOp.TOUCHES: "st_touches",
    ast.SpatialComparisonOp.CROSSES: "st_crosses",
    ast.SpatialComparisonOp.OVERLAPS: "st_overlaps",
    ast.SpatialComparisonOp.EQUALS: "st_equals",
}
TEMPORAL = {
    ast.TemporalComparisonOp.AFTER: ">",
    ast.TemporalComparisonOp.BEFORE: "<",
    ast.TemporalComparisonOp.TEQUALS: "=",
}
#: SQL per CQL2 function; ``%s`` pairs take the translation tables below (PostgreSQL's ``lower``
#: changes ASCII only under the C locale, so non-ASCII letters are folded by table).
FUNCTIONS = {
    "casei": "lower(translate({}, %s, %s))",
    "lower": "lower(translate({}, %s, %s))",
    "upper": "upper({})",
    "accenti": "translate({}, %s, %s)",
}


def _accent_table() -> tuple[str, str]:
    """Every precomposed Latin letter (Vietnamese's included) and its base letter, for ``ACCENTI``:
    a fixed table for SQL's ``translate`` (no ``unaccent`` extension to install)."""
    source, target = ["đ", "Đ"], ["d", "D"]
    for code in (*range(0xC0, 0x250), *range(0x1EA0, 0x1F00)):
        letter = chr(code)
        base = unicodedata.normalize("NFD", letter)[0]
        if base != letter and base.isascii():
            source.append(letter)
            target.append(base)
    return "".join(source), "".join(target)


def _case_table() -> tuple[str, str]:
    """Every precomposed non-ASCII capital Latin letter and its small letter, for ``CASEI``."""
    letters = [chr(c) for c in (*range(0xC0, 0x250), *range(0x1EA0, 0x1F00))]
    pairs = [(u, u.lower()) for u in letters if u.isupper() and len(u.lower()) == 1 and u.lower() != u]
    return "".join(u for u, _ in pairs), "".join(low for _, low in pairs)


ACCENTS = _accent_table()
CASES = _case_table()


def _function(name: str, arg: Frag) -> Frag:
    template = FUNCTIONS.get(name.lower())
    if template is None:
        raise BadInput(f"function {name[:40]!r} is not supported in filters (supported: casei, accenti)")
    sql_text, params = _join(template, arg)
    table = ACCENTS if name.lower() == "accenti" else CASES
    return sql_text, params + (list(table) if "%s" in template else [])


def _join(template: str, *frags: Frag) -> Frag:
    params: list[Any] = []
    for _, p in frags:
        params += p
    return sql.SQL(template).format(*(f for f, _ in frags)), params


def vertices(geometry: Any) -> int:
    """Positions in a GeoJSON geometry (any type, collections too), counted without recursion."""
    count, stack = 0, [geometry]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.append(item.get("coordinates", item.get("geometries", [])))
        elif isinstance(item, (list, tuple)):
            if item and isinstance(item[0], (int, float)):
                count += 1
            else:
                stack.extend(item)
    return count


class _ToSQL(Evaluator):
    def __init__(
        self,
        fields: dict[str, sql.Composable],
        geometry: sql.Composable | None,
        srid: int | None,
        max_vertices: int = MAX_VERTICES,
    ) -> None:
        self.fields = fields
        self.geometry = geometry
        self.srid = srid
        self.max_vertices = max_vertices

    @handle(ast.Not)
    def not_(self, node, sub: Frag) -> Frag:
        return _join("(not {})", sub)

    @handle(ast.And, ast.Or)
    def combination(self, node, lhs: Frag, rhs: Frag) -> Frag:
        return _join("({} " + ("and" if node.op == ast.CombinationOp.AND else "or") + " {})", lhs, rhs)

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs: Frag, rhs: Frag) -> Frag:
        return _join("({} " + COMPARISON[node.op] + " {})", lhs, rhs)

    @handle(ast.Between)
    def between(self, node, lhs: Frag, low: Frag, high: Frag) -> Frag:
        return _join("({} " + ("not " if node.not_ else "") + "between {} and {})", lhs, low, high)

    @handle(ast.Like)
    def like(self, node, lhs: Frag) -> Frag:
        pattern, wrappers = node.pattern, []
        while isinstance(pattern, ast.Function) and len(pattern.arguments) == 1:  # CASEI('%giang%')
            wrappers.append(pattern.name)
            pattern = pattern.arguments[0]
        if not isinstance(pattern, str):  # e.g. a property or a number as the pattern
            raise BadInput("LIKE needs a text pattern as its second argument")
        if node.wildcard != "%":
            pattern = pattern.replace(node.wildcard, "%")
        if node.singlechar != "_":
            pattern = pattern.replace(node.singlechar, "_")
        op = ("not " if node.not_ else "") + ("ilike" if node.nocase else "like")
        rhs: Frag = (sql.SQL("%s"), [pattern])
        for name in reversed(wrappers):
            rhs = _function(name, rhs)
        return _join("({} " + op + " {})", lhs, rhs)

    @handle(ast.In)
    def in_(self, node, lhs: Frag, *options: Frag) -> Frag:
        if not options:
            raise BadInput("IN needs at least one value")
        inner = sql.SQL(", ").join(f for f, _ in options)
        params = [*lhs[1], *(p for _, ps in options for p in ps)]
        return sql.SQL("({} " + ("not " if node.not_ else "") + "in ({}))").format(lhs[0], inner), params

    @handle(ast.IsNull)
    def null(self, node, lhs: Frag) -> Frag:
        return _join("({} is " + ("not " if node.not_ else "") + "null)", lhs)

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node, lhs: Frag, rhs: Frag) -> Frag:
        if node.op in TEMPORAL:
            return _join("({} " + TEMPORAL[node.op] + " {})", lhs, rhs)
        if node.op in (ast.TemporalComparisonOp.DURING, ast.TemporalComparisonOp.TOVERLAPS) and len(rhs[1]) == 2:
            return sql.SQL("({} between %s and %s)").format(lhs[0]), [*lhs[1], *rhs[1]]
        raise BadInput(
            f"temporal operator {node.op.value} is not supported; use T_AFTER, T_BEFORE, T_EQUALS or T_DURING"
        )

    @handle(ast.SpatialComparisonPredicate, subclasses=True)
    def spatial(self, node, lhs: Frag, rhs: Frag) -> Frag:
        if node.op == ast.SpatialComparisonOp.DISJOINT:  # prepared, like every st_intersects
            return _join("(not st_intersects({}, {}))", lhs, rhs)
        if node.op not in RELATE_ONLY or isinstance(node.lhs, LITERALS) == isinstance(node.rhs, LITERALS):
            return _join(SPATIAL[node.op] + "({}, {})", lhs, rhs)
        literal, column = (rhs, lhs) if isinstance(node.rhs, LITERALS) else (lhs, rhs)
        given = node.rhs if literal is rhs else node.lhs
        if isinstance(given, values.Geometry) and vertices(given.geometry) > RELATE_MAX_VERTICES:
            name = "S_" + node.op.value.upper()
            raise BadInput(
                f"{name} takes a geometry of at most {RELATE_MAX_VERTICES} vertices (this one has"
                f" {vertices(given.geometry)}); use S_INTERSECTS, S_WITHIN or S_CONTAINS for larger ones"
            )
        # only rows meeting the literal's boundary can touch, cross, overlap or equal it
        return _join(
            "({} && {} and st_intersects({}, {}) and not st_containsproperly({}, {}) and "
            + SPATIAL[node.op]
            + "({}, {}))",
            column,
            literal,
            column,
            literal,
            literal,
            column,
            lhs,
            rhs,
        )

    @handle(ast.BBox)
    def bbox(self, node, lhs: Frag) -> Frag:
        box = (sql.SQL("st_makeenvelope(%s, %s, %s, %s, %s)"), [node.minx, node.miny, node.maxx, node.maxy, self.srid])
        return _join("st_intersects({}, {})", lhs, box)

    @handle(ast.Attribute)
    def attribute(self, node) -> Frag:
        name = node.name
        if name in ("geometry", "geom") and self.geometry is not None:
            return self.geometry, []
        if name not in self.fields:
            known = ", ".join(sorted(self.fields))
            raise BadInput(f"unknown property {name[:60]!r} in filter; queryable properties: {known}")
        return self.fields[name], []

    @handle(ast.Arithmetic, subclasses=True)
    def arithmetic(self, node, lhs: Frag, rhs: Frag) -> Frag:
        return _join("({} " + ARITHMETIC[node.op] + " {})", lhs, rhs)

    @handle(ast.Function)
    def function(self, node, *args: Frag) -> Frag:
        if len(args) != 1:
            raise BadInput(f"function {node.name[:40]!r} takes one argument")
        return _function(node.name, args[0])

    @handle(values.Interval)
    def interval(self, node) -> Frag:
        return sql.SQL("%s, %s"), [node.start, node.end]

    @handle(*values.LITERALS)
    def literal(self, node) -> Frag:
        if isinstance(node, timedelta):
            raise BadInput("durations are not supported in filters")
        if isinstance(node, (list, tuple)):
            raise BadInput("array values are not supported in filters")
        return sql.SQL("%s"), [node]

    @handle(values.Geometry)
    def geometry_(self, node) -> Frag:
        n = vertices(node.geometry)
        if n > self.max_vertices:
            raise BadInput(f"a geometry in a filter may have at most {self.max_vertices} vertices; this one has {n}")
        return sql.SQL("st_setsrid(st_geomfromgeojson(%s), %s)"), [json.dumps(node.geometry), self.srid]

    @handle(values.Envelope)
    def envelope(self, node) -> Frag:
        return sql.SQL("st_makeenvelope(%s, %s, %s, %s, %s)"), [node.x1, node.y1, node.x2, node.y2, self.srid]


def _count_nodes(node: Any, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise BadInput(f"filter too complex (more than {MAX_NODES} terms)")
    if isinstance(node, ast.Node):
        for sub in node.get_sub_nodes():
            _count_nodes(sub, budget)
    elif isinstance(node, (list, tuple)):
        for sub in node:
            _count_nodes(sub, budget)


def mentions(node: Any, name: str) -> bool:
    """Whether a parsed filter names the property ``name`` anywhere."""
    if isinstance(node, ast.Attribute):
        return bool(node.name == name)
    if isinstance(node, ast.Node):
        return any(mentions(sub, name) for sub in node.get_sub_nodes())
    if isinstance(node, (list, tuple)):
        return any(mentions(sub, name) for sub in node)
    return False


GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}


def too_many_vertices(filter_: Any, cap: int) -> str | None:
    """Why a filter is refused before it is parsed (parsing and reprojecting a 3,000-vertex literal
    costs more than answering most requests): a GeoJSON geometry in a CQL2 JSON filter over ``cap``
    vertices, or a CQL2 text filter with more than ``cap`` commas (every vertex but one has one)."""
    if isinstance(filter_, str):
        n = filter_.count(",") + 1
        return f"a geometry in a filter may have at most {cap} vertices; this filter has {n}" if n > cap else None
    stack = [filter_]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            kind = item.get("type")
            if isinstance(kind, str) and kind in GEOMETRY_TYPES | {"GeometryCollection"}:
                n = vertices(item)
                if n > cap:
                    return f"a geometry in a filter may have at most {cap} vertices; this one has {n}"
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def costly(node: Any) -> bool:
    """Whether a parsed filter uses a predicate the index cannot narrow (see :data:`COSTLY`)."""
    if isinstance(node, ast.SpatialComparisonPredicate) and node.op in COSTLY:
        return True
    if isinstance(node, ast.Node):
        return any(costly(sub) for sub in node.get_sub_nodes())
    if isinstance(node, (list, tuple)):
        return any(costly(sub) for sub in node)
    return False


def to_sql(
    root: ast.Node,
    fields: dict[str, sql.Composable],
    geometry: sql.Composable | None,
    srid: int | None,
    max_vertices: int = MAX_VERTICES,
) -> Frag:
    """Translate a parsed filter; raises BadInput for anything bando will not run."""
    try:
        _count_nodes(root, [MAX_NODES])  # in the try: a malformed tree (IN over a number) fails right here
        frag = _ToSQL(fields, geometry, srid, max_vertices).evaluate(root)
    except BadInput:
        raise
    except (KeyError, NotImplementedError, TypeError, ValueError, RecursionError):
        raise BadInput("this filter uses an operator bando does not support") from None
    for p in frag[1]:
        if isinstance(p, (dict, list, tuple)):  # pygeofilter passes e.g. a bbox of objects through unchecked
            raise BadInput("filter values must be strings, numbers, booleans, dates or geometries")
        if isinstance(p, float) and not math.isfinite(p):
            raise BadInput("filter values must be finite numbers (not NaN or a number beyond ±1.8e308)")
    if isinstance(frag[0], sql.Composable) and not isinstance(frag[1], list):
        raise BadInput("invalid filter")
    return frag


__all__ = ["to_sql", "date", "datetime"]
