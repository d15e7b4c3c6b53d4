"""The DCAT-AP catalogue of the public layers, in JSON-LD and Turtle, for open-data portals.

A CKAN portal (ckanext-dcat) harvests a DCAT document from one stable URL: ``/ogc/dcat``
(JSON-LD; ``/ogc/dcat.jsonld``, ``/ogc/dcat.ttl`` by name, or ``Accept: text/turtle``). Every
vector or raster layer of the catalogue is a ``dcat:Dataset`` with its publisher, contact,
licence, temporal and spatial coverage; each open-data download (written at publish time) is a
``dcat:Distribution`` with its size and checksum, and the OGC API collection is one more.

The graph is a list of triples serialised twice by small writers here: RDF libraries are for
the tests that parse the result, not a dependency of the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bando import downloads
from bando.api_config.runtime import Runtime, get_runtime
from bando.layers.model import Layer
from bando.publisher import publisher

PREFIXES = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
}
LICENCES = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}
IANA = "https://www.iana.org/assignments/media-types/"
TURTLE = "text/turtle"
JSONLD = "application/ld+json"


@dataclass(frozen=True)
class Iri:
    value: str


@dataclass(frozen=True)
class Lit:
    value: str
    lang: str | None = None
    datatype: str | None = None  # a prefixed name, e.g. "xsd:date"


Triple = tuple[str, str, Iri | Lit]


def _expand(name: str) -> str:
    prefix, _, local = name.partition(":")
    return PREFIXES[prefix] + local


def _lit(value: Any) -> Lit:
    if isinstance(value, datetime):
        return Lit(value.isoformat(), datatype="xsd:dateTime")
    if isinstance(value, date):
        return Lit(value.isoformat(), datatype="xsd:date")
    if isinstance(value, int):
        return Lit(str(value), datatype="xsd:nonNegativeInteger")
    return Lit(str(value))


def graph(runtime: Runtime, api_url: str, bboxes: dict[str, list[float]]) -> list[Triple]:
    """Every triple of the catalogue; ``api_url`` is the public OGC API's base URL."""
    settings, province = runtime.settings, runtime.province
    who = publisher(settings, province)
    catalog, agent, contact = f"{api_url}/dcat", f"{api_url}/dcat#publisher", f"{api_url}/dcat#contact"
    state = _published(runtime)
    out: list[Triple] = [
        (catalog, "rdf:type", Iri(_expand("dcat:Catalog"))),
        (catalog, "dct:title", Lit(who.title_vi, "vi")),
        (catalog, "dct:title", Lit(who.title_en, "en")),
        (catalog, "dct:description", Lit(f"Dữ liệu mở không gian: {province.name}", "vi")),
        (catalog, "dct:description", Lit(f"Open spatial data: {province.name}", "en")),
        (catalog, "dct:publisher", Iri(agent)),
        (catalog, "foaf:homepage", Iri(api_url)),
        (catalog, "dct:license", Iri(who.licence_url)),
        (agent, "rdf:type", Iri(_expand("foaf:Agent"))),
        (agent, "foaf:name", Lit(who.organisation, "vi")),
        (contact, "rdf:type", Iri(_expand("vcard:Organization"))),
        (contact, "vcard:fn", Lit(f"{who.contact_name} — {who.contact_position}", "vi")),
    ]
    if who.contact_email:
        out.append((contact, "vcard:hasEmail", Iri(f"mailto:{who.contact_email}")))
    for layer in runtime.catalogue:
        if layer.id in state and layer.kind != "table":
            dataset = f"{api_url}/collections/{layer.id}"
            out.append((catalog, "dcat:dataset", Iri(dataset)))
            out += _dataset(layer, dataset, agent, contact, state[layer.id], bboxes.get(layer.id), runtime)
    return out


def _published(runtime: Runtime) -> dict[str, tuple[datetime, date | None, date | None]]:
    """layer → (published at, first version in force from, last version valid to); drafts were never in force."""
    with runtime.connection() as conn:
        rows = conn.execute(
            "select s.layer, s.published_at, min(v.valid_from), max(v.valid_to)"
            " from bando.layer_state s left join bando.layer_versions v on v.layer = s.layer and not v.draft group by 1, 2"
        ).fetchall()
    return {layer: (at, start, end) for layer, at, start, end in rows}


def _dataset(
    layer: Layer,
    iri: str,
    agent: str,
    contact: str,
    state: tuple[datetime, date | None, date | None],
    bbox: list[float] | None,
    runtime: Runtime,
) -> list[Triple]:
    published, start, _ = state
    licence = LICENCES.get(layer.metadata.license, runtime.settings.licence_url)
    out: list[Triple] = [
        (iri, "rdf:type", Iri(_expand("dcat:Dataset"))),
        (iri, "dct:identifier", Lit(layer.id)),
        (iri, "dct:title", Lit(layer.title.vi, "vi")),
        (iri, "dct:title", Lit(layer.title.en, "en")),
        (iri, "dct:description", Lit(layer.description.vi, "vi")),
        (iri, "dct:description", Lit(layer.description.en, "en")),
        (iri, "dct:publisher", Iri(agent)),
        (iri, "dcat:contactPoint", Iri(contact)),
        (iri, "dct:license", Iri(licence)),
        (iri, "dct:modified", _lit(published)),
        (iri, "dcat:landingPage", Iri(f"{iri}?f=html")),
        *((iri, "dcat:keyword", Lit(k)) for k in (layer.metadata.keywords or (layer.theme,))),
    ]
    period = f"{iri}#temporal"
    out += [
        (iri, "dct:temporal", Iri(period)),
        (period, "rdf:type", Iri(_expand("dct:PeriodOfTime"))),
        (period, "dcat:startDate", _lit(start or published.date())),
    ]
    if bbox:
        place = f"{iri}#spatial"
        x0, y0, x1, y1 = bbox
        wkt = f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"
        out += [
            (iri, "dct:spatial", Iri(place)),
            (place, "rdf:type", Iri(_expand("dct:Location"))),
            (place, "dcat:bbox", Lit(wkt, datatype="gsp:wktLiteral")),
        ]
    api = f"{iri}#ogcapi"
    out += [
        (iri, "dcat:distribution", Iri(api)),
        (api, "rdf:type", Iri(_expand("dcat:Distribution"))),
        (api, "dct:title", Lit("OGC API", "en")),
        (api, "dcat:accessURL", Iri(iri)),
        (api, "dct:license", Iri(licence)),
    ]
    doc = downloads.manifest(runtime.settings, layer.id) or {}
    for f in doc.get("files", []):
        out += _distribution(iri, f, licence)
    return out


def _distribution(dataset: str, f: dict[str, Any], licence: str) -> list[Triple]:
    url = f"{dataset}/downloads/{f['name']}"
    iri, checksum = f"{dataset}/downloads#{f['name']}", f"{dataset}/downloads#{f['name']}-sha256"
    version = f.get("version", {}).get("id") if isinstance(f.get("version"), dict) else None
    title = f["format"] + (f" — {version}" if version else "")
    return [
        (dataset, "dcat:distribution", Iri(iri)),
        (iri, "rdf:type", Iri(_expand("dcat:Distribution"))),
        (iri, "dct:title", Lit(title)),
        (iri, "dcat:accessURL", Iri(url)),
        (iri, "dcat:downloadURL", Iri(url)),
        (iri, "dcat:mediaType", Iri(IANA + str(f["mediaType"]))),
        (iri, "dct:format", Lit(str(f["format"]))),
        (iri, "dcat:byteSize", Lit(str(f["size"]), datatype="xsd:nonNegativeInteger")),
        (iri, "dct:license", Iri(licence)),
        (iri, "dct:issued", Lit(str(f["dataDate"]), datatype="xsd:date")),
        (iri, "spdx:checksum", Iri(checksum)),
        (checksum, "rdf:type", Iri(_expand("spdx:Checksum"))),
        (checksum, "spdx:algorithm", Iri(_expand("spdx:checksumAlgorithm_sha256"))),
        (checksum, "spdx:checksumValue", Lit(str(f["sha256"]), datatype="xsd:hexBinary")),
    ]


def to_jsonld(triples: list[Triple]) -> dict[str, Any]:
    """Flattened JSON-LD: one node object per subject, prefixed names resolved by the context."""
    nodes: dict[str, dict[str, Any]] = {}
    for s, p, o in triples:
        node = nodes.setdefault(s, {"@id": s})
        if p == "rdf:type" and isinstance(o, Iri):
            node.setdefault("@type", []).append(o.value)
            continue
        if isinstance(o, Iri):
            value: dict[str, str] = {"@id": o.value}
        else:
            value = {"@value": o.value}
            if o.lang:
                value["@language"] = o.lang
            if o.datatype:
                value["@type"] = _expand(o.datatype)
        node.setdefault(p, []).append(value)
    return {"@context": dict(PREFIXES), "@graph": list(nodes.values())}


def _turtle_term(term: Iri | Lit) -> str:
    if isinstance(term, Iri):
        return f"<{_iri_text(term.value)}>"
    text = json.dumps(term.value, ensure_ascii=False)  # a valid Turtle string: same escapes
    if term.lang:
        return f"{text}@{term.lang}"
    return f"{text}^^{term.datatype}" if term.datatype else text


def _iri_text(value: str) -> str:
    return "".join(c if c not in '<>"{}|^`\\ ' else f"%{ord(c):02X}" for c in value)


def to_turtle(triples: list[Triple]) -> str:
    lines = [f"@prefix {p}: <{iri}> ." for p, iri in PREFIXES.items()] + [""]
    subject = None
    for s, p, o in triples:
        predicate = "a" if p == "rdf:type" else p
        if s != subject:
            if subject is not None:
                lines[-1] += " ."
            lines.append(f"<{_iri_text(s)}> {predicate} {_turtle_term(o)}")
            subject = s
        else:
            lines[-1] += " ;"
            lines.append(f"    {predicate} {_turtle_term(o)}")
    if subject is not None:
        lines[-1] += " ."
    return "\n".join(lines) + "\n"


def _grouped(triples: list[Triple]) -> list[Triple]:
    """Triples ordered by subject (stable), so each subject is written once in Turtle."""
    order: dict[str, int] = {}
    for s, _, _ in triples:
        order.setdefault(s, len(order))
    return sorted(triples, key=lambda t: order[t[0]])


def routes(api_url: str, bboxes: dict[str, list[float]]) -> list[Route]:
    """``/dcat`` (JSON-LD, or Turtle by ``Accept``), ``/dcat.jsonld`` and ``/dcat.ttl``."""

    async def answer(request: Request) -> Response:
        triples = _grouped(await anyio.to_thread.run_sync(graph, get_runtime(), api_url, bboxes))
        path = request.url.path
        wants_turtle = path.endswith(".ttl") or (
            not path.endswith(".jsonld") and TURTLE in request.headers.get("accept", "")
        )
        if wants_turtle:
            return Response(to_turtle(triples), media_type=f"{TURTLE}; charset=utf-8")
        return JSONResponse(to_jsonld(triples), media_type=JSONLD)

    return [Route(p, answer, methods=["GET", "HEAD"]) for p in ("/dcat", "/dcat.jsonld", "/dcat.ttl")]
