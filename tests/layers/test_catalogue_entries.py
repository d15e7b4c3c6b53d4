"""The shipped layer catalogue: every entry loads, keeps personal data private, draws
its land-use codes, and a broken entry stops the load with one readable line."""

from __future__ import annotations

import csv
import re
import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from bando.errors import CatalogueError
from bando.layers import catalogue

LAYERS_DIR = catalogue.LAYERS_DIR

EXPECTED_IDS = {
    "parcels",
    "communes",
    "hamlets",
    "land_use_status",
    "land_use_plan",
    "planning_plots",
    "planning_land_functions",
    "red_lines",
    "building_lines",
    "roads",
    "water_pipes",
    "drainage_lines",
    "power_lines",
    "point_assets",
    "cameras",
    "env_sensors",
    "sensor_readings",
    "flood_depth",
}

TT16_COMMON = ["maThongTinQH", "maHoSoQH", "maDoiTuong", "tenDoiTuong", "phanLoai", "ghiChu"]
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


@pytest.fixture(scope="module")
def cat() -> catalogue.Catalogue:
    return catalogue.load()


def _read_code_table(name: str) -> list[dict[str, str]]:
    text = (files("bando") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _land_use_fields(layer):
    return [f for f in layer.fields if f.domain is not None and f.domain.codes == "land_use"]


# --- the shipped entries -------------------------------------------------------------


def test_all_layers_present(cat: catalogue.Catalogue) -> None:
    assert set(cat.layers) == EXPECTED_IDS
    assert len(cat) == len(EXPECTED_IDS)
    assert re.fullmatch(r"[0-9a-f]{12}", cat.version)


def test_every_file_is_named_after_its_id() -> None:
    stems = {p.stem for p in LAYERS_DIR.glob("*.yml")}
    assert stems == EXPECTED_IDS


@pytest.mark.parametrize("layer_id", sorted(EXPECTED_IDS))
def test_titles_and_descriptions_are_bilingual(cat: catalogue.Catalogue, layer_id: str) -> None:
    layer = cat.get(layer_id)
    for text in (layer.title, layer.description, *(f.title for f in layer.fields)):
        assert text.vi.strip() and text.en.strip()
        assert text.vi != text.en, f"{layer_id}: Vietnamese text is missing: {text.vi!r}"
    assert layer.metadata.contact.organisation
    assert layer.metadata.license == "CC-BY-4.0"
    assert layer.metadata.keywords


def test_no_personal_field_is_public(cat: catalogue.Catalogue) -> None:
    for layer in cat:
        for f in layer.fields:
            if f.personal:
                assert not f.public, f"{layer.id}.{f.name} is personal but public"
                assert f not in layer.public_fields
    # parcels is the one layer that holds personal data; nothing else does
    personal = {(layer.id, f.name) for layer in cat for f in layer.fields if f.personal}
    assert personal == {("parcels", "diaChi"), ("parcels", "tenChu"), ("parcels", "soDinhDanh")}
    non_public = {(layer.id, f.name) for layer in cat for f in layer.fields if not f.public}
    assert non_public == personal


def test_tiles_carry_public_fields_only(cat: catalogue.Catalogue) -> None:
    for layer in cat:
        if layer.kind != "vector":
            assert layer.tiles is None, f"{layer.id}: a {layer.kind} layer has no tiles"
            continue
        assert layer.tiles is not None, f"{layer.id}: a vector layer needs tiles"
        assert layer.tiles.minzoom <= layer.tiles.maxzoom
        public = {f.name for f in layer.public_fields}
        for name in layer.tiles.properties or ():
            assert name in public, f"{layer.id}: tile property {name!r} is not public"


def test_land_use_coded_layers_are_styled_by_their_code(cat: catalogue.Catalogue) -> None:
    styled = set()
    for layer in cat:
        coded = {f.name for f in _land_use_fields(layer)}
        if layer.style.codes == "land_use":
            assert layer.style.by in coded, (
                f"{layer.id}: style by {layer.style.by!r}, which is not a land-use-coded field"
            )
        if coded:
            assert layer.style.codes == "land_use", f"{layer.id}: land-use codes not styled"
            assert layer.style.by in coded
            styled.add(layer.id)
    assert styled == {
        "parcels",
        "land_use_status",
        "land_use_plan",
        "planning_plots",
        "planning_land_functions",
    }


def test_every_land_use_code_resolves_to_a_colour() -> None:
    codes = _read_code_table("land_use_codes.csv")
    colours = {row["code"]: row["colour"] for row in codes}
    assert len(colours) == len(codes), "a land-use code is listed twice"
    bad = {code: colour for code, colour in colours.items() if not _COLOUR.match(colour or "")}
    assert not bad, f"land-use codes without a #RRGGBB colour: {bad}"
    # the codes every land-use-coded layer may hold (Thông tư 08/2024/TT-BTNMT)
    for code in ("LUC", "HNK", "CLN", "RSX", "ONT", "ODT", "TSC", "DGT", "NTD", "SON", "BCS"):
        assert code in colours, code
    # the colours the design brief names, so legends match the printed maps
    assert colours["LUC"].upper() == "#FFFC8C"
    assert colours["ODT"].upper() == "#FFA0FF"
    assert colours["DGT"].upper() == "#FFAA32"
    # legacy codes are accepted through an explicit mapping: each lands on a coloured code
    for row in _read_code_table("land_use_legacy.csv"):
        assert row["code"] in colours, f"legacy {row['legacy_code']} maps to unknown {row['code']}"
        assert row["legacy_code"] not in colours


def test_planning_layers_follow_thong_tu_16(cat: catalogue.Catalogue) -> None:
    for layer_id in ("planning_plots", "planning_land_functions", "red_lines", "building_lines"):
        layer = cat.get(layer_id)
        names = [f.name for f in layer.fields]
        assert names[:6] == TT16_COMMON, layer_id
        assert layer.key == ("maDoiTuong",)
        assert layer.versioned, f"{layer_id}: plans are versioned"
    assert cat.get("land_use_plan").versioned
    plots = cat.get("planning_plots")
    assert plots.field("matDoXayDung").domain.max == 100
    assert plots.field("tangCaoMax").type == "integer"
    assert plots.field("heSoSuDungDat").domain.min == 0


def test_short_dbf_names_map_to_canonical_fields(cat: catalogue.Catalogue) -> None:
    expected = {
        ("water_pipes", "MAONG"): "maOng",
        ("water_pipes", "DUONGKINH"): "duongKinh",
        ("water_pipes", "NAMXD"): "namXayDung",
        ("drainage_lines", "namXD"): "namXayDung",
        ("power_lines", "MADZ"): "maDuongDay",
        ("power_lines", "CAPDIENAP"): "capDienAp",
        ("planning_plots", "maThongTin"): "maThongTinQH",  # 10-character shapefile name
    }
    for (layer_id, alias), canonical in expected.items():
        field = cat.get(layer_id).field(canonical)
        assert alias in field.aliases, f"{layer_id}: {alias} should map to {canonical}"


def test_live_points_and_readings(cat: catalogue.Catalogue) -> None:
    for layer_id in ("cameras", "env_sensors"):
        layer = cat.get(layer_id)
        assert layer.storage_crs == "EPSG:4326"
        assert layer.geometry == "Point"
        assert layer.rules.extent == "province"
    readings = cat.get("sensor_readings")
    assert readings.kind == "table" and readings.geometry is None
    assert readings.parent == "env_sensors"
    assert readings.time_field == "thoiGian"
    assert readings.key == ("maCamBien", "thoiGian")
    assert readings.field("thoiGian").type == "datetime"
    assert readings.rules.extent == "none"
    assert readings.alert is not None
    assert readings.alert.thresholds == {"pm25": 50.0, "muc_nuoc": 2.5}
    kinds = set(cat.get("env_sensors").field("loai").domain.values)
    assert set(readings.alert.thresholds) == kinds
    flood = cat.get("flood_depth")
    assert flood.kind == "raster" and flood.fields == () and flood.geometry is None
    assert flood.raster is not None and flood.raster.unit == "m" and flood.raster.nodata == -9999


# --- broken entries ------------------------------------------------------------------


def _load_broken(tmp_path: Path, name: str, text: str) -> str:
    """Load a directory holding one good entry and one broken file; return the message."""
    shutil.copy(LAYERS_DIR / "roads.yml", tmp_path / "roads.yml")
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        catalogue.load(tmp_path)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    assert message.startswith(f"{name}:"), message
    assert "Traceback" not in message and "pydantic" not in message.lower()
    assert info.value.exit_code == CatalogueError.exit_code
    return message


@pytest.fixture()
def pipes() -> str:
    return (LAYERS_DIR / "water_pipes.yml").read_text(encoding="utf-8")


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"the test's anchor {old!r} is gone from the template"
    return text.replace(old, new, 1)


def test_unknown_field_type(tmp_path: Path, pipes: str) -> None:
    broken = _replace_once(pipes, "    type: integer\n", "    type: txt\n")  # duongKinh
    message = _load_broken(tmp_path, "water_pipes.yml", broken)
    assert "fields.1(duongKinh).type" in message
    assert "'text'" in message  # says what would have been accepted


def test_missing_layer_title(tmp_path: Path, pipes: str) -> None:
    broken = _replace_once(pipes, "title: {vi: Đường ống cấp nước, en: Water supply pipes}\n", "")
    message = _load_broken(tmp_path, "water_pipes.yml", broken)
    assert message.startswith("water_pipes.yml: title:")
    assert "required" in message.lower()


def test_missing_field_title(tmp_path: Path, pipes: str) -> None:
    broken = _replace_once(pipes, "    title: {vi: Vật liệu, en: Material}\n", "")
    message = _load_broken(tmp_path, "water_pipes.yml", broken)
    assert "fields.2(vatLieu).title" in message


def test_invalid_yaml_syntax(tmp_path: Path, pipes: str) -> None:
    broken = _replace_once(pipes, "key: [maOng]", "key: [maOng")
    message = _load_broken(tmp_path, "water_pipes.yml", broken)
    line = next(i for i, s in enumerate(broken.splitlines(), 1) if s.startswith("key: [maOng"))
    assert "not valid YAML" in message
    assert re.search(r"line (\d+)", message), message
    reported = int(re.search(r"line (\d+)", message).group(1))
    assert line <= reported <= line + 2, f"reported line {reported}, broken line {line}"


def test_id_must_match_file_name(tmp_path: Path, pipes: str) -> None:
    message = _load_broken(tmp_path, "pipes.yml", pipes)  # id: water_pipes
    assert message.startswith("pipes.yml: id:")
    assert "'pipes'" in message


def test_misspelt_setting(tmp_path: Path, pipes: str) -> None:
    broken = _replace_once(pipes, "theme: infrastructure\n", "theme: infrastructure\nthem: x\n")
    message = _load_broken(tmp_path, "water_pipes.yml", broken)
    assert message.startswith("water_pipes.yml: them:")


def test_reference_to_missing_field(tmp_path: Path, pipes: str) -> None:
    broken = _replace_once(pipes, "properties: [maOng,", "properties: [maOngX,")
    message = _load_broken(tmp_path, "water_pipes.yml", broken)
    assert "'maOngX'" in message


def test_personal_field_made_public(tmp_path: Path) -> None:
    text = (LAYERS_DIR / "parcels.yml").read_text(encoding="utf-8")
    broken = text.replace("    public: false\n    personal: true\n", "    personal: true\n", 1)
    message = _load_broken(tmp_path, "parcels.yml", broken)
    assert "fields.6" in message and "'diaChi'" in message and "personal" in message


def test_unknown_parent(tmp_path: Path) -> None:
    text = (LAYERS_DIR / "sensor_readings.yml").read_text(encoding="utf-8")
    message = _load_broken(tmp_path, "sensor_readings.yml", text)  # env_sensors not copied
    assert message.startswith("sensor_readings.yml: parent:")
    assert "'env_sensors'" in message


# --- the name search's fields --------------------------------------------------------


def test_searched_layers_name_public_text_fields(cat: catalogue.Catalogue) -> None:
    searched = {layer.id: layer.search for layer in cat if layer.search}
    assert {"roads", "hamlets", "land_use_plan", "planning_plots"} <= set(searched)
    assert searched["hamlets"].commune == "maXa" and searched["roads"].names == ("tenDuong",)
    kinds = [s.kind for s in searched.values()]
    assert len(kinds) == len(set(kinds))


SEARCH = "search:\n  kind: pipe\n  label: {vi: Đường ống, en: Pipe}\n  names: [NAMES]\nmetadata:\n"


@pytest.mark.parametrize(
    ("names", "extra", "said"),
    [
        ("vatLieu", "", None),  # the good one: loads
        ("tenOng", "", "'tenOng' is not a field"),
        ("duongKinh", "", "must be text"),
        ("", "", "at least 1"),
        ("vatLieu", "  commune: maXaX\n", "'maXaX' is not a field"),
        ("vatLieu", "  kind: parcel\n", "the search's own"),
    ],
)
def test_a_bad_search_block_is_refused(tmp_path: Path, pipes: str, names: str, extra: str, said: str | None) -> None:
    block = SEARCH.replace("NAMES", names).replace("  names:", extra + "  names:")
    if "kind: parcel" in extra:
        block = block.replace("  kind: pipe\n", "")
    text = _replace_once(pipes, "metadata:\n", block)
    if said is None:
        (tmp_path / "water_pipes.yml").write_text(text, encoding="utf-8")
        assert catalogue.load(tmp_path).get("water_pipes").search.names == ("vatLieu",)
        return
    message = _load_broken(tmp_path, "water_pipes.yml", text)
    assert "search" in message and said in message, message


def test_a_search_kind_is_one_layer_s(tmp_path: Path) -> None:
    roads = (LAYERS_DIR / "roads.yml").read_text(encoding="utf-8")
    hamlets = (LAYERS_DIR / "hamlets.yml").read_text(encoding="utf-8")
    (tmp_path / "hamlets.yml").write_text(_replace_once(hamlets, "kind: hamlet", "kind: road"), encoding="utf-8")
    (tmp_path / "roads.yml").write_text(roads, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        catalogue.load(tmp_path)
    assert "search.kind: 'road' is already" in str(info.value)


def test_a_private_field_cannot_be_searched(tmp_path: Path) -> None:
    parcels = (LAYERS_DIR / "parcels.yml").read_text(encoding="utf-8")
    block = "search:\n  kind: owner\n  label: {vi: Chủ, en: Owner}\n  names: [tenChu]\nmetadata:\n"
    message = _load_broken(tmp_path, "parcels.yml", _replace_once(parcels, "metadata:\n", block))
    assert "'tenChu' is not public" in message, message
