"""Invariants of the committed sample data (data_samples/hung_yen, manifest.yml).

Clean data must be clean (tiling, codes, areas, keys, encodings), dirty data must
carry exactly the defects that dirty/defects.yml lists, and the committed files
must be what the default seed generates.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import yaml

from bando.data_samples.gen.snapshot import read_tree
from bando.data_samples.generate import DEFAULT_PARCELS, DEFAULT_SEED, generate
from bando.encodings import decode_bytes

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data_samples"
HY = SAMPLES / "hung_yen"
PARCEL_FIELDS = [
    "maXa",
    "soHieuToBanDo",
    "soThuTuThua",
    "dienTich",
    "dienTichPhapLy",
    "loaiDat",
    "diaChi",
    "tenChu",
    "soDinhDanh",
]
KEY = ["maXa", "soHieuToBanDo", "soThuTuThua"]
# Hưng Yên (post-2025) in WGS 84, generously: the sample sits near Văn Giang / Khoái Châu
LON, LAT = (105.85, 106.25), (20.75, 21.05)


def codes() -> set[str]:
    with open(ROOT / "bando" / "data" / "land_use_codes.csv", encoding="utf-8") as fh:
        return {r["code"] for r in csv.DictReader(fh)}


def legacy_codes() -> set[str]:
    with open(ROOT / "bando" / "data" / "land_use_legacy.csv", encoding="utf-8") as fh:
        return {r["legacy_code"] for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def parcels() -> pd.DataFrame:
    return pyogrio.read_dataframe(HY / "parcels.gpkg", layer="thua_dat")


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    return pyogrio.read_dataframe(HY / "communes.gpkg", layer="ranh_gioi_xa")


# ---------------------------------------------------------------- sizes and schema
def test_sizes() -> None:
    files = [p for p in HY.rglob("*") if p.is_file()]
    assert all(p.stat().st_size < 5 * 1024 * 1024 for p in files), [p for p in files if p.stat().st_size >= 5 << 20]
    assert sum(p.stat().st_size for p in files) < 15 * 1024 * 1024


def test_communes(communes: pd.DataFrame) -> None:
    assert list(communes.columns[:-1]) == ["maXa", "tenXa", "loaiDonVi", "maTinh", "tenTinh", "dienTichTuNhien"]
    assert communes.crs.to_epsg() == 9209
    assert set(communes.geometry.geom_type) == {"MultiPolygon"}
    assert communes["maXa"].str.fullmatch(r"\d{5}").all()
    assert set(communes["loaiDonVi"]) <= {"Xã", "Phường"}
    assert set(communes["maTinh"]) == {"33"} and set(communes["tenTinh"]) == {"Hưng Yên"}
    assert np.allclose(communes["dienTichTuNhien"], communes.geometry.area / 10_000, atol=0.01)
    lon, lat = communes.to_crs(4326).geometry.union_all().centroid.xy
    assert LON[0] < lon[0] < LON[1] and LAT[0] < lat[0] < LAT[1]


def test_parcel_schema(parcels: pd.DataFrame) -> None:
    assert list(parcels.columns[:-1]) == PARCEL_FIELDS
    assert parcels.crs.to_epsg() == 9209
    assert set(parcels.geometry.geom_type) == {"Polygon"}
    assert 4000 <= len(parcels) <= 6000


# ---------------------------------------------------------------- clean-data invariants
def test_parcels_inside_their_commune(parcels: pd.DataFrame, communes: pd.DataFrame) -> None:
    for code, poly in zip(communes["maXa"], communes.geometry):
        mine = parcels[parcels["maXa"] == code].geometry.values
        assert len(mine) > 0
        assert shapely.within(mine, shapely.buffer(poly, 0.01)).all(), code


def test_no_overlaps(parcels: pd.DataFrame) -> None:
    g = parcels.geometry.values
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    pairs = a < b
    inter = shapely.area(shapely.intersection(g[a[pairs]], g[b[pairs]]))
    assert inter.max(initial=0.0) < 0.01, f"overlap of {inter.max():.4f} m²"


def test_full_coverage(parcels: pd.DataFrame, communes: pd.DataFrame) -> None:
    for code, poly in zip(communes["maXa"], communes.geometry):
        mine = parcels[parcels["maXa"] == code].geometry.values
        union = shapely.union_all(mine)
        gap = shapely.difference(poly, union).area
        assert gap < 0.5, f"{code}: {gap:.3f} m² not covered"
        assert abs(shapely.area(mine).sum() - poly.area) < 0.5


def test_codes_valid_and_mix_believable(parcels: pd.DataFrame) -> None:
    assert set(parcels["loaiDat"]) <= codes()
    area = parcels.geometry.area.groupby(parcels["loaiDat"]).sum()
    assert area.idxmax() == "LUC"
    for code in ("LUC", "ONT", "DGT", "DTL", "SON", "CLN", "NTS", "TSC", "DGD", "DYT", "NTD", "TON", "TIN", "HNK"):
        assert code in area.index, code
    ont = parcels[parcels["loaiDat"] == "ONT"].geometry.area
    assert 100 <= ont.median() <= 400


def test_areas(parcels: pd.DataFrame) -> None:
    geom_area = parcels.geometry.area.to_numpy()
    assert np.all(np.abs(parcels["dienTich"].to_numpy() - geom_area) <= 0.051)
    assert (parcels["dienTich"] == parcels["dienTich"].round(1)).all()
    legal, surveyed = parcels["dienTichPhapLy"].to_numpy(), parcels["dienTich"].to_numpy()
    assert np.all(legal <= surveyed) and np.all(legal >= 0.96 * surveyed)
    assert (legal < surveyed).mean() > 0.1


def test_keys_unique_and_numbered(parcels: pd.DataFrame) -> None:
    assert not parcels.duplicated(KEY).any()
    for _, grp in parcels.groupby(["maXa", "soHieuToBanDo"]):
        assert sorted(grp["soThuTuThua"]) == list(range(1, len(grp) + 1))


def test_owners_and_addresses(parcels: pd.DataFrame) -> None:
    person = parcels["soDinhDanh"].fillna("") != ""
    assert parcels.loc[person, "soDinhDanh"].str.fullmatch(r"033[0-3]\d{8}").all()
    state = parcels[parcels["loaiDat"].isin(["DGT", "DTL", "SON"])]
    assert state["tenChu"].str.startswith("UBND xã ").all()
    assert (state["soDinhDanh"].fillna("") == "").all()
    assert parcels["diaChi"].str.endswith(", tỉnh Hưng Yên").all()
    assert parcels.loc[parcels["loaiDat"] == "ONT", "diaChi"].str.startswith("Thôn ").all()


def test_tcvn3_shapefile_matches_geopackage(parcels: pd.DataFrame) -> None:
    shp = HY / "parcels_tcvn3" / "thua_dat.shp"
    assert shp.with_suffix(".prj").exists() and not shp.with_suffix(".cpg").exists()
    legacy = pyogrio.read_dataframe(shp, encoding="ISO-8859-1")  # one char per byte, nothing altered
    assert list(legacy.columns[:-1]) == [
        "MAXA",
        "SHBANDO",
        "SOTHUA",
        "DIENTICH",
        "DTPHAPLY",
        "LOAIDAT",
        "DIACHI",
        "TENCHU",
        "SODINHDANH",
    ]
    assert legacy.crs.to_epsg() == 9209 and len(legacy) == len(parcels)

    def dec(v: object) -> str:
        return decode_bytes(v.encode("latin-1"), "tcvn3") if isinstance(v, str) else ""

    for short, full in (("DIACHI", "diaChi"), ("TENCHU", "tenChu"), ("MAXA", "maXa"), ("LOAIDAT", "loaiDat")):
        assert [dec(v) for v in legacy[short]] == list(parcels[full]), short
    assert any(any(ord(c) > 0xA0 for c in v) for v in legacy["DIACHI"])  # really legacy bytes, not UTF-8
    assert (legacy["SOTHUA"].to_numpy() == parcels["soThuTuThua"].to_numpy()).all()
    # the Shapefile writer reorders rings (clockwise outer rings): compare normalised geometries
    same = shapely.equals_exact(
        shapely.normalize(legacy.geometry.values), shapely.normalize(parcels.geometry.values), tolerance=1e-6
    )
    assert same.all()


# ---------------------------------------------------------------- other clean datasets
def test_status_and_plans(parcels: pd.DataFrame) -> None:
    st = pyogrio.read_dataframe(HY / "land_use_status.gpkg", layer="hien_trang_sdd")
    assert list(st.columns[:-1]) == ["maXa", "loaiDat", "dienTich", "namKiemKe"]
    assert set(st["namKiemKe"]) == {2024} and set(st.geometry.geom_type) == {"MultiPolygon"}
    by_code = parcels.geometry.area.groupby([parcels["maXa"], parcels["loaiDat"]]).sum()
    assert np.allclose(st.set_index(["maXa", "loaiDat"])["dienTich"].sort_index(), by_code.sort_index(), atol=1.0)
    fields = ["maVung", "maXa", "loaiDatQH", "dienTich", "soQuyetDinh", "ngayQuyetDinh", "coQuanPheDuyet"]
    v1 = pyogrio.read_dataframe(HY / "land_use_plan_v1.gpkg", layer="quy_hoach_sdd")
    v2 = pyogrio.read_dataframe(HY / "land_use_plan_v2.gpkg", layer="quy_hoach_sdd")
    for v in (v1, v2):
        assert list(v.columns[:-1]) == fields and v.crs.to_epsg() == 9209
        assert set(v.geometry.geom_type) == {"MultiPolygon"} and v["maVung"].is_unique
        assert set(v["loaiDatQH"]) <= codes()
    assert set(v1["soQuyetDinh"]) == {"1234/QĐ-UBND"} and set(v1["ngayQuyetDinh"]) == {"2024-03-15"}
    assert set(v2["ngayQuyetDinh"]) == {"2025-09-22"}
    assert "SKN" in set(v2["loaiDatQH"]) - set(v1["loaiDatQH"])
    assert v2.loc[v2["loaiDatQH"] == "ONT"].geometry.area.sum() > v1.loc[v1["loaiDatQH"] == "ONT"].geometry.area.sum()
    # plan zones cut through parcels: many parcels lie in 2 or 3 zones
    tree = shapely.STRtree(v1.geometry.values)
    a, b = tree.query(parcels.geometry.values, predicate="intersects")
    inter = shapely.area(shapely.intersection(parcels.geometry.values[a], v1.geometry.values[b])) > 1.0
    per_parcel = np.bincount(a[inter], minlength=len(parcels))
    assert (per_parcel >= 1).all() and (per_parcel == 2).sum() > 100 and (per_parcel == 3).sum() > 10


def test_construction_plan(parcels: pd.DataFrame) -> None:
    path = HY / "construction_plan_1_2000.gpkg"
    layers = dict(pyogrio.list_layers(path))
    assert layers == {
        "PhanOQuyHoach_A": "MultiPolygon",
        "ChucNangSuDungDat_A": "MultiPolygon",
        "ChiGioiDuongDo_L": "MultiLineString",
        "ChiGioiXayDung_L": "MultiLineString",
    }
    common = ["maThongTinQH", "maHoSoQH", "maDoiTuong", "tenDoiTuong", "phanLoai", "ghiChu"]
    extra = {
        "PhanOQuyHoach_A": [
            "kyHieuO",
            "chucNang",
            "dienTich",
            "matDoXayDung",
            "tangCaoMin",
            "tangCaoMax",
            "heSoSuDungDat",
            "khoangLui",
        ],
        "ChucNangSuDungDat_A": ["chucNang", "dienTich"],
        "ChiGioiDuongDo_L": ["tenDuong", "loGioi"],
        "ChiGioiXayDung_L": ["khoangLui"],
    }
    for name, more in extra.items():
        df = pyogrio.read_dataframe(path, layer=name)
        assert list(df.columns[:-1]) == common + more, name
        assert df.crs.to_epsg() == 9209
    plots = pyogrio.read_dataframe(path, layer="PhanOQuyHoach_A")
    assert plots["matDoXayDung"].between(0, 100).all() and (plots["tangCaoMin"] <= plots["tangCaoMax"]).all()
    assert set(plots["chucNang"]) <= codes() and plots["kyHieuO"].is_unique
    # red lines: pairs of edges; the strip between them takes house lots and rice fields
    red = pyogrio.read_dataframe(path, layer="ChiGioiDuongDo_L")
    tree = shapely.STRtree(parcels.geometry.values)
    hit: set[str] = set()
    for _, pair in red.groupby("tenDuong"):
        assert len(pair) == 2 and pair["loGioi"].nunique() == 1
        left = pair[pair["maDoiTuong"].str.endswith("-T")].geometry.iloc[0]
        right = pair[pair["maDoiTuong"].str.endswith("-P")].geometry.iloc[0]
        strip = shapely.union_all(
            [
                shapely.Polygon(list(lp.coords) + list(rp.coords)[::-1])
                for lp, rp in zip(shapely.get_parts(left), shapely.get_parts(right))
            ]
        )
        assert strip.is_valid
        centre_width = strip.area / max(left.length, 1.0)
        assert abs(centre_width - pair["loGioi"].iloc[0]) < 0.2 * pair["loGioi"].iloc[0]
        idx = tree.query(strip, predicate="intersects")
        cut = shapely.area(shapely.intersection(parcels.geometry.values[idx], strip)) > 1.0
        hit |= set(parcels["loaiDat"].to_numpy()[idx[cut]])
    assert {"ONT", "LUC"} <= hit


def test_infrastructure() -> None:
    roads = pyogrio.read_dataframe(HY / "roads.geojson")
    assert list(roads.columns[:-1]) == ["maDuong", "tenDuong", "capDuong", "beRong", "ketCau"]
    assert {"Quốc lộ", "Đường tỉnh", "Đường xã", "Đường thôn"} <= set(roads["capDuong"])
    drains = pyogrio.read_dataframe(HY / "drainage.geojson")
    assert list(drains.columns[:-1]) == ["maTuyen", "loai", "kichThuoc", "namXD"]
    for gj in (roads, drains):
        x0, y0, x1, y1 = gj.total_bounds
        assert LON[0] < x0 < x1 < LON[1] and LAT[0] < y0 < y1 < LAT[1]  # lon/lat order (RFC 7946)
    assert '"crs"' not in (HY / "roads.geojson").read_text(encoding="utf-8")
    pipes = pyogrio.read_dataframe(HY / "water_pipes" / "ong_cap_nuoc.shp")
    assert list(pipes.columns[:-1]) == ["MAONG", "DUONGKINH", "VATLIEU", "NAMXD", "TRANGTHAI"]
    assert set(pipes["VATLIEU"]) <= {"HDPE", "uPVC", "Gang"} and pipes.crs.to_epsg() == 9209
    assert (HY / "water_pipes" / "ong_cap_nuoc.cpg").read_text().strip().upper() == "UTF-8"
    power = pyogrio.read_dataframe(HY / "power_lines" / "duong_day.shp")
    assert list(power.columns[:-1]) == ["MADZ", "CAPDIENAP", "LOAI", "NAMXD"]
    assert set(power["CAPDIENAP"]) == {0.4, 22.0, 35.0, 110.0} and set(power["LOAI"]) == {"Đi nổi", "Đi ngầm"}
    pts = pd.read_csv(HY / "point_assets.csv", dtype={"toaDoX": float, "toaDoY": float})
    assert list(pts.columns) == ["maTaiSan", "loai", "trangThai", "namLapDat", "toaDoX", "toaDoY"]
    assert set(pts["loai"]) == {"tru_cuu_hoa", "ho_ga", "cot_den"}
    assert set(pts["trangThai"]) <= {"tot", "hu_hong", "dang_sua"}
    # toaDoX is the northing (~2.3 million m), toaDoY the easting (~550 000 m)
    assert pts["toaDoX"].between(2_250_000, 2_350_000).all() and pts["toaDoY"].between(500_000, 600_000).all()


def test_ioc() -> None:
    cams = pd.read_csv(HY / "cameras.csv")
    assert list(cams.columns) == ["maCamera", "tenCamera", "kinhDo", "viDo", "trangThai"]
    assert set(cams["trangThai"]) <= {"hoat_dong", "mat_ket_noi"}
    sens = pd.read_csv(HY / "sensors.csv")
    assert list(sens.columns) == ["maCamBien", "tenTram", "loai", "kinhDo", "viDo", "donVi"]
    for df in (cams, sens):
        assert df["kinhDo"].between(*LON).all() and df["viDo"].between(*LAT).all()
    rd = pd.read_csv(HY / "sensor_readings.csv")
    assert list(rd.columns) == ["maCamBien", "thoiGian", "giaTri"]
    assert rd["thoiGian"].str.endswith("+07:00").all() and set(rd["maCamBien"]) == set(sens["maCamBien"])
    kind = rd["maCamBien"].map(dict(zip(sens["maCamBien"], sens["loai"])))
    assert (rd.loc[kind == "pm25", "giaTri"] > 50).any() and (rd.loc[kind == "muc_nuoc", "giaTri"] > 2.5).any()


def test_flood_raster() -> None:
    import rasterio

    path = HY / "flood_depth.tif"
    assert path.stat().st_size < 3 * 1024 * 1024
    with rasterio.open(path) as ds:
        assert ds.crs.to_epsg() == 9209 and ds.dtypes == ("float32",) and ds.nodata == -9999
        assert ds.profile.get("tiled") and ds.overviews(1) and ds.compression.name.lower() == "deflate"
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        depth = ds.read(1, masked=True)
    assert 0 <= depth.min() and 1.0 < depth.max() < 8.0 and 0.1 < depth.mean() < 1.5


def test_hamlets(communes: pd.DataFrame) -> None:
    """Thôn and tổ dân phố cut each commune without gap or overlap; names as people write them."""
    hamlets = pyogrio.read_dataframe(HY / "hamlets.geojson").to_crs(9209)
    assert list(hamlets.columns[:-1]) == ["maThon", "tenThon", "loaiThon", "maXa"]
    assert 24 <= len(hamlets) <= 40 and hamlets["maThon"].is_unique
    assert set(hamlets["loaiThon"]) == {"Thôn", "Tổ dân phố"}
    assert (hamlets["tenThon"].str.split().str[0].isin(["Thôn", "Tổ"])).all()
    assert {"Thôn Đông", "Thôn 3", "Tổ dân phố 2"} <= set(hamlets["tenThon"])
    for code, poly in zip(communes["maXa"], communes.geometry):
        mine = hamlets[hamlets["maXa"] == code].geometry.values
        assert len(mine) >= 6, code
        assert abs(shapely.area(mine).sum() - poly.area) < 0.001 * poly.area, code
        assert shapely.within(mine, shapely.buffer(poly, 1.0)).all(), code


# ---------------------------------------------------------------- manifest
def test_manifest() -> None:
    doc = yaml.safe_load((SAMPLES / "manifest.yml").read_text(encoding="utf-8"))
    assert doc["province"] == "Hưng Yên"
    layers = [d["layer"] for d in doc["deliveries"]]
    assert set(layers) == {
        "communes",
        "hamlets",
        "parcels",
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
    for d in doc["deliveries"]:
        assert (SAMPLES / d["source"]).exists(), d["source"]
        assert "tcvn3" not in d["source"] and "dirty" not in d["source"]
    plans = [d for d in doc["deliveries"] if d["layer"] == "land_use_plan"]
    assert [p["version"]["id"] for p in plans] == ["qhsdd-2030", "qhsdd-2030-dc1"]
    assert plans[0]["version"] == {
        "id": "qhsdd-2030",
        "decision": "1234/QĐ-UBND",
        "decision_date": "2024-03-15",
        "authority": "UBND tỉnh Hưng Yên",
        "valid_from": "2024-03-15",
    }
    pa = next(d for d in doc["deliveries"] if d["layer"] == "point_assets")
    assert (pa["x_column"], pa["y_column"], pa["crs"]) == ("toaDoY", "toaDoX", "EPSG:9209")
    for d in doc["deliveries"]:
        if d["layer"] in {"planning_plots", "planning_land_functions", "red_lines", "building_lines"}:
            assert d["version"]["id"] and d["source_layer"]
    catalogue = ROOT / "layers"
    if any(catalogue.glob("*.yml")):  # every layer id has its catalogue entry
        missing = sorted(lyr for lyr in set(layers) if not (catalogue / f"{lyr}.yml").exists())
        assert not missing, missing


# ---------------------------------------------------------------- dirty files
@pytest.fixture(scope="module")
def defects() -> dict:
    return yaml.safe_load((HY / "dirty" / "defects.yml").read_text(encoding="utf-8"))


def test_defects_listed_files_exist(defects: dict) -> None:
    for f in defects["files"]:
        assert (HY / "dirty" / f["file"]).exists(), f["file"]
        assert all(d["rule"] for d in f["defects"])


def test_row_defects_are_exactly_the_listed_ones(defects: dict) -> None:
    entry = next(f for f in defects["files"] if f["file"] == "parcels_defects.gpkg")
    df = pyogrio.read_dataframe(HY / "dirty" / entry["file"], layer=entry["layer"])
    assert len(df) == entry["features"]
    valid = codes()
    found: dict[int, set[str]] = {}
    g = df.geometry.values
    for i in range(len(df)):
        rules = set()
        if shapely.is_empty(g[i]):
            rules.add("geometry.empty")
        elif not shapely.is_valid(g[i]):
            rules.add("geometry.invalid")
        code = df["loaiDat"].iloc[i]
        if code not in valid:
            rules.add("domain.legacy_code" if code in legacy_codes() else "domain.unknown_code")
        if pd.isna(df["maXa"].iloc[i]) or pd.isna(df["soThuTuThua"].iloc[i]):
            rules.add("required.missing")
        if rules.isdisjoint({"geometry.empty", "geometry.invalid"}):
            if abs(df["dienTich"].iloc[i] - g[i].area) > 0.05 * g[i].area:
                rules.add("area.mismatch")
        if rules:
            found[i] = rules
    dup = df.duplicated(KEY, keep="first") & df[KEY].notna().all(axis=1)
    for i in np.flatnonzero(dup.to_numpy()):
        found.setdefault(int(i), set()).add("key.duplicate")
    listed: dict[int, set[str]] = {}
    for d in entry["defects"]:
        listed.setdefault(d["index"], set()).add(d["rule"])
    assert found == listed
    assert {r for rs in listed.values() for r in rs} == {
        "geometry.invalid",
        "geometry.empty",
        "key.duplicate",
        "domain.unknown_code",
        "domain.legacy_code",
        "required.missing",
        "area.mismatch",
    }


def test_file_level_defects(defects: dict, parcels: pd.DataFrame) -> None:
    d = HY / "dirty"
    by_file = {f["file"]: f for f in defects["files"]}
    assert not (d / "parcels_no_prj" / "thua_dat.prj").exists()
    assert by_file["parcels_no_prj/thua_dat.shp"]["defects"][0]["rule"] == "crs.missing"
    for name in ("parcels_wrong_crs/thua_dat.shp", "parcels_swapped_xy/thua_dat.shp"):
        df = pyogrio.read_dataframe(d / name)
        assert df.crs is not None
        b = df.to_crs(4326).total_bounds
        inside = LON[0] < b[0] and b[2] < LON[1] and LAT[0] < b[1] and b[3] < LAT[1]
        assert not inside, name
        assert by_file[name]["defects"][0]["rule"] == "extent.outside"
    with pytest.raises(Exception):
        pyogrio.read_dataframe(d / "parcels_truncated.gpkg")
    assert by_file["parcels_truncated.gpkg"]["defects"][0]["rule"] == "file.corrupt"
    mixed = pyogrio.read_dataframe(d / "parcels_mixed.geojson")
    listed = {x["index"]: x["rule"] for x in by_file["parcels_mixed.geojson"]["defects"]}
    odd = {i for i, t in enumerate(mixed.geometry.geom_type) if t != "Polygon"}
    assert odd == set(listed) and set(listed.values()) == {"geometry.mixed_types"}


def test_vni_shapefile_is_clean_after_decoding(defects: dict, parcels: pd.DataFrame) -> None:
    shp = HY / "dirty" / "parcels_vni" / "thua_dat.shp"
    assert not shp.with_suffix(".cpg").exists() and shp.with_suffix(".prj").exists()
    vni = pyogrio.read_dataframe(shp, encoding="ISO-8859-1")
    names = [decode_bytes(v.encode("latin-1"), "vni") for v in vni["TENCHU"]]
    addrs = [decode_bytes(v.encode("latin-1"), "vni") for v in vni["DIACHI"]]
    clean = parcels.set_index(KEY)
    for (code, sheet, no), name, addr in zip(vni[["MAXA", "SHBANDO", "SOTHUA"]].itertuples(index=False), names, addrs):
        row = clean.loc[(code, sheet, no)]
        assert (row["tenChu"], row["diaChi"]) == (name, addr)
    entry = next(f for f in defects["files"] if f["file"] == "parcels_vni/thua_dat.shp")
    assert entry["encoding"] == "vni" and entry["defects"] == []


# ---------------------------------------------------------------- committed == default seed
def test_committed_files_match_default_seed(tmp_path: Path) -> None:
    generate(tmp_path, seed=DEFAULT_SEED, parcels=DEFAULT_PARCELS, log=lambda m: None)
    fresh, committed = read_tree(tmp_path), read_tree(SAMPLES)
    committed = {k: v for k, v in committed.items() if k.startswith("hung_yen/") or k == "manifest.yml"}
    assert fresh.keys() == committed.keys()
    for key, t in fresh.items():
        c = committed[key]
        assert t.columns == c.columns, key
        assert len(t.rows) == len(c.rows), key
        if key.endswith("parcels.gpkg::thua_dat"):
            assert t.rows == c.rows  # every attribute, every key, in order
            assert shapely.hausdorff_distance(t.geoms, c.geoms).max() < 1e-3
        elif t.geoms is not None:
            assert np.allclose(shapely.area(t.geoms), shapely.area(c.geoms), rtol=1e-6, atol=1e-3), key
            assert np.allclose(shapely.length(t.geoms), shapely.length(c.geoms), rtol=1e-6, atol=1e-3), key
        elif key.endswith((".csv", ".yml")):
            assert t.raw == c.raw, key
