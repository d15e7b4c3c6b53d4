"""Geometry rules for one batch (shapely 2, vectorised) and the EWKB that COPY receives.

Parsing, validity, bounds and areas are GEOS calls over whole arrays. The output is
hex EWKB with the storage SRID: where a geometry is unchanged from the source, the
source's WKB is reused by adding the EWKB header bytes (and the one-member Multi
wrapper for a single Polygon/LineString/Point), which avoids writing it again.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import shapely

from bando.layers.model import Layer, Rules

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


def ewkb(source_wkb: list, geoms: np.ndarray, reuse: np.ndarray, srid: int, multi_id: int | None) -> pa.Array:
    """EWKB of every geometry: reuse the source bytes where ``reuse`` is true, else write them."""
    out: list[bytes | None] = [None] * len(geoms)
    srid_bytes = struct.pack("<I", srid)
    multi_prefix = (
        b"\x01" + struct.pack("<I", multi_id | SRID_FLAG) + srid_bytes + struct.pack("<I", 1)
        if multi_id is not None
        else b""
    )
    for k in np.flatnonzero(reuse):
        w = source_wkb[k]
        if w[0] != 1:  # big-endian source WKB: let GEOS write it
            reuse[k] = False
            continue
        type_id = struct.unpack_from("<I", w, 1)[0]
        if multi_id is not None and type_id % 1000 != multi_id:
            out[k] = multi_prefix + w
        else:
            out[k] = b"\x01" + struct.pack("<I", type_id | SRID_FLAG) + srid_bytes + w[5:]
    rest = np.flatnonzero(~reuse & ~shapely.is_missing(geoms))
    if len(rest):
        written = shapely.to_wkb(shapely.set_srid(geoms[rest], srid), hex=False, include_srid=True)
        for k, w in zip(rest, written, strict=True):
            out[k] = w
    return hex_strings(pa.array(out, type=pa.binary()))


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

    def check(self, geoms: np.ndarray, flag: Flag, error: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Returns (geometries, unchanged-from-source mask, repaired count); flags findings."""
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
        self._extent(geoms, ok, flag, error)
        if self.family == "Polygon":
            self._areas(geoms, error, flag)
        if self.multi:
            singles = np.flatnonzero((shapely.get_type_id(geoms) == single) & ~unchanged)
            if len(singles):
                geoms[singles] = MULTI[self.family](geoms[singles], indices=np.arange(len(singles)))
        geoms[error] = None
        return geoms, unchanged & ~error, repaired

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

    def _extent(self, geoms: np.ndarray, ok: np.ndarray, flag: Flag, error: np.ndarray) -> None:
        if self.extent is None or not ok.any():
            return
        x0, y0, x1, y1 = self.extent
        b = shapely.bounds(geoms)
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

    def _areas(self, geoms: np.ndarray, error: np.ndarray, flag: Flag) -> None:
        rules: Rules = self.layer.rules
        areas = shapely.area(geoms)
        if rules.sliver_min_area > 0:
            flag(
                ~error & (areas < rules.sliver_min_area),
                "geometry.sliver",
                "error",
                lambda k: f"sliver polygon of {areas[k]:.3f} m² (below {rules.sliver_min_area} m²)",
            )
        self.areas = areas
