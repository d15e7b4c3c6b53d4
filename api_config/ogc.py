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
from pygeoapi.api import API, APIRequest, apply_gzip, validate_bbox
from pygeoapi.formats import FORMAT_TYPES
from pygeoapi.openapi import get_oas
from pygeoapi.util import get_choice_from_headers
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from api_config import tile_cache
from api_config.errors import bando_error_handler, problem, unavailable_is_503
from bando.errors import BandoError

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


MAX_DESCRIPTION = 300


def _short_error(content: Any) -> Any:
    """pygeoapi echoes a refused value whole ("CRS '<10 KB of it>' not supported"): keep the
    description of an error short, whatever the client sent."""
    if not isinstance(content, (str, bytes)) or len(content) <= MAX_DESCRIPTION + 200:
        return content
    try:
        doc = json.loads(content)
    except ValueError:
        return content
    if isinstance(doc, dict) and isinstance(doc.get("description"), str) and len(doc["description"]) > MAX_DESCRIPTION:
        doc["description"] = doc["description"][:MAX_DESCRIPTION] + "…"
        return json.dumps(doc)
    return content


def _body_problem(body: bytes) -> str | None:
    """pygeoapi answers some malformed JSON bodies with a 500 (invalid UTF-8, ``null``, nesting
    deep enough to exhaust recursion): name the problem before it is involved."""
    if not body:
        return None
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return "the request body is not valid UTF-8"
    except (ValueError, RecursionError):
        return "the request body is not valid JSON (or is nested too deeply)"
    return None if isinstance(doc, dict) else "the request body must be a JSON object"


def _restricted_params(api: API, collection_id: str, names: Any) -> list[str]:
    """Query parameters naming a field this view does not publish: refused, not silently ignored,
    so a restricted field cannot even be tried as a filter (SECURITY.md)."""
    resource = api.config.get("resources", {}).get(collection_id)
    for provider in resource.get("providers", []) if isinstance(resource, dict) else []:
        data = provider.get("data")
        if provider.get("type") == "feature" and isinstance(data, dict) and "layer" in data:
            if data.get("view", "public") != "public":
                return []
            from api_config.runtime import get_runtime

            hidden = {f.name for f in get_runtime().layer(data["layer"]).fields if not f.public}
            return sorted(hidden.intersection(names))
    return []


def _known_tile_matrix_set(handler: Handler) -> Handler:
    """pygeoapi's tile-set metadata handler turns a provider's refusal of an unknown tile matrix
    set into a 500; answer 404 first."""

    def metadata(api: API, request: APIRequest, dataset: str, tms: str) -> tuple[dict, int, Any]:
        from api_config.tiles_sql import TMS_SRID

        if tms not in TMS_SRID:
            headers = request.get_response_headers(**api.api_headers)
            return api.get_exception(HTTPStatus.NOT_FOUND, headers, request.format, "NotFound",
                                     f"no tile matrix set {tms[:40]!r}; use {' or '.join(TMS_SRID)}")  # fmt: skip
        return handler(api, request, dataset, tms)

    return metadata


def _bad_request(api: API, request: APIRequest, description: str) -> tuple[dict, int, Any]:
    headers = request.get_response_headers(**api.api_headers)
    return api.get_exception(HTTPStatus.BAD_REQUEST, headers, request.format, "InvalidParameterValue", description)


def _valid_bbox(handler: Handler) -> Handler:
    """pygeoapi's coverage handler answers an invalid bbox with a 500, and with f=html its page lacks the
    code :func:`_client_error_status` recognises: check the bbox first, whatever the format."""

    def coverage(api: API, request: APIRequest, dataset: str) -> tuple[dict, int, Any]:
        try:
            validate_bbox(request.params.get("bbox"))
        except ValueError as err:
            return _bad_request(api, request, f"invalid bbox: {str(err)[:100]}")
        return handler(api, request, dataset)

    return coverage


def _asks_for_csv(request: APIRequest) -> bool:
    """Whether pygeoapi's negotiation for items picks CSV: f=csv, or text/csv first among offered types."""
    if f := (request.params.get("f") or "").strip():
        return f == "csv"
    offered = {mime.split(";")[0]: fmt for fmt, mime in (FORMAT_TYPES | {"csv": "text/csv"}).items()}
    accepted = get_choice_from_headers(request.get_request_headers(request.headers), "accept", all=True) or []
    return next((offered[t] for t in accepted if t in offered), None) == "csv"


def _records_not_as_csv(handler: Handler) -> Handler:
    """pygeoapi documents CSV for every items path, but writing a records collection as CSV fails (500):
    its CSV writer needs a feature provider. Refuse it first."""

    def items(api: API, request: APIRequest, dataset: str) -> tuple[dict, int, Any]:
        providers = api.config.get("resources", {}).get(dataset, {}).get("providers", [])
        if any(p.get("type") == "record" for p in providers) and _asks_for_csv(request):
            return _bad_request(api, request, f"{dataset[:40]} is offered as json, jsonld or html; CSV is for features")
        return handler(api, request, dataset)

    return items


def _subscriber_is_an_object(handler: Handler) -> Handler:
    """pygeoapi reads a non-empty ``subscriber`` as an object: any other JSON value is a 500. Refuse it first."""

    def execute(api: API, request: APIRequest, process_id: str) -> tuple[dict, int, Any]:
        subscriber = json.loads(request.data).get("subscriber") if request.data else None
        if subscriber and not isinstance(subscriber, dict):
            return _bad_request(api, request, "subscriber must be an object with a successUri")
        return handler(api, request, process_id)

    return execute


def _route(api: API, path: str, handler: Handler, params: tuple[str, ...] = (), *,
           skip_valid_check: bool = False, methods: tuple[str, ...] = ("GET",),
           extra: tuple[Any, ...] = ()) -> Route:  # fmt: skip
    async def endpoint(request: Request) -> Response:
        args = [*extra, *(request.path_params[p] for p in params)]
        if request.method == "POST" and (problem_text := _body_problem(await request.body())):
            return problem(400, "InvalidParameterValue", problem_text)
        if path.endswith("/items") and (hidden := _restricted_params(api, request.path_params["collection_id"],
                                                                      request.query_params.keys())):  # fmt: skip
            return problem(400, "InvalidParameterValue", f"{', '.join(hidden)} is not a public field and cannot be queried")
        api_request = await APIRequest.from_starlette(request, api.locales)
        if not skip_valid_check and not api_request.is_valid():
            headers, status, content = api.get_format_exception(api_request)
        else:
            loop = asyncio.get_running_loop()
            headers, status, content = await loop.run_in_executor(None, handler, api, api_request, *args)
            status = _client_error_status(status, content)
            if status >= HTTPStatus.BAD_REQUEST:
                content = _short_error(content)
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
        _route(api, "/collections/{collection_id}/items", _records_not_as_csv(itemtypes_api.get_collection_items), (c,),
               skip_valid_check=True, methods=("GET", "POST")),
        _route(api, "/collections/{collection_id}/items/{item_id}", itemtypes_api.get_collection_item, (c, "item_id")),
        _route(api, "/collections/{collection_id}/tiles", tiles_api.get_collection_tiles, (c,)),
        _route(api, "/collections/{collection_id}/tiles/{tms}", _known_tile_matrix_set(tiles_api.get_collection_tiles_metadata),
               (c, "tms"), skip_valid_check=True),
        _route(api, "/collections/{collection_id}/tiles/{tms}/metadata",
               _known_tile_matrix_set(tiles_api.get_collection_tiles_metadata), (c, "tms"), skip_valid_check=True),
        tile_cache.cached(api, _route(api, "/collections/{collection_id}/tiles/{tms}/{z}/{row}/{col}",
                                      tile_cache.with_etag(tiles_api.get_collection_tiles_data),
                                      (c, "tms", "z", "row", "col"), skip_valid_check=True)),
        _route(api, "/collections/{collection_id}/coverage", _valid_bbox(coverages_api.get_collection_coverage), (c,),
               skip_valid_check=True),
        _route(api, "/processes", processes_api.describe_processes),
        _route(api, "/processes/{process_id}", processes_api.describe_processes, ("process_id",)),
        _route(api, "/processes/{process_id}/execution",
               unavailable_is_503(_subscriber_is_an_object(processes_api.execute_process)), ("process_id",),
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
    return Starlette(debug=False, routes=routes(api), exception_handlers={BandoError: bando_error_handler})
