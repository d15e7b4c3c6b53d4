"""Route labels for metrics and the replicas' read rotation, without a server."""

from __future__ import annotations

import pytest

from bando.api_config.metrics import route_label
from bando.api_config.reads import Reads, Replica, rerun

TOPS = frozenset({"ioc", "static", "healthz", "readyz", "metrics", "site-config.json"})


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/ogc/collections/parcels/items", "/ogc/collections/{collectionId}/items"),
        ("/ogc/collections/parcels/items/12345", "/ogc/collections/{collectionId}/items/{featureId}"),
        (
            "/ogc/collections/roads/tiles/WebMercatorQuad/14/7000/13000",
            "/ogc/collections/{collectionId}/tiles/{tileMatrixSetId}/{n}/{n}/{n}",
        ),
        ("/internal/ogc/collections/parcels/items", "/internal/ogc/collections/{collectionId}/items"),
        ("/ogc/processes/planning-report/execution", "/ogc/processes/{processId}/execution"),
        ("/ogc/Nguyễn-Văn-A/../x", "/ogc/{other}/{other}/{other}"),
        ("/ogc", "/ogc"),
        ("/healthz", "/healthz"),
        ("/static/js/app.js", "/static/…"),
        ("/wp-admin/setup.php", "other"),
    ],
)
def test_route_labels_are_templates_never_what_was_sent(path: str, label: str) -> None:
    assert route_label(path, TOPS) == label


class FakePool:
    def close(self) -> None:
        pass


def replicas(*fit: bool) -> Reads:
    reads = Reads([Replica(f"r{i}", f"host=r{i}", FakePool(), 0.0, f) for i, f in enumerate(fit)], 5.0)  # type: ignore[arg-type]
    return reads


def test_reads_rotate_over_fit_replicas_and_fall_back_to_the_primary() -> None:
    reads = replicas(True, False, True)
    chosen = [reads.choose() for _ in range(4)]
    assert [r.name for r in chosen if r] == ["r0", "r2", "r0", "r2"]
    for r in reads.replicas:
        reads.skip(r)
    assert reads.choose() is None, "no fit replica: the primary"


def test_the_primary_can_take_its_turn() -> None:
    reads = replicas(True)
    reads.with_primary = True
    assert {None if r is None else r.name for r in (reads.choose() for _ in range(4))} == {None, "r0"}


def test_a_request_that_lost_its_replica_runs_again() -> None:
    reads = replicas(True)
    calls = []

    def work() -> str:
        calls.append(1)
        if len(calls) == 1:
            reads.lost(reads.replicas[0])
        return "answer"

    assert rerun(work) == "answer" and len(calls) == 2
    assert not reads.replicas[0].fit
    calls.clear()
    reads.replicas[0].fit = True
    assert rerun(lambda: calls.append(1) or "x") == "x" and len(calls) == 1
