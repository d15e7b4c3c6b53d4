"""Vector tiles of one layer and view: tile addressing and the one query that builds a tile.

PostGIS makes the whole Mapbox Vector Tile in one statement: the GiST index finds the
rows whose box meets the tile (plus its buffer) in the storage CRS, each geometry is
(below the layer's maxzoom) snapped to a grid of about one rendered pixel, moved to
the tile's CRS and clipped by ``st_asmvtgeom``, and ``st_asmvt`` encodes the lot in
feature-id order. The same statement reads the layer's lineage id, so the bytes and
the lineage they are cached under come from one snapshot.

Moving geometries to the tile's CRS is most of a tile's cost with ``st_transform``
(a datum shift per vertex). Over one tile an affine map fitted to the exact, pinned
transformation is as good to well under a grid unit, and PostGIS applies it ~15×
faster; :func:`placement` checks the fit for every tile and falls back to
``st_transform`` where it is not good enough (low zooms).

Tile envelopes come from morecantile, for both tile matrix sets bando serves:
WebMercatorQuad (EPSG:3857) and WorldCRS84Quad (CRS84 lon/lat, two columns at level
0). Nothing from a request reaches the SQL text: the matrix set picks one of two
fixed SRIDs, indexes are parsed as integers and checked against the matrix, and
envelope values travel as parameters.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import morecantile
import numpy as np
from psycopg import sql

from bando.crs import transformer
from bando.errors import BadInput, NotFound
from bando.layers.model import Layer

TMS_SRID = {"WebMercatorQuad": 3857, "WorldCRS84Quad": 4326}
EXTENT = 4096  # MVT grid units per tile side
BUFFER = 64  # grid units kept beyond the tile edge, so strokes join across tiles
PIXELS = 512  # simplification tolerance = one pixel of a tile drawn 512 px wide
MAX_ERROR = 0.25  # grid units the affine stand-in for st_transform may depart from it
SAMPLES = 9  # points per side of the grid the affine map is fitted and checked on
BOX_MARGIN = 0.01
#: A layer's clock, which tiles are cached under: its load (lineage id) and its edits since.
LAYER_CLOCK = "(lineage_id << 32) + revision"
MAX_INDEX_DIGITS = 12
SQL_VERSION = "2"  # part of every ETag: bump when the tile SQL changes its output
_INDEX = re.compile(r"-?[0-9]+")
POINTS = ("Point", "MultiPoint")


@lru_cache(maxsize=4)
def matrix_set(tms: str) -> morecantile.TileMatrixSet:
    if tms not in TMS_SRID:
        raise NotFound(f"no tile matrix set {tms[:40]!r}; use one of {', '.join(TMS_SRID)}")
    return morecantile.tms.get(tms)


@lru_cache(maxsize=64)
def matrix_size(tms: str, z: int) -> tuple[int, int]:
    """(columns, rows) of one tile matrix."""
    m = matrix_set(tms).matrix(z)
    return m.matrixWidth, m.matrixHeight


def matrix_limits(tms: str, z: int, bbox: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """(minRow, maxRow, minCol, maxCol) of the tiles of matrix ``z`` that a CRS84 ``bbox`` touches:
    the TileMatrixSetLimits a tile set declares, and the tiles it serves."""
    w, s, e, n = bbox
    t = matrix_set(tms)
    top_left, bottom_right = t.tile(w, n, z), t.tile(e, s, z)
    return top_left.y, bottom_right.y, top_left.x, bottom_right.x


@dataclass(frozen=True, slots=True)
class TileAddress:
    tms: str
    z: int
    row: int
    col: int


def _index(name: str, value: Any) -> int:
    text = str(value).strip()
    if not _INDEX.fullmatch(text):
        raise BadInput(f"{name} must be a whole number, not {text[:20]!r}")
    if len(text.lstrip("-")) > MAX_INDEX_DIGITS:
        raise NotFound(f"{name} {text[:20]}… is outside every tile matrix")
    return int(text)


@dataclass
class TileSource:
    """What one layer's tiles are made of in one view; built once per process."""

    layer: Layer
    view: str
    storage_srid: int
    columns: tuple[str, ...]
    fingerprint: str = ""
    _statements: dict[tuple[str, bool, str], str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        tiles = self.layer.tiles
        spec = repr((SQL_VERSION, self.layer.id, self.view, self.columns, tiles, self.storage_srid))
        self.fingerprint = hashlib.blake2b(spec.encode(), digest_size=6).hexdigest()

    @property
    def minzoom(self) -> int:
        return self.layer.tiles.minzoom if self.layer.tiles else 0

    @property
    def maxzoom(self) -> int:
        return self.layer.tiles.maxzoom if self.layer.tiles else 24

    def zoom_range(self, tms: str) -> tuple[int, int]:
        t = matrix_set(tms)
        return max(self.minzoom, t.minzoom), min(self.maxzoom, t.maxzoom)

    # -- addressing --------------------------------------------------------------

    def address(
        self, tms: str | None, z: Any, row: Any, col: Any, bbox: tuple[float, float, float, float] | None = None
    ) -> TileAddress:
        """Parse and check a tile request; BadInput (400) or NotFound (404) otherwise.

        With the tile set's CRS84 ``bbox``, a tile outside its declared TileMatrixSetLimits is
        NotFound too (OGC API Tiles): a client learns it left the data, not that the data is empty."""
        tms = str(tms or "")
        matrix_set(tms)  # unknown set: NotFound
        zi, ri, ci = _index("tileMatrix", z), _index("tileRow", row), _index("tileCol", col)
        low, high = self.zoom_range(tms)
        if not low <= zi <= high:
            raise NotFound(f"tile matrix {zi} is outside this layer's range {low}–{high} in {tms}")
        width, height = matrix_size(tms, zi)
        if not (0 <= ri < height and 0 <= ci < width):
            raise NotFound(f"tile {zi}/{ri}/{ci} is outside {tms} (rows 0–{height - 1}, columns 0–{width - 1})")
        if bbox is not None:
            r0, r1, c0, c1 = matrix_limits(tms, zi, bbox)
            if not (r0 <= ri <= r1 and c0 <= ci <= c1):
                raise NotFound(
                    f"tile {zi}/{ri}/{ci} is outside this tile set's limits in {tms}: at tile matrix {zi},"
                    f" rows {r0}–{r1} and columns {c0}–{c1} (see tileMatrixSetLimits in its metadata)"
                )
        return TileAddress(tms, zi, ri, ci)

    # -- the query ----------------------------------------------------------------

    def statement(self, tms: str, simplify: bool, mode: str) -> str:
        """The SQL text for one matrix set, simplification and placement mode (built once each)."""
        key = (tms, simplify, mode)
        text = self._statements.get(key)
        if text is None:
            text = self._statements[key] = self._build(TMS_SRID[tms], simplify, mode).as_string()
        return text

    def _build(self, tile_srid: int, simplify: bool, mode: str) -> sql.Composed:
        geom: sql.Composable = sql.SQL("t.geom")
        if simplify:
            geom = sql.SQL("st_snaptogrid(t.geom, %(tolerance)s)")
        if mode == "affine":
            geom = sql.SQL("st_affine({}, %(a)s, %(b)s, %(d)s, %(e)s, %(xoff)s, %(yoff)s)").format(geom)
        elif mode == "transform":
            geom = sql.SQL("st_transform({}, {})").format(geom, sql.Literal(tile_srid))
        where: list[sql.Composable] = [
            sql.SQL("t.geom && st_makeenvelope(%(sx0)s, %(sy0)s, %(sx1)s, %(sy1)s, {})").format(
                sql.Literal(self.storage_srid)
            )
        ]
        if self.layer.versioned:
            where.append(sql.SQL("t.valid_to is null"))
        props = sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(c)) for c in self.columns)
        return sql.SQL(
            "with b as (select st_makeenvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, {tile_srid})::box2d as tile),"
            " f as (select st_asmvtgeom({geom}, b.tile, {extent}, {buffer}, true) as geom, t.fid{props}"
            " from {table} t, b where {where} limit %(limit)s)"
            " select (select " + LAYER_CLOCK + " from bando.layer_state where layer = %(layer)s),"
            " (select coalesce(st_asmvt(f.*, %(layer)s, {extent}, 'geom', 'fid' order by f.fid), ''::bytea)"
            " from f where f.geom is not null)"
        ).format(
            tile_srid=sql.Literal(tile_srid),
            geom=geom,
            extent=sql.Literal(EXTENT),
            buffer=sql.Literal(BUFFER),
            props=props,
            table=sql.Identifier("data", self.layer.table),
            where=sql.SQL(" and ").join(where),
        )

    def query(self, a: TileAddress) -> tuple[str, dict[str, Any]] | None:
        """(SQL text, parameters) answering (lineage_id, tile bytes) for one tile; None when the
        tile lies where the storage CRS has no coordinates (so no data can be there)."""
        x0, y0, x1, y1 = matrix_set(a.tms).xy_bounds(morecantile.Tile(a.col, a.row, a.z))
        pad_x, pad_y = (x1 - x0) * BUFFER / EXTENT, (y1 - y0) * BUFFER / EXTENT
        where = placement(
            TMS_SRID[a.tms], self.storage_srid, (x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y), (x1 - x0) / EXTENT
        )
        if where.box is None:
            return None
        sx0, sy0, sx1, sy1 = where.box
        params: dict[str, Any] = {
            "x0": x0,
            "y0": y0,
            "x1": x1,
            "y1": y1,
            "sx0": sx0,
            "sy0": sy0,
            "sx1": sx1,
            "sy1": sy1,
            "limit": self.layer.tiles.max_features if self.layer.tiles else 20_000,
            "layer": self.layer.id,
        }
        if where.affine is not None:
            params |= dict(zip(("a", "b", "d", "e", "xoff", "yoff"), where.affine, strict=True))
        simplify = a.z < self.maxzoom and self.layer.geometry not in POINTS
        if simplify:  # one pixel of the tile drawn PIXELS wide, in storage units
            params["tolerance"] = (sx1 - sx0) / (1 + 2 * BUFFER / EXTENT) / PIXELS
        return self.statement(a.tms, simplify, where.mode), params


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a tile is in the storage CRS, and how geometries get into the tile's CRS.

    ``mode`` is ``same`` (no change of CRS), ``affine`` (an affine map fitted to the
    exact transformation over the tile, used only when it stays within
    :data:`MAX_ERROR` grid units of it everywhere) or ``transform`` (``st_transform``).
    """

    box: tuple[float, float, float, float] | None
    mode: str
    affine: tuple[float, float, float, float, float, float] | None = None


def placement(tile_srid: int, storage_srid: int, envelope: tuple[float, float, float, float], unit: float) -> Placement:
    """The index box (storage CRS) of a buffered tile envelope, and the affine stand-in if good enough.

    Over one tile the exact transformation (VN-2000 TM-3 → Web Mercator or lon/lat, with
    the pinned EPSG:6960 datum shift) is smooth enough that an affine map fitted on a
    grid of exactly transformed points departs from it by a few centimetres at z14 —
    far below one MVT grid unit — and costs PostGIS ~1% of ``st_transform``. The
    departure is measured on the grid for every tile; where it exceeds the limit (low
    zooms), ``st_transform`` is used.
    """
    if tile_srid == storage_srid:
        return Placement(envelope, "same")
    x0, y0, x1, y1 = envelope
    gx, gy = np.meshgrid(np.linspace(x0, x1, SAMPLES), np.linspace(y0, y1, SAMPLES))
    tx, ty = gx.ravel(), gy.ravel()
    sx, sy = (np.asarray(v) for v in transformer(tile_srid, storage_srid).transform(tx, ty))
    ok = np.isfinite(sx) & np.isfinite(sy)
    if not ok.any():
        return Placement(None, "transform")
    bx0, by0, bx1, by1 = sx[ok].min(), sy[ok].min(), sx[ok].max(), sy[ok].max()
    margin = BOX_MARGIN * max(bx1 - bx0, by1 - by0)  # the box edges are sampled, not exact
    box = (float(bx0 - margin), float(by0 - margin), float(bx1 + margin), float(by1 + margin))
    if not ok.all():
        return Placement(box, "transform")
    cx, cy = sx.mean(), sy.mean()
    design = np.column_stack([sx - cx, sy - cy, np.ones_like(sx)])
    coef, *_ = np.linalg.lstsq(design, np.column_stack([tx, ty]), rcond=None)
    fitted = design @ coef
    if np.hypot(fitted[:, 0] - tx, fitted[:, 1] - ty).max() > MAX_ERROR * unit:
        return Placement(box, "transform")
    (a, d), (b, e), (c, f) = coef
    affine = (a, b, d, e, c - a * cx - b * cy, f - d * cx - e * cy)
    return Placement(box, "affine", tuple(float(v) for v in affine))  # type: ignore[arg-type]


def tile_columns(layer: Layer, view: str, view_fields: tuple[str, ...]) -> tuple[str, ...]:
    """Tile attributes: the catalogue's ``tiles.properties`` (default: the key and the
    styled field); the internal view adds the layer's other fields. A name the view may
    not show is never included, whatever the catalogue says."""
    chosen = (
        list(layer.tiles.properties)
        if layer.tiles and layer.tiles.properties is not None
        else [*layer.key, *([layer.style.by] if layer.style.by else [])]
    )
    if view == "internal":
        chosen += view_fields
    allowed = set(view_fields)
    return tuple(dict.fromkeys(c for c in chosen if c in allowed))


_sources: dict[tuple[int, str], TileSource] = {}
_lock = threading.Lock()


def tile_source(layer_id: str, view: str) -> TileSource:
    """The layer's tile source for a view, from the process runtime (cached)."""
    from bando.api_config.runtime import get_runtime

    runtime = get_runtime()
    layer = runtime.layer(layer_id)
    key = (id(layer), view)
    source = _sources.get(key)
    if source is None or source.layer is not layer:
        fields = tuple(f.name for f in runtime.fields(layer, view))
        source = TileSource(layer, view, runtime.srid(layer), tile_columns(layer, view, fields))
        with _lock:
            _sources[key] = source
    return source
