"""Geometry rules for one batch (shapely 2, vectorised) and the EWKB that COPY receives.

Parsing, validity, bounds and areas are GEOS calls over whole arrays. The output is
EWKB with the storage SRID: where a geometry is unchanged from the source, the
source's WKB is reused by adding the EWKB header bytes (and the one-member Multi
wrapper for a single Polygon/LineString/Point), which avoids writing it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely

from bando.layers.model import Layer, Rules
from bando.pipelines.compiled import compiled

Flag = Callable[[np.ndarray, str, str, Callable[[int], str]], None]
FAMILY = {
    "Point": "Point",
    "MultiPoint": "Point",
    "LineString": "LineString",
    "MultiLineString": "LineString",
    "Polygon": "Polygon",
    "MultiPolygon": "Polygon",
}
TYPE_ID = {"Point": (0, 4), "LineString": (1, 5), "Polygon": (3, 6)}  # shapely ids: single, multi
MULTI = {"Point": shapely.multipoints, "LineString": shapely.multilinestrings, "Polygon": shapely.multipolygons}
_HEX = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(256, 2)
SRID_FLAG = 0x20000000


def hex_strings(binary: pa.Array) -> pa.Array:
    """Hex-encode a binary Arrow array in one numpy pass (GEOS's hex writer is 5× slower)."""
    binary = binary.cast(pa.large_binary())
    offsets = np.frombuffer(binary.buffers()[1], dtype=np.int64)[binary.offset : binary.offset + len(binary) + 1]
    data = np.frombuffer(binary.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    hexed = _HEX[data].reshape(-1)
    new_offsets = ((offsets - offsets[0]) * 2).astype(np.int64)
    return pa.LargeStringArray.from_buffers(len(binary), pa.py_buffer(new_offsets), pa.py_buffer(hexed.tobytes()))


def ewkb(source_wkb: pa.Array, geoms: np.ndarray, reuse: np.ndarray, srid: int, multi_id: int | None) -> pa.Array:
    """EWKB (binary, with the SRID) of every geometry, null where it is missing.

    Where ``reuse`` is true the source's little-endian WKB is kept and only its header is
    rewritten (the SRID added, and the one-member Multi wrapper for a single part), in one
    compiled pass over the Arrow buffers; GEOS writes the others (repaired, reprojected).
    """
    src = source_wkb.cast(pa.large_binary())
    n = len(src)
    starts = np.frombuffer(src.buffers()[1], dtype=np.int64)[src.offset : src.offset + n + 1]
    data = np.frombuffer(src.buffers()[2], dtype=np.uint8) if src.buffers()[2] else np.zeros(1, np.uint8)
    reuse = reuse.copy()
    at = starts[:-1][reuse]
    little = data[at] == 1  # a big-endian source: let GEOS write it
    reuse[np.flatnonzero(reuse)[~little]] = False
    rest = np.flatnonzero(~reuse & ~shapely.is_missing(geoms))
    written = shapely.to_wkb(shapely.set_srid(geoms[rest], srid), hex=False, include_srid=True)
    lengths = np.fromiter((len(w) for w in written), dtype=np.int64, count=len(rest))
    w_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    w_data = np.frombuffer(b"".join(written), dtype=np.uint8) if len(rest) else np.zeros(1, np.uint8)
    kind = np.zeros(n, dtype=np.int8)  # 0 null, 1 header rewritten, 2 wrapped in a Multi, 3 written by GEOS
    kind[reuse] = 1
    if multi_id is not None and reuse.any():
        at = at[little]
        type_id = data[at + 1].astype(np.uint32) | (data[at + 2].astype(np.uint32) << 8)
        kind[np.flatnonzero(reuse)[type_id % 1000 != multi_id]] = 2
    kind[rest] = 3
    offsets, out = _assemble(starts, data, kind, w_offsets, w_data, srid, -1 if multi_id is None else multi_id)
    valid = pa.array(kind != 0).buffers()[1] if (kind == 0).any() else None
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [valid, pa.py_buffer(offsets), pa.py_buffer(out)])


def _assemble_py(
    starts: np.ndarray,
    data: np.ndarray,
    kind: np.ndarray,
    w_offsets: np.ndarray,
    w_data: np.ndarray,
    srid: int,
    multi_id: int,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    n = len(kind)
    offsets = np.zeros(n + 1, dtype=np.int64)
    w = 0
    for k in range(n):
        size = starts[k + 1] - starts[k]
        if kind[k] == 1:
            size += 4
        elif kind[k] == 2:
            size += 13
        elif kind[k] == 3:
            size = w_offsets[w + 1] - w_offsets[w]
            w += 1
        else:
            size = 0
        offsets[k + 1] = offsets[k] + size
    out = np.empty(offsets[n], dtype=np.uint8)
    w = 0
    for k in range(n):
        o, s0, s1 = offsets[k], starts[k], starts[k + 1]
        if kind[k] == 3:
            a, b = w_offsets[w], w_offsets[w + 1]
            out[o : o + (b - a)] = w_data[a:b]
            w += 1
            continue
        if kind[k] == 0:
            continue
        out[o] = 1
        if kind[k] == 2:  # 01 | Multi type + SRID flag | SRID | one member | the source's WKB
            _put_u32(out, o + 1, multi_id | SRID_FLAG)
            _put_u32(out, o + 5, srid)
            _put_u32(out, o + 9, 1)
            out[o + 13 : o + 13 + (s1 - s0)] = data[s0:s1]
        else:  # 01 | type + SRID flag | SRID | the source's WKB after its header
            type_id = data[s0 + 1] | (data[s0 + 2] << 8) | (data[s0 + 3] << 16) | (data[s0 + 4] << 24)
            _put_u32(out, o + 1, type_id | SRID_FLAG)
            _put_u32(out, o + 5, srid)
            out[o + 9 : o + 9 + (s1 - s0 - 5)] = data[s0 + 5 : s1]
    return offsets, out


def _put_u32_py(out: np.ndarray, at: int, value: int) -> None:  # pragma: no cover (compiled)
    for b in range(4):
        out[at + b] = (value >> (8 * b)) & 0xFF


_put_u32 = compiled(_put_u32_py)
_assemble = compiled(_assemble_py)


@dataclass
class Checked:
    """What :meth:`GeometryChecker.check` gives back for a batch (failed rows hold None)."""

    geoms: np.ndarray
    unchanged: np.ndarray  # rows whose source WKB can be reused as it is
    repaired: int
    areas: np.ndarray | None  # polygons only: measured once, for the sliver and area rules
    bounds: np.ndarray | None  # (x0, y0, x1, y1) per row, for the extent rule and the overlap check


class GeometryChecker:
    def __init__(
        self,
        layer: Layer,
        transform: Callable | None,
        extent: tuple[float, float, float, float] | None,
        describe_crs: str,
    ) -> None:
        assert layer.geometry is not None
        self.layer = layer
        self.family = FAMILY[layer.geometry]
        self.multi = layer.geometry.startswith("Multi")
        self.transform = transform
        self.extent = extent
        self.describe_crs = describe_crs

    def check(self, geoms: np.ndarray, flag: Flag, error: np.ndarray) -> Checked:
        """Checks and repairs a batch's geometries, flagging findings into ``error``.

        Bounds are measured once, for polygons (their overlap check needs them) or where the
        province's extent is checked."""
        missing = shapely.is_missing(geoms)
        flag(missing, "geometry.missing", "error", lambda k: "the feature has no geometry (or unreadable WKB)")
        flag(~missing & shapely.is_empty(geoms), "geometry.empty", "error", lambda k: "the geometry is empty")
        unchanged = ~error.copy()
        if shapely.has_z(geoms[~error]).any():
            geoms = shapely.force_2d(geoms)
            unchanged[:] = False
        tid = shapely.get_type_id(geoms)
        single, multi = TYPE_ID[self.family]
        wrong = ~error & (tid != single) & (tid != multi)
        flag(
            wrong,
            "geometry.mixed_types",
            "error",
            lambda k: f"a {geoms[k].geom_type} where the layer holds {self.layer.geometry}",
        )
        geoms = geoms.copy()
        geoms[error] = None
        if self.transform is not None:
            geoms = shapely.transform(geoms, self.transform)
            unchanged[:] = False
        repaired = 0
        if self.family != "Point":
            invalid = ~error & ~shapely.is_missing(geoms) & ~shapely.is_valid(geoms)
            if invalid.any():
                repaired = self._invalid(geoms, invalid, flag)
                unchanged &= ~invalid
        ok = ~error & ~shapely.is_missing(geoms)
        bounds = shapely.bounds(geoms) if self.family == "Polygon" or self.extent is not None else None
        if bounds is not None:
            self._extent(bounds, ok, flag, error)
        areas = self._areas(geoms, error, flag) if self.family == "Polygon" else None
        if self.multi:
            singles = np.flatnonzero((shapely.get_type_id(geoms) == single) & ~unchanged)
            if len(singles):
                geoms[singles] = MULTI[self.family](geoms[singles], indices=np.arange(len(singles)))
        geoms[error] = None
        return Checked(geoms, unchanged & ~error, repaired, areas, bounds)

    def _invalid(self, geoms: np.ndarray, invalid: np.ndarray, flag: Flag) -> int:
        reasons = {int(k): shapely.is_valid_reason(geoms[k]) for k in np.flatnonzero(invalid)}
        if not self.layer.rules.geometry_repair:
            flag(invalid, "geometry.invalid", "error", lambda k: f"invalid geometry: {reasons[k]}")
            return 0
        repaired, failed = 0, np.zeros(len(geoms), dtype=bool)
        done = np.zeros(len(geoms), dtype=bool)
        for k in reasons:
            fixed = self._repair(geoms[k])
            if fixed is None:
                failed[k] = True
            else:
                geoms[k] = fixed
                done[k] = True
                repaired += 1
        flag(failed, "geometry.invalid", "error", lambda k: f"invalid geometry ({reasons[k]}) that cannot be repaired")
        flag(done, "geometry.repaired", "warning", lambda k: f"repaired with make_valid: {reasons[k]}")
        return repaired

    def _repair(self, geom: shapely.Geometry) -> shapely.Geometry | None:
        parts = [p for p in shapely.get_parts(shapely.make_valid(geom)) if FAMILY.get(p.geom_type) == self.family]
        parts = [q for p in parts for q in (shapely.get_parts(p) if p.geom_type.startswith("Multi") else [p])]
        if not parts:
            return None
        merged = MULTI[self.family](parts) if self.multi else parts[0]
        return merged if shapely.is_valid(merged) and not shapely.is_empty(merged) else None

    def _extent(self, b: np.ndarray, ok: np.ndarray, flag: Flag, error: np.ndarray) -> None:
        if self.extent is None or not ok.any():
            return
        x0, y0, x1, y1 = self.extent
        outside = ok & ((b[:, 2] < x0) | (b[:, 0] > x1) | (b[:, 3] < y0) | (b[:, 1] > y1))
        if outside[ok].all():
            from bando.pipelines.sources import FileRefused

            first = np.round(b[np.flatnonzero(ok)[0]], 1).tolist()
            raise FileRefused(
                "extent.outside",
                f"no feature lies in the province ({self.describe_crs}): is the declared CRS wrong? "
                f"first feature's bounds in the storage CRS: {first}",
            )
        flag(
            outside,
            "extent.outside",
            "error",
            lambda k: "the geometry lies outside the province (wrong CRS or coordinates?)",
        )

    def _areas(self, geoms: np.ndarray, error: np.ndarray, flag: Flag) -> np.ndarray:
        rules: Rules = self.layer.rules
        areas = shapely.area(geoms)
        if rules.sliver_min_area > 0:
            flag(
                ~error & (areas < rules.sliver_min_area),
                "geometry.sliver",
                "error",
                lambda k: f"sliver polygon of {areas[k]:.3f} m² (below {rules.sliver_min_area} m²)",
            )
        return areas
