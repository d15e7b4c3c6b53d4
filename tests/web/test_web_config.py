"""The pages' configuration is derived from the catalogue, and carries nothing personal."""

from __future__ import annotations

import json

import pytest

from bando.codes import land_use_codes
from bando.layers.catalogue import cached
from bando.province import resolve
from bando.web import site_config


@pytest.fixture(scope="module")
def catalogue():
    return cached()


@pytest.fixture(scope="module", params=["site", "ioc"])
def config(request, catalogue) -> dict:
    return site_config.build(catalogue, resolve("33"), "", request.param)


def test_layer_titles_tiles_and_styles_come_from_the_catalogue(config: dict, catalogue) -> None:
    assert config["layers"]
    for entry in config["layers"]:
        layer = catalogue.get(entry["id"])
        assert entry["title"] == {"vi": layer.title.vi, "en": layer.title.en}
        assert entry["style"]["stroke"] == layer.style.stroke
        if layer.tiles:
            assert entry["tiles"]["minzoom"] == layer.tiles.minzoom
            assert entry["tiles"]["maxzoom"] == layer.tiles.maxzoom
            assert entry["tiles"]["url"] == f"/ogc/collections/{layer.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"
        else:
            assert entry["tiles"] is None


def test_legend_is_the_land_use_code_table(config: dict) -> None:
    codes = land_use_codes()
    assert {c["code"]: c["colour"] for c in config["landUse"]} == {k: v.colour for k, v in codes.items()}
    assert {c["code"]: c["name"]["vi"] for c in config["landUse"]} == {k: v.name_vi for k, v in codes.items()}


def test_no_personal_or_non_public_field_is_named(config: dict, catalogue) -> None:
    hidden = {f.name for layer in catalogue for f in layer.fields if not f.public or f.personal}
    assert hidden, "the catalogue has personal fields (parcels' owners): this test must see them"
    text = json.dumps(config, ensure_ascii=False)
    for name in hidden:
        assert f'"{name}"' not in text, name
    for entry in config["layers"]:
        layer = catalogue.get(entry["id"])
        public = {f.name for f in layer.public_fields}
        assert {f["name"] for f in entry["fields"]} <= public
        if entry["tiles"]:
            assert set(entry["tiles"]["properties"]) <= public


def test_roles_and_alert_thresholds_are_found_from_the_catalogue(catalogue) -> None:
    ioc = site_config.build(catalogue, resolve("33"), "", "ioc")
    site = site_config.build(catalogue, resolve("33"), "", "site")
    assert site["parcelLayer"] == "parcels" and site["planLayer"] == "land_use_plan"
    assert site["planField"] == catalogue.get("land_use_plan").style.by
    assert not any(entry["theme"] == "ioc" for entry in site["layers"]), "live points are the IOC's"
    roles = {entry["id"]: entry["role"] for entry in ioc["layers"] if entry["role"]}
    assert roles["cameras"] == "live" and roles["env_sensors"] == "sensor"
    alert = catalogue.get("sensor_readings").alert
    [readings] = ioc["readings"]
    assert readings["parent"] == "env_sensors"
    assert readings["thresholds"] == dict(alert.thresholds) and readings["value"] == alert.field
    assert site["readings"] == []


def test_province_extent_and_tm3_zone(config: dict) -> None:
    province = resolve("33")
    assert config["province"]["tm3"]["epsg"] == province.tm3_epsg
    assert config["province"]["bbox"] == list(province.bbox_lonlat)
    x0, y0, x1, y1 = config["province"]["tm3"]["bbox"]
    assert 300_000 < x0 < x1 < 700_000 and 1_000_000 < y0 < y1 < 2_700_000


def test_basemap_is_optional_and_only_its_origin_is_allowed() -> None:
    assert site_config.basemap("") is None
    assert (
        site_config.basemap("https://tiles.example.gov.vn/{z}/{x}/{y}.png")["origin"] == "https://tiles.example.gov.vn"
    )
