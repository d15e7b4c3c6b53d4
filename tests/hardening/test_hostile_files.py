"""Malformed and hostile deliveries for `bando load`: each one a clear refusal, nothing published.

Every file is really loaded (not a dry run) into the published ``parcels`` layer of the
suite's cluster, whose content is compared before and after: a refusal must leave it
as it was, leave no staging table, say what is wrong in one line (exit 2 or 4) and put
no traceback, Python warning or source path on the terminal.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.conftest import cli_env
from tests.hardening.cluster import layer_fingerprint, staging_tables
from tests.pipelines.synthetic import parcel_grid

SQUARE = [[[560000, 2310000], [560020, 2310000], [560020, 2310020], [560000, 2310020], [560000, 2310000]]]
PROPS = {"maXa": "12345", "soHieuToBanDo": 1, "soThuTuThua": 1, "dienTich": 400.0, "loaiDat": "LUC"}


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 4, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" + b"\xff\0\0" * 4))
        + chunk(b"IEND", b"")
    )


def _geojson(path: Path, properties: dict, coordinates: object = SQUARE) -> Path:
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::9209"}},
        "features": [
            {"type": "Feature", "properties": properties, "geometry": {"type": "Polygon", "coordinates": coordinates}}
        ],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _bomb(path: Path, megabytes: int = 200) -> Path:
    """A small zip (~200 KB) holding a member of `megabytes` MB of zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z, z.open("thua_dat.gpkg", "w") as fh:
        for _ in range(megabytes):
            fh.write(bytes(1 << 20))
    return path


def zero_bytes(d: Path, suffix: str) -> Path:
    path = d / f"empty{suffix}"
    path.write_bytes(b"")
    if suffix == ".shp":
        for side in (".dbf", ".shx"):
            path.with_suffix(side).write_bytes(b"")
    return path


def text_as_gpkg(d: Path) -> Path:
    (d / "notes.gpkg").write_text("Thửa đất số 12, tờ 3 — this is a text file, not a GeoPackage\n", encoding="utf-8")
    return d / "notes.gpkg"


def png_as_shp(d: Path) -> Path:
    for side in (".shp", ".dbf", ".shx"):
        (d / f"photo{side}").write_bytes(_png())
    return d / "photo.shp"


def png_as_geojson(d: Path) -> Path:
    (d / "photo.geojson").write_bytes(_png())
    return d / "photo.geojson"


def zip_bomb(d: Path) -> Path:
    return _bomb(d / "delivery.zip")


def zip_bomb_as_gpkg(d: Path) -> Path:
    return _bomb(d / "delivery.gpkg")


def truncated_gpkg(d: Path) -> Path:
    whole = parcel_grid(d / "whole.gpkg", 2_000)
    data = whole.read_bytes()
    (d / "truncated.gpkg").write_bytes(data[: len(data) // 3])
    return d / "truncated.gpkg"


def huge_attribute_geojson(d: Path) -> Path:
    """One feature whose address is a 50 MB string: the '2 GB attribute' case, scaled down."""
    return _geojson(d / "huge.geojson", PROPS | {"diaChi": "A" * 50_000_000})


def deeply_nested_geojson(d: Path) -> Path:
    path = d / "nested.geojson"
    nested = "[" * 10_000 + "]" * 10_000
    text = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": PROPS, "geometry": {"type": "Polygon", "coordinates": "X"}}],
        }
    )
    path.write_text(text.replace('"X"', nested), encoding="utf-8")
    return path


def wide_csv(d: Path) -> Path:
    path = d / "wide.csv"
    names = [f"c{i}" for i in range(100_000)]
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n", encoding="utf-8")
    return path


def layer_without_features(d: Path) -> Path:
    return parcel_grid(d / "no_features.gpkg", 0)


CASES: dict[str, Callable[[Path], Path]] = {
    "zero-byte .gpkg": lambda d: zero_bytes(d, ".gpkg"),
    "zero-byte .geojson": lambda d: zero_bytes(d, ".geojson"),
    "zero-byte .csv": lambda d: zero_bytes(d, ".csv"),
    "zero-byte .shp/.dbf/.shx": lambda d: zero_bytes(d, ".shp"),
    "text file named .gpkg": text_as_gpkg,
    "PNG named .shp (with .dbf/.shx)": png_as_shp,
    "PNG named .geojson": png_as_geojson,
    "zip bomb .zip": zip_bomb,
    "zip bomb named .gpkg": zip_bomb_as_gpkg,
    "GeoPackage truncated to a third": truncated_gpkg,
    "GeoJSON with a 50 MB attribute": huge_attribute_geojson,
    "GeoJSON nested 10000 deep": deeply_nested_geojson,
    "CSV with 100000 columns": wide_csv,
    "GeoPackage layer with 0 features": layer_without_features,
}


def _latest(url: str) -> tuple[str, str] | None:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select outcome, message from bando.lineage where layer = 'parcels' order by id desc limit 1"
        ).fetchone()


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file_is_refused_clearly_and_publishes_nothing(
    name: str, loaded: list, database: str, bando_bin: str, tmp_path: Path
) -> None:
    source = CASES[name](tmp_path)
    with psycopg.connect(database, autocommit=True) as conn:
        before = layer_fingerprint(conn)
    last = _latest(database)
    proc = subprocess.run(
        [bando_bin, "load", "parcels", str(source), "--force"],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    shutil.rmtree(tmp_path, ignore_errors=True)  # 250 MB of hostile files need not outlive the case
    text = proc.stdout + proc.stderr
    assert proc.returncode in (2, 4), (proc.returncode, text[-2000:])
    for noise in ("traceback", 'file "', ".py:", "warning:", "internal error"):
        assert noise not in text.lower(), (noise, text[-2000:])
    first = text.strip().splitlines()[0]
    assert first.startswith(("parcels: refused — ", "error: ")), text[-2000:]
    with psycopg.connect(database, autocommit=True) as conn:
        assert layer_fingerprint(conn) == before, "the published layer changed"
        assert staging_tables(conn) == []
    latest = _latest(database)
    if latest != last:  # the refusal is in the lineage: one line, short, naming the file's problem
        outcome, message = latest
        assert outcome == "refused", latest
        assert "\n" not in message and len(message) <= 300, message
        assert str(tmp_path) not in message and "select " not in message.lower(), message  # no GDAL internals
