"""`bando qgis-project`: the planners' project opens in headless QGIS, every layer valid,
grouped by theme, the plan's versions as filtered layers, and the land-use colour of a
known LUC parcel where QGIS renders it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest

from bando.layers.catalogue import cached
from bando.layers.model import THEMES
from tests.clients.test_qgis import SYSTEM_PYTHON, _qgis_env, qgis, qgis_home  # noqa: F401
from tests.conftest import cli_env

PROBE = Path(__file__).with_name("qgis_project_probe.py")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "qgis-project.png"
LUC = (0xFF, 0xFC, 0x8C)


@pytest.fixture(scope="module")
def luc_point(database: str, loaded: list) -> tuple[float, float]:
    """A point well inside a large LUC parcel, away from roads and the commune boundary (storage CRS)."""
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "select st_x(p), st_y(p) from (select st_pointonsurface(geom) p, geom from data.parcels"
            " where \"loaiDat\" = 'LUC' and st_area(geom) > 1500) t"
            " where st_distance(p, st_boundary(geom)) > 8"
            " and not exists (select 1 from data.roads r where st_dwithin(r.geom, p, 30))"
            " and not exists (select 1 from data.communes c where st_dwithin(st_boundary(c.geom), p, 30))"
            " limit 1"
        ).fetchone()
    assert row, "no LUC parcel fit for the check in the samples"
    return row[0], row[1]


def test_project_opens_valid_and_shows_the_luc_colour(
    server: str,
    bando_bin: str,
    tmp_path: Path,
    qgis: str,  # noqa: F811
    qgis_home: Path,  # noqa: F811
    luc_point: tuple[float, float],
) -> None:
    out = tmp_path / "bando.qgz"
    run = subprocess.run(
        [bando_bin, "qgis-project", str(out), "--base-url", server],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert out.stat().st_size > 1000
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        [SYSTEM_PYTHON, str(PROBE), str(out), str(luc_point[0]), str(luc_point[1]), "448"],
        capture_output=True,
        text=True,
        env=_qgis_env(qgis_home) | {"PROBE_PNG": str(SCREENSHOT)},
        timeout=600,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["read"]
    invalid = [name for name, x in seen["layers"].items() if not x["valid"]]
    assert not invalid, f"invalid layers: {invalid}"
    assert seen["crs"] == "EPSG:9209"
    assert seen["operations"] >= 1, "the VN-2000 → WGS 84 transformation is pinned in the project"
    themes = {THEMES[x.theme].vi for x in cached() if x.kind == "vector" and x.geometry}
    assert {g.split(" / ")[0] for g in seen["groups"]} == themes
    plans = {n: s for n, s in seen["subsets"].items() if n.startswith(cached().get("land_use_plan").title.vi)}
    assert len(plans) >= 2 and all("version_id" in s for s in plans.values()), plans
    assert seen["aliases"]["soHieuToBanDo"] == "Số hiệu tờ bản đồ"
    assert "tenChu" not in seen["aliases"]
    providers = {x["provider"] for x in seen["layers"].values()}
    assert {"OAPIF", "vectortile"} <= providers
    assert all(abs(a - b) <= 3 for a, b in zip(seen["pixel"], LUC, strict=True)), (seen["pixel"], seen["scale"])
