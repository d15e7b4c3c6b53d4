"""An OGC API (pygeoapi) as a Starlette app bound to one configuration.

pygeoapi's own ``starlette_app`` module builds a single global API from environment
variables at import time, in debug mode. bando needs two views (public, internal) in
one process and must never run in debug, so it keeps pygeoapi's request handling —
the public ``pygeoapi.api.*`` functions and ``APIRequest`` — and supplies the routing
itself: a table of read-only routes, each calling the handler on *this* API object.
"""

from __future__ import annotations

import json
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
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import bando.api_config.pygeoapi_seam.handlers as fix
from bando.api_config import dcat, downloads, logs, tile_cache
from bando.api_config.config import STATIC
from bando.api_config.cql import too_many_vertices
from bando.api_config.errors import bando_error_handler, problem, response_for
from bando.api_config.gate import Gate
from bando.api_config.pygeoapi_seam.handlers import Handler
from bando.api_config.pygeoapi_seam.openapi import complete
from bando.crs import epsg_uri
from bando.errors import BandoError
from bando.layers.tables import VERSION_COLUMNS


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


#: Query parameters of items that are not properties (pygeoapi's list, but ``q``: bando's features
#: offer no free-text search, and a silently ignored ``q`` answers every feature).
ITEMS_PARAMS = frozenset(
    {
        "bbox", "bbox-crs", "crs", "f", "lang", "limit", "offset", "resulttype", "datetime", "sortby",
        "properties", "skipGeometry", "filter", "filter-lang", "filter-crs",
    }
)  # fmt: skip


def _feature_layer(api: API, collection_id: str) -> tuple[Any, str] | None:
    """(layer, view) of a collection served by bando's features provider, else None."""
    resource = api.config.get("resources", {}).get(collection_id)
    for provider in resource.get("providers", []) if isinstance(resource, dict) else []:
        data = provider.get("data")
        if provider.get("type") == "feature" and isinstance(data, dict) and "layer" in data:
            from bando.api_config.runtime import get_runtime

            return get_runtime().layer(data["layer"]), str(data.get("view", "public"))
    return None


def _unknown_params(api: API, collection_id: str, names: Any) -> list[str]:
    """Items parameters that are neither standard nor a queryable of the collection: Features Part 1
    answers them 400 (ignoring ``q=D4`` would answer every road as if it had matched)."""
    found = _feature_layer(api, collection_id)
    if found is None:
        return []
    layer, view = found
    from bando.api_config.runtime import get_runtime

    fields = {f.name for f in get_runtime().fields(layer, view)} | (set(VERSION_COLUMNS) if layer.versioned else set())
    return sorted(set(names) - ITEMS_PARAMS - fields)


def queryable_titles(collection_id: str, language: str, api: API) -> dict[str, str]:
    """The catalogue's titles of a collection's fields, in ``language`` (vi or en)."""
    found = _feature_layer(api, collection_id)
    if found is None:
        return {}
    layer, _ = found
    titles = {f.name: (f.title.en if language == "en" else f.title.vi) for f in layer.fields}
    versions = {"version_id": ("Phiên bản", "Plan version"), "valid_from": ("Hiệu lực từ", "Valid from")}
    versions |= {"valid_to": ("Hiệu lực đến", "Valid to")}
    return titles | {k: (en if language == "en" else vi) for k, (vi, en) in versions.items()}


def _oversized_filter(request: Request, body: bytes) -> str | None:
    """A filter with a geometry over the vertex cap, refused before pygeoapi parses and reprojects it."""
    from bando.api_config.runtime import get_runtime

    cap = get_runtime().settings.max_vertices
    text = request.query_params.get("filter")
    if text is not None:
        if request.query_params.get("filter-lang") == "cql2-json":
            try:
                return too_many_vertices(json.loads(text), cap)
            except (ValueError, RecursionError):
                return None  # pygeoapi says what is wrong with it
        return too_many_vertices(text, cap)
    if request.method == "POST" and body:
        return too_many_vertices(json.loads(body), cap)  # valid JSON: body_problem has checked
    return None


def _route(
    api: API,
    gate: Gate,
    path: str,
    handler: Handler,
    params: tuple[str, ...] = (),
    *,
    skip_valid_check: bool = False,
    methods: tuple[str, ...] = ("GET",),
    extra: tuple[Any, ...] = (),
) -> Route:
    async def answer(request: Request) -> Response:
        args = [*extra, *(request.path_params[p] for p in params)]
        if request.method == "POST" and (problem_text := fix.body_problem(await request.body())):
            return problem(400, "InvalidParameterValue", problem_text)
        if path.endswith("/items") and (
            hidden := _restricted_params(api, request.path_params["collection_id"], request.query_params.keys())
        ):
            return problem(
                400, "InvalidParameterValue", f"{', '.join(hidden)} is not a public field and cannot be queried"
            )
        if path.endswith("/items") and (
            unknown := _unknown_params(api, request.path_params["collection_id"], request.query_params.keys())
        ):
            return problem(
                400,
                "InvalidParameterValue",
                f"unknown parameter {', '.join(n[:40] for n in unknown[:5])}: the items take the standard "
                "parameters and the collection's queryables (see its /queryables)",
            )
        if path.endswith("/items") and (too_big := _oversized_filter(request, await request.body())):
            return problem(400, "InvalidParameterValue", too_big)
        api_request = await APIRequest.from_starlette(request, api.locales)
        if not skip_valid_check and not api_request.is_valid():
            headers, status, content = api.get_format_exception(api_request)
        else:
            headers, status, content = await gate.run(handler, api, api_request, *args)  # the view's own workers
            if status >= HTTPStatus.BAD_REQUEST:
                content = fix.short_error(content)
            if status != HTTPStatus.NO_CONTENT:
                content = apply_gzip(headers, content)
        if "/items" in path and str(headers.get("Content-Type", "")).startswith("application/json") and status < 400:
            headers["Content-Type"] = GEOJSON
        return _response(headers, status, content)

    async def endpoint(request: Request) -> Response:
        try:
            response = await answer(request)
        except BandoError as exc:  # e.g. every worker of this view is busy
            response = response_for(exc, request.scope)
        if response.status_code >= HTTPStatus.BAD_REQUEST:
            body = await request.body() if request.method == "POST" else b""
            collection = request.path_params.get("collection_id")
            known = collection if collection in api.config.get("resources", {}) else None
            logs.refused(request.scope, path, response.status_code, body, known)
        return response

    return Route(path, endpoint, methods=list(methods))


GEOJSON = "application/geo+json"


async def not_found(request: Request, exc: Exception) -> Response:
    """Any path the view does not have: a JSON problem, as for every other error."""
    return problem(404, "NotFound", "no such resource: see the landing page and /collections")


def coverage_crs(api: API, collection_id: str) -> tuple[list[str], str] | None:
    """(output CRSs, storage CRS) of a collection served by bando's coverage provider, else None: a
    coverage is served in its storage CRS only (``bbox-crs`` takes more, but that is the request's)."""
    resource = api.config.get("resources", {}).get(collection_id)
    for provider in resource.get("providers", []) if isinstance(resource, dict) else []:
        data = provider.get("data")
        if provider.get("type") == "coverage" and isinstance(data, dict) and "layer" in data:
            from bando.api_config.runtime import get_runtime

            runtime = get_runtime()
            srid = runtime.srid(runtime.catalogue.layers[data["layer"]])
            return [epsg_uri(srid)], epsg_uri(srid)
    return None


def routes(api: API, gate: Gate) -> list[Route]:
    c = "collection_id"

    def crs_of(collection_id: str) -> tuple[list[str], str] | None:
        return coverage_crs(api, collection_id)

    return [
        _route(api, gate, "/", core_api.landing_page),
        _route(api, gate, "/openapi", core_api.openapi_),
        _route(api, gate, "/conformance", fix.conformance),
        _route(api, gate, "/TileMatrixSets", tiles_api.tilematrixsets),
        _route(api, gate, "/TileMatrixSets/{tms}", tiles_api.tilematrixset, ("tms",)),
        _route(api, gate, "/collections", fix.coverage_crs(core_api.describe_collections, crs_of)),
        _route(
            api, gate, "/collections/{collection_id}", fix.coverage_crs(core_api.describe_collections, crs_of), (c,)
        ),
        _route(api, gate, "/collections/{collection_id}/schema", core_api.get_collection_schema, (c,)),
        _route(
            api,
            gate,
            "/collections/{collection_id}/queryables",
            fix.titled_queryables(
                itemtypes_api.get_collection_queryables, lambda cid, lang: queryable_titles(cid, lang, api)
            ),
            (c,),
        ),
        _route(
            api,
            gate,
            "/collections/{collection_id}/items",
            fix.cql2_json_by_get(fix.records_not_as_csv(itemtypes_api.get_collection_items)),
            (c,),
            skip_valid_check=True,
            methods=("GET", "POST"),
        ),
        _route(
            api, gate, "/collections/{collection_id}/items/{item_id}", itemtypes_api.get_collection_item, (c, "item_id")
        ),
        _route(api, gate, "/collections/{collection_id}/tiles", tiles_api.get_collection_tiles, (c,)),
        _route(
            api,
            gate,
            "/collections/{collection_id}/tiles/{tms}",
            fix.tilejson_type(tiles_api.get_collection_tiles_metadata),
            (c, "tms"),
            skip_valid_check=True,
        ),
        _route(
            api,
            gate,
            "/collections/{collection_id}/tiles/{tms}/metadata",
            fix.tilejson_type(tiles_api.get_collection_tiles_metadata),
            (c, "tms"),
            skip_valid_check=True,
        ),
        tile_cache.cached(
            api,
            _route(
                api,
                gate,
                "/collections/{collection_id}/tiles/{tms}/{z}/{row}/{col}",
                tile_cache.with_etag(tiles_api.get_collection_tiles_data),
                (c, "tms", "z", "row", "col"),
                skip_valid_check=True,
            ),
            gate,
        ),
        _route(
            api,
            gate,
            "/collections/{collection_id}/coverage",
            fix.valid_bbox(fix.tiff_by_accept(coverages_api.get_collection_coverage)),
            (c,),
            skip_valid_check=True,
        ),
        _route(api, gate, "/processes", processes_api.describe_processes),
        _route(api, gate, "/processes/{process_id}", processes_api.describe_processes, ("process_id",)),
        _route(
            api,
            gate,
            "/processes/{process_id}/execution",
            fix.unavailable_is_503(fix.no_subscriber(processes_api.execute_process)),
            ("process_id",),
            methods=("POST",),
        ),
        _route(api, gate, "/jobs", processes_api.get_jobs),
        _route(api, gate, "/jobs/{job_id}", processes_api.get_jobs, ("job_id",)),
        _route(api, gate, "/jobs/{job_id}/results", processes_api.get_job_result, ("job_id",)),
    ]


def make_api(config: dict[str, Any]) -> tuple[API, dict[str, Any]]:
    """A pygeoapi API object and its OpenAPI document, both from one config dict.

    pygeoapi's TileMatrixSets pages look for the template folder at the configuration's top
    level (they pass the whole configuration where the others pass ``server.templates``):
    it is put there too, so those pages use bando's templates as well."""
    templates = config.get("server", {}).get("templates")
    if isinstance(templates, dict) and "path" in templates:
        config = {**config, "path": templates["path"]}
    resources = config.get("resources", {})
    openapi = complete(get_oas(config, fail_on_invalid_collection=False), resources, _view(config) == "public")
    return API(config, openapi, {}), openapi


def view_of(api: API) -> str:
    """The view an API object was configured for (its providers say so)."""
    return _view(api.config)


def _view(config: dict[str, Any]) -> str:
    for resource in config.get("resources", {}).values():
        for provider in resource.get("providers", []) if isinstance(resource, dict) else []:
            data = provider.get("data")
            if isinstance(data, dict) and "view" in data:
                return str(data["view"])
    return "public"


def ogc_app(api: API, gate: Gate | None = None) -> Starlette:
    """One view as an app; its handlers run on ``gate``'s workers (by default, its view's)."""
    if gate is None:
        from bando.api_config.runtime import get_runtime

        gate = get_runtime().gate(view_of(api))
    extra: list[Route] = []
    if view_of(api) == "public":  # open data: the public view lists and serves the downloads
        from bando.api_config.caching import feature_layers
        from bando.api_config.runtime import get_runtime

        base = str(api.config["server"]["url"]).rstrip("/")
        bboxes = {
            cid: r["extents"]["spatial"]["bbox"]
            for cid, r in api.config.get("resources", {}).items()
            if isinstance(r, dict) and r.get("type") == "collection" and "extents" in r
        }
        extra = [
            *downloads.routes(get_runtime().settings, feature_layers(api.config), base),
            *dcat.routes(base, bboxes),
        ]
    static = Mount("/static", app=StaticFiles(directory=STATIC), name="static")  # the pages' own CSS and JS
    return Starlette(
        debug=False,
        routes=[*routes(api, gate), *extra, static],
        exception_handlers={BandoError: bando_error_handler, 404: not_found},
    )
