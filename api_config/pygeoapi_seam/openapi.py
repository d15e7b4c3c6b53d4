"""A complete, self-contained OpenAPI document from the one pygeoapi 0.24 writes.

pygeoapi's document references parameters, responses and schemas of the OGC standards by
absolute URL (schemas.opengis.net, and branches on raw.githubusercontent.com), so it cannot be
read on a closed network; it leaves out ``filter``, ``filter-lang``, ``filter-crs`` and
``datetime`` on items, the TileMatrixSets, tile metadata and jobs paths; it tags EDR, Maps and
STAC, which bando does not serve; and it gives pygeoapi's version as the API's. :func:`complete`
replaces every absolute reference by a definition under ``#/components``, adds what is missing
(with bando's downloads and DCAT catalogue), keeps only the tags that operations use, and sets
bando's version. A reference it does not know raises: an upgrade that documents something new
is noticed here, not by a client.
"""

from __future__ import annotations

import copy
from importlib.metadata import version
from typing import Any

from bando.errors import SetupError

FEATURES = "https://schemas.opengis.net/ogcapi/features/part1/1.0/openapi/ogcapi-features-1.yaml"
TILES = "https://schemas.opengis.net/ogcapi/tiles/part1/1.0/openapi/ogcapi-tiles-1.yaml"
PROCESSES = "https://schemas.opengis.net/ogcapi/processes/part1/1.0/openapi"
RECORDS = "https://raw.githubusercontent.com/opengeospatial/ogcapi-records/master/core/openapi/parameters"
COVERAGES = (
    "https://raw.githubusercontent.com/opengeospatial/ogcapi-coverages/refs/heads/master/standard/openapi/"
    "ogcapi-coverages-1.yaml"
)
CQL2 = "https://schemas.opengis.net/cql2/1.0/cql2.json"
TILE_MATRIX_SETS = ["WebMercatorQuad", "WorldCRS84Quad"]

_EXCEPTION = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "description": {"type": "string"}, "type": {"type": "string"}},
}
_LINK = {
    "type": "object",
    "required": ["href"],
    "properties": {
        "href": {"type": "string"},
        "rel": {"type": "string"},
        "type": {"type": "string"},
        "title": {"type": "string"},
        "length": {"type": "integer"},
    },
}


def _json(description: str, schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out = {"name": name, "in": "query", "required": False, "style": "form", "explode": False, "schema": schema}
    return out | ({"description": description} if description else {})


def _array(name: str, items: dict[str, Any], description: str = "") -> dict[str, Any]:
    return _query(name, {"type": "array", "items": items}, description)


_FEATURES = {"type": "object", "required": ["type", "features"], "properties": {"type": {"type": "string"}}}
_OBJECT = {"type": "object"}
#: Local component (kind, name, definition) for each absolute reference pygeoapi 0.24 writes.
DEFINITIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    f"{FEATURES}#/components/parameters/datetime": (
        "parameters",
        "datetime",
        _query("datetime", {"type": "string"}, "an instant or an interval (RFC 3339), '..' for an open end"),
    ),
    f"{FEATURES}#/components/parameters/featureId": ("parameters", "featureId", _path("featureId", {"type": "string"})),
    f"{FEATURES}#/components/responses/Collection": ("responses", "Collection", _json("a collection", _OBJECT)),
    f"{FEATURES}#/components/responses/Feature": (
        "responses",
        "Feature",
        _json("a feature", _OBJECT, "application/geo+json"),
    ),
    f"{FEATURES}#/components/responses/Features": (
        "responses",
        "Features",
        _json("a page of features", _FEATURES, "application/geo+json"),
    ),
    f"{FEATURES}#/components/responses/InvalidParameter": (
        "responses",
        "InvalidParameter",
        _json("a parameter is invalid or unknown", _EXCEPTION),
    ),
    f"{FEATURES}#/components/responses/LandingPage": ("responses", "LandingPage", _json("the landing page", _OBJECT)),
    f"{FEATURES}#/components/responses/NotFound": ("responses", "NotFound", _json("not found", _EXCEPTION)),
    f"{FEATURES}#/components/responses/ServerError": ("responses", "ServerError", _json("server error", _EXCEPTION)),
    f"{TILES}#/components/parameters/tileMatrixSetId": (
        "parameters",
        "tileMatrixSetId",
        _path("tileMatrixSetId", {"type": "string", "enum": TILE_MATRIX_SETS}),
    ),
    f"{TILES}#/components/parameters/tileMatrix": ("parameters", "tileMatrix", _path("tileMatrix", {"type": "string"})),
    f"{TILES}#/components/parameters/tileRow": (
        "parameters",
        "tileRow",
        _path("tileRow", {"type": "integer", "minimum": 0}),
    ),
    f"{TILES}#/components/parameters/tileCol": (
        "parameters",
        "tileCol",
        _path("tileCol", {"type": "integer", "minimum": 0}),
    ),
    f"{TILES}#/components/schemas/link": ("schemas", "link", _LINK),
    f"{RECORDS}/sortby.yaml": ("parameters", "sortby", _array("sortby", {"type": "string"}, "e.g. -dienTich")),
    f"{RECORDS}/q.yaml": ("parameters", "q", _array("q", {"type": "string"}, "free-text search (records)")),
    f"{COVERAGES}#/components/parameters/subset": (
        "parameters",
        "subset",
        _array("subset", {"type": "string"}, "e.g. x(560000:561000),y(2310000:2311000) or Lon(…),Lat(…)"),
    ),
    f"{PROCESSES}/responses/ExecuteAsync.yaml": ("responses", "ExecuteAsync", _json("a job was created", _OBJECT)),
    f"{PROCESSES}/responses/NotFound.yaml": ("responses", "NotFound", _json("not found", _EXCEPTION)),
    f"{PROCESSES}/responses/ProcessList.yaml": ("responses", "ProcessList", _json("the processes", _OBJECT)),
    f"{PROCESSES}/responses/ServerError.yaml": ("responses", "ServerError", _json("server error", _EXCEPTION)),
    f"{PROCESSES}/schemas/exception.yaml": ("schemas", "exception", _EXCEPTION),
    f"{PROCESSES}/schemas/execute.yaml": (
        "schemas",
        "execute",
        {
            "type": "object",
            "properties": {
                "inputs": {"type": "object"},
                "outputs": {"type": "object"},
                "response": {"type": "string", "enum": ["raw", "document"]},
            },
        },
    ),
    CQL2: (
        "schemas",
        "cql2",
        {
            "type": "object",
            "description": "a CQL2 JSON expression (OGC 21-065): {op, args}",
            "required": ["op", "args"],
            "properties": {"op": {"type": "string"}, "args": {"type": "array", "items": {}}},
        },
    ),
}
FILTER_PARAMETERS = [
    _query("filter", {"type": "string"}, "a CQL2 filter, as text or (filter-lang=cql2-json) JSON"),
    _query("filter-lang", {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}),
    _query("filter-crs", {"type": "string", "format": "uri"}, "CRS of the geometries in the filter"),
]
GET_JSON = {"f": _query("f", {"type": "string", "enum": ["json", "html"]})}


def complete(doc: dict[str, Any], collections: dict[str, dict[str, Any]], public: bool = True) -> dict[str, Any]:
    """The document made self-contained and complete; ``collections`` is the configuration's resources
    (the public view also documents the open-data downloads and the DCAT catalogue)."""
    added: dict[str, Any] = {}
    doc = _localise(copy.deepcopy(doc), added)
    components = doc.setdefault("components", {})
    for kind, definitions in added.items():
        components.setdefault(kind, {}).update({k: v for k, v in definitions.items() if k not in components[kind]})
    doc["info"]["version"] = version("bando")
    paths = doc["paths"]
    for path, item in paths.items():
        if path.endswith("/items") and "get" in item:
            _add_filters(item["get"])
    paths |= _more_paths(collections, public)
    used = {
        tag for item in paths.values() for op in item.values() if isinstance(op, dict) for tag in op.get("tags", [])
    }
    doc["tags"] = [t for t in doc.get("tags", []) if t.get("name") in used]
    return doc


def _localise(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            if ref not in DEFINITIONS:
                raise SetupError(f"pygeoapi's OpenAPI document references {ref}, which bando does not define")
            kind, name, definition = DEFINITIONS[ref]
            components.setdefault(kind, {}).setdefault(name, copy.deepcopy(definition))
            return {"$ref": f"#/components/{kind}/{name}"}
        return {key: _localise(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [_localise(value, components) for value in node]
    return node


def _add_filters(operation: dict[str, Any]) -> None:
    params = operation.setdefault("parameters", [])
    named = {p.get("name") for p in params} | {p.get("$ref", "").rsplit("/", 1)[-1] for p in params}
    for param in FILTER_PARAMETERS:
        if param["name"] not in named:
            params.append(copy.deepcopy(param))
    if "datetime" not in named:
        params.append({"$ref": "#/components/parameters/datetime"})


def _op(summary: str, tag: str, params: list[dict[str, Any]], response: dict[str, Any]) -> dict[str, Any]:
    errors = {
        "400": {"$ref": "#/components/responses/InvalidParameter"},
        "404": {"$ref": "#/components/responses/NotFound"},
    }
    return {"get": {"summary": summary, "tags": [tag], "parameters": params, "responses": {"200": response} | errors}}


def _more_paths(collections: dict[str, dict[str, Any]], public: bool) -> dict[str, Any]:
    """Paths bando serves that pygeoapi 0.24 does not document."""
    tms = {"$ref": "#/components/parameters/tileMatrixSetId"}
    out: dict[str, Any] = {
        "/TileMatrixSets": _op("The tile matrix sets", "server", [GET_JSON["f"]], _json("tile matrix sets", _OBJECT)),
        "/TileMatrixSets/{tileMatrixSetId}": _op(
            "A tile matrix set", "server", [tms, GET_JSON["f"]], _json("a tile matrix set", _OBJECT)
        ),
        "/dcat": _op(
            "The DCAT-AP catalogue of the open data (JSON-LD; Turtle with Accept: text/turtle)",
            "server",
            [],
            _json("DCAT catalogue", _OBJECT, "application/ld+json"),
        ),
    }
    if not public:
        del out["/dcat"]
    for cid, resource in collections.items():
        providers = resource.get("providers", []) if isinstance(resource, dict) else []
        kinds = {p.get("type") for p in providers}
        if "tile" in kinds:
            out[f"/collections/{cid}/tiles/{{tileMatrixSetId}}/metadata"] = _op(
                f"TileJSON of {cid}", cid, [tms], _json("tile set metadata (TileJSON)", _OBJECT)
            )
        spatial = any(p.get("type") == "feature" and "storage_crs" in p for p in providers)
        if spatial and public:  # vector layers: written as downloads at every publish
            out[f"/collections/{cid}/downloads"] = _op(
                f"The open-data downloads of {cid}", cid, [], _json("files with size, sha256, licence", _OBJECT)
            )
    return out
