"""The DCAT-AP catalogue: parsed with rdflib in both serialisations, every public layer listed,
and every download URL it names answering."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF
from starlette.testclient import TestClient

from bando.layers.catalogue import load as load_catalogue
from bando.settings import get_settings

SPDX = Namespace("http://spdx.org/rdf/terms#")
BASE = "http://testserver/ogc"
PUBLIC = [layer.id for layer in load_catalogue() if layer.kind != "table"]


@pytest.fixture(scope="module")
def client(loaded: list) -> Iterator[TestClient]:
    from bando.cli.server import create_app

    with TestClient(create_app("http://testserver", get_settings()), raise_server_exceptions=False) as c:
        yield c


def _graph(client: TestClient, path: str, fmt: str, **headers: str) -> Graph:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return Graph().parse(data=response.text, format=fmt, publicID=BASE)


def test_jsonld_and_turtle_say_the_same(client: TestClient) -> None:
    jsonld = _graph(client, "/ogc/dcat", "json-ld")
    turtle = _graph(client, "/ogc/dcat.ttl", "turtle")
    negotiated = _graph(client, "/ogc/dcat", "turtle", Accept="text/turtle")
    assert len(jsonld) > 100
    assert jsonld.isomorphic(turtle) and turtle.isomorphic(negotiated)


def test_every_public_layer_is_a_dataset_with_what_a_harvester_needs(client: TestClient) -> None:
    g = _graph(client, "/ogc/dcat.jsonld", "json-ld")
    (catalog,) = list(g.subjects(RDF.type, DCAT.Catalog))
    datasets = set(g.objects(catalog, DCAT.dataset))
    assert {URIRef(f"{BASE}/collections/{layer}") for layer in PUBLIC} <= datasets
    for dataset in datasets:
        for needed in (DCTERMS.title, DCTERMS.description, DCTERMS.publisher, DCAT.contactPoint, DCTERMS.license):
            assert g.value(dataset, needed) is not None, (dataset, needed)
        assert g.value(g.value(dataset, DCTERMS.temporal), DCAT.startDate) is not None, dataset
    roads = URIRef(f"{BASE}/collections/roads")
    assert "POLYGON" in str(g.value(g.value(roads, DCTERMS.spatial), DCAT.bbox))


def test_every_download_url_resolves_with_its_size(client: TestClient) -> None:
    g = _graph(client, "/ogc/dcat.jsonld", "json-ld")
    urls = list(g.subject_objects(DCAT.downloadURL))
    assert len(urls) >= 6 * len([layer for layer in load_catalogue() if layer.kind == "vector"])
    for distribution, url in urls:
        response = client.get(str(url).removeprefix("http://testserver"))
        assert response.status_code == 200, url
        assert int(g.value(distribution, DCAT.byteSize)) == len(response.content)
        assert len(str(g.value(g.value(distribution, SPDX.checksum), SPDX.checksumValue))) == 64
