"""The pygeoapi configuration, derived from the layer catalogue — never typed by hand.

Two views come from the same catalogue: ``public`` (public fields only, mounted at
``/ogc``) and ``internal`` (every field, behind a token at ``/internal/ogc``). Each
layer becomes a collection with a features provider and, where the catalogue sets
``tiles``, a vector-tile provider; rasters get a coverage provider; a ``catalogue``
collection of records describes every layer; processes come last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml

from bando.api_config import downloads
from bando.crs import CRS84_URI, epsg_uri
from bando.layers.catalogue import Catalogue
from bando.layers.model import Layer
from bando.province import Province
from bando.publisher import publisher
from bando.settings import Settings

View = Literal["public", "internal"]
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
OUTPUT_EPSG = (4326, 3857, 4756, 3405, 3406)


def crs_list(storage_srid: int) -> list[str]:
    """CRS84 first (the default), then WGS 84, Web Mercator, VN-2000 and the layer's TM-3."""
    codes = [*OUTPUT_EPSG, storage_srid]
    return [CRS84_URI, *dict.fromkeys(epsg_uri(c) for c in codes)]


def _collection(
    layer: Layer, view: View, province: Province, bbox: list[float] | None, base_url: str, settings: Settings
) -> dict[str, Any]:
    srid = province.storage_srid(layer.storage_crs)
    meta = layer.metadata
    links = downloads.links(settings, layer.id, f"{base_url}/collections/{layer.id}") if view == "public" else []
    if meta.source_decision:
        links.append(
            {
                "type": "text/html",
                "rel": "describedby",
                "title": meta.source_decision,
                "href": f"{base_url}/collections/catalogue/items/{layer.id}",
            }
        )
    collection: dict[str, Any] = {
        "type": "collection",
        "title": {"vi": layer.title.vi, "en": layer.title.en},
        "description": {"vi": layer.description.vi, "en": layer.description.en},
        "keywords": list(meta.keywords) or [layer.theme],
        "links": links,
        "extents": {"spatial": {"bbox": bbox or list(province.bbox_lonlat), "crs": CRS84_URI}},
        "providers": [],
    }
    data = {"layer": layer.id, "view": view}
    if layer.kind == "raster":
        collection["providers"].append(
            {
                "type": "coverage",
                "name": "bando.api_config.providers.coverage.BandoCoverageProvider",
                "data": data,
                "format": {"name": "GTiff", "mimetype": "image/tiff"},
            }
        )
        return collection
    provider: dict[str, Any] = {
        "type": "feature",
        "name": "bando.api_config.providers.features.BandoFeatureProvider",
        "data": data,
        "id_field": "fid",
        "title_field": layer.key[0] if layer.key else None,
    }
    if layer.geometry:
        # PostGIS keeps EPSG:4326 in lon/lat order, which is what CRS84 says.
        storage = CRS84_URI if srid == 4326 else epsg_uri(srid)
        provider |= {"storage_crs": storage, "crs": crs_list(srid)}
    if layer.time_field:
        provider["time_field"] = layer.time_field
    collection["providers"].append({k: v for k, v in provider.items() if v is not None})
    if layer.geometry and layer.tiles:
        collection["providers"].append(
            {
                "type": "tile",
                "name": "bando.api_config.providers.tiles.BandoTileProvider",
                "data": data,
                "options": {
                    "zoom": {"min": layer.tiles.minzoom, "max": layer.tiles.maxzoom},
                    "schemes": ["WebMercatorQuad", "WorldCRS84Quad"],
                },
                "format": {"name": "mvt", "mimetype": "application/vnd.mapbox-vector-tile"},
            }
        )
    return collection


def build(
    catalogue: Catalogue,
    settings: Settings,
    province: Province,
    view: View,
    base_url: str,
    extents: dict[str, list[float]] | None = None,
) -> dict[str, Any]:
    """The pygeoapi configuration for one view, as a dict."""
    extents = extents or {}
    resources: dict[str, Any] = {
        layer.id: _collection(layer, view, province, extents.get(layer.id), base_url, settings) for layer in catalogue
    }
    resources["catalogue"] = {
        "type": "collection",
        "title": {"vi": "Danh mục lớp dữ liệu", "en": "Layer catalogue"},
        "description": {
            "vi": "Bản ghi mô tả mọi lớp dữ liệu: nội dung, cơ quan quản lý, mức độ cập nhật.",
            "en": "Records describing every layer: content, owner, currency.",
        },
        "keywords": ["catalogue", "metadata", "danh mục"],
        "links": [],
        "extents": {"spatial": {"bbox": list(province.bbox_lonlat), "crs": CRS84_URI}},
        "providers": [
            {
                "type": "record",
                "name": "bando.api_config.providers.records.BandoRecordProvider",
                "data": {"view": view, "base_url": base_url},
                "id_field": "id",
                "title_field": "title",
                "languages": ["vi", "en"],
            }
        ],
    }
    resources["planning-report"] = {
        "type": "process",
        "processor": {"name": "bando.api_config.processes.planning_report.PlanningReportProcessor", "view": view},
    }
    who = publisher(settings, province)
    title = {"vi": who.title_vi, "en": who.title_en}
    contact = {"name": who.contact_name, "position": who.contact_position, "role": "pointOfContact"}
    if who.contact_email:
        contact["email"] = who.contact_email
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": 0},
            "url": base_url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            "languages": ["vi", "en"],
            "pretty_print": False,
            "limits": {"default_items": 100, "max_items": 1000, "on_exceed": "throttle"},
            "map": {"url": "/static/blank.png", "attribution": "bando"},
            # bando's own page templates (the site's look, vendored assets only) before pygeoapi's
            "templates": {"path": str(TEMPLATES), "static": str(STATIC)},
            # Processes run synchronously: no job store (TinyDB would rewrite a file per request).
            "manager": {"name": "Dummy"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": title,
                "description": {
                    "vi": "API OGC của nền tảng bando: đất đai, quy hoạch, hạ tầng kỹ thuật.",
                    "en": "bando OGC API: land, planning and technical infrastructure.",
                },
                "keywords": ["bando", "OGC API", "VN-2000", province.name],
                "keywords_type": "theme",
                "terms_of_service": who.licence_url,
                "url": base_url,
            },
            "license": {"name": who.licence_name, "url": who.licence_url},
            "provider": {"name": who.organisation, "url": base_url},
            "contact": contact,
        },
        "resources": resources,
    }


def write(config: dict[str, Any], openapi: dict[str, Any], folder: Path, view: View) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / f"pygeoapi-{view}.yml"
    oas = folder / f"openapi-{view}.yml"
    for path, doc in ((cfg, config), (oas, openapi)):
        # Through JSON first: the documents hold tuples and dates that YAML's safe dumper refuses.
        plain = json.loads(json.dumps(doc, default=str))
        path.write_text(yaml.safe_dump(plain, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return cfg, oas
