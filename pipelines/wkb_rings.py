"""Boxes and exterior rings read straight from Arrow's WKB buffers, without a GEOS object.

The overlap check needs, for every row of a partition, its box and, for a single-part
polygon without holes (most parcels), its exterior ring as flat coordinates for the
compiled bounds. Decoding each row into GEOS to ask for them costs more than the whole
check; no library reads them from WKB without building geometries first, hence this
compiled parser. Rows it does not read (other types, holes, Z/M, big-endian) get their box
from shapely and no ring, so nothing is proved about them and GEOS decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely

from bando.pipelines.compiled import compiled


def _u32(d: np.ndarray, p: int | np.int64) -> np.int64:  # pragma: no cover (compiled)
    return np.int64(d[p]) | (np.int64(d[p + 1]) << 8) | (np.int64(d[p + 2]) << 16) | (np.int64(d[p + 3]) << 24)


_u32 = compiled(_u32)


def _parse_py(
    offsets: np.ndarray, data: np.ndarray, flat: np.ndarray, flatb: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:  # pragma: no cover (compiled)
    n = len(offsets) - 1
    box = np.empty((n, 4))
    box[:] = np.nan
    simple = np.zeros(n, dtype=np.bool_)
    start = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    used = 0  # vertices written to flat
    for r in range(n):
        p, end = np.int64(offsets[r]), np.int64(offsets[r + 1])
        start[r] = used
        if end - p < 9 or data[p] != 1:  # big-endian (or garbage): left to shapely
            continue
        kind = _u32(data, p + 1)
        p += 5
        if kind & 0x20000000:  # EWKB with an SRID
            p += 4
        kind &= 0xDFFFFFFF
        if kind != 3 and kind != 6:  # Z or M (ISO codes 1003…, EWKB flags), or not a polygon
            continue
        if kind == 6:  # a MultiPolygon of exactly one little-endian Polygon
            if p + 9 > end or _u32(data, p) != 1 or data[p + 4] != 1 or _u32(data, p + 5) != 3:
                continue
            p += 9
        if p + 8 > end or _u32(data, p) != 1:  # holes, or empty
            continue
        points = _u32(data, p + 4)
        p += 8
        if points < 4 or p + 16 * points > end:
            continue
        for byte in range(16 * points):
            flatb[16 * used + byte] = data[p + byte]
        x0, y0, x1, y1 = np.inf, np.inf, -np.inf, -np.inf
        for v in range(2 * used, 2 * (used + points), 2):
            x, y = flat[v], flat[v + 1]
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
        box[r, 0], box[r, 1], box[r, 2], box[r, 3] = x0, y0, x1, y1
        simple[r], count[r] = True, points
        used += int(points)
    return box, simple, start, count, used


_parse = compiled(_parse_py)


@dataclass(frozen=True)
class Rings:
    """Boxes of a partition's rows and the exterior rings of its single-part, hole-free polygons, flat for the kernels."""

    box: np.ndarray  # (rows, 4): xmin, ymin, xmax, ymax (NaN when empty)
    simple: np.ndarray  # bool per row: one 2D polygon without holes
    xy: np.ndarray  # (total vertices, 2): every ring, closed, one after the other
    start: np.ndarray  # per row: its ring's first row in xy
    count: np.ndarray  # per row: its ring's number of vertices (0 if not simple)

    @classmethod
    def of(cls, wkb: pa.Array) -> Rings:
        """Read ISO WKB or EWKB (as PostGIS sends it); rows that are not simple get their box from shapely."""
        if isinstance(wkb, pa.ChunkedArray):
            wkb = wkb.combine_chunks()
        n = len(wkb)
        large = pa.types.is_large_binary(wkb.type)
        if not large and not pa.types.is_binary(wkb.type):
            wkb = wkb.cast(pa.binary())
        width = np.int64 if large else np.int32
        _, offsets_buffer, data_buffer = wkb.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=width)[wkb.offset : wkb.offset + n + 1]
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
        flat = np.empty(2 * ((int(offsets[-1]) - int(offsets[0])) // 16 + 1) if n else 2)
        box, simple, start, count, used = _parse(offsets, data, flat, flat.view(np.uint8))
        other = np.flatnonzero(~simple)
        if len(other):
            box[other] = shapely.bounds(shapely.from_wkb(wkb.take(pa.array(other)).to_numpy(zero_copy_only=False)))
        return cls(box, simple, flat[: 2 * used].reshape(-1, 2), start, count)

    def subset(self, mask: np.ndarray) -> Rings:
        count = self.count[mask]
        start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
        rows = np.repeat(self.start[mask] - start, count) + np.arange(int(count.sum()))
        return Rings(self.box[mask], self.simple[mask], self.xy[rows], start, count)
