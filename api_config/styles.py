"""OGC API - Styles on the public view: every layer's style, in every encoding, from the catalogue.

* ``/styles`` and ``/styles/{styleId}`` — the map's style (every tiled layer, labels on
  top), which the site and the IOC page draw with;
* ``/collections/{id}/styles`` and ``/collections/{id}/styles/default?f=mapbox|sld10|qml``
  — one layer's style as MapLibre JSON, SLD 1.0 or QGIS QML, plus ``…/metadata`` and
  ``…/legend`` (SVG);
* ``/resources/bando.qgz`` — the planners' QGIS project (:mod:`bando.api_config.qgis_project`);
* ``/resources/fonts/{fontstack}/{range}.pbf`` — the label glyphs, generated at setup
  from the Debian font (:mod:`bando.layers.styles.glyphs`), so no client needs a glyph server.

Documents are small and depend only on the catalogue, the base URL and the published
extents (MapLibre sources' ``bounds``: as ``bando.layer_state`` last said, else as read at
start-up), so each is built once per process and extent.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from bando.api_config.errors import problem
from bando.api_config.qgis_project import ProjectDownload
from bando.api_config.tile_cache import LINEAGES
from bando.errors import BadInput, NotFound
from bando.layers.catalogue import Catalogue
from bando.layers.model import Layer
from bando.layers.styles import STYLE_ID, legend, maplibre, qml, sld, styled

MAP_STYLE_ID = "bando"
MAPBOX = "application/vnd.mapbox.style+json"
ENCODINGS: dict[str, tuple[str, str]] = {
    "mapbox": (MAPBOX, "MapLibre / Mapbox style"),
    "sld10": (sld.MEDIA_TYPE, "OGC SLD 1.0"),
    "qml": (qml.MEDIA_TYPE, "QGIS QML"),
}
STYLESHEET_REL = "stylesheet"
_RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})\.pbf$")
_CACHE = "public, max-age=300"


class Styles:
    """The Styles API of one base URL, over one catalogue and the published extents."""

    def __init__(
        self,
        catalogue: Catalogue,
        base_url: str,
        extents: dict[str, list[float]],
        glyphs: Path,
        project: ProjectDownload | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.project = project
        self.base = base_url.rstrip("/")
        self.extents = extents
        self.glyphs = glyphs
        self.layers = {x.id: x for x in catalogue if styled(x)}

    # -- documents -------------------------------------------------------------------

    def extent(self, layer_id: str) -> list[float] | None:
        """The layer's CRS84 extent as the tile clock last read it (no I/O), else as at start-up."""
        live = LINEAGES.extent(layer_id)
        return list(live) if live is not None else self.extents.get(layer_id)

    def _layer(self, collection_id: str) -> Layer:
        if collection_id not in self.layers:
            raise NotFound(f"collection {collection_id!r} has no style (it is not a map layer)")
        return self.layers[collection_id]

    def _links(self, href: str) -> list[dict[str, str]]:
        return [
            {"rel": STYLESHEET_REL, "type": media, "title": title, "href": f"{href}?f={f}"}
            for f, (media, title) in ENCODINGS.items()
        ]

    def collection_styles(self, collection_id: str) -> dict[str, Any]:
        layer = self._layer(collection_id)
        href = f"{self.base}/collections/{layer.id}/styles/{STYLE_ID}"
        links = self._links(href)
        links += [
            {"rel": "describedby", "type": "application/json", "title": "metadata", "href": f"{href}/metadata"},
            {"rel": "legend", "type": legend.MEDIA_TYPE, "title": "legend", "href": f"{href}/legend"},
        ]
        style = {"id": STYLE_ID, "title": layer.title.vi, "links": links}
        return {
            "default": STYLE_ID,
            "styles": [style],
            "links": [self._self(f"{self.base}/collections/{layer.id}/styles")],
        }

    def metadata(self, layer: Layer) -> dict[str, Any]:
        href = f"{self.base}/collections/{layer.id}/styles/{STYLE_ID}"
        return {
            "id": STYLE_ID,
            "title": layer.title.vi,
            "description": f"{layer.title.vi} / {layer.title.en}",
            "keywords": list(layer.metadata.keywords),
            "scope": "style",
            "stylesheets": [
                {
                    "title": title,
                    "specification": f,
                    "native": f == "mapbox",
                    "link": {"rel": STYLESHEET_REL, "type": media, "href": f"{href}?f={f}"},
                }
                for f, (media, title) in ENCODINGS.items()
            ],
            "layers": [{"id": layer.id, "type": _kind(layer)}],
            "links": [self._self(f"{href}/metadata")],
        }

    def encoded(self, layer: Layer, f: str, extent: list[float] | None = None) -> tuple[bytes, str]:
        """One layer's style in encoding ``f``; MapLibre's source is bounded by ``extent`` (CRS84)."""
        if f == "mapbox":
            doc = maplibre.layer_style(layer, self.base, self.base, extent)
            return json.dumps(doc, ensure_ascii=False).encode("utf-8"), MAPBOX
        if f == "sld10":
            return sld.sld(layer), sld.MEDIA_TYPE
        if f == "qml":
            return qml.qml(layer), qml.MEDIA_TYPE
        raise BadInput(f"unknown style encoding f={f!r}: use one of {', '.join(ENCODINGS)}")

    def map_style(self) -> dict[str, Any]:
        name = "bando"
        bounds = {x: b for x in self.layers if (b := self.extent(x)) is not None}
        return maplibre.map_style(list(self.layers.values()), name, self.base, self.base, bounds)

    def styles(self) -> dict[str, Any]:
        href = f"{self.base}/styles/{MAP_STYLE_ID}"
        style = {
            "id": MAP_STYLE_ID,
            "title": "Bản đồ nền và các lớp dữ liệu / Basemap and data layers",
            "links": [
                {"rel": STYLESHEET_REL, "type": MAPBOX, "title": ENCODINGS["mapbox"][1], "href": f"{href}?f=mapbox"}
            ],
        }
        return {"default": MAP_STYLE_ID, "styles": [style], "links": [self._self(f"{self.base}/styles")]}

    def _self(self, href: str) -> dict[str, str]:
        return {"rel": "self", "type": "application/json", "href": href}

    # -- glyphs ------------------------------------------------------------------

    def glyph(self, fontstack: str, range_: str) -> bytes:
        m = _RANGE.match(range_)
        if not m or int(m[1]) % 256 or int(m[2]) != int(m[1]) + 255:
            raise NotFound(f"glyph range {range_!r} is not a 256-character block like 0-255.pbf")
        # Every font stack is answered with bando's one font: the first family is the one labels name.
        path = self.glyphs / f"{m[1]}-{m[2]}.pbf"
        if not path.is_file():
            return b""  # MapLibre draws nothing for an empty block, rather than failing the tile
        return path.read_bytes()


def _kind(layer: Layer) -> str:
    geometry = layer.geometry or ""
    return "polygon" if "Polygon" in geometry else "line" if "Line" in geometry else "point"


def _format(request: Request, default: str = "mapbox") -> str:
    f = request.query_params.get("f")
    if f:
        return f
    accept = request.headers.get("accept", "")
    for key, (media, _title) in ENCODINGS.items():
        if media.split(";")[0] in accept:
            return key
    return default


def routes(styles: Styles) -> list[Route]:
    """The Styles routes, relative to the view's mount (``/ogc``)."""

    def js(doc: dict[str, Any], media: str = "application/json") -> Response:
        body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        return Response(body, media_type=media, headers={"Cache-Control": _CACHE})

    @lru_cache(maxsize=256)
    def _encoded(collection_id: str, f: str, extent: tuple[float, ...] | None) -> tuple[bytes, str]:
        return styles.encoded(styles._layer(collection_id), f, None if extent is None else list(extent))

    def encoded(collection_id: str, f: str) -> tuple[bytes, str]:
        extent = styles.extent(collection_id) if f == "mapbox" else None  # only MapLibre's carries bounds
        return _encoded(collection_id, f, None if extent is None else tuple(extent))

    async def list_map_styles(request: Request) -> Response:
        return js(styles.styles())

    async def map_style(request: Request) -> Response:
        if request.path_params["style_id"] != MAP_STYLE_ID:
            raise NotFound(f"no style {request.path_params['style_id']!r}: the map's style is {MAP_STYLE_ID!r}")
        if _format(request) != "mapbox":
            raise BadInput("the map's style is offered as f=mapbox only; per-layer styles have SLD and QML")
        return js(styles.map_style(), MAPBOX)

    async def collection_styles(request: Request) -> Response:
        return js(styles.collection_styles(request.path_params["collection_id"]))

    def _style_of(request: Request) -> Layer:
        layer = styles._layer(request.path_params["collection_id"])
        if request.path_params["style_id"] != STYLE_ID:
            raise NotFound(f"no style {request.path_params['style_id']!r}: this collection's style is {STYLE_ID!r}")
        return layer

    async def collection_style(request: Request) -> Response:
        layer = _style_of(request)
        body, media = encoded(layer.id, _format(request))
        return Response(body, media_type=media, headers={"Cache-Control": _CACHE})

    async def style_metadata(request: Request) -> Response:
        return js(styles.metadata(_style_of(request)))

    async def style_legend(request: Request) -> Response:
        layer = _style_of(request)
        lang = "en" if request.query_params.get("lang") == "en" else "vi"
        return Response(legend.legend_svg(layer, lang), media_type=legend.MEDIA_TYPE, headers={"Cache-Control": _CACHE})

    async def glyphs(request: Request) -> Response:
        body = styles.glyph(request.path_params["fontstack"], request.path_params["range"])
        return Response(body, media_type="application/x-protobuf", headers={"Cache-Control": "public, max-age=86400"})

    async def qgis_project(request: Request) -> Response:
        path = styles.project.ready() if styles.project else None
        if path is None:
            headers = {"Retry-After": "30"}
            return problem(503, "NotReady", "the QGIS project is being prepared; try again in half a minute", **headers)
        return FileResponse(
            path,
            media_type="application/vnd.qgis.qgz",
            filename="bando.qgz",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return [
        Route("/resources/bando.qgz", qgis_project),
        Route("/styles", list_map_styles),
        Route("/styles/{style_id}", map_style),
        Route("/collections/{collection_id}/styles", collection_styles),
        Route("/collections/{collection_id}/styles/{style_id}", collection_style),
        Route("/collections/{collection_id}/styles/{style_id}/metadata", style_metadata),
        Route("/collections/{collection_id}/styles/{style_id}/legend", style_legend),
        Route("/resources/fonts/{fontstack}/{range}", glyphs),
    ]
