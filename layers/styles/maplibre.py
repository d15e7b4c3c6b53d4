"""MapLibre style JSON (style specification v8) over bando's own vector tiles and glyphs.

A layer's style draws its source layer (the MVT layer is named after the catalogue id);
the map's style stacks every tiled layer — areas, then lines, then points, then every
label on top so no fill hides a name. Absolute URLs come from the caller: the API passes
its public base URL, so the document works in any client, offline included.
"""

from __future__ import annotations

from typing import Any

from bando.layers.model import Layer
from bando.layers.styles.rules import FONT_STACK, OTHER_FILL, classes, kind, label_parts, styled

TILE_PATH = "/collections/{id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"
GLYPH_PATH = "/resources/fonts/{fontstack}/{range}.pbf"
BACKGROUND = "#F2EFE9"
ORDER = {"polygon": 0, "line": 1, "point": 2}


def _colour(layer: Layer, fallback: str | None) -> Any:
    """A constant colour, or a ``match`` on the coded field."""
    found = classes(layer)
    if layer.style.by and found and found[0].value is not None:
        pairs: list[Any] = []
        for k in found:
            pairs += [k.value, k.fill or OTHER_FILL]
        return ["match", ["to-string", ["get", layer.style.by]], *pairs, OTHER_FILL]
    return found[0].fill or fallback


def _text(layer: Layer) -> Any:
    parts: list[Any] = [["to-string", ["get", v]] if t == "field" else v for t, v in label_parts(layer)]
    return parts[0] if len(parts) == 1 else ["concat", *parts]


def _base(layer: Layer, suffix: str, type_: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f"{layer.id}{suffix}", "type": type_, "source": layer.id, "source-layer": layer.id}
    if layer.tiles:
        out["minzoom"] = layer.tiles.minzoom
    return out


def draw_layers(layer: Layer) -> list[dict[str, Any]]:
    """The MapLibre layers that draw the features (no labels)."""
    s, k = layer.style, kind(layer)
    if k == "polygon":
        out = []
        fill = _colour(layer, None)
        if fill:
            out.append(_base(layer, "", "fill") | {"paint": {"fill-color": fill, "fill-opacity": 0.85}})
        line = _base(layer, "-outline" if fill else "", "line")
        out.append(line | {"paint": {"line-color": s.stroke, "line-width": s.width}})
        return out
    if k == "line":
        paint: dict[str, Any] = {"line-color": s.stroke, "line-width": s.width}
        if s.dash:
            paint["line-dasharray"] = [4, 2]
        return [_base(layer, "", "line") | {"layout": {"line-cap": "round", "line-join": "round"}, "paint": paint}]
    circle = {
        "circle-radius": s.radius,
        "circle-color": _colour(layer, s.stroke),
        "circle-stroke-color": s.stroke,
        "circle-stroke-width": s.width,
    }
    return [_base(layer, "", "circle") | {"paint": circle}]


def label_layers(layer: Layer) -> list[dict[str, Any]]:
    """The symbol layer of the label template, from ``label_minzoom``; none without a template."""
    s = layer.style
    if not s.label:
        return []
    line = kind(layer) == "line"
    big = layer.theme == "base"
    layout: dict[str, Any] = {
        "text-field": _text(layer),
        "text-font": [FONT_STACK],
        "text-size": 14 if big else 11,
        "symbol-placement": "line" if line else "point",
        "text-max-width": 8,
    }
    if not line:
        layout["text-padding"] = 1
    paint = {"text-color": "#202020" if not big else "#000000", "text-halo-color": "#FFFFFF", "text-halo-width": 1.5}
    out = _base(layer, "-label", "symbol") | {"layout": layout, "paint": paint}
    out["minzoom"] = max(s.label_minzoom, out.get("minzoom", 0))
    return [out]


def source(layer: Layer, api_url: str, bounds: list[float] | None = None) -> dict[str, Any]:
    """The vector source of a tiled layer."""
    src: dict[str, Any] = {
        "type": "vector",
        "tiles": [api_url.rstrip("/") + TILE_PATH.format(id=layer.id)],
        "attribution": layer.metadata.contact.organisation,
    }
    if layer.tiles:
        src |= {"minzoom": layer.tiles.minzoom, "maxzoom": layer.tiles.maxzoom}
    if bounds:
        src["bounds"] = bounds
    return src


def _document(name: str, glyphs_url: str) -> dict[str, Any]:
    return {
        "version": 8,
        "name": name,
        "glyphs": glyphs_url.rstrip("/") + GLYPH_PATH,
        "sources": {},
        "layers": [{"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}}],
    }


def layer_style(layer: Layer, api_url: str, glyphs_url: str, bounds: list[float] | None = None) -> dict[str, Any]:
    """One collection's style: its source, its drawing and its labels."""
    doc = _document(layer.title.vi, glyphs_url)
    if styled(layer) and layer.tiles:
        doc["sources"][layer.id] = source(layer, api_url, bounds)
        doc["layers"] += draw_layers(layer) + label_layers(layer)
    return doc


def map_style(
    layers: list[Layer], name: str, api_url: str, glyphs_url: str, bounds: dict[str, list[float]] | None = None
) -> dict[str, Any]:
    """The whole map: every tiled layer, areas under lines under points, labels last."""
    bounds = bounds or {}
    tiled = sorted((x for x in layers if styled(x) and x.tiles), key=lambda x: ORDER[kind(x)])
    doc = _document(name, glyphs_url)
    for layer in tiled:
        doc["sources"][layer.id] = source(layer, api_url, bounds.get(layer.id))
        doc["layers"] += draw_layers(layer)
    for layer in sorted(tiled, key=_label_rank):
        doc["layers"] += label_layers(layer)
    return doc


def _label_rank(layer: Layer) -> tuple[int, int]:
    """Where a layer's labels go in the style: MapLibre places the topmost symbol layer first
    and later ones only where they do not collide, so the last label wins. Points win over
    lines over areas; within a kind the finer layer (the later ``label_minzoom``) wins, so a
    parcel's number is not hidden by its commune's name, which every tile repeats."""
    return ORDER[kind(layer)], layer.style.label_minzoom
