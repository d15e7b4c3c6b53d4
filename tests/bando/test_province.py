"""The province: resolved from current or pre-2025 codes and names; never silently switched."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bando.errors import SetupError
from bando.province import resolve
from tests.conftest import cli_env


@pytest.mark.parametrize("value", ["33", "Hưng Yên", "hung yen", "Thái Bình", "34", "Tỉnh Hưng Yên"])
def test_current_and_former_codes_and_names_resolve(value: str) -> None:
    p = resolve(value)
    assert (p.code, p.name, p.tm3_epsg) == (33, "Hưng Yên", 9209)
    assert {part.name for part in p.parts} == {"Hưng Yên", "Thái Bình"}


def test_merged_province_accepts_each_former_meridian() -> None:
    tay_ninh = resolve("Tây Ninh")
    assert tay_ninh.merged_meridians and tay_ninh.accepted_srids == (9209, 9210)
    assert resolve("Long An").code == tay_ninh.code
    assert resolve("Tây Ninh", "EPSG:9210").tm3_epsg == 9210
    with pytest.raises(SetupError, match="not the TM-3 zone of any part"):
        resolve("Tây Ninh", "EPSG:5897")


def test_commune_codes_include_todays_and_former_wards() -> None:
    codes = resolve("33").commune_codes
    assert "11953" in codes  # Phường Phố Hiến, after the 2025 reform
    assert all(len(c) == 5 for c in codes)


def test_unknown_province_is_a_clear_error() -> None:
    with pytest.raises(SetupError, match="unknown province"):
        resolve("Atlantis")


def test_switching_province_on_a_database_is_refused(database: str, bando_bin: str) -> None:
    result = subprocess.run(
        [bando_bin, "db", "up"], capture_output=True, text=True, env=cli_env({"BANDO_PROVINCE": "Hồ Chí Minh"})
    )
    assert result.returncode == 7
    assert "will not mix CRSs" in result.stderr and "Traceback" not in result.stderr
    assert subprocess.run([bando_bin, "db", "up"], env=cli_env(), capture_output=True).returncode == 0


def test_no_province_configured_is_a_clear_error(bando_bin: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [bando_bin, "db", "up"],
        capture_output=True,
        text=True,
        env=cli_env({"BANDO_PROVINCE": "", "BANDO_HOME": str(tmp_path / "h")}),
    )
    assert result.returncode == 7 and "no province configured" in result.stderr
