"""Styles derived from the catalogue: MapLibre JSON validated by MapLibre's own validator,
SLD 1.0 parsed as XML, QML and SLD loaded into headless QGIS, SVG legends.

The colours checked are the catalogue's and the code table's, read here independently.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bando.codes import land_use_codes
from bando.layers.catalogue import load
from bando.layers.model import Layer
from bando.layers.styles import classes, legend, maplibre, qml, sld, styled
from bando.layers.styles.rules import label_parts, scale_of_zoom
from tests.clients.test_qgis import SYSTEM_PYTHON, _qgis_env, qgis, qgis_home  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
VALIDATE = ROOT / "web" / "node_modules" / ".bin" / "gl-style-validate"
PROBE = Path(__file__).with_name("qgis_style_probe.py")
CATALOGUE = list(load())
STYLED = [layer for layer in CATALOGUE if styled(layer)]
BY_ID = {layer.id: layer for layer in CATALOGUE}
SLD_NS = "{http://www.opengis.net/sld}"
OGC_NS = "{http://www.opengis.net/ogc}"
API = "http://127.0.0.1:1/ogc"


def _validate(doc: dict, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    run = subprocess.run([str(VALIDATE), str(path)], capture_output=True, text=True, timeout=120)
    return (run.stdout + run.stderr).strip() if run.returncode else ""


def test_map_and_layer_styles_validate_with_maplibre_style_spec(tmp_path: Path) -> None:
    assert VALIDATE.exists(), "make setup installs @maplibre/maplibre-gl-style-spec (web/package.json)"
    docs = {"map": maplibre.map_style(CATALOGUE, "bando", API, API)}
    docs |= {layer.id: maplibre.layer_style(layer, API, API, [105.9, 20.6, 106.1, 20.8]) for layer in STYLED}
    problems = {name: _validate(doc, tmp_path, name) for name, doc in docs.items()}
    assert not {k: v for k, v in problems.items() if v}


def test_validator_rejects_a_broken_style(tmp_path: Path) -> None:
    """The validator really validates: a fill layer with a line property is refused."""
    doc = maplibre.layer_style(BY_ID["parcels"], API, API)
    doc["layers"][1]["paint"]["line-color"] = "#000000"
    assert "line-color" in _validate(doc, tmp_path, "broken")


def test_map_style_puts_every_label_above_every_fill() -> None:
    layers = maplibre.map_style(CATALOGUE, "bando", API, API)["layers"]
    kinds = [x["type"] for x in layers]
    assert max(i for i, k in enumerate(kinds) if k == "fill") < min(i for i, k in enumerate(kinds) if k == "symbol")
    labels = {x["source"]: x for x in layers if x["type"] == "symbol"}
    assert {"communes", "roads", "parcels"} <= set(labels)
    assert labels["parcels"]["layout"]["text-field"] == [
        "concat",
        ["to-string", ["get", "soHieuToBanDo"]],
        "/",
        ["to-string", ["get", "soThuTuThua"]],
    ]
    assert labels["roads"]["layout"]["symbol-placement"] == "line"
    assert labels["parcels"]["minzoom"] == 17


def test_finer_labels_win_collisions_and_lines_win_over_areas() -> None:
    """MapLibre places the topmost symbol layer first: a parcel's number must come after
    (above) the names of the commune, hamlet and plan zone it lies in, and a road's name
    after the parcels'."""
    layers = maplibre.map_style(CATALOGUE, "bando", API, API)["layers"]
    at = {x["source"]: i for i, x in enumerate(layers) if x["type"] == "symbol"}
    assert at["communes"] < at["hamlets"] < at["parcels"] < at["roads"]
    assert at["land_use_plan"] < at["parcels"]


def test_land_use_colours_come_from_the_code_table() -> None:
    fill = next(x for x in maplibre.draw_layers(BY_ID["parcels"]) if x["type"] == "fill")["paint"]["fill-color"]
    pairs = dict(zip(fill[2:-1:2], fill[3:-1:2], strict=True))
    assert pairs["LUC"] == "#FFFC8C" == land_use_codes()["LUC"].colour
    assert pairs["ODT"] == land_use_codes()["ODT"].colour
    assert set(pairs) == set(land_use_codes())


def test_labels_name_public_tiled_fields_only() -> None:
    for layer in CATALOGUE:
        fields = [v for t, v in label_parts(layer) if t == "field"]
        for name in fields:
            assert layer.field(name).public, f"{layer.id}: label field {name} is not public"
            assert layer.tiles and name in (layer.tiles.properties or ()), f"{layer.id}: {name} not in its tiles"


def test_a_label_naming_a_personal_field_is_refused() -> None:
    raw = BY_ID["parcels"].model_dump()
    raw["style"]["label"] = "{tenChu}"
    with pytest.raises(ValueError, match="not public"):
        Layer.model_validate(raw)


def test_each_sld_parses_as_sld_1_0() -> None:
    for layer in STYLED:
        root = ET.fromstring(sld.sld(layer))
        assert root.tag == f"{SLD_NS}StyledLayerDescriptor" and root.get("version") == "1.0.0"
        assert root.findtext(f"{SLD_NS}NamedLayer/{SLD_NS}Name") == layer.id
        rules = root.findall(f".//{SLD_NS}Rule")
        assert len(rules) == len(classes(layer)) + (1 if layer.style.label else 0)
    parcels = ET.fromstring(sld.sld(BY_ID["parcels"]))
    luc = next(r for r in parcels.iter(f"{SLD_NS}Rule") if r.findtext(f"{SLD_NS}Name") == "LUC")
    assert luc.findtext(f".//{OGC_NS}PropertyName") == "loaiDat"
    assert luc.findtext(f".//{SLD_NS}Fill/{SLD_NS}CssParameter") == "#FFFC8C"
    label = next(parcels.iter(f"{SLD_NS}Label"))
    assert "".join(label.itertext()) == "soHieuToBanDo/soThuTuThua"
    rule = next(r for r in parcels.iter(f"{SLD_NS}Rule") if r.findtext(f"{SLD_NS}Name") == "label")
    assert float(rule.findtext(f"{SLD_NS}MaxScaleDenominator") or 0) == pytest.approx(scale_of_zoom(17.5), rel=1e-3)


def test_legend_lists_every_class_with_its_colour() -> None:
    root = ET.fromstring(legend.legend_svg(BY_ID["parcels"]))
    rects = root.findall(".//{http://www.w3.org/2000/svg}rect")
    assert len(rects) == len(land_use_codes())
    assert any(r.get("fill") == "#FFFC8C" for r in rects)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "LUC — Đất chuyên trồng lúa" in texts


@pytest.mark.slow  # QGIS: left out of `make test-fast`
def test_each_qml_and_sld_loads_in_headless_qgis(qgis: str, qgis_home: Path, tmp_path: Path) -> None:  # noqa: F811
    spec = []
    for layer in STYLED:
        (tmp_path / f"{layer.id}.qml").write_bytes(qml.qml(layer))
        (tmp_path / f"{layer.id}.sld").write_bytes(sld.sld(layer))
        spec.append(
            {
                "id": layer.id,
                "geometry": layer.geometry,
                "fields": [f.name for f in layer.public_fields],
                "qml": str(tmp_path / f"{layer.id}.qml"),
                "sld": str(tmp_path / f"{layer.id}.sld"),
            }
        )
    (tmp_path / "spec.json").write_text(json.dumps({"layers": spec}), encoding="utf-8")
    run = subprocess.run(
        [SYSTEM_PYTHON, str(PROBE), str(tmp_path / "spec.json")],
        capture_output=True,
        text=True,
        env=_qgis_env(qgis_home),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    for layer in STYLED:
        for encoding in ("qml", "sld"):
            assert seen[layer.id][encoding]["ok"], (layer.id, encoding, seen[layer.id][encoding]["message"])
    parcels = seen["parcels"]
    assert parcels["qml"]["renderer"]["type"] == "categorizedSymbol"
    assert parcels["qml"]["renderer"]["attr"] == "loaiDat"
    assert parcels["qml"]["renderer"]["colours"]["LUC"] == "#FFFC8C"
    assert parcels["sld"]["renderer"]["type"] == "RuleRenderer"  # QGIS reads SLD rules as rules
    assert parcels["sld"]["renderer"]["colours"]["loaiDat = 'LUC'"] == "#FFFC8C"
    assert parcels["qml"]["labels"] and parcels["qml"]["label_font"] == "Noto Sans"
    assert parcels["qml"]["label_expression"] == 'concat("soHieuToBanDo", \'/\', "soThuTuThua")'
    assert parcels["qml"]["label_min_scale"] == pytest.approx(scale_of_zoom(17.5), rel=1e-3)
    assert parcels["qml"]["aliases"]["soThuTuThua"] == "Số thứ tự thửa"
    assert parcels["qml"]["min_scale"] == pytest.approx(scale_of_zoom(13.5), rel=1e-3)
    assert seen["roads"]["qml"]["renderer"]["colour"] == BY_ID["roads"].style.stroke
