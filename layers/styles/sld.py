"""SLD 1.0 (OGC 02-070) per layer, for WMS servers and GeoServer-minded clients.

One rule per colour class (an ``ogc:PropertyIsEqualTo`` filter on the coded field), one
text rule below the scale of the label's zoom. Built with ElementTree, so every value is
escaped; the element order follows the SLD 1.0 schema.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bando.layers.model import Layer
from bando.layers.styles.rules import FONT_FAMILY, STYLE_ID, Klass, classes, kind, label_parts, label_scale

SLD = "http://www.opengis.net/sld"
OGC = "http://www.opengis.net/ogc"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA = "http://www.opengis.net/sld http://schemas.opengis.net/sld/1.0.0/StyledLayerDescriptor.xsd"
MEDIA_TYPE = "application/vnd.ogc.sld+xml;version=1.0"

ET.register_namespace("sld", SLD)
ET.register_namespace("ogc", OGC)
ET.register_namespace("xlink", XLINK)
ET.register_namespace("xsi", XSI)


def _el(parent: ET.Element, tag: str, text: str | None = None, ns: str = SLD, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        e.text = text
    return e


def _css(parent: ET.Element, name: str, value: str | float) -> None:
    _el(parent, "CssParameter", str(value), name=name)


def _stroke(parent: ET.Element, layer: Layer) -> None:
    s = layer.style
    stroke = _el(parent, "Stroke")
    _css(stroke, "stroke", s.stroke)
    _css(stroke, "stroke-width", s.width)
    if s.dash:
        _css(stroke, "stroke-dasharray", "6 3")


def _symbolizer(rule: ET.Element, layer: Layer, k: Klass) -> None:
    family = kind(layer)
    if family == "polygon":
        sym = _el(rule, "PolygonSymbolizer")
        if k.fill:
            _css(_el(sym, "Fill"), "fill", k.fill)
        _stroke(sym, layer)
    elif family == "line":
        _stroke(_el(rule, "LineSymbolizer"), layer)
    else:
        graphic = _el(_el(rule, "PointSymbolizer"), "Graphic")
        mark = _el(graphic, "Mark")
        _el(mark, "WellKnownName", "circle")
        _css(_el(mark, "Fill"), "fill", k.fill or layer.style.stroke)
        _stroke(mark, layer)
        _el(graphic, "Size", f"{layer.style.radius * 2:g}")


def _class_rule(fts: ET.Element, layer: Layer, k: Klass) -> None:
    rule = _el(fts, "Rule")
    _el(rule, "Name", k.value or layer.id)
    _el(rule, "Title", k.title_vi)
    if k.value is not None and layer.style.by:
        eq = _el(_el(rule, "Filter", ns=OGC), "PropertyIsEqualTo", ns=OGC)
        _el(eq, "PropertyName", layer.style.by, ns=OGC)
        _el(eq, "Literal", k.value, ns=OGC)
    _symbolizer(rule, layer, k)


def _label_rule(fts: ET.Element, layer: Layer) -> None:
    rule = _el(fts, "Rule")
    _el(rule, "Name", "label")
    _el(rule, "MaxScaleDenominator", f"{label_scale(layer):.0f}")
    text = _el(rule, "TextSymbolizer")
    label = _el(text, "Label")
    last: ET.Element | None = None
    for t, v in label_parts(layer):  # SLD 1.0 labels are mixed content: names and literal text
        if t == "field":
            last = _el(label, "PropertyName", v, ns=OGC)
        elif last is None:
            label.text = (label.text or "") + v
        else:
            last.tail = (last.tail or "") + v
    font = _el(text, "Font")
    _css(font, "font-family", FONT_FAMILY)
    _css(font, "font-size", 14 if layer.theme == "base" else 11)
    placement = _el(text, "LabelPlacement")
    if kind(layer) == "line":
        _el(placement, "LinePlacement")
    else:
        anchor = _el(_el(placement, "PointPlacement"), "AnchorPoint")
        _el(anchor, "AnchorPointX", "0.5")
        _el(anchor, "AnchorPointY", "0.5")
    halo = _el(text, "Halo")
    _el(halo, "Radius", "1.5")
    _css(_el(halo, "Fill"), "fill", "#FFFFFF")
    _css(_el(text, "Fill"), "fill", "#202020")


def sld(layer: Layer) -> bytes:
    """The layer's style as an SLD 1.0 document (UTF-8 bytes)."""
    root = ET.Element(f"{{{SLD}}}StyledLayerDescriptor", {"version": "1.0.0", f"{{{XSI}}}schemaLocation": SCHEMA})
    named = _el(root, "NamedLayer")
    _el(named, "Name", layer.id)
    user = _el(named, "UserStyle")
    _el(user, "Name", STYLE_ID)
    _el(user, "Title", layer.title.vi)
    _el(user, "Abstract", layer.title.en)
    fts = _el(user, "FeatureTypeStyle")
    for k in classes(layer):
        _class_rule(fts, layer, k)
    if layer.style.label:
        _label_rule(fts, layer)
    labels = [(e, e.text, [c.tail for c in e]) for e in root.iter(f"{{{SLD}}}Label")]
    ET.indent(root)
    for e, text, tails in labels:  # mixed content: indentation would become part of the label
        e.text = text
        for child, tail in zip(e, tails, strict=True):
            child.tail = tail
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
