"""What the web pages need to know, derived from the catalogue — never typed again.

Layer titles, tile zooms and attributes, styles, the land-use legend (codes, names,
colours), the parcel key's limits, the IOC alert thresholds and the province's extent
all come from ``layers/*.yml``, ``bando/data/land_use_codes.csv`` and the configured
province. Only public fields ever appear: a field the catalogue does not mark public
is left out here, so a page cannot even name it.

The few choices below are presentation, not data: which layers draw the background,
which are switched on at first, and which roles the pages give layers (the parcel
layer, the plan layer, the live points) — each found from the catalogue's own
properties (theme, key, versioning, parent/alert), not from a list of names.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from bando.codes import land_use_codes
from bando.crs import CRS84_URI
from bando.layers.catalogue import Catalogue
from bando.layers.model import THEMES, Layer
from bando.province import Province

Page = Literal["site", "ioc"]
TILE_URL = "/ogc/collections/{layer}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"

#: The background drawn from our own data: boundaries, roads and water surfaces.
BACKGROUND_THEMES = ("base",)
BACKGROUND_LAYERS = ("roads",)
WATER_CODES = ("SON", "MNC", "DTL")
#: Switched on when a page opens (everything else is one click away).
SITE_DEFAULT_ON = ("land_use_plan", "parcels", "red_lines")
IOC_DEFAULT_ON = ()
GROUP_TITLES = {
    "NNP": {"vi": "Nhóm đất nông nghiệp", "en": "Agricultural land"},
    "PNN": {"vi": "Nhóm đất phi nông nghiệp", "en": "Non-agricultural land"},
    "CSD": {"vi": "Nhóm đất chưa sử dụng", "en": "Unused land"},
}
GEOMETRY_KIND = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}


def _text(t: Any) -> dict[str, str]:
    return {"vi": t.vi, "en": t.en}


def _fields(layer: Layer) -> list[dict[str, Any]]:
    out = []
    for f in layer.public_fields:
        item: dict[str, Any] = {"name": f.name, "type": f.type, "title": _text(f.title)}
        if f.unit:
            item["unit"] = f.unit
        if f.domain and f.domain.values:
            item["values"] = list(f.domain.values)
        if f.domain and f.domain.min is not None:
            item["min"] = f.domain.min
        if f.domain and f.domain.max is not None:
            item["max"] = f.domain.max
        out.append(item)
    return out


def _style(layer: Layer) -> dict[str, Any]:
    s = layer.style
    style: dict[str, Any] = {"stroke": s.stroke, "width": s.width, "dash": s.dash, "radius": s.radius}
    if s.fill:
        style["fill"] = s.fill
    if s.by and layer.field(s.by).public:
        style |= {"by": s.by, "codes": s.codes}
    return style


def _tiles(layer: Layer) -> dict[str, Any] | None:
    if not (layer.tiles and layer.geometry):
        return None
    public = {f.name for f in layer.public_fields}
    props = [p for p in (layer.tiles.properties or ()) if p in public]
    return {
        "url": TILE_URL.format(layer=layer.id),
        "minzoom": layer.tiles.minzoom,
        "maxzoom": layer.tiles.maxzoom,
        "properties": props,
    }


def _role(layer: Layer, catalogue: Catalogue) -> str | None:
    if layer.theme == "cadastre" and len(layer.key) == 3:
        return "parcel"
    if layer.theme == "land_use" and layer.versioned:
        return "plan"
    if layer.theme == "ioc" and layer.geometry:
        readings = [t for t in catalogue if t.parent == layer.id and t.alert]
        return "sensor" if readings else "live"
    return None


def _layer(layer: Layer, catalogue: Catalogue, page: Page) -> dict[str, Any]:
    background = layer.theme in BACKGROUND_THEMES or layer.id in BACKGROUND_LAYERS
    default_on = SITE_DEFAULT_ON if page == "site" else IOC_DEFAULT_ON
    role = _role(layer, catalogue)
    return {
        "id": layer.id,
        "title": _text(layer.title),
        "theme": layer.theme,
        "geometry": GEOMETRY_KIND[layer.geometry] if layer.geometry else None,
        "key": [k for k in layer.key if layer.field(k).public],
        "versioned": layer.versioned,
        "fields": _fields(layer),
        "style": _style(layer),
        "tiles": _tiles(layer),
        "background": background,
        "on": background or layer.id in default_on or role in ("live", "sensor") and page == "ioc",
        "role": role,
    }


def _water(catalogue: Catalogue) -> dict[str, Any] | None:
    """Water surfaces for the background: the current-use polygons of the water codes."""
    codes = land_use_codes()
    for layer in catalogue:
        by = layer.style.by
        if (
            layer.theme == "land_use"
            and not layer.versioned
            and by
            and layer.style.codes == "land_use"
            and layer.tiles
            and by in (layer.tiles.properties or ())
        ):
            return {
                "id": f"{layer.id}__water",
                "source": layer.id,
                "field": by,
                "codes": [c for c in WATER_CODES if c in codes],
                "colour": codes["SON"].colour,
                "title": {"vi": "Mặt nước", "en": "Water"},
                "tiles": _tiles(layer),
            }
    return None


def _readings(catalogue: Catalogue) -> list[dict[str, Any]]:
    out = []
    for t in catalogue:
        if t.parent and t.alert and t.time_field:
            public = {f.name for f in t.public_fields}
            out.append(
                {
                    "id": t.id,
                    "title": _text(t.title),
                    "parent": t.parent,
                    "key": [k for k in t.key if k in public and k != t.time_field],
                    "time": t.time_field,
                    "value": t.alert.field,
                    "by": t.alert.by,
                    "thresholds": dict(t.alert.thresholds),
                    "fields": _fields(t),
                }
            )
    return out


def basemap(url: str) -> dict[str, Any] | None:
    if not url:
        return None
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    return {"url": url, "origin": origin}


def build(catalogue: Catalogue, province: Province, basemap_url: str = "", page: Page = "site") -> dict[str, Any]:
    """The configuration one page embeds (and ``/site-config.json`` serves)."""
    layers = [layer for layer in catalogue if layer.kind == "vector" and layer.geometry]
    if page == "site":  # citizens see land, planning and infrastructure; live points are the IOC's
        layers = [layer for layer in layers if layer.theme != "ioc"]
    codes = land_use_codes()
    parcel = next((layer for layer in catalogue if _role(layer, catalogue) == "parcel"), None)
    plan = next((layer for layer in catalogue if _role(layer, catalogue) == "plan"), None)
    tm3 = province.bbox_in(province.tm3_epsg, margin_m=0.0)
    return {
        "page": page,
        "api": "/ogc",
        "crs84": CRS84_URI,
        "province": {
            "name": province.name,
            "fullName": getattr(province, "full_name", province.name),
            "bbox": list(province.bbox_lonlat),
            "tm3": {"epsg": province.tm3_epsg, "crs": f"EPSG:{province.tm3_epsg}", "bbox": [round(v) for v in tm3]},
        },
        "basemap": basemap(basemap_url),
        "themes": {k: v.model_dump() for k, v in THEMES.items() if any(layer.theme == k for layer in layers)},
        "layers": [_layer(layer, catalogue, page) for layer in layers],
        "water": _water(catalogue),
        "landUse": [
            {"code": c.code, "name": {"vi": c.name_vi, "en": c.name_en}, "group": c.group, "colour": c.colour}
            for c in codes.values()
        ],
        "landUseGroups": GROUP_TITLES,
        "parcelLayer": parcel.id if parcel else None,
        "communeLayer": next((layer.id for layer in catalogue if layer.theme == "base" and layer.key), None),
        "planLayer": plan.id if plan else None,
        "planField": plan.style.by if plan else None,
        "readings": _readings(catalogue) if page == "ioc" else [],
    }
