"""Handler wrappers for pygeoapi 0.24's request handlers: each mends one upstream behaviour.

Every wrapper takes a ``pygeoapi.api.*`` handler (``(api, request, *args) -> (headers,
status, content)``) and returns one with the same contract; the routing table applies
them. The package docstring lists them with the upstream behaviour each works around.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pygeoapi.api as core_api
from pygeoapi.api import API, APIRequest, validate_bbox
from pygeoapi.formats import FORMAT_TYPES
from pygeoapi.provider.base import ProviderGenericError, ProviderInvalidQueryError, ProviderItemNotFoundError
from pygeoapi.util import get_choice_from_headers, to_json

from bando.errors import DB_UNAVAILABLE, BadInput, BandoError, NotFound, Unavailable

Handler = Callable[..., tuple[dict, int, Any]]


class ServiceUnavailable(ProviderGenericError):
    ogc_exception_code = "ServiceUnavailable"
    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    default_msg = DB_UNAVAILABLE


def to_provider_error(exc: BandoError) -> ProviderGenericError:
    """One mapping from bando's domain errors to pygeoapi's."""
    if isinstance(exc, BadInput):
        return ProviderInvalidQueryError(user_msg=str(exc))
    if isinstance(exc, NotFound):
        return ProviderItemNotFoundError(user_msg=str(exc))
    if isinstance(exc, Unavailable):
        return ServiceUnavailable(user_msg=str(exc))
    return ProviderGenericError(user_msg="the request could not be answered")


_unavailable = threading.local()


def note_unavailable() -> None:
    """A process met an unreachable database. pygeoapi turns every exception a process raises
    into a failed job (HTTP 400); :func:`unavailable_is_503` makes the answer a 503 instead."""
    _unavailable.seen = True


def note_not_found() -> None:
    """A process was asked about something that does not exist (a parcel): 404, not 400."""
    _unavailable.not_found = True


def unavailable_is_503(handler: Callable[..., tuple[dict, int, Any]]) -> Callable[..., tuple[dict, int, Any]]:
    """Wrap a pygeoapi handler run in a worker thread: a noted outage is answered 503 with
    Retry-After (a client retries a 503; a 400 tells it the request itself is wrong), and a
    noted missing subject 404 with pygeoapi's message."""

    def wrapped(api: Any, request: Any, *args: Any) -> tuple[dict, int, Any]:
        _unavailable.seen = False
        _unavailable.not_found = False
        headers, status, content = handler(api, request, *args)
        if getattr(_unavailable, "not_found", False) and status == HTTPStatus.BAD_REQUEST:
            _unavailable.not_found = False
            status = HTTPStatus.NOT_FOUND
        if getattr(_unavailable, "seen", False):
            _unavailable.seen = False
            headers, status, content = api.get_exception(
                HTTPStatus.SERVICE_UNAVAILABLE, headers, request.format, "ServiceUnavailable", DB_UNAVAILABLE
            )
            headers["Retry-After"] = "2"
        return headers, status, content

    return wrapped


MAX_DESCRIPTION = 300


def short_error(content: Any) -> Any:
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


def body_problem(body: bytes) -> str | None:
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


def bad_request(api: API, request: APIRequest, description: str) -> tuple[dict, int, Any]:
    headers = request.get_response_headers(**api.api_headers)
    return api.get_exception(HTTPStatus.BAD_REQUEST, headers, request.format, "InvalidParameterValue", description)


def valid_bbox(handler: Handler) -> Handler:
    """pygeoapi's coverage handler answers an invalid bbox with a 500: check the bbox first, whatever the format."""

    def coverage(api: API, request: APIRequest, dataset: str) -> tuple[dict, int, Any]:
        try:
            validate_bbox(request.params.get("bbox"))
        except ValueError as err:
            return bad_request(api, request, f"invalid bbox: {str(err)[:100]}")
        return handler(api, request, dataset)

    return coverage


def asks_for_csv(request: APIRequest) -> bool:
    """Whether pygeoapi's negotiation for items picks CSV: f=csv, or text/csv first among offered types."""
    if f := (request.params.get("f") or "").strip():
        return f == "csv"
    offered = {mime.split(";")[0]: fmt for fmt, mime in (FORMAT_TYPES | {"csv": "text/csv"}).items()}
    accepted = get_choice_from_headers(request.get_request_headers(request.headers), "accept", all=True) or []
    return next((offered[t] for t in accepted if t in offered), None) == "csv"


def records_not_as_csv(handler: Handler) -> Handler:
    """pygeoapi documents CSV for every items path, but writing a records collection as CSV fails (500):
    its CSV writer needs a feature provider. Refuse it first."""

    def items(api: API, request: APIRequest, dataset: str) -> tuple[dict, int, Any]:
        providers = api.config.get("resources", {}).get(dataset, {}).get("providers", [])
        if any(p.get("type") == "record" for p in providers) and asks_for_csv(request):
            return bad_request(api, request, f"{dataset[:40]} is offered as json, jsonld or html; CSV is for features")
        return handler(api, request, dataset)

    return items


def no_subscriber(handler: Handler) -> Handler:
    """pygeoapi reads a non-empty ``subscriber`` as an object (any other JSON value is a 500) and hands
    an object to its job manager, whose ``Dummy`` manager (synchronous, no job store) has no processor
    for it (a plain-text 500). bando answers synchronously and offers no callbacks: refuse it first."""

    def execute(api: API, request: APIRequest, process_id: str) -> tuple[dict, int, Any]:
        subscriber = json.loads(request.data).get("subscriber") if request.data else None
        if subscriber is not None:
            return bad_request(
                api, request, "subscriber (callbacks) is not offered: processes answer synchronously; leave it out"
            )
        return handler(api, request, process_id)

    return execute


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


def cql2_json_by_get(handler: Handler) -> Handler:
    """pygeoapi parses a ``filter`` query parameter as CQL2 text whatever ``filter-lang`` says
    ("Bad CQL text" for ``filter-lang=cql2-json``), and reads CQL2 JSON from a body only: hand
    it the parameter as the body it expects."""

    def items(api: API, request: APIRequest, dataset: str) -> tuple[dict, int, Any]:
        params = request.params
        if params.get("filter-lang") == "cql2-json" and params.get("filter") is not None and not request.data:
            request._data = str(params["filter"]).encode("utf-8")
            request._args = {k: v for k, v in params.items() if k != "filter"}
        return handler(api, request, dataset)

    return items


def titled_queryables(handler: Handler, titles: Callable[[str, str], dict[str, str]]) -> Handler:
    """pygeoapi titles each queryable with its name ("maXa"); the provider's fields carry the
    catalogue's titles: put them in (``titles(collection, language)`` → name → title)."""

    def queryables(api: API, request: APIRequest, dataset: str) -> tuple[dict, int, Any]:
        headers, status, content = handler(api, request, dataset)
        if status != HTTPStatus.OK or request.format not in (None, "json") or not isinstance(content, (str, bytes)):
            return headers, status, content
        doc = json.loads(content)
        named = titles(dataset, "en" if str(request.locale).startswith("en") else "vi")
        for name, schema in doc.get("properties", {}).items():
            if name in named and isinstance(schema, dict):
                schema["title"] = named[name]
        return headers, status, json.dumps(doc, ensure_ascii=False)

    return queryables


def tiff_by_accept(handler: Handler) -> Handler:
    """pygeoapi negotiates a coverage's format from ``f`` or from its generic format table, which
    lacks GeoTIFF: ``Accept: image/tiff`` answered JSON. Without ``f``, the Accept header's
    preference for TIFF (before JSON) now chooses the coverage's native GeoTIFF."""

    def coverage(api: API, request: APIRequest, dataset: str) -> tuple[dict, int, Any]:
        if not (request.params.get("f") or "").strip():
            accepted = get_choice_from_headers(request.get_request_headers(request.headers), "accept", all=True) or []
            first = next((t for t in accepted if t in ("image/tiff", "application/json", "text/html")), None)
            if first == "image/tiff":
                request._format = "GTiff"
        return handler(api, request, dataset)

    return coverage


TILEJSON = "application/vnd.mapbox.tile+json"


def tilejson_type(handler: Handler) -> Handler:
    """OGC API Tiles serves a tile set's metadata as ``application/json`` (the OGC TileSet);
    its TileJSON alternative (``f=tilejson``) is a different document, which pygeoapi also labels
    ``application/json``: it now carries TileJSON's own type, the one its links announce."""

    def metadata(api: API, request: APIRequest, *args: Any) -> tuple[dict, int, Any]:
        headers, status, content = handler(api, request, *args)
        if status == HTTPStatus.OK and request.format == "tilejson":
            headers["Content-Type"] = TILEJSON
        return headers, status, content

    return metadata


def coverage_crs(handler: Handler, crs_of: Callable[[str], tuple[list[str], str] | None]) -> Handler:
    """pygeoapi lists ``crs`` and ``storageCrs`` for feature collections only; a coverage's
    collection now carries them too (``crs_of(collection id)`` → (supported, storage) or None)."""

    def collections(api: API, request: APIRequest, *args: Any) -> tuple[dict, int, Any]:
        headers, status, content = handler(api, request, *args)
        if status != HTTPStatus.OK or request.format != "json" or not isinstance(content, str):
            return headers, status, content
        doc = json.loads(content)
        changed = False
        for collection in doc.get("collections", [doc]):
            found = crs_of(str(collection.get("id", "")))
            if found is not None:
                collection["crs"], collection["storageCrs"] = found
                changed = True
        return headers, status, to_json(doc, api.pretty_print) if changed else content

    return collections
