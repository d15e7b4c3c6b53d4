"""QGIS QML per layer: colours, scale range, labels and Vietnamese field aliases.

Written in the QGIS 3 style format (``<renderer-v2>`` with ``<Option type="Map">``
symbol layers), which QGIS 3.22 and later read. Widths are in QGIS's pixel unit, as on
the web, so the same catalogue width looks the same in both. Scale ranges come from the
tiles' zooms: a million parcels are not drawn province-wide.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bando.layers.model import Layer
from bando.layers.styles.rules import FONT_FAMILY, Klass, classes, kind, label_parts, label_scale, rgb, scale_of_zoom

MEDIA_TYPE = "application/vnd.qgis.qml"
#: QgsPalLayerSettings placements: OverPoint for areas and points, Curved along lines.
PLACEMENT = {"polygon": "1", "line": "3", "point": "0"}
SYMBOL_TYPE = {"polygon": "fill", "line": "line", "point": "marker"}


def _qcolour(colour: str | None) -> str:
    if colour is None:
        return "0,0,0,0"
    r, g, b = rgb(colour)
    return f"{r},{g},{b},255"


def _options(parent: ET.Element, values: dict[str, str]) -> None:
    box = ET.SubElement(parent, "Option", type="Map")
    for name, value in values.items():
        ET.SubElement(box, "Option", name=name, value=value, type="QString")


def _symbol_layer(layer: Layer, k: Klass) -> tuple[str, dict[str, str]]:
    s, family = layer.style, kind(layer)
    pen = {"color": _qcolour(s.stroke), "width": f"{s.width:g}", "unit": "Pixel"}
    if family == "polygon":
        return "SimpleFill", {
            "color": _qcolour(k.fill),
            "style": "solid" if k.fill else "no",
            "outline_color": pen["color"],
            "outline_width": pen["width"],
            "outline_width_unit": pen["unit"],
            "outline_style": "dash" if s.dash else "solid",
        }
    if family == "line":
        return "SimpleLine", {
            "line_color": pen["color"],
            "line_width": pen["width"],
            "line_width_unit": pen["unit"],
            "line_style": "dash" if s.dash else "solid",
            "capstyle": "round",
            "joinstyle": "round",
        }
    return "SimpleMarker", {
        "name": "circle",
        "color": _qcolour(k.fill or s.stroke),
        "size": f"{s.radius * 2:g}",
        "size_unit": "Pixel",
        "outline_color": pen["color"],
        "outline_width": pen["width"],
        "outline_width_unit": pen["unit"],
    }


def _symbol(parent: ET.Element, layer: Layer, k: Klass, name: str) -> None:
    symbol = ET.SubElement(
        parent, "symbol", type=SYMBOL_TYPE[kind(layer)], name=name, alpha="1", clip_to_extent="1", force_rhr="0"
    )
    cls, values = _symbol_layer(layer, k)
    _options(ET.SubElement(symbol, "layer", {"class": cls, "pass": "0", "locked": "0", "enabled": "1"}), values)


def _renderer(root: ET.Element, layer: Layer) -> None:
    found = classes(layer)
    if layer.style.by and found[0].value is not None:
        r = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=layer.style.by, symbollevels="0")
        cats = ET.SubElement(r, "categories")
        for i, k in enumerate(found):
            ET.SubElement(cats, "category", symbol=str(i), value=k.value or "", label=k.title_vi, render="true")
        symbols = ET.SubElement(r, "symbols")
        for i, k in enumerate(found):
            _symbol(symbols, layer, k, str(i))
        return
    r = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0")
    _symbol(ET.SubElement(r, "symbols"), layer, found[0], "0")


def _expression(layer: Layer) -> str:
    """The label template as a QGIS expression: fields quoted, text as literals."""
    out = []
    for t, v in label_parts(layer):
        out.append(f'"{v}"' if t == "field" else "'" + v.replace("'", "''") + "'")
    return out[0] if len(out) == 1 else f"concat({', '.join(out)})"


def _labeling(root: ET.Element, layer: Layer) -> None:
    settings = ET.SubElement(ET.SubElement(root, "labeling", type="simple"), "settings", calloutType="simple")
    ET.SubElement(
        settings,
        "text-style",
        fieldName=_expression(layer),
        isExpression="1",
        fontFamily=FONT_FAMILY,
        namedStyle="Regular",
        fontSize="10" if layer.theme == "base" else "8",
        fontSizeUnit="Point",
        textColor="32,32,32,255",
        textOpacity="1",
    )
    ET.SubElement(
        settings, "text-buffer", bufferDraw="1", bufferSize="1", bufferSizeUnits="MM", bufferColor="255,255,255,255"
    )
    ET.SubElement(settings, "placement", placement=PLACEMENT[kind(layer)])
    # QGIS 3 reads scaleMax as the most zoomed-out scale at which labels show.
    scale = f"{label_scale(layer):.0f}"
    ET.SubElement(settings, "rendering", scaleVisibility="1", scaleMin="0", scaleMax=scale, obstacle="1")


def qml(layer: Layer) -> bytes:
    """The layer's style as a QML document (UTF-8 bytes)."""
    root = ET.Element("qgis", version="3.22.16", styleCategories="Symbology|Labeling|Fields|Rendering")
    if layer.tiles:
        root.attrib |= {
            "hasScaleBasedVisibilityFlag": "1",
            "minScale": f"{scale_of_zoom(layer.tiles.minzoom - 0.5):.0f}",
            "maxScale": "0",
        }
    root.set("labelsEnabled", "1" if layer.style.label else "0")
    _renderer(root, layer)
    if layer.style.label:
        _labeling(root, layer)
    aliases = ET.SubElement(root, "aliases")
    for i, f in enumerate(layer.public_fields):
        ET.SubElement(aliases, "alias", field=f.name, index=str(i), name=f.title.vi)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n").encode("utf-8")
