"""`bando api-config`: the pygeoapi configurations and OpenAPI documents, written for inspection."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.conftest import cli_env


def test_api_config_writes_both_views_and_their_openapi(database: str, bando_bin: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [bando_bin, "api-config", "--out-dir", str(tmp_path), "--base-url", "https://gis.example.vn"],
        capture_output=True,
        text=True,
        env=cli_env({"COLUMNS": "300"}),
    )
    assert result.returncode == 0, result.stderr
    for view in ("public", "internal"):
        config = yaml.safe_load((tmp_path / f"pygeoapi-{view}.yml").read_text(encoding="utf-8"))
        assert "parcels" in config["resources"]
        openapi = yaml.safe_load((tmp_path / f"openapi-{view}.yml").read_text(encoding="utf-8"))
        assert openapi["servers"][0]["url"].startswith("https://gis.example.vn")
