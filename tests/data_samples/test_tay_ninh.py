"""The Tây Ninh samples: a merged province whose cadastre arrives on two meridians.

Since 1 July 2025 Tây Ninh (code 80) joins former Tây Ninh (VN-2000 TM-3 105°30′,
EPSG:9209) and former Long An (105°45′, EPSG:9210). The samples deliver the parcels
as the two former provinces surveyed them: `parcels_tay_ninh_cu.gpkg` in EPSG:9209
and `parcels_long_an_cu.gpkg` in EPSG:9210, for communes that meet at the old
provincial border. Once both are brought into the storage zone (9209) with bando's
pinned transformer, the parcels on either side of that border must share it to well
under a centimetre. Fast, no database.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import yaml
from pyproj import Transformer

from bando.crs import tm3_for_province, transformer
from bando.data_samples.gen.province import PROVINCES
from bando.data_samples.gen.snapshot import read_tree
from bando.data_samples.generate import DEFAULT_SEED, generate
from bando.province import resolve

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data_samples"
TN = SAMPLES / "tay_ninh"
SPEC = PROVINCES["tay_ninh"]
FILES = {"Tây Ninh": "parcels_tay_ninh_cu.gpkg", "Long An": "parcels_long_an_cu.gpkg"}
STORAGE = 9209
KEY = ["maXa", "soHieuToBanDo", "soThuTuThua"]
CM = 0.01


def to_storage(geoms: np.ndarray, src: int, dst: int = STORAGE) -> np.ndarray:
    """Reproject vertex by vertex with bando's pinned transformer (what bando's loader does)."""
    t = transformer(src, dst)
    return shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


@pytest.fixture(scope="module")
def deliveries() -> dict[str, pd.DataFrame]:
    """Both parcel files as delivered (each in its own CRS), keyed by former province."""
    return {former: pyogrio.read_dataframe(TN / name, layer="thua_dat") for former, name in FILES.items()}


@pytest.fixture(scope="module")
def stored(deliveries: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Both parcel files' geometries brought into the storage zone EPSG:9209."""
    return {k: to_storage(np.asarray(df.geometry.values), df.crs.to_epsg()) for k, df in deliveries.items()}


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    return pyogrio.read_dataframe(TN / "communes.gpkg", layer="ranh_gioi_xa")


@pytest.fixture(scope="module")
def old_border(communes: pd.DataFrame) -> shapely.Geometry:
    """The former Tây Ninh / Long An border inside the sample: where the two sides' communes meet."""
    side = {c.code: c.former_province for c in SPEC.communes}
    tn = shapely.union_all(communes.geometry.values[communes["maXa"].map(side).eq("Tây Ninh").to_numpy()])
    la = shapely.union_all(communes.geometry.values[communes["maXa"].map(side).eq("Long An").to_numpy()])
    border = shapely.line_merge(shapely.intersection(shapely.boundary(tn), shapely.boundary(la)))
    assert border.length > 1000, "the two former provinces' communes must share a boundary"
    return border


def border_edge(geoms: np.ndarray, border: shapely.Geometry) -> shapely.Geometry:
    """The outline of the parcels touching `border` where it runs along it (within 5 mm).

    5 mm, half the tolerance: the parcels' side edges meeting the border leave stubs as
    long as the band is wide, and those must stay below the 1 cm being measured.
    """
    touching = geoms[shapely.dwithin(geoms, border, CM)]
    assert len(touching) > 10
    return shapely.intersection(shapely.boundary(shapely.union_all(touching)), shapely.buffer(border, CM / 2))


def codes() -> set[str]:
    with open(ROOT / "bando" / "data" / "land_use_codes.csv", encoding="utf-8") as fh:
        return {r["code"] for r in csv.DictReader(fh)}


# ---------------------------------------------------------------- the province spec against bando
def test_spec_follows_bando_province_and_zone_table() -> None:
    prov = resolve("80")
    assert prov.name == "Tây Ninh" and SPEC.code == "80" and SPEC.name == prov.name
    assert SPEC.epsg == prov.tm3_epsg == tm3_for_province("Tây Ninh").epsg == 9209  # storage zone
    by_former = {d.former_province: d for d in SPEC.deliveries}
    assert set(by_former) == set(FILES)
    for former, d in by_former.items():
        assert d.filename == FILES[former]
        assert d.epsg == tm3_for_province(former).epsg
        assert d.epsg in prov.accepted_srids
    assert by_former["Long An"].epsg == 9210 and SPEC.deliveries[0].former_province == "Tây Ninh"
    assert {c.code for c in SPEC.communes} <= prov.commune_codes


def test_communes_are_real_and_from_the_right_former_province() -> None:
    """Codes, names and former province come from vietnam-provinces (post-2025 list)."""
    from vietnam_provinces import Ward
    from vietnam_provinces.legacy import Province as OldProvince

    assert [c.former_province for c in SPEC.communes].count("Tây Ninh") == 2
    assert [c.former_province for c in SPEC.communes].count("Long An") == 2
    for c in SPEC.communes:
        ward = Ward.from_code(int(c.code))
        assert int(ward.province_code) == 80 and ward.name == f"{c.kind} {c.name}", c.code
        sources = ward.get_legacy_sources()
        assert sorted(s.name for s in sources) == sorted(c.former), c.code
        formers = {OldProvince.from_code(s.province_code).name.removeprefix("Tỉnh ") for s in sources}
        assert formers == {c.former_province}, c.code


# ---------------------------------------------------------------- files, sizes, manifest
def test_sizes() -> None:
    files = [p for p in TN.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    assert total < 3 * 1024 * 1024, f"{total / 1e6:.2f} MB"


def test_manifest() -> None:
    from bando.pipelines.manifest import Manifest

    path = TN / "manifest.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    Manifest.model_validate(doc)  # the format `bando load-all` reads
    assert doc["province"] == "Tây Ninh"
    listed = {d["source"] for d in doc["deliveries"]} | {p for d in doc["deliveries"] for p in d.get("documents", [])}
    for d in doc["deliveries"]:
        assert (path.parent / d["source"]).is_file(), d["source"]
        assert not d["source"].startswith(("tay_ninh/", "/"))  # relative to the manifest
        assert (ROOT / "layers" / f"{d['layer']}.yml").is_file(), d["layer"]
    parcels = [d for d in doc["deliveries"] if d["layer"] == "parcels"]
    assert [(p["source"], p["crs"], p["source_layer"]) for p in parcels] == [
        ("parcels_tay_ninh_cu.gpkg", "EPSG:9209", "thua_dat"),
        ("parcels_long_an_cu.gpkg", "EPSG:9210", "thua_dat"),
    ]
    others = {d["crs"] for d in doc["deliveries"] if d["layer"] != "parcels" and "crs" in d}
    assert others <= {"EPSG:9209", "EPSG:4326"}
    plans = [d for d in doc["deliveries"] if d["layer"] == "land_use_plan"]
    assert len(plans) == 1 and plans[0]["version"]["authority"] == "UBND tỉnh Tây Ninh"
    # every data file is delivered (Shapefile sidecars through their .shp)
    data = {p.relative_to(TN).as_posix() for p in TN.rglob("*") if p.is_file() and p.name != "manifest.yml"}
    data = {p for p in data if not p.endswith((".dbf", ".shx", ".prj", ".cpg"))}
    assert data == listed


# ---------------------------------------------------------------- the two parcel deliveries
def test_each_parcel_file_in_its_declared_crs(deliveries: dict[str, pd.DataFrame], communes: pd.DataFrame) -> None:
    by_former = {d.former_province: d for d in SPEC.deliveries}
    for former, df in deliveries.items():
        assert df.crs.to_epsg() == by_former[former].epsg, former
        assert set(df["maXa"]) == {c.code for c in SPEC.communes if c.former_province == former}
        assert set(df.geometry.geom_type) == {"Polygon"}
    # read in its declared CRS, each file lands on its communes; read as the other zone
    # (a mislabelled file), the Long An parcels would be some 27 km away
    area = shapely.union_all(communes.geometry.values)
    la = deliveries["Long An"]
    right = shapely.union_all(to_storage(np.asarray(la.geometry.values), 9210))
    assert shapely.area(shapely.intersection(right, area)) > 0.999 * right.area
    wrong = shapely.union_all(np.asarray(la.geometry.values))  # 9210 numbers taken as 9209
    assert shapely.distance(wrong, area) > 20_000


def test_parcels_valid_in_every_crs(deliveries: dict[str, pd.DataFrame], stored: dict[str, np.ndarray]) -> None:
    """Valid as delivered, once stored in 9209, and in WGS 84 (what the API serves)."""
    for former, df in deliveries.items():
        g = np.asarray(df.geometry.values)
        assert shapely.is_valid(g).all(), former
        assert shapely.is_valid(stored[former]).all(), former
        assert shapely.is_valid(to_storage(g, df.crs.to_epsg(), 4326)).all(), former


def mismatch(tn: np.ndarray, la: np.ndarray, border: shapely.Geometry, area: shapely.Geometry) -> tuple[float, float]:
    """(overlap, gap) in m² between the two sides' parcels in a 2 m band along the border."""
    near = shapely.buffer(border, 1.0)
    side_tn = shapely.intersection(shapely.union_all(tn[shapely.dwithin(tn, border, 2.0)]), near)
    side_la = shapely.intersection(shapely.union_all(la[shapely.dwithin(la, border, 2.0)]), near)
    overlap = shapely.intersection(side_tn, side_la).area
    gap = shapely.difference(shapely.intersection(near, area), shapely.union(side_tn, side_la)).area
    return overlap, gap


def test_old_border_shared_within_a_centimetre(
    stored: dict[str, np.ndarray], old_border: shapely.Geometry, communes: pd.DataFrame
) -> None:
    """After both files are brought into EPSG:9209, the two sides meet: no gap, no overlap."""
    tn, la = stored["Tây Ninh"], stored["Long An"]
    edge_tn, edge_la = border_edge(tn, old_border), border_edge(la, old_border)
    # each side follows the whole border (no stretch missing, nothing off it by 1 cm)
    assert shapely.hausdorff_distance(edge_tn, old_border, densify=0.01) < CM
    assert shapely.hausdorff_distance(edge_la, old_border, densify=0.01) < CM
    assert shapely.hausdorff_distance(edge_tn, edge_la, densify=0.01) < CM
    # no overlap, no gap: a 1 cm sliver along the ~1.2 km border would be ~12 m²
    overlap, gap = mismatch(tn, la, old_border, shapely.union_all(communes.geometry.values))
    assert overlap < 0.01 and gap < 0.01, (overlap, gap)
    # parcels really touch across it: each border parcel has one from the other side within 1 cm
    tree = shapely.STRtree(la)
    for g in tn[shapely.dwithin(tn, old_border, CM)]:
        assert len(tree.query(g, predicate="dwithin", distance=CM)) > 0


def test_shared_border_needs_the_pinned_route(
    deliveries: dict[str, pd.DataFrame], stored: dict[str, np.ndarray], old_border: shapely.Geometry, communes
) -> None:
    """The check has teeth: the Long An file taken through WGS 84 with PROJ's automatic
    choice (EPSG:5194 in the south, ~0.8 m from the official EPSG:6960) no longer fits."""
    auto = Transformer.from_crs("EPSG:9210", "EPSG:4326", always_xy=True)
    lon_a, lat_a = auto.transform(565_000.0, 1_219_000.0)
    lon_p, lat_p = transformer(9210, 4326).transform(565_000.0, 1_219_000.0)
    if abs(lon_a - lon_p) < 1e-7 and abs(lat_a - lat_p) < 1e-7:
        pytest.skip("this PROJ already picks the official transformation here")
    back = transformer(4326, STORAGE)

    def via_auto(xy: np.ndarray) -> np.ndarray:
        lon, lat = auto.transform(xy[:, 0], xy[:, 1])
        return np.column_stack(back.transform(lon, lat))

    shifted = shapely.transform(np.asarray(deliveries["Long An"].geometry.values), via_auto)
    overlap, gap = mismatch(stored["Tây Ninh"], shifted, old_border, shapely.union_all(communes.geometry.values))
    assert overlap + gap > 10.0, (overlap, gap)


def test_areas_in_each_files_own_plane(deliveries: dict[str, pd.DataFrame], stored: dict[str, np.ndarray]) -> None:
    """dienTich is the area in the file's own TM-3 plane, as the former province surveyed it."""
    for former, df in deliveries.items():
        own = df.geometry.area.to_numpy()
        assert np.all(np.abs(df["dienTich"].to_numpy() - own) <= 0.051), former
        legal, surveyed = df["dienTichPhapLy"].to_numpy(), df["dienTich"].to_numpy()
        assert np.all(legal <= surveyed) and np.all(legal >= 0.96 * surveyed), former
    la = deliveries["Long An"]
    in_storage = shapely.area(stored["Long An"])
    rel = (in_storage - la.geometry.area.to_numpy()) / la.geometry.area.to_numpy()
    assert 5e-5 < np.median(rel) < 2e-4  # the 105°30′ plane measures ~0.01 % more here


def test_parcels_tile_their_communes(stored: dict[str, np.ndarray], deliveries, communes: pd.DataFrame) -> None:
    geoms = np.concatenate([stored["Tây Ninh"], stored["Long An"]])
    maxa = np.concatenate([deliveries["Tây Ninh"]["maXa"].to_numpy(), deliveries["Long An"]["maXa"].to_numpy()])
    assert 1500 <= len(geoms) <= 2000
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    pairs = a < b
    assert shapely.area(shapely.intersection(geoms[a[pairs]], geoms[b[pairs]])).max(initial=0.0) < 0.01
    for code, poly in zip(communes["maXa"], communes.geometry):
        mine = geoms[maxa == code]
        assert shapely.within(mine, shapely.buffer(poly, CM)).all(), code
        assert shapely.difference(poly, shapely.union_all(mine)).area < 0.5, code
    for former, df in deliveries.items():
        assert not df.duplicated(KEY).any(), former
        for _, grp in df.groupby(["maXa", "soHieuToBanDo"]):
            assert sorted(grp["soThuTuThua"]) == list(range(1, len(grp) + 1))
        assert set(df["loaiDat"]) <= codes()
        assert df["diaChi"].str.endswith(", tỉnh Tây Ninh").all()
    ids = {f: df.loc[df["soDinhDanh"].fillna("") != "", "soDinhDanh"] for f, df in deliveries.items()}
    assert ids["Tây Ninh"].str.fullmatch(r"072\d{9}").all() and ids["Long An"].str.fullmatch(r"080\d{9}").all()


# ---------------------------------------------------------------- the other layers
def test_other_layers(communes: pd.DataFrame) -> None:
    assert communes.crs.to_epsg() == STORAGE and len(communes) == 4
    assert set(communes["maTinh"]) == {"80"} and set(communes["tenTinh"]) == {"Tây Ninh"}
    lon0, lat0, lon1, lat1 = resolve("80").bbox_lonlat
    for name, layer in (
        ("land_use_status.gpkg", "hien_trang_sdd"),
        ("land_use_plan_v1.gpkg", "quy_hoach_sdd"),
        ("construction_plan_1_2000.gpkg", "PhanOQuyHoach_A"),
        ("construction_plan_1_2000.gpkg", "ChiGioiDuongDo_L"),
        ("water_pipes/ong_cap_nuoc.shp", None),
        ("power_lines/duong_day.shp", None),
    ):
        df = pyogrio.read_dataframe(TN / name, layer=layer)
        assert df.crs.to_epsg() == STORAGE and len(df) > 0, name
    assert not (TN / "land_use_plan_v2.gpkg").exists() and not (TN / "dirty").exists()
    for name in ("roads.geojson", "drainage.geojson"):
        x0, y0, x1, y1 = pyogrio.read_dataframe(TN / name).total_bounds
        assert lon0 < x0 < x1 < lon1 and lat0 < y0 < y1 < lat1, name
    for name in ("cameras.csv", "sensors.csv"):
        df = pd.read_csv(TN / name)
        assert df["kinhDo"].between(lon0, lon1).all() and df["viDo"].between(lat0, lat1).all(), name
    pts = pd.read_csv(TN / "point_assets.csv")
    assert pts["toaDoX"].between(1_200_000, 1_240_000).all() and pts["toaDoY"].between(560_000, 620_000).all()
    import rasterio

    with rasterio.open(TN / "flood_depth.tif") as ds:
        assert ds.crs.to_epsg() == STORAGE and ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_wgs84_outputs_use_the_official_transformation(communes: pd.DataFrame) -> None:
    """roads.geojson is written through EPSG:6960, not PROJ's automatic EPSG:5194."""
    roads = pyogrio.read_dataframe(TN / "roads.geojson")
    back = to_storage(np.asarray(roads.geometry.values), 4326)
    area = shapely.buffer(shapely.union_all(communes.geometry.values), 0.05)
    assert shapely.within(back, area).all()


# ---------------------------------------------------------------- determinism, CLI, committed files
def test_same_seed_same_data(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        generate(out, seed=11, province="tay_ninh", log=lambda m: None)
    ta, tb = read_tree(a), read_tree(b)
    assert ta.keys() == tb.keys() and "tay_ninh/parcels_long_an_cu.gpkg::thua_dat" in ta
    assert not (a / "manifest.yml").exists()  # the root manifest (Hưng Yên's) is not touched
    for key in ta:
        assert ta[key].columns == tb[key].columns and ta[key].rows == tb[key].rows, key
        assert ta[key].raw == tb[key].raw, key
        if ta[key].geoms is not None:
            wa = shapely.to_wkb(ta[key].geoms, output_dimension=2)
            wb = shapely.to_wkb(tb[key].geoms, output_dimension=2)
            assert list(wa) == list(wb), key
    generate(tmp_path / "c", seed=12, province="tay_ninh", datasets=["parcels"], log=lambda m: None)
    c = read_tree(tmp_path / "c")["tay_ninh/parcels_long_an_cu.gpkg::thua_dat"]
    assert c.digest() != ta["tay_ninh/parcels_long_an_cu.gpkg::thua_dat"].digest()


def test_committed_files_match_default_seed(tmp_path: Path) -> None:
    generate(tmp_path, seed=DEFAULT_SEED, province="tay_ninh", log=lambda m: None)
    fresh = read_tree(tmp_path / "tay_ninh")
    committed = read_tree(TN)
    assert fresh.keys() == committed.keys()
    for key, t in fresh.items():
        c = committed[key]
        assert t.columns == c.columns and t.rows == c.rows, key
        if t.geoms is not None:
            assert shapely.hausdorff_distance(t.geoms, c.geoms).max() < 1e-3, key
        elif key.endswith((".csv", ".yml", ".geojson")):
            assert t.raw == c.raw, key


def test_cli(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(SAMPLES / "generate.py"),
            "--province",
            "tay_ninh",
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
    assert "parcels_long_an_cu.gpkg (EPSG:9210)" in proc.stderr
    for name in ("parcels_tay_ninh_cu.gpkg", "parcels_long_an_cu.gpkg", "communes.gpkg"):
        assert (tmp_path / "tay_ninh" / name).exists(), name
    assert not (tmp_path / "tay_ninh" / "parcels.gpkg").exists()
