"""An OGC API (pygeoapi) as a Starlette app bound to one configuration.

pygeoapi's own ``starlette_app`` module builds a single global API from environment
variables at import time, in debug mode. bando needs two views (public, internal) in
one process and must never run in debug, so it keeps pygeoapi's request handling —
the public ``pygeoapi.api.*`` functions and ``APIRequest`` — and supplies the routing
itself: a table of read-only routes, each calling the handler on *this* API object.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pygeoapi.api as core_api
import pygeoapi.api.coverages as coverages_api
import pygeoapi.api.itemtypes as itemtypes_api
import pygeoapi.api.processes as processes_api
import pygeoapi.api.tiles as tiles_api
from pygeoapi.api import API, APIRequest, apply_gzip
from pygeoapi.openapi import get_oas
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from api_config import tile_cache

Handler = Callable[..., tuple[dict, int, Any]]


def _response(headers: dict, status: int, content: Any) -> Response:
    if headers.get("Content-Type") == "text/html":
        response: Response = HTMLResponse(content=content, status_code=status)
    elif isinstance(content, dict):
        response = JSONResponse(content, status_code=status)
    else:
        response = Response(content, status_code=status)
    response.headers.update(headers)
    return response


def _client_error_status(status: int, content: Any) -> int:
    """pygeoapi answers some invalid parameters (e.g. a coverage bbox) with 500; they are 400."""
    if status == HTTPStatus.INTERNAL_SERVER_ERROR and isinstance(content, (str, bytes)):
        text = content if isinstance(content, str) else content[:2000].decode("utf-8", "replace")
        if '"InvalidParameterValue"' in text:
            return HTTPStatus.BAD_REQUEST
    return status


def _route(api: API, path: str, handler: Handler, params: tuple[str, ...] = (), *,
           skip_valid_check: bool = False, methods: tuple[str, ...] = ("GET",),
           extra: tuple[Any, ...] = ()) -> Route:  # fmt: skip
    async def endpoint(request: Request) -> Response:
        args = [*extra, *(request.path_params[p] for p in params)]
        api_request = await APIRequest.from_starlette(request, api.locales)
        if not skip_valid_check and not api_request.is_valid():
            headers, status, content = api.get_format_exception(api_request)
        else:
            loop = asyncio.get_running_loop()
            headers, status, content = await loop.run_in_executor(None, handler, api, api_request, *args)
            status = _client_error_status(status, content)
            if status != HTTPStatus.NO_CONTENT:
                content = apply_gzip(headers, content)
        return _response(headers, status, content)

    return Route(path, endpoint, methods=list(methods))


# pygeoapi declares classes by provider type; bando states what it really implements.
NOT_IMPLEMENTED = {
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",  # read-only API
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/callback",  # synchronous only
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/coverage-datetime",  # rasters have no time axis
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/coverage-rangesubset",
}
ALSO_IMPLEMENTED = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
]


def conformance(api: API, request: APIRequest) -> tuple[dict, int, Any]:
    headers, status, content = core_api.conformance(api, request)
    if status == HTTPStatus.OK and request.format in (None, "json") and isinstance(content, (str, bytes)):
        doc = json.loads(content)
        classes = [c for c in doc.get("conformsTo", []) if c not in NOT_IMPLEMENTED]
        doc["conformsTo"] = sorted({*classes, *ALSO_IMPLEMENTED})
        content = json.dumps(doc)
    return headers, status, content


def routes(api: API) -> list[Route]:
    c = "collection_id"
    return [
        _route(api, "/", core_api.landing_page),
        _route(api, "/openapi", core_api.openapi_),
        _route(api, "/conformance", conformance),
        _route(api, "/TileMatrixSets", tiles_api.tilematrixsets),
        _route(api, "/TileMatrixSets/{tms}", tiles_api.tilematrixset, ("tms",)),
        _route(api, "/collections", core_api.describe_collections),
        _route(api, "/collections/{collection_id}", core_api.describe_collections, (c,)),
        _route(api, "/collections/{collection_id}/schema", core_api.get_collection_schema, (c,)),
        _route(api, "/collections/{collection_id}/queryables", itemtypes_api.get_collection_queryables, (c,)),
        _route(api, "/collections/{collection_id}/items", itemtypes_api.get_collection_items, (c,),
               skip_valid_check=True, methods=("GET", "POST")),
        _route(api, "/collections/{collection_id}/items/{item_id}", itemtypes_api.get_collection_item, (c, "item_id")),
        _route(api, "/collections/{collection_id}/tiles", tiles_api.get_collection_tiles, (c,)),
        _route(api, "/collections/{collection_id}/tiles/{tms}", tiles_api.get_collection_tiles_metadata, (c, "tms"),
               skip_valid_check=True),
        _route(api, "/collections/{collection_id}/tiles/{tms}/metadata", tiles_api.get_collection_tiles_metadata,
               (c, "tms"), skip_valid_check=True),
        tile_cache.cached(api, _route(api, "/collections/{collection_id}/tiles/{tms}/{z}/{row}/{col}",
                                      tile_cache.with_etag(tiles_api.get_collection_tiles_data),
                                      (c, "tms", "z", "row", "col"), skip_valid_check=True)),
        _route(api, "/collections/{collection_id}/coverage", coverages_api.get_collection_coverage, (c,),
               skip_valid_check=True),
        _route(api, "/processes", processes_api.describe_processes),
        _route(api, "/processes/{process_id}", processes_api.describe_processes, ("process_id",)),
        _route(api, "/processes/{process_id}/execution", processes_api.execute_process, ("process_id",),
               methods=("POST",)),
        _route(api, "/jobs", processes_api.get_jobs),
        _route(api, "/jobs/{job_id}", processes_api.get_jobs, ("job_id",)),
        _route(api, "/jobs/{job_id}/results", processes_api.get_job_result, ("job_id",)),
    ]  # fmt: skip


def make_api(config: dict[str, Any]) -> tuple[API, dict[str, Any]]:
    """A pygeoapi API object and its OpenAPI document, both from one config dict."""
    openapi = get_oas(config, fail_on_invalid_collection=False)
    return API(config, openapi, {}), openapi


def ogc_app(api: API) -> Starlette:
    return Starlette(debug=False, routes=routes(api))
