"""bando's vector-tile provider for pygeoapi: Mapbox Vector Tiles made by PostGIS in one query.

pygeoapi builds a provider per request, so construction only looks up the layer's
:class:`bando.api_config.tiles_sql.TileSource` (built once per process). A tile is one
statement on a pooled psycopg 3 connection; the bytes go to the in-process cache
under the lineage id read in that same statement (see :mod:`bando.api_config.tile_cache`).
The tile-set metadata (OGC tile set, TileJSON, HTML) is built from the catalogue.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

import psycopg
from pygeoapi.models.provider.base import TileMatrixSetEnum
from pygeoapi.provider.base import ProviderGenericError, ProviderInvalidQueryError
from pygeoapi.provider.base_mvt import BaseMVTProvider
from pygeoapi.provider.tile import ProviderTileNotFoundError

from bando.api_config.pygeoapi_seam.handlers import to_provider_error
from bando.api_config.runtime import get_runtime
from bando.api_config.tile_cache import CACHE, LINEAGES, MVT, TileKey, record
from bando.api_config.tiles_sql import TMS_SRID, TileAddress, matrix_limits, matrix_set, tile_source
from bando.crs import CRS84_URI
from bando.errors import BadInput, BandoError, NotFound

LOG = logging.getLogger("bando.api")
JSON_TYPES = {
    "text": "string",
    "integer": "integer",
    "real": "number",
    "date": "string",
    "datetime": "string",
    "boolean": "boolean",
}
TILEJSON_TYPES = {"string": "String", "integer": "Number", "number": "Number", "boolean": "Boolean"}
DIMENSION = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1, "Polygon": 2, "MultiPolygon": 2}


def center_zoom(w: float, s: float, e: float, n: float, low: int, high: int) -> int:
    """The zoom at which the data's extent fills about a 1024-pixel view, within the tile zooms."""
    span = max(e - w, (n - s) * 1.2, 1e-9)
    fit = int(math.floor(math.log2(360 * 4 / span)))
    return max(low, min(high, fit))


class BandoTileProvider(BaseMVTProvider):
    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.source = tile_source(provider_def["data"]["layer"], provider_def["data"].get("view", "public"))
        self.layer = self.source.layer

    def __repr__(self) -> str:
        return f"<BandoTileProvider> {self.layer.id} ({self.source.view})"

    def get_layer(self) -> str:
        return self.layer.id

    def get_fields(self) -> dict[str, dict[str, str]]:
        return {c: {"type": JSON_TYPES[self.layer.field(c).type]} for c in self.source.columns}

    def get_tiling_schemes(self) -> list[Any]:
        return [s for s in super().get_tiling_schemes() if s.tileMatrixSet in TMS_SRID]

    def get_tiles_service(
        self,
        baseurl: str | None = None,
        servicepath: str | None = None,
        dirpath: str | None = None,
        tile_type: str | None = None,
    ) -> dict[str, Any]:
        self._service_url = servicepath
        links = self.get_tms_links()
        for link in links["links"]:  # pygeoapi names TileJSON but links the OGC tile set document
            if link["rel"] == "describedby":
                link["href"] = link["href"].replace("?f=json", "?f=tilejson")
                link["type"] = "application/vnd.mapbox.tile+json"
        return links

    # -- tiles ----------------------------------------------------------------------

    def get_tiles(
        self,
        layer: str | None = None,
        tileset: str | None = None,
        z: Any = None,
        y: Any = None,
        x: Any = None,
        format_: str | None = None,
    ) -> bytes:
        try:
            address = self.source.address(tileset, z, y, x, self._bbox())
        except NotFound as exc:
            raise ProviderTileNotFoundError(user_msg=str(exc)) from None
        except BadInput as exc:
            raise ProviderInvalidQueryError(user_msg=str(exc)) from None
        query = self.source.query(address)
        if query is None:  # outside the storage CRS's domain: no data can be there
            lineage, data = self._lineage(), b""
        else:
            lineage, data = self._run(address, *query)
        key = TileKey(
            self.layer.id,
            self.source.view,
            address.tms,
            address.z,
            address.row,
            address.col,
            lineage,
            self.source.fingerprint,
        )
        CACHE.put(key, data)
        record(key)
        return data

    def _lineage(self) -> int | None:
        try:
            return LINEAGES.get(self.layer.id)
        except BandoError as exc:
            raise to_provider_error(exc) from None

    def _run(self, address: TileAddress, text: str, params: dict[str, Any]) -> tuple[int | None, bytes]:
        try:
            with get_runtime().connection(self.source.view) as conn:
                lineage, data = conn.execute(text, params, binary=True).fetchone()  # type: ignore[misc]
        except psycopg.errors.UndefinedTable:
            raise to_provider_error(NotFound(f"layer {self.layer.id!r} has not been published yet")) from None
        except psycopg.Error as exc:
            LOG.warning(
                "tile %s/%s/%d/%d/%d failed: %s",
                self.layer.id,
                address.tms,
                address.z,
                address.row,
                address.col,
                type(exc).__name__,
            )
            raise ProviderGenericError(user_msg="the tile could not be built") from None
        except BandoError as exc:
            raise to_provider_error(exc) from None
        return lineage, bytes(data)

    # -- tile set metadata --------------------------------------------------------------

    def get_metadata(
        self,
        dataset: str,
        server_url: str,
        layer: str | None = None,
        tileset: str | None = None,
        metadata_format: str | None = None,
        title: str | None = None,
        description: str | None = None,
        keywords: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        matrix_set(str(tileset or ""))  # unknown set → NotFound → 404
        fmt = (metadata_format or "json").lower()
        args = (dataset, server_url.rstrip("/"), self.layer.id, str(tileset), title, description, keywords)
        if fmt == "tilejson":
            return self.get_vendor_metadata(*args)
        if fmt == "html":
            return self.get_html_metadata(*args)
        return self.get_default_metadata(*args)

    def _urls(self, server_url: str, dataset: str, tileset: str) -> dict[str, str]:
        base = f"{server_url}/collections/{dataset}/tiles/{tileset}"
        return {
            "tiles": f"{base}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}?f=mvt",
            "metadata": f"{base}/metadata",
            "xyz": f"{base}/{{z}}/{{y}}/{{x}}?f=mvt",
            "scheme": f"{server_url}/TileMatrixSets/{tileset}",
            "collection": f"{server_url}/collections/{dataset}",
        }

    def _bbox(self) -> tuple[float, float, float, float]:
        """The published data's CRS84 extent as ``bando.layer_state`` says now (a publish or an edit
        moves it within a second); else as read at start-up; the province's before any load."""
        with contextlib.suppress(BandoError):
            LINEAGES.get(self.layer.id)  # refreshes the extents too, at most once per TTL
        live = LINEAGES.extent(self.layer.id)
        if live is not None:
            return live
        bounds = (self.options or {}).get("bounds")
        if isinstance(bounds, list) and len(bounds) == 4:
            w, s, e, n = (float(v) for v in bounds)
            return w, s, e, n
        return get_runtime().province.bbox_lonlat

    def _limits(self, tileset: str) -> list[dict[str, Any]]:
        bbox = self._bbox()
        low, high = self.source.zoom_range(tileset)
        out = []
        for z in range(low, high + 1):
            r0, r1, c0, c1 = matrix_limits(tileset, z, bbox)
            out.append({"tileMatrix": str(z), "minTileRow": r0, "maxTileRow": r1, "minTileCol": c0, "maxTileCol": c1})
        return out

    def _version(self) -> str | None:
        try:
            lineage = LINEAGES.get(self.layer.id)
        except BandoError:
            return None
        return None if lineage is None else f"lineage-{lineage}"

    def _properties_schema(self) -> dict[str, Any]:
        props = {}
        for c in self.source.columns:
            f = self.layer.field(c)
            fmt = {"date": "date", "datetime": "date-time"}.get(f.type)
            props[c] = {"type": JSON_TYPES[f.type], "title": f.title.vi} | ({"format": fmt} if fmt else {})
        return {"type": "object", "properties": props}

    def get_default_metadata(
        self,
        dataset: str,
        server_url: str,
        layer: str,
        tileset: str,
        title: str | None,
        description: str | None,
        keywords: list[str] | None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        scheme = next(s for s in TileMatrixSetEnum if s.value.tileMatrixSet == tileset).value
        urls = self._urls(server_url, dataset, tileset)
        low, high = self.source.zoom_range(tileset)
        w, s, e, n = self._bbox()
        out: dict[str, Any] = {
            "title": title or self.layer.title.vi,
            "description": description or self.layer.description.vi,
            "keywords": list(keywords or self.layer.metadata.keywords),
            "dataType": "vector",
            "crs": scheme.crs,
            "tileMatrixSetURI": scheme.tileMatrixSetURI,
            "tileMatrixSetLimits": self._limits(tileset),
            "boundingBox": {"lowerLeft": [w, s], "upperRight": [e, n], "crs": CRS84_URI},
            "mediaTypes": [MVT],
            "license": self.layer.metadata.license,
            "layers": [
                {
                    "id": self.layer.id,
                    "title": self.layer.title.vi,
                    "dataType": "vector",
                    "geometryDimension": DIMENSION.get(self.layer.geometry or "", 2),
                    "minTileMatrix": str(low),
                    "maxTileMatrix": str(high),
                    "propertiesSchema": self._properties_schema(),
                }
            ],
            "links": [
                {
                    "rel": "self",
                    "type": "application/json",
                    "title": "This tile set metadata",
                    "href": f"{urls['metadata']}?f=json",
                },
                {
                    "rel": "alternate",
                    "type": "application/vnd.mapbox.tile+json",
                    "title": "TileJSON",
                    "href": f"{urls['metadata']}?f=tilejson",
                },
                {
                    "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                    "type": "application/json",
                    "title": f"{tileset} tile matrix set definition",
                    "href": urls["scheme"],
                },
                {
                    "rel": "item",
                    "type": MVT,
                    "title": f"{tileset} vector tiles of {self.layer.id}",
                    "href": urls["tiles"],
                    "templated": True,
                },
                {
                    "rel": "http://www.opengis.net/def/rel/ogc/1.0/geodata",
                    "type": "application/json",
                    "title": "The collection",
                    "href": urls["collection"],
                },
            ],
        }
        version = self._version()
        if version:
            out["version"] = version
        return out

    def get_vendor_metadata(
        self,
        dataset: str,
        server_url: str,
        layer: str,
        tileset: str,
        title: str | None,
        description: str | None,
        keywords: list[str] | None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """TileJSON 3.0 (for WorldCRS84Quad too, with its CRS named: TileJSON itself assumes Web Mercator)."""
        low, high = self.source.zoom_range(tileset)
        w, s, e, n = self._bbox()
        fields = {c: TILEJSON_TYPES[t["type"]] for c, t in self.get_fields().items()}
        out: dict[str, Any] = {
            "tilejson": "3.0.0",
            "name": title or self.layer.title.vi,
            "description": description or self.layer.description.vi,
            "scheme": "xyz",
            "tiles": [self._urls(server_url, dataset, tileset)["xyz"]],
            "minzoom": low,
            "maxzoom": high,
            "bounds": [w, s, e, n],
            "center": [round((w + e) / 2, 6), round((s + n) / 2, 6), center_zoom(w, s, e, n, low, high)],
            "attribution": self.layer.metadata.contact.organisation,
            "vector_layers": [
                {
                    "id": self.layer.id,
                    "description": self.layer.title.vi,
                    "minzoom": low,
                    "maxzoom": high,
                    "fields": fields,
                }
            ],
        }
        if tileset != "WebMercatorQuad":
            out["crs"] = CRS84_URI
        version = self._version()
        if version:
            out["version"] = version
        return out

    def get_html_metadata(
        self,
        dataset: str,
        server_url: str,
        layer: str,
        tileset: str,
        title: str | None,
        description: str | None,
        keywords: list[str] | None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        urls = self._urls(server_url, dataset, tileset)
        low, high = self.source.zoom_range(tileset)
        return {
            "id": dataset,
            "title": title or self.layer.title.vi,
            "tileset": tileset,
            "collections_path": urls["tiles"],
            "json_url": f"{urls['metadata']}?f=json",
            "tilejson_url": f"{urls['metadata']}?f=tilejson",
            "metadata": {"minzoom": low, "maxzoom": high, "properties": ", ".join(self.source.columns)},
        }
