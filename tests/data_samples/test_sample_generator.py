"""The sample-data generator is deterministic and its CLI works.

Kept fast (a few seconds): the generator is called as a function with a small
parcel count, twice with the same seed into two temporary folders.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from bando.data_samples.gen.snapshot import read_tree
from bando.data_samples.generate import ALL_DATASETS, generate

ROOT = Path(__file__).resolve().parents[2]
SMALL = 900


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a, b = tmp_path_factory.mktemp("run_a"), tmp_path_factory.mktemp("run_b")
    quiet = lambda msg: None  # noqa: E731
    generate(a, seed=11, parcels=SMALL, log=quiet)
    generate(b, seed=11, parcels=SMALL, log=quiet)
    return a, b


def test_same_seed_same_data(two_runs: tuple[Path, Path]) -> None:
    a, b = (read_tree(p) for p in two_runs)
    assert a.keys() == b.keys()
    assert any(k.startswith("hung_yen/parcels.gpkg::") for k in a)
    for key in a:
        ta, tb = a[key], b[key]
        assert ta.columns == tb.columns, key
        assert ta.rows == tb.rows, key
        if ta.geoms is not None:
            wa = shapely.to_wkb(ta.geoms, output_dimension=2)
            wb = shapely.to_wkb(tb.geoms, output_dimension=2)
            assert list(wa) == list(wb), f"geometry differs in {key}"
        assert ta.raw == tb.raw, key


def test_every_dataset_written(two_runs: tuple[Path, Path]) -> None:
    root = two_runs[0]
    out = root / "hung_yen"
    for name in (
        "communes.gpkg",
        "parcels.gpkg",
        "land_use_status.gpkg",
        "land_use_plan_v1.gpkg",
        "land_use_plan_v2.gpkg",
        "construction_plan_1_2000.gpkg",
        "roads.geojson",
        "drainage.geojson",
        "water_pipes/ong_cap_nuoc.shp",
        "power_lines/duong_day.shp",
        "point_assets.csv",
        "cameras.csv",
        "sensors.csv",
        "sensor_readings.csv",
        "flood_depth.tif",
        "parcels_tcvn3/thua_dat.shp",
        "dirty/defects.yml",
    ):
        assert (out / name).exists(), name
    assert (root / "manifest.yml").exists()
    n = len(pyogrio.read_dataframe(out / "parcels.gpkg", read_geometry=False))
    assert 0.7 * SMALL < n < 1.3 * SMALL


def test_other_seed_other_data(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    generate(tmp_path, seed=12, parcels=SMALL, datasets=["parcels"], log=lambda m: None)
    a = pyogrio.read_dataframe(two_runs[0] / "hung_yen" / "parcels.gpkg")
    c = pyogrio.read_dataframe(tmp_path / "hung_yen" / "parcels.gpkg")
    assert len(a) != len(c) or not np.allclose(a["dienTich"].to_numpy(), c["dienTich"].to_numpy())


def test_parcels_only_run_matches_full_run(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    """Each dataset has its own random stream: asking for fewer datasets changes nothing."""
    generate(tmp_path, seed=11, parcels=SMALL, datasets=["parcels"], log=lambda m: None)
    full = read_tree(two_runs[0] / "hung_yen")["parcels.gpkg::thua_dat"]
    only = read_tree(tmp_path / "hung_yen")["parcels.gpkg::thua_dat"]
    assert full.digest() == only.digest()


def test_scale_mode_adds_communes(tmp_path: Path) -> None:
    """Past ~1 700 parcels a commune, synthetic communes (codes 9xxxx) are added."""
    generate(tmp_path, seed=3, parcels=8000, datasets=["parcels"], log=lambda m: None)
    df = pyogrio.read_dataframe(tmp_path / "hung_yen" / "parcels.gpkg", read_geometry=False)
    codes = sorted(set(df["maXa"]))
    assert len(codes) == 5 and codes[-1].startswith("9") and all(len(c) == 5 for c in codes)
    assert not df.duplicated(["maXa", "soHieuToBanDo", "soThuTuThua"]).any()


def test_cli(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "data_samples" / "generate.py"),
            "--seed",
            "5",
            "--parcels",
            "400",
            "--out",
            str(tmp_path),
            "--datasets",
            "parcels,communes",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "parcels:" in proc.stderr and "done" in proc.stderr
    assert (tmp_path / "hung_yen" / "parcels.gpkg").exists()
    assert (tmp_path / "hung_yen" / "communes.gpkg").exists()
    bad = subprocess.run(
        [sys.executable, str(ROOT / "data_samples" / "generate.py"), "--datasets", "nope", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "unknown datasets" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_all_datasets_listed() -> None:
    assert "parcels" in ALL_DATASETS and "manifest" in ALL_DATASETS
