"""An SVG legend per layer: one swatch and title per colour class, then the label sample.

SVG, not PNG: it is text (testable, small, sharp at any size) and needs no renderer.
Titles are escaped by ElementTree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bando.layers.model import Layer
from bando.layers.styles.rules import FONT_FAMILY, classes, kind

SVG = "http://www.w3.org/2000/svg"
MEDIA_TYPE = "image/svg+xml"
ROW = 20
WIDTH = 360
ET.register_namespace("", SVG)


def _swatch(g: ET.Element, layer: Layer, fill: str | None, y: int) -> None:
    s, family = layer.style, kind(layer)
    if family == "polygon":
        attrs = {"x": "2", "y": str(y + 3), "width": "24", "height": "14", "fill": fill or "none"}
        ET.SubElement(g, f"{{{SVG}}}rect", attrs | {"stroke": s.stroke, "stroke-width": f"{max(s.width, 1):g}"})
    elif family == "line":
        attrs = {"x1": "2", "y1": str(y + 10), "x2": "26", "y2": str(y + 10), "stroke": s.stroke}
        attrs["stroke-width"] = f"{s.width:g}"
        if s.dash:
            attrs["stroke-dasharray"] = "6 3"
        ET.SubElement(g, f"{{{SVG}}}line", attrs)
    else:
        attrs = {"cx": "14", "cy": str(y + 10), "r": f"{min(s.radius, 8):g}", "fill": fill or s.stroke}
        ET.SubElement(g, f"{{{SVG}}}circle", attrs | {"stroke": s.stroke, "stroke-width": f"{s.width:g}"})


def legend_svg(layer: Layer, lang: str = "vi") -> bytes:
    """The legend of one layer as an SVG document (UTF-8 bytes)."""
    found = classes(layer)
    title = layer.title.vi if lang == "vi" else layer.title.en
    height = ROW * (len(found) + 1) + 4
    root = ET.Element(f"{{{SVG}}}svg", width=str(WIDTH), height=str(height), viewBox=f"0 0 {WIDTH} {height}")
    g = ET.SubElement(root, f"{{{SVG}}}g", {"font-family": FONT_FAMILY, "font-size": "12", "fill": "#202020"})
    head = ET.SubElement(g, f"{{{SVG}}}text", {"x": "2", "y": "14", "font-weight": "bold"})
    head.text = title
    for i, k in enumerate(found, start=1):
        y = i * ROW
        _swatch(g, layer, k.fill, y)
        text = ET.SubElement(g, f"{{{SVG}}}text", {"x": "34", "y": str(y + 14)})
        text.text = k.title_vi if lang == "vi" else k.title_en
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
