"""`bando layers` and the CLI's error handling."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bando.layers import catalogue
from tests.conftest import ROOT, cli_env


def test_layers_lists_every_catalogue_entry(bando_bin: str) -> None:
    result = subprocess.run([bando_bin, "layers"], capture_output=True, text=True, env=cli_env({"COLUMNS": "200"}))
    assert result.returncode == 0, result.stderr
    for layer in catalogue.load():
        assert layer.id in result.stdout


def test_broken_yaml_gives_one_line_naming_file_and_field(bando_bin: str, tmp_path: Path) -> None:
    for src in (ROOT / "layers").glob("*.yml"):
        shutil.copy(src, tmp_path)
    broken = tmp_path / "parcels.yml"
    broken.write_text(broken.read_text().replace("type: integer", "type: number", 1))
    result = subprocess.run(
        [bando_bin, "layers"],
        capture_output=True,
        text=True,
        env=cli_env({"BANDO_LAYERS_DIR": str(tmp_path), "COLUMNS": "300"}),
    )
    assert result.returncode == 6
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: parcels.yml: fields.1(soHieuToBanDo).type:")
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error_not_a_traceback(bando_bin: str) -> None:
    result = subprocess.run([bando_bin, "lod"], capture_output=True, text=True, env=cli_env())
    assert result.returncode == 2 and "Traceback" not in result.stderr
