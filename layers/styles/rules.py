"""What every style encoding shares: colour classes, label parts and zoom ↔ scale.

A layer styled ``by`` a land-use-coded field gets one class per code of the code table
(Thông tư 08/2024 colours from ``bando/data/land_use_codes.csv``); any other layer gets
one class with its own fill and stroke.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bando.codes import land_use_codes
from bando.layers.model import Layer

#: The one style each layer has (OGC API Styles names styles per collection).
STYLE_ID = "default"
#: Font family of every label; its glyphs are generated from the Debian font at setup.
FONT_FAMILY = "Noto Sans"
FONT_STACK = "Noto Sans Regular"
#: Colour of a coded feature whose code is missing from the table.
OTHER_FILL = "#CCCCCC"
#: OGC's standardised rendering pixel (0.28 mm) at zoom 0 of Web Mercator, 256 px tiles.
SCALE_Z0 = 559_082_264.028717


@dataclass(frozen=True)
class Klass:
    """One legend entry: the code it stands for (None: every feature), its titles, its colour."""

    value: str | None
    title_vi: str
    title_en: str
    fill: str | None


def styled(layer: Layer) -> bool:
    """Whether the layer is drawn at all (vector layers with a geometry)."""
    return layer.kind == "vector" and layer.geometry is not None


def kind(layer: Layer) -> str:
    """``polygon``, ``line`` or ``point``: the symbolizer family of the layer's geometry."""
    geometry = layer.geometry or ""
    if "Polygon" in geometry:
        return "polygon"
    return "line" if "Line" in geometry else "point"


def classes(layer: Layer) -> list[Klass]:
    """The layer's colour classes, in legend order."""
    s = layer.style
    if s.by and s.codes == "land_use":
        return [
            Klass(c.code, f"{c.code} — {c.name_vi}", f"{c.code} — {c.name_en}", c.colour)
            for c in land_use_codes().values()
        ]
    return [Klass(None, layer.title.vi, layer.title.en, s.fill)]


def label_parts(layer: Layer) -> list[tuple[str, str]]:
    """The label template as ``("text", …)`` and ``("field", name)`` parts, in order."""
    parts: list[tuple[str, str]] = []
    for piece in re.split(r"(\{[A-Za-z][A-Za-z0-9_]*\})", layer.style.label or ""):
        if piece.startswith("{") and piece.endswith("}"):
            parts.append(("field", piece[1:-1]))
        elif piece:
            parts.append(("text", piece))
    return parts


def scale_of_zoom(z: float) -> float:
    """Scale denominator at a web zoom (OGC 0.28 mm pixel), for SLD and QGIS scale ranges."""
    return SCALE_Z0 / 2**z


def label_scale(layer: Layer) -> float:
    """The largest scale denominator at which labels show.

    ``label_minzoom`` is a MapLibre zoom (512-pixel tiles), one more than the 256-pixel zoom
    scales are reckoned in; half a level of margin keeps labels from flickering at the edge."""
    return scale_of_zoom(layer.style.label_minzoom + 0.5)


def rgb(colour: str) -> tuple[int, int, int]:
    """``#RRGGBB`` as integers."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
