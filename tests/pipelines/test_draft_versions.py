"""A plan version loaded as a draft is on view for comment but not in force; approval puts it
in force. Checked through a real `bando serve` (items, planning report, records) and the CLI.

The draft is the original plan re-delivered as a new version, so a parcel whose planned use
the adjustment changed tells which version answered. Each test puts the session's samples
back as they were, since other modules read the version in force; loads use --force, as
the same file may have been loaded (and removed) before in the session.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from bando import downloads
from bando.errors import BadInput
from bando.layers import catalogue
from bando.pipelines import opendata
from bando.pipelines.manifest import run_manifest
from bando.province import configured
from bando.settings import get_settings
from tests.api_config.test_planning_report import key_of, report
from tests.conftest import ROOT, cli_env

LAYER, IN_FORCE, DRAFT = "land_use_plan", "qhsdd-2030-dc1", "qhsdd-2035-dt"
SOURCE = ROOT / "data_samples" / "hung_yen" / "land_use_plan_v1.gpkg"


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def bando(bando_bin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bando_bin, *args], capture_output=True, text=True, env=cli_env(), timeout=300)


def item_versions(server: str, query: str = "") -> set[str]:
    doc = get(f"{server}/ogc/collections/{LAYER}/items?limit=1000&skipGeometry=true&properties=version_id{query}")
    return {f["properties"]["version_id"] for f in doc["features"]}


@pytest.fixture
def parcel(server: str, database: str) -> Iterator[tuple[dict[str, Any], str, str]]:
    """A parcel the adjustment re-planned: its key, the original use and the adjusted use."""
    with psycopg.connect(database) as conn:
        row = conn.execute(
            'select p."maXa", p."soHieuToBanDo", p."soThuTuThua", a."loaiDatQH", b."loaiDatQH" from data.parcels p'
            " join data.land_use_plan a on a.version_id = 'qhsdd-2030' and st_contains(a.geom, p.geom)"
            " join data.land_use_plan b on b.version_id = %s and st_contains(b.geom, p.geom)"
            ' where a."loaiDatQH" <> b."loaiDatQH" order by p.fid limit 1',
            (IN_FORCE,),
        ).fetchone()
        assert row, "the adjustment changes the planned use of some parcels"
    yield key_of(row[:3]), row[3], row[4]
    forget(database, DRAFT)


def forget(database: str, version: str) -> None:
    """Remove a version this module loaded; the samples' adjustment is in force again."""
    with psycopg.connect(database) as conn:
        conn.execute("delete from data.land_use_plan where version_id = %s", (version,))
        conn.execute("delete from bando.layer_versions where layer = %s and version_id = %s", (LAYER, version))
        conn.execute("update data.land_use_plan set valid_to = null where version_id = %s", (IN_FORCE,))
        conn.execute(
            "update bando.layer_versions set valid_to = null where layer = %s and version_id = %s", (LAYER, IN_FORCE)
        )
        conn.execute(
            "update bando.layer_state set revision = revision + 1, published_at = now(),"
            " row_count = (select count(*) from data.land_use_plan) where layer = %s",
            (LAYER,),
        )
    settings = get_settings()
    opendata.export(catalogue.load(settings.layers_dir).get(LAYER), database, settings, configured(settings))


def test_draft_is_on_view_but_not_in_force_until_approved(
    server: str, bando_bin: str, database: str, parcel: tuple[dict[str, Any], str, str]
) -> None:
    key, original_use, adjusted_use = parcel
    before = item_versions(server)
    assert before == {IN_FORCE}

    run = bando(
        bando_bin, "load", LAYER, str(SOURCE), "--source-layer", "quy_hoach_sdd", "--crs", "EPSG:9209",
        "--version-id", DRAFT, "--draft", "--force",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr

    # the answers about the version in force are unchanged
    assert item_versions(server) == before
    assert DRAFT not in item_versions(server, "&datetime=2099-01-01")
    now = report(server, key)["plannedLandUse"]
    assert [z["zone"]["loaiDatQH"] for z in now["zones"]] == [adjusted_use]
    assert [(v["versionId"], v["inForce"], v["draft"]) for v in now["versions"]] == [(IN_FORCE, True, False)]
    record = get(f"{server}/ogc/collections/catalogue/items/{LAYER}?f=json")["properties"]
    assert record["decision"]["version_id"] == IN_FORCE

    # ... and the draft is on view, marked as a draft
    assert item_versions(server, f"&filter=version_id%3D%27{DRAFT}%27") == {DRAFT}
    seen = report(server, key | {"version": DRAFT})["plannedLandUse"]
    assert [z["zone"]["loaiDatQH"] for z in seen["zones"]] == [original_use]
    assert [(v["versionId"], v["inForce"], v["draft"]) for v in seen["versions"]] == [(DRAFT, False, True)]
    assert [d["version_id"] for d in record["drafts"]] == [DRAFT]
    with psycopg.connect(database) as conn:
        stored = conn.execute(
            "select distinct valid_from = valid_to from data.land_use_plan where version_id = %s", (DRAFT,)
        ).fetchall()
    assert stored == [(True,)], "the site tells a draft by its empty validity interval"
    files = get(f"{server}/ogc/collections/{LAYER}/downloads")["files"]
    assert {f["version"]["id"] for f in files if f.get("version", {}).get("draft")} == {DRAFT}

    # a draft cannot be given a start date before it is approved
    refused = bando(
        bando_bin, "load", LAYER, str(SOURCE), "--version-id", DRAFT, "--draft", "--valid-from", "2026-01-01"
    )
    assert refused.returncode != 0 and "approv" in (refused.stdout + refused.stderr)

    early = bando(bando_bin, "approve", LAYER, DRAFT, "--valid-from", "2025-09-22")
    assert early.returncode != 0 and IN_FORCE in early.stdout + early.stderr, "two versions would be in force"
    run = bando(
        bando_bin, "approve", LAYER, DRAFT, "--valid-from", "2026-01-01", "--decision", "99/QĐ-UBND",
        "--decision-date", "2025-12-20",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert bando(bando_bin, "approve", LAYER, DRAFT, "--valid-from", "2026-01-01").returncode != 0

    assert item_versions(server) == {DRAFT}
    assert item_versions(server, "&datetime=2025-12-31") == {IN_FORCE}
    after = report(server, key)["plannedLandUse"]
    assert [z["zone"]["loaiDatQH"] for z in after["zones"]] == [original_use]
    assert [(v["versionId"], v["inForce"], v["draft"], v["decision"]) for v in after["versions"]] == [
        (DRAFT, True, False, "99/QĐ-UBND")
    ]
    record = get(f"{server}/ogc/collections/catalogue/items/{LAYER}?f=json")["properties"]
    assert record["decision"]["version_id"] == DRAFT and record["drafts"] == []
    current = downloads.current(get_settings(), LAYER) / f"{LAYER}.csv"
    assert set(pd.read_csv(current)["version_id"]) == {DRAFT}, "the downloads follow the approval"


def test_manifest_delivers_a_draft(server: str, database: str, tmp_path: Path) -> None:
    version = "qhsdd-2035-dt-manifest"
    delivery = {"layer": LAYER, "source": str(SOURCE), "source_layer": "quy_hoach_sdd", "crs": "EPSG:9209"}
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(
        json.dumps({"deliveries": [delivery | {"version": {"id": version, "draft": True, "valid_from": "2026-01-01"}}]})
    )
    with pytest.raises(BadInput, match="approv"):
        run_manifest(manifest)
    manifest.write_text(json.dumps({"deliveries": [delivery | {"version": {"id": version, "draft": True}}]}))
    try:
        assert [r.outcome for r in run_manifest(manifest)] == ["published"]
        with psycopg.connect(database) as conn:
            row = conn.execute(
                "select draft, valid_to is not null from bando.layer_versions where layer = %s and version_id = %s",
                (LAYER, version),
            ).fetchone()
        assert row == (True, True)
        assert item_versions(server) == {IN_FORCE}
    finally:
        forget(database, version)
