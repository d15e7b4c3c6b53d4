"""Label glyphs for MapLibre: signed-distance-field PBF blocks made from a Debian font at setup.

MapLibre reads glyphs as 256-character blocks (``0-255.pbf`` …) of 24 px SDF bitmaps with
a 3 px buffer (the ``glyphs.proto`` format). Vietnamese needs Basic Latin, Latin-1, Latin
Extended-A/B, the combining marks and Latin Extended Additional (ạ ả ấ … ỹ, U+1E00–1EFF):
those blocks only are generated, from Noto Sans (``fonts-noto-core``), with FreeType
rendering and a Euclidean distance transform — no glyph server, no internet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import freetype  # type: ignore[import-untyped]
import numpy as np

from bando.errors import SetupError
from bando.layers.styles.rules import FONT_STACK

#: Where the generated blocks live (git-ignored; made by ``python -m bando.layers.styles.glyphs``).
FONTS_DIR = Path(__file__).with_name("fonts")
#: The blocks Vietnamese text needs.
BLOCKS = (0, 256, 512, 768, 7680)
#: The Debian font (``fonts-noto-core``) and the font-stack name styles use for it.
FONT = Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf")
SIZE, BUFFER, RADIUS, CUTOFF = 24, 3, 8.0, 0.25
#: MapLibre places a glyph's top relative to a 24 px line's ascent.
ASCENT = 24


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: int | bytes, signed: bool = False) -> bytes:
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if signed:
        value = (value << 1) ^ (value >> 63)  # zigzag
    return _varint(number << 3) + _varint(value)


def sdf(coverage: np.ndarray) -> np.ndarray:
    """Signed-distance bitmap (``BUFFER`` px padded) of an anti-aliased coverage bitmap, as MapLibre reads it."""
    padded = np.pad(coverage.astype(np.float32) / 255.0, BUFFER + int(RADIUS))
    inside = padded >= 0.5
    ys, xs = np.indices(padded.shape)
    points = np.stack([ys.ravel(), xs.ravel()], axis=1).astype(np.float32)
    inner, outer = points[inside.ravel()], points[~inside.ravel()]
    dist = np.zeros(len(points), dtype=np.float32)
    if len(inner):
        for mask, other, sign in ((~inside.ravel(), inner, 1.0), (inside.ravel(), outer, -1.0)):
            targets = points[mask]
            d = np.sqrt(((targets[:, None, :] - other[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
            dist[mask] = sign * (d - 0.5)
    else:
        dist[:] = RADIUS
    crop = int(RADIUS)
    field = dist.reshape(padded.shape)[crop : padded.shape[0] - crop, crop : padded.shape[1] - crop]
    return np.clip(255 - 255 * (field / RADIUS + CUTOFF), 0, 255).astype(np.uint8)


def block(face: Any, start: int, name: str) -> bytes:
    """One 256-character block as a ``glyphs.proto`` message."""
    glyphs = b""
    for code in range(start, start + 256):
        if not face.get_char_index(code):
            continue
        face.load_char(code, freetype.FT_LOAD_RENDER)
        g = face.glyph
        bmp = g.bitmap
        coverage = np.array(bmp.buffer, dtype=np.uint8).reshape(bmp.rows, bmp.width) if bmp.width else None
        msg = _field(1, code)
        if coverage is not None and coverage.size:
            msg += _field(2, sdf(coverage).tobytes())
        msg += _field(3, bmp.width) + _field(4, bmp.rows)
        msg += _field(5, g.bitmap_left, signed=True) + _field(6, g.bitmap_top - ASCENT, signed=True)
        msg += _field(7, round(g.advance.x / 64))
        glyphs += _field(3, msg)
    stack = _field(1, name.encode()) + _field(2, f"{start}-{start + 255}".encode()) + glyphs
    return _field(1, stack)


def build(out: Path = FONTS_DIR, font: Path = FONT) -> list[Path]:
    """Write every block Vietnamese needs; a no-op when they are newer than the font."""
    if not font.is_file():
        raise SetupError(f"the label font {font} is missing: install Debian's fonts-noto-core (make setup does)")
    paths = [out / f"{b}-{b + 255}.pbf" for b in BLOCKS]
    if all(p.is_file() and p.stat().st_mtime >= font.stat().st_mtime for p in paths):
        return paths
    out.mkdir(parents=True, exist_ok=True)
    face = freetype.Face(str(font))
    face.set_pixel_sizes(0, SIZE)
    for b, path in zip(BLOCKS, paths, strict=True):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(block(face, b, FONT_STACK))
        tmp.replace(path)
    return paths


if __name__ == "__main__":
    try:
        print(f"label glyphs: {len(build())} blocks in {FONTS_DIR}")
    except SetupError as exc:
        raise SystemExit(f"{exc}") from None
