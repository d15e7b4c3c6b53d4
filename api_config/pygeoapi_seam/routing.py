"""An OGC API (pygeoapi) as a Starlette app bound to one configuration.

pygeoapi's own ``starlette_app`` module builds a single global API from environment
variables at import time, in debug mode. bando needs two views (public, internal) in
one process and must never run in debug, so it keeps pygeoapi's request handling —
the public ``pygeoapi.api.*`` functions and ``APIRequest`` — and supplies the routing
itself: a table of read-only routes, each calling the handler on *this* API object.
"""

from __future__ import annotations

import asyncio
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

import bando.api_config.pygeoapi_seam.handlers as fix
from bando.api_config import tile_cache
from bando.api_config.errors import bando_error_handler, problem
from bando.api_config.pygeoapi_seam.handlers import Handler
from bando.errors import BandoError


def _response(headers: dict, status: int, content: Any) -> Response:
    if headers.get("Content-Type") == "text/html":
        response: Response = HTMLResponse(content=content, status_code=status)
    elif isinstance(content, dict):
        response = JSONResponse(content, status_code=status)
    else:
        response = Response(content, status_code=status)
    response.headers.update(headers)
    return response


def _restricted_params(api: API, collection_id: str, names: Any) -> list[str]:
    """Query parameters naming a field this view does not publish: refused, not silently ignored,
    so a restricted field cannot even be tried as a filter (SECURITY.md)."""
    resource = api.config.get("resources", {}).get(collection_id)
    for provider in resource.get("providers", []) if isinstance(resource, dict) else []:
        data = provider.get("data")
        if provider.get("type") == "feature" and isinstance(data, dict) and "layer" in data:
            if data.get("view", "public") != "public":
                return []
            from bando.api_config.runtime import get_runtime

            hidden = {f.name for f in get_runtime().layer(data["layer"]).fields if not f.public}
            return sorted(hidden.intersection(names))
    return []


def _route(
    api: API,
    path: str,
    handler: Handler,
    params: tuple[str, ...] = (),
    *,
    skip_valid_check: bool = False,
    methods: tuple[str, ...] = ("GET",),
    extra: tuple[Any, ...] = (),
) -> Route:
    async def endpoint(request: Request) -> Response:
        args = [*extra, *(request.path_params[p] for p in params)]
        if request.method == "POST" and (problem_text := fix.body_problem(await request.body())):
            return problem(400, "InvalidParameterValue", problem_text)
        if path.endswith("/items") and (
            hidden := _restricted_params(api, request.path_params["collection_id"], request.query_params.keys())
        ):
            return problem(
                400, "InvalidParameterValue", f"{', '.join(hidden)} is not a public field and cannot be queried"
            )
        api_request = await APIRequest.from_starlette(request, api.locales)
        if not skip_valid_check and not api_request.is_valid():
            headers, status, content = api.get_format_exception(api_request)
        else:
            loop = asyncio.get_running_loop()
            headers, status, content = await loop.run_in_executor(None, handler, api, api_request, *args)
            if status >= HTTPStatus.BAD_REQUEST:
                content = fix.short_error(content)
            if status != HTTPStatus.NO_CONTENT:
                content = apply_gzip(headers, content)
        return _response(headers, status, content)

    return Route(path, endpoint, methods=list(methods))


def routes(api: API) -> list[Route]:
    c = "collection_id"
    return [
        _route(api, "/", core_api.landing_page),
        _route(api, "/openapi", core_api.openapi_),
        _route(api, "/conformance", fix.conformance),
        _route(api, "/TileMatrixSets", tiles_api.tilematrixsets),
        _route(api, "/TileMatrixSets/{tms}", tiles_api.tilematrixset, ("tms",)),
        _route(api, "/collections", core_api.describe_collections),
        _route(api, "/collections/{collection_id}", core_api.describe_collections, (c,)),
        _route(api, "/collections/{collection_id}/schema", core_api.get_collection_schema, (c,)),
        _route(api, "/collections/{collection_id}/queryables", itemtypes_api.get_collection_queryables, (c,)),
        _route(
            api,
            "/collections/{collection_id}/items",
            fix.records_not_as_csv(itemtypes_api.get_collection_items),
            (c,),
            skip_valid_check=True,
            methods=("GET", "POST"),
        ),
        _route(api, "/collections/{collection_id}/items/{item_id}", itemtypes_api.get_collection_item, (c, "item_id")),
        _route(api, "/collections/{collection_id}/tiles", tiles_api.get_collection_tiles, (c,)),
        _route(
            api,
            "/collections/{collection_id}/tiles/{tms}",
            tiles_api.get_collection_tiles_metadata,
            (c, "tms"),
            skip_valid_check=True,
        ),
        _route(
            api,
            "/collections/{collection_id}/tiles/{tms}/metadata",
            tiles_api.get_collection_tiles_metadata,
            (c, "tms"),
            skip_valid_check=True,
        ),
        tile_cache.cached(
            api,
            _route(
                api,
                "/collections/{collection_id}/tiles/{tms}/{z}/{row}/{col}",
                tile_cache.with_etag(tiles_api.get_collection_tiles_data),
                (c, "tms", "z", "row", "col"),
                skip_valid_check=True,
            ),
        ),
        _route(
            api,
            "/collections/{collection_id}/coverage",
            fix.valid_bbox(coverages_api.get_collection_coverage),
            (c,),
            skip_valid_check=True,
        ),
        _route(api, "/processes", processes_api.describe_processes),
        _route(api, "/processes/{process_id}", processes_api.describe_processes, ("process_id",)),
        _route(
            api,
            "/processes/{process_id}/execution",
            fix.unavailable_is_503(fix.subscriber_is_an_object(processes_api.execute_process)),
            ("process_id",),
            methods=("POST",),
        ),
        _route(api, "/jobs", processes_api.get_jobs),
        _route(api, "/jobs/{job_id}", processes_api.get_jobs, ("job_id",)),
        _route(api, "/jobs/{job_id}/results", processes_api.get_job_result, ("job_id",)),
    ]


def make_api(config: dict[str, Any]) -> tuple[API, dict[str, Any]]:
    """A pygeoapi API object and its OpenAPI document, both from one config dict."""
    openapi = get_oas(config, fail_on_invalid_collection=False)
    return API(config, openapi, {}), openapi


def ogc_app(api: API) -> Starlette:
    return Starlette(debug=False, routes=routes(api), exception_handlers={BandoError: bando_error_handler})
