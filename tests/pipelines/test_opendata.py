"""Open-data downloads: written at publish time in six formats, public fields only, linked from
the collection and its record, served with validators, and never left half-written."""

from __future__ import annotations

import io
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pyogrio
import pytest
from starlette.testclient import TestClient

from bando import downloads
from bando.layers.catalogue import load as load_catalogue
from bando.pipelines import opendata
from bando.province import configured
from bando.settings import get_settings

VECTOR = [layer for layer in load_catalogue() if layer.kind == "vector" and layer.geometry]
RESTRICTED = {f.name for layer in load_catalogue() for f in layer.fields if not f.public}
SIX = {"gpkg", "geojson", "csv", "shp.zip", "parquet", "fgb"}


@pytest.fixture(scope="module")
def client(loaded: list) -> Iterator[TestClient]:
    from bando.cli.server import create_app

    with TestClient(create_app("http://testserver", get_settings()), raise_server_exceptions=False) as c:
        yield c


def _owner_names(database: str) -> list[str]:
    with psycopg.connect(database) as conn:
        rows = conn.execute('select distinct "tenChu" from data.parcels where "tenChu" is not null').fetchall()
    return [r[0] for r in rows if r[0] and len(r[0]) > 5]


def _ext(name: str) -> str:
    return "shp.zip" if name.endswith(".shp.zip") else name.rsplit(".", 1)[1]


def test_every_public_layer_has_six_downloads_that_tools_open(client: TestClient, database: str) -> None:
    owners = _owner_names(database)
    assert owners, "the samples have owner names to look for"
    for layer in VECTOR:
        listing = client.get(f"/ogc/collections/{layer.id}/downloads")
        assert listing.status_code == 200, (layer.id, listing.text)
        files = listing.json()["files"]
        current = [f for f in files if "version" not in f]
        assert {_ext(f["name"]) for f in current} == SIX, layer.id
        assert listing.json()["licence"]["url"].startswith("https://")
        folder = downloads.current(get_settings(), layer.id)
        for f in files:
            path = folder / f["name"]
            assert path.stat().st_size == f["size"] and len(f["sha256"]) == 64 and f["dataDate"]
            _opens_without_restricted_fields(path, _ext(f["name"]))
            _holds_no_owner_name(path, _ext(f["name"]), owners)


def _opens_without_restricted_fields(path: Path, ext: str) -> None:
    if ext == "parquet":
        columns = set(pq.read_table(path).column_names)
        assert "geometry" in columns and b"geo" in pq.read_schema(path).metadata
    elif ext == "csv":
        columns = set(path.read_text(encoding="utf-8").splitlines()[0].split(","))
    else:
        target = f"/vsizip/{path}" if ext == "shp.zip" else str(path)
        if ext in ("gpkg", "shp.zip", "fgb"):
            done = subprocess.run(["ogrinfo", "-ro", "-so", "-al", target], capture_output=True, text=True)
            assert done.returncode == 0 and "Feature Count" in done.stdout, (path.name, done.stderr[-300:])
        columns = set(pyogrio.read_info(target)["fields"])
    assert not columns & RESTRICTED, (path.name, columns & RESTRICTED)


def _holds_no_owner_name(path: Path, ext: str, owners: list[str]) -> None:
    if ext == "shp.zip":
        with zipfile.ZipFile(path) as z:
            assert any(n.endswith(".cpg") for n in z.namelist())
            raw = b"".join(z.read(n) for n in z.namelist())
    elif ext == "parquet":
        raw = io.BytesIO()
        pq.write_table(pq.read_table(path), raw, compression="none")
        raw = raw.getvalue()
    else:
        raw = path.read_bytes()
    text = raw.decode("utf-8", "replace")
    assert not [o for o in owners if o in text], path.name


def test_old_plan_versions_have_their_own_files(client: TestClient) -> None:
    files = client.get("/ogc/collections/land_use_plan/downloads").json()["files"]
    versions = {f["version"]["id"] for f in files if "version" in f}
    assert "qhsdd-2030" in versions
    assert {_ext(f["name"]) for f in files if f.get("version", {}).get("id") == "qhsdd-2030"} == SIX


def test_downloads_are_linked_from_the_collection_and_the_record(client: TestClient) -> None:
    collection = client.get("/ogc/collections/roads", params={"f": "json"}).json()
    enclosures = [link for link in collection["links"] if link["rel"] == "enclosure"]
    assert len(enclosures) == 6
    record = client.get("/ogc/collections/catalogue/items/roads", params={"f": "json"}).json()
    assert {link["href"] for link in record["links"] if link["rel"] == "enclosure"} == {e["href"] for e in enclosures}
    href = enclosures[0]["href"].removeprefix("http://testserver")
    first = client.get(href)
    assert first.status_code == 200 and first.headers["content-type"].startswith(enclosures[0]["type"])
    assert client.get(href, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert client.get("/ogc/collections/roads/downloads/..%2F..%2Fmanifest.json").status_code == 404
    assert client.get("/ogc/collections/roads/downloads/roads.exe").status_code == 404


def test_a_failed_export_leaves_the_previous_downloads(loaded: list, database: str, monkeypatch) -> None:
    settings = get_settings()
    layer = next(layer for layer in VECTOR if layer.id == "roads")
    before = downloads.manifest(settings, "roads")
    real = pyogrio.write_arrow

    def failing(rows, path, driver=None, **kw):  # type: ignore[no-untyped-def]
        if driver == "FlatGeobuf":
            Path(path).write_bytes(b"half")
            raise OSError("disk full")
        return real(rows, path, driver=driver, **kw)

    monkeypatch.setattr(opendata.pyogrio, "write_arrow", failing)
    with pytest.raises(OSError):
        opendata.export(layer, database, settings, configured(settings))
    assert downloads.manifest(settings, "roads") == before
    base = downloads.root(settings) / "roads"
    assert not [p.name for p in base.iterdir() if p.name.startswith(".")], "no half-written folder is left"
    opendata.export_after_publish(layer, database, settings, configured(settings))  # logged, not raised


def test_load_without_downloads_then_bando_downloads_writes_them(loaded: list, bando_bin: str) -> None:
    """A big delivery can go live first and have its files written after, by one command."""
    from tests.conftest import ROOT, cli_env

    settings = get_settings()
    before = downloads.manifest(settings, "roads")
    source = ROOT / "data_samples" / "hung_yen" / "roads.geojson"
    run = subprocess.run(
        [bando_bin, "load", "roads", str(source), "--force", "--no-downloads"],
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert run.returncode == 0, run.stderr[-500:]
    assert downloads.manifest(settings, "roads") == before  # published, files untouched
    run = subprocess.run([bando_bin, "downloads", "roads"], capture_output=True, text=True, env=cli_env())
    assert run.returncode == 0 and "roads: 6 files" in run.stdout, run.stdout + run.stderr
    after = downloads.manifest(settings, "roads")
    assert after["lineage"] > before["lineage"]
    refused = subprocess.run([bando_bin, "downloads", "flood_depth"], capture_output=True, text=True, env=cli_env())
    assert refused.returncode != 0 and "only vector layers" in refused.stdout + refused.stderr
