"""CAD profiles in the catalogue: checked against the layer they deliver."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bando.layers.catalogue import load
from bando.layers.model import Layer
from bando.settings import get_settings


def _parcels() -> dict:
    return load(get_settings().layers_dir).get("parcels").model_dump(mode="json")


def test_catalogue_profiles_name_real_fields() -> None:
    cat = load(get_settings().layers_dir)
    famis = cat.get("parcels").cad_profiles["famis"]
    assert famis.format == "dgn" and famis.build == "faces"
    assert set(famis.fields) == {"maXa", "soHieuToBanDo", "soThuTuThua", "loaiDat", "dienTich"}
    for layer_id in ("planning_plots", "red_lines", "building_lines"):
        assert cat.get(layer_id).cad_profiles["tt16"].format == "dxf"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": {"layers": ["13"], "pattern": r"(?P<soThua>\d+)"}}, "fields this layer lacks"),
        ({"labels": {"layers": ["13"], "pattern": r"(?P<soThuTuThua>\d+"}}, "not a regular expression"),
        ({"labels": {"layers": ["13"]}}, "either a text 'pattern' or a 'block'"),
        ({"build": "lines"}, "builds lines but the layer is MultiPolygon"),
    ],
)
def test_a_wrong_profile_is_a_catalogue_error(change: dict, message: str) -> None:
    data = _parcels()
    data["cad_profiles"]["famis"] |= change
    with pytest.raises(ValidationError, match=message):
        Layer.model_validate(data)
