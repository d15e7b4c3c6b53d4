"""Property-based tests of the public OGC API from its own OpenAPI document (schemathesis).

Acceptance point of "OGC API publishing": a schemathesis run against the public OpenAPI
document finds no 5xx. The document is loaded from the real running server
(``{server}/ogc/openapi?f=json``); for every operation it lists, schemathesis generates valid
and invalid requests (plus the document's own examples), each is sent over HTTP and checked
with ``not_a_server_error`` and a response-time bound. The run is derandomized (the same
cases every time) and bounded (``MAX_EXAMPLES`` per operation, about 2,000 calls).

schemathesis's pytest integration (``schemathesis.pytest.from_fixture`` + ``@schema.parametrize()``)
cannot be used: schemathesis 4.32 renames pytest items through ``Function._nodeid``, which pytest
9.2 no longer has. Its Python API is used instead: one Hypothesis test per operation, built from
``APIOperation.as_strategy`` and ``get_strategies_from_examples``, calling ``Case.call`` and
``Case.validate_response``.

Below the property-based test, every 5xx it found is kept as a plain regression test.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import max_response_time, not_a_server_error
from schemathesis.errors import FailureGroup

from bando.api_config.pygeoapi_seam.openapi import COVERAGES, CQL2, FEATURES, PROCESSES, RECORDS, TILES

MAX_EXAMPLES = 12  # generated cases per operation
MAX_SECONDS = 6.0  # each call, well under the 10 s a client waits (a cold first call takes ~3 s)
REQUEST_TIMEOUT = 10.0  # a call that hangs fails instead of blocking the run

# Operations of the OpenAPI document deliberately left out, with the reason: none. Every operation
# is tested, including pygeoapi's documented OPTIONS operations (bando's read-only routing serves
# GET/POST only and answers OPTIONS 405, which is not a server error) and the CQL2-JSON
# POST /collections/{id}/items searches. (Routes bando serves that pygeoapi 0.24 does not document,
# /TileMatrixSets, /collections/{id}/tiles/{tms} and /jobs, are outside the document and so outside
# this test; test_tiles.py and test_planning_report.py cover them.)
EXCLUDED: dict[str, str] = {}

# --- The OGC building blocks the document references by absolute URL -----------------------------
# pygeoapi's document $refs parameters and schemas of the OGC standards on schemas.opengis.net and
# raw.githubusercontent.com. The suite runs offline, so each is replaced by its definition in the
# standard: parameters as the standard defines them (the tile matrix set identifier, which the
# standard leaves to the implementation, enumerates the server's /TileMatrixSets); responses by a
# description, since only status codes and times are checked here; the process execute request
# (execute.yaml) with its ``inputs`` typed by the server's process description; CQL2-JSON as below.
# A reference not listed here fails the test, so a pygeoapi upgrade that documents something new
# is noticed rather than silently left out.


def _response(what: str) -> dict[str, Any]:
    return {"description": f"{what} (OGC standard response; body not checked here)"}


def _path_param(name: str, schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    param = {"name": name, "in": "path", "required": True, "schema": schema}
    if example is not None:
        param["example"] = example
    return param


def _query_array(name: str, items: dict[str, Any], **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "items": items, **schema},
    }


# CQL2-JSON (OGC 21-065, cql2.json) is a draft 2019-09 schema built on $dynamicRef, which OpenAPI
# 3.0 generators cannot follow; this is its grammar two levels deep, in OpenAPI 3.0 terms.
_PROPERTY = {"type": "object", "required": ["property"], "properties": {"property": {"type": "string"}}}
_GEOMETRY = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {
            "type": "string",
            "enum": ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"],
        },
        "coordinates": {"type": "array", "items": {}},
    },
}
_BBOX = {
    "type": "object",
    "required": ["bbox"],
    "properties": {"bbox": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
}
_INSTANT = {
    "oneOf": [
        {"type": "object", "required": ["date"], "properties": {"date": {"type": "string"}}},
        {"type": "object", "required": ["timestamp"], "properties": {"timestamp": {"type": "string"}}},
    ]
}
_INTERVAL = {
    "type": "object",
    "required": ["interval"],
    "properties": {"interval": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}}},
}
_SCALAR = {
    "oneOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        _PROPERTY,
        _INSTANT,
        {"type": "object", "required": ["casei"], "properties": {"casei": {"type": "string"}}},
        {"type": "object", "required": ["accenti"], "properties": {"accenti": {"type": "string"}}},
    ]
}


def _op(names: list[str], args: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["op", "args"],
        "properties": {"op": {"type": "string", "enum": names}, "args": args},
    }


def _pair(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "minItems": 2, "maxItems": 2, "items": item}


_PREDICATES = [
    _op(["=", "<>", "<", ">", "<=", ">="], _pair(_SCALAR)),
    _op(["like"], _pair({"oneOf": [{"type": "string"}, _PROPERTY]})),
    _op(
        ["between"],
        {"type": "array", "minItems": 3, "maxItems": 3, "items": {"oneOf": [{"type": "number"}, _PROPERTY]}},
    ),
    _op(["in"], _pair({"oneOf": [_SCALAR, {"type": "array", "items": _SCALAR}]})),
    _op(["isNull"], {"oneOf": [_SCALAR, {"type": "array", "maxItems": 1, "items": _SCALAR}]}),
    _op(
        ["s_contains", "s_crosses", "s_disjoint", "s_equals", "s_intersects", "s_overlaps", "s_touches", "s_within"],
        _pair({"oneOf": [_PROPERTY, _GEOMETRY, _BBOX]}),
    ),
    _op(
        [
            "t_after",
            "t_before",
            "t_contains",
            "t_disjoint",
            "t_during",
            "t_equals",
            "t_finishedBy",
            "t_finishes",
            "t_intersects",
            "t_meets",
            "t_metBy",
            "t_overlappedBy",
            "t_overlaps",
            "t_startedBy",
            "t_starts",
        ],
        _pair({"oneOf": [_PROPERTY, _INSTANT, _INTERVAL]}),
    ),
    _op(["a_containedBy", "a_contains", "a_equals", "a_overlaps"], _pair({"oneOf": [_PROPERTY, {"type": "array"}]})),
    {"type": "boolean"},
]
_CQL2_EXPRESSION = {
    "oneOf": [
        *_PREDICATES,
        _op(["and", "or"], {"type": "array", "minItems": 2, "maxItems": 3, "items": {"oneOf": _PREDICATES}}),
        _op(["not"], {"type": "array", "minItems": 1, "maxItems": 1, "items": {"oneOf": _PREDICATES}}),
    ]
}


def _execute_schema(process: dict[str, Any]) -> dict[str, Any]:
    """OGC API - Processes 1.0 ``execute.yaml`` with ``inputs`` typed by the process description."""
    inputs = {name: spec.get("schema", {}) for name, spec in process.get("inputs", {}).items()}
    return {
        "type": "object",
        "properties": {
            "inputs": {"type": "object", "properties": inputs},
            "outputs": {"type": "object", "additionalProperties": {"type": "object"}},
            "response": {"type": "string", "enum": ["raw", "document"]},
            "subscriber": {"type": "object", "properties": {"successUri": {"type": "string", "format": "uri"}}},
        },
    }


def offline_definitions(tile_matrix_sets: list[str]) -> dict[str, Any]:
    """The definition, per absolute reference, the offline document uses instead."""
    return {
        f"{FEATURES}#/components/parameters/datetime": {
            "name": "datetime",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": False,
            "schema": {"type": "string"},
            "example": "2018-02-12T00:00:00Z/..",
        },
        f"{FEATURES}#/components/parameters/featureId": _path_param("featureId", {"type": "string"}),
        **{
            f"{FEATURES}#/components/responses/{name}": _response(name)
            for name in (
                "Collection",
                "Feature",
                "Features",
                "InvalidParameter",
                "LandingPage",
                "NotFound",
                "ServerError",
            )
        },
        f"{TILES}#/components/parameters/tileMatrixSetId": _path_param(
            "tileMatrixSetId", {"type": "string", "enum": tile_matrix_sets}
        ),
        f"{TILES}#/components/parameters/tileMatrix": _path_param("tileMatrix", {"type": "string"}, "5"),
        f"{TILES}#/components/parameters/tileRow": _path_param("tileRow", {"type": "integer", "minimum": 0}, 10),
        f"{TILES}#/components/parameters/tileCol": _path_param("tileCol", {"type": "integer", "minimum": 0}, 15),
        f"{TILES}#/components/schemas/link": {
            "type": "object",
            "required": ["href"],
            "properties": {"href": {"type": "string"}},
        },
        f"{RECORDS}/sortby.yaml": _query_array(
            "sortby", {"type": "string", "pattern": "[+|-]?[A-Za-z_].*"}, minItems=1
        ),
        f"{RECORDS}/q.yaml": _query_array("q", {"type": "string"}),
        f"{COVERAGES}#/components/parameters/subset": _query_array("subset", {"type": "string"}),
        f"{PROCESSES}/responses/ExecuteAsync.yaml": _response("ExecuteAsync"),
        f"{PROCESSES}/responses/NotFound.yaml": _response("NotFound"),
        f"{PROCESSES}/responses/ProcessList.yaml": _response("ProcessList"),
        f"{PROCESSES}/responses/ServerError.yaml": _response("ServerError"),
        f"{PROCESSES}/schemas/exception.yaml": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "detail": {"type": "string"}},
        },
        CQL2: _CQL2_EXPRESSION,
    }


def offline_document(
    doc: dict[str, Any], definitions: dict[str, Any], processes: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The document with every absolute ``$ref`` replaced by its definition (see above)."""
    doc = copy.deepcopy(doc)
    unknown: set[str] = set()

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                if ref.startswith(f"{PROCESSES}/schemas/execute.yaml"):
                    process_id = path[1].split("/")[2]  # /processes/{id}/execution
                    return _execute_schema(processes[process_id])
                if ref not in definitions:
                    unknown.add(ref)
                    return node
                return copy.deepcopy(definitions[ref])
            return {key: walk(value, (*path, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value, path) for value in node]
        return node

    doc = walk(doc, ())
    assert not unknown, f"the OpenAPI document references definitions this test does not know: {sorted(unknown)}"
    return doc


@pytest.fixture(scope="module")
def public_document(server: str) -> dict[str, Any]:
    response = httpx.get(f"{server}/ogc/openapi", params={"f": "json"}, timeout=60)
    assert response.status_code == 200, response.text[:300]
    return response.json()


@pytest.fixture(scope="module")
def ogc_schema(server: str, public_document: dict[str, Any]) -> schemathesis.BaseSchema:
    tms = httpx.get(f"{server}/ogc/TileMatrixSets", params={"f": "json"}, timeout=30).json()
    tms_ids = sorted(t["id"] for t in tms["tileMatrixSets"])
    process_ids = [
        path.split("/")[2]
        for path in public_document["paths"]
        if path.startswith("/processes/") and path.endswith("/execution")
    ]
    processes = {
        pid: httpx.get(f"{server}/ogc/processes/{pid}", params={"f": "json"}, timeout=30).json() for pid in process_ids
    }
    doc = offline_document(public_document, offline_definitions(tms_ids), processes)
    schema = schemathesis.openapi.from_dict(doc)
    schema.config.update(base_url=f"{server}/ogc", request_timeout=REQUEST_TIMEOUT)
    schema.config.checks.update(max_response_time=MAX_SECONDS)
    return schema


def _documented_operations(doc: dict[str, Any]) -> set[str]:
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    return {f"{m.upper()} {path}" for path, item in doc["paths"].items() for m in item if m in methods}


def _fuzz(operation: schemathesis.APIOperation, session: requests.Session) -> tuple[int, float, list[str]]:
    """One operation's property-based test: the calls made, the slowest call's seconds, the failures."""
    calls, slowest = 0, 0.0
    failures: dict[str, str] = {}
    strategy = st.one_of(
        *operation.get_strategies_from_examples(),
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        nonlocal calls, slowest
        calls += 1
        try:
            response = case.call(session=session, timeout=REQUEST_TIMEOUT)
            slowest = max(slowest, response.elapsed)
            case.validate_response(response, checks=[not_a_server_error, max_response_time])
        except FailureGroup as exc:  # keep going: every distinct failure is reported, not only the first
            failures.setdefault(", ".join(sorted(type(e).__name__ for e in exc.exceptions)), str(exc))
        except requests.RequestException as exc:
            failures.setdefault(type(exc).__name__, f"{exc}\n    {case.as_curl_command()}")

    run()
    return calls, slowest, list(failures.values())


def test_no_server_error_in_any_operation_of_the_public_openapi_document(
    public_document: dict[str, Any], ogc_schema: schemathesis.BaseSchema
) -> None:
    documented = _documented_operations(public_document)
    assert set(EXCLUDED) <= documented, "EXCLUDED names an operation the document does not list"
    operations = [result.ok() for result in ogc_schema.get_all_operations()]  # .ok() raises on a broken one
    assert {op.label for op in operations} == documented, "every documented operation must be generated for"
    found: dict[str, list[str]] = {}
    total, slowest, started = 0, 0.0, time.monotonic()
    with requests.Session() as session:
        for operation in operations:
            if operation.label in EXCLUDED:
                continue
            calls, op_slowest, failures = _fuzz(operation, session)
            total, slowest = total + calls, max(slowest, op_slowest)
            if failures:
                found[operation.label] = failures
    print(
        f"\nschemathesis {schemathesis.__version__}: {len(operations) - len(EXCLUDED)} operations, {total} calls,"
        f" slowest {slowest:.2f} s, {time.monotonic() - started:.0f} s in all"
    )
    assert total >= len(operations) * 3, "too few calls for the run to mean anything"
    assert not found, "\n\n".join(f"{label}:\n" + "\n".join(f) for label, f in found.items())


# --- Regression tests: each 5xx the run found, as a plain request ---------------------------------


def test_coverage_with_an_invalid_bbox_is_400_also_as_html(server: str) -> None:
    """pygeoapi answered 500 to an invalid coverage bbox; bando turned it into 400 for JSON only."""
    for params in (
        {"bbox": "3,2,1,0", "f": "html"},
        {"bbox": "1,2,3", "f": "html"},
        {"bbox": "1,2,3,x"},
        {"bbox": "3,2,1,0", "f": "json"},
    ):
        response = httpx.get(f"{server}/ogc/collections/flood_depth/coverage", params=params, timeout=30)
        assert response.status_code == 400, (params, response.status_code, response.text[:200])
    inside = httpx.get(
        f"{server}/ogc/collections/flood_depth/coverage", params={"bbox": "105.9,20.8,106.1,21.0"}, timeout=60
    )
    assert inside.status_code == 200


def test_bbox_on_a_layer_without_geometry_is_400(server: str) -> None:
    """sensor_readings is a table: a bbox met its missing geom column in SQL (500)."""
    response = httpx.get(f"{server}/ogc/collections/sensor_readings/items", params={"bbox": "0,0,0,0"}, timeout=30)
    assert response.status_code == 400, response.text[:200]
    assert "no geometry" in response.json()["description"]
    unfiltered = httpx.get(f"{server}/ogc/collections/sensor_readings/items", params={"limit": 1}, timeout=30)
    assert unfiltered.status_code == 200


def test_catalogue_as_csv_is_400_and_layers_still_are_csv(server: str) -> None:
    """pygeoapi documents f=csv for every items path but fails writing records as CSV (500)."""
    url = f"{server}/ogc/collections/catalogue/items"
    assert httpx.get(url, params={"f": "csv"}, timeout=30).status_code == 400
    assert httpx.get(url, headers={"Accept": "text/csv"}, timeout=30).status_code == 400
    assert httpx.get(url, headers={"Accept": "text/csv;q=0.1, application/json"}, timeout=30).status_code == 200
    parcels = httpx.get(f"{server}/ogc/collections/parcels/items", params={"f": "csv", "limit": 2}, timeout=30)
    assert parcels.status_code == 200 and parcels.headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize("collection", ["parcels", "building_lines", "cameras"])
def test_cql2_json_bbox_of_non_numbers_is_400(server: str, collection: str) -> None:
    """pygeofilter passes a CQL2-JSON bbox literal of objects through; psycopg could not adapt it (500)."""
    body = {"op": "not", "args": [{"op": "s_contains", "args": [{"bbox": [{}, 0, 0, 0]}, {"bbox": [0, 0, 0, 0]}]}]}
    response = httpx.post(
        f"{server}/ogc/collections/{collection}/items",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text[:200]


@pytest.mark.parametrize("subscriber", [[None, None], "http://example.org/done", 5])
def test_planning_report_with_a_subscriber_that_is_not_an_object_is_400(server: str, subscriber: Any) -> None:
    """pygeoapi indexed any non-empty subscriber as an object (500)."""
    body = {"inputs": {"maXa": "12019", "soHieuToBanDo": 3, "soThuTuThua": 120, "lang": "vi"}, "subscriber": subscriber}
    response = httpx.post(
        f"{server}/ogc/processes/planning-report/execution", json=body, headers={"Prefer": "respond-sync"}, timeout=60
    )
    assert response.status_code == 400, response.text[:200]
    assert "subscriber" in response.json()["description"]


def test_like_with_a_pattern_that_is_not_text_is_400(server: str) -> None:
    """A LIKE pattern that is a property or a number reached str.replace in the translator (500)."""
    url = f"{server}/ogc/collections/parcels/items"
    for body in (
        {"op": "not", "args": [{"op": "like", "args": ["", {"property": ""}]}]},
        {"op": "like", "args": [{"property": "loaiDat"}, 5]},
    ):
        response = httpx.post(url, content=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=30)
        assert response.status_code == 400, (body, response.text[:200])
    assert httpx.get(url, params={"filter": "loaiDat LIKE loaiDat"}, timeout=30).status_code == 400
    assert httpx.get(url, params={"filter": "loaiDat LIKE 'L%'", "limit": 1}, timeout=30).status_code == 200


@pytest.mark.parametrize("collection", ["sensor_readings", "parcels"])
def test_cql2_json_in_over_a_number_is_400(server: str, collection: str) -> None:
    """pygeofilter builds an IN node whose list is a number; counting its nodes failed (500) on a layer
    without geometry, where pygeoapi's CRS pass does not refuse it first."""
    body = {"op": "not", "args": [{"op": "in", "args": [[], 5]}]}
    response = httpx.post(
        f"{server}/ogc/collections/{collection}/items",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text[:200]
