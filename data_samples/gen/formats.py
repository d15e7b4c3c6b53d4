"""The same sheet and plan in the shapes provinces hold: DGN v7, DXF, MapInfo TAB, File Geodatabase.

Everything is read back from the GeoPackages this run wrote, so each file here is the
same data as its GeoPackage twin, and the tests compare the two:

- ``thua_dat_12019_to03.dgn``: cadastral sheet 3 of Văn Giang as MicroStation draws it
  (FAMIS levels): parcel boundaries as lines on level 10, one label
  ``"<số thửa> <loại đất> <diện tích>"`` per parcel on level 13; written by ``ogr2ogr``
  (GDAL's DGN writer takes its ``Level`` and ``Text`` fields), 1 mm units;
- ``quy_hoach_1_2000.dxf``: the 1/2000 plan as AutoCAD draws it: plots as closed
  polylines on ``QH_PHANO`` with a ``KH_O`` block whose attributes carry the plot's
  fields, red and building lines on their layers with ``CGDD`` / ``CGXD`` blocks
  (written with ezdxf);
- ``thua_dat_12019_to03_cp1258.tab`` (charset ``WindowsVietnamese``) and
  ``thua_dat_12019_to03_tcvn3.tab`` (TCVN3 bytes in a ``WindowsLatin1`` file), both with
  MapInfo's own VN-2000 definition (datum 9999 with the seven EPSG:6960 parameters);
- ``dat_dai.gdb``: an Esri File Geodatabase with ``ThuaDat`` (the sheet) and ``RanhGioiXa``;
- ``dirty/``: the sheet with one defect each, listed with their rule codes in ``defects.yml``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
import yaml
from pyproj import CRS

SHEET = ("12019", 3)  # Văn Giang, sheet 3 (445 parcels with the default seed); else the largest sheet
BOUNDARY_LEVEL, LABEL_LEVEL = 10, 13
#: GDAL's DGN writer: 1 UOR = 1 mm, origin moved so TM-3 coordinates fit its 32-bit integers.
DGN_OPTIONS = ["ORIGIN=-500000,-2200000,0", "SUB_UNITS_PER_MASTER_UNIT=1000", "UOR_PER_SUB_UNIT=1"]
PLOT_BLOCK = {
    "MA": "maDoiTuong",
    "KYHIEU": "kyHieuO",
    "CHUCNANG": "chucNang",
    "TEN": "tenDoiTuong",
    "PHANLOAI": "phanLoai",
    "DIENTICH": "dienTich",
    "MATDO": "matDoXayDung",
    "TCMIN": "tangCaoMin",
    "TCMAX": "tangCaoMax",
    "HSSDD": "heSoSuDungDat",
    "KHOANGLUI": "khoangLui",
    "MATTQH": "maThongTinQH",
    "MAHSQH": "maHoSoQH",
    "GHICHU": "ghiChu",
}
LINE_BLOCK = {
    "MA": "maDoiTuong",
    "TEN": "tenDoiTuong",
    "PHANLOAI": "phanLoai",
    "GHICHU": "ghiChu",
    "MATTQH": "maThongTinQH",
    "MAHSQH": "maHoSoQH",
    "TENDUONG": "tenDuong",
    "LOGIOI": "loGioi",
    "KHOANGLUI": "khoangLui",
}
DXF_CLASSES = {  # TT16 class -> (CAD layer of the geometry, label layer, block)
    "PhanOQuyHoach_A": ("QH_PHANO", "QH_PHANO_NHAN", "KH_O"),
    "ChiGioiDuongDo_L": ("QH_CHIGIOI_DUONGDO", "QH_CHIGIOI_NHAN", "CGDD"),
    "ChiGioiXayDung_L": ("QH_CHIGIOI_XAYDUNG", "QH_CHIGIOI_NHAN", "CGXD"),
}


def sheet_parcels(out: Path) -> gpd.GeoDataFrame:
    df = pyogrio.read_dataframe(out / "parcels.gpkg", layer="thua_dat")
    sizes = df.groupby(["maXa", "soHieuToBanDo"]).size()
    code, sheet = SHEET if SHEET in sizes.index else sizes.idxmax()
    return df[(df["maXa"] == code) & (df["soHieuToBanDo"] == sheet)].reset_index(drop=True)


def exported(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The parcels as a GIS exports them: snapped to 1 mm.

    MapInfo and the geodatabase store coordinates on an integer grid, which folds the
    zero-width spikes clipping left on a few parcels into self-intersections; snapping
    removes them first (area change < 0.001 m²).
    """
    snapped = shapely.set_precision(np.asarray(parcels.geometry.values), 0.001)
    return parcels.set_geometry(gpd.GeoSeries(snapped, crs=parcels.crs))


def sheet_name(parcels: gpd.GeoDataFrame) -> str:
    """The file name a cadastral office gives a sheet: commune code and sheet number."""
    return f"thua_dat_{parcels['maXa'].iloc[0]}_to{int(parcels['soHieuToBanDo'].iloc[0]):02d}"


def write_formats(out: Path, epsg: int) -> dict[str, Any]:
    """Write every file of ``out/formats`` (clean and dirty); returns counts for the log."""
    folder = out / "formats"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "dirty").mkdir(parents=True)
    parcels = sheet_parcels(out)
    name = sheet_name(parcels)
    lines, labels = sheet_linework(parcels)
    parcels = exported(parcels)
    write_dgn(folder / f"{name}.dgn", lines, labels)
    write_dxf(folder / "quy_hoach_1_2000.dxf", out / "construction_plan_1_2000.gpkg")
    write_mapinfo(parcels, folder / f"{name}_cp1258.tab", "cp1258")
    write_mapinfo(parcels, folder / f"{name}_tcvn3.tab", "tcvn3")
    gdb = folder / "dat_dai.gdb"
    pyogrio.write_dataframe(parcels, gdb, driver="OpenFileGDB", layer="ThuaDat", promote_to_multi=True)
    communes = pyogrio.read_dataframe(out / "communes.gpkg", layer="ranh_gioi_xa")
    pyogrio.write_dataframe(communes, gdb, driver="OpenFileGDB", layer="RanhGioiXa", append=True)
    defects = write_dirty_cad(folder / "dirty", name, lines, labels, out / "construction_plan_1_2000.gpkg")
    return {"sheet_parcels": len(parcels), "boundary_lines": len(lines), "dirty_cad": len(defects)}


def sheet_linework(parcels: gpd.GeoDataFrame) -> tuple[list[shapely.LineString], list[tuple[shapely.Point, str]]]:
    """Each shared edge once (as a surveyor draws it), and one label per parcel at a point inside it.

    The zero-width spikes clipping left on a few parcels (no area, but a line out and back)
    are left out: a surveyor does not draw them, and bando would report them as dangling.
    """
    edges = shapely.union_all(shapely.boundary(np.asarray(parcels.geometry.values)))
    lines = shapely.get_parts(shapely.line_merge(edges))
    _, cuts, dangles, _ = shapely.polygonize_full(lines)
    spikes = shapely.union_all([cuts, dangles])
    lines = [g for g in lines if not shapely.covers(spikes, g)]
    inside = shapely.point_on_surface(np.asarray(parcels.geometry.values))
    texts = [f"{n} {c} {a:.1f}" for n, c, a in zip(parcels["soThuTuThua"], parcels["loaiDat"], parcels["dienTich"])]
    return lines, list(zip(inside, texts, strict=True))


def write_dgn(path: Path, lines: list, labels: list) -> None:
    features = [_feature(g, {"Level": BOUNDARY_LEVEL, "Text": None}) for g in lines]
    features += [_feature(p, {"Level": LABEL_LEVEL, "Text": t}) for p, t in labels]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "elements.geojson"
        src.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
        path.unlink(missing_ok=True)
        cmd = ["ogr2ogr", "-f", "DGN", *[a for o in DGN_OPTIONS for a in ("-dsco", o)], str(path), str(src)]
        subprocess.run(cmd, check=True, capture_output=True)


def _feature(geom: shapely.Geometry, props: dict) -> dict:
    return {"type": "Feature", "properties": props, "geometry": json.loads(shapely.to_geojson(geom))}


def write_dxf(path: Path, plan_gpkg: Path, unclosed: int | None = None) -> None:
    """The plan's three classes on their CAD layers; ``unclosed`` leaves that plot's polyline open."""
    import ezdxf

    doc = ezdxf.new("R2010")
    doc.header["$INSUNITS"] = 6  # metres
    msp = doc.modelspace()
    for cls, (layer, label_layer, block) in DXF_CLASSES.items():
        tags = PLOT_BLOCK if cls == "PhanOQuyHoach_A" else LINE_BLOCK
        if block not in doc.blocks:
            definition = doc.blocks.new(block)
            for k, tag in enumerate(tags):
                definition.add_attdef(tag, (0, -2.0 * k), dxfattribs={"height": 1.5, "layer": label_layer})
        for layer_name in (layer, label_layer):
            if layer_name not in doc.layers:
                doc.layers.add(layer_name)
        df = pyogrio.read_dataframe(plan_gpkg, layer=cls)
        for n, (geom, row) in enumerate(zip(df.geometry.values, df.to_dict("records"), strict=True)):
            values = {tag: _text(row[f]) for tag, f in tags.items() if f in row}
            for part in shapely.get_parts(geom):
                if cls == "PhanOQuyHoach_A":
                    ring = list(part.exterior.coords)[:-1]
                    msp.add_lwpolyline(ring, close=n != unclosed, dxfattribs={"layer": layer})
                    at = shapely.point_on_surface(part)
                else:
                    msp.add_lwpolyline(list(part.coords), dxfattribs={"layer": layer})
                    at = shapely.line_interpolate_point(part, 0.5, normalized=True)
                ref = msp.add_blockref(block, (at.x, at.y), dxfattribs={"layer": label_layer})
                ref.add_auto_attribs(values)
    doc.saveas(path)


def _text(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return f"{v:.1f}"
    return str(v)


def write_mapinfo(parcels: gpd.GeoDataFrame, path: Path, text: str) -> None:
    """A TAB in MapInfo's VN-2000 definition; cp1258 text under ``WindowsVietnamese``, or TCVN3 under ``WindowsLatin1``.

    GDAL has no MapInfo name for cp1258, so both are written as WindowsLatin1 with each
    value's bytes viewed as cp1252 (GDAL writes those bytes unchanged); the cp1258 file's
    header then names its real charset, as MapInfo itself would.
    """
    from bando.crs import bound_proj4
    from bando.encodings import encode_legacy

    def raw(v: str) -> bytes:
        return encode_cp1258(v) if text == "cp1258" else encode_legacy(v, "tcvn3")

    out = parcels.copy()
    for col in ("diaChi", "tenChu"):
        out[col] = [None if v is None else raw(v).decode("cp1252") for v in out[col]]
    out = out.set_crs(CRS.from_proj4(bound_proj4(int(parcels.crs.to_epsg()))), allow_override=True)
    xmin, ymin, xmax, ymax = (round(v, -3) for v in out.total_bounds)
    bounds = f"{xmin - 1000:.0f},{ymin - 1000:.0f},{xmax + 1000:.0f},{ymax + 1000:.0f}"  # a fine integer grid
    pyogrio.write_dataframe(out, path, driver="MapInfo File", layer_options={"ENCODING": "CP1252", "BOUNDS": bounds})
    if text == "cp1258":
        header = path.read_bytes().replace(b"WindowsLatin1", b"WindowsVietnamese")
        path.write_bytes(header)


def encode_cp1258(text: str) -> bytes:
    """cp1258 bytes of NFC text: letters cp1258 lacks are written as base letter + combining tone mark."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out += (base + "".join(c for c in parts if c in tones)).encode("cp1258")
    return bytes(out)


def write_dirty_cad(folder: Path, sheet: str, lines: list, labels: list, plan_gpkg: Path) -> list[dict]:
    """One defect per drawing, each listed with the rule code bando must report and where."""
    doc: list[dict] = []
    # the longest interior edge loses its last metre: a dangling end, and two parcels merge
    outline = shapely.union_all(np.asarray(lines, dtype=object)).envelope  # only for speed below
    whole = shapely.polygonize(np.asarray(lines, dtype=object))
    rim = shapely.union_all(shapely.get_parts(whole), grid_size=0.001).boundary
    mids = shapely.line_interpolate_point(np.asarray(lines, dtype=object), 0.5, normalized=True)
    interior = [k for k, m in enumerate(mids) if rim.distance(m) > 0.01 and outline.contains(m)]
    k = max(interior, key=lambda i: lines[i].length)
    cut = shapely.LineString(_shorten(lines[k], 1.0))
    variants = {
        "unclosed": ([*lines[:k], cut, *lines[k + 1 :]], labels, ["cad.dangling", "cad.label_conflict"], cut),
        "missing_label": (lines, labels[1:], ["cad.face_unlabelled"], labels[0][0]),
        "doubled_label": (
            lines,
            [*labels, (_nudge(labels[5][0]), labels[6][1])],
            ["cad.label_conflict"],
            labels[5][0],
        ),
        "stray_label": (lines, [*labels, (_outside(lines), "9999 ONT 100.0")], ["cad.label_outside"], _outside(lines)),
    }
    for name, (ls, lbs, rules, where) in variants.items():
        file = f"{sheet}_{name}.dgn"
        write_dgn(folder / file, ls, lbs)
        doc.append({"file": file, "layer": "parcels", "profile": "famis", "rules": rules, "near": _xy(where)})
    write_dxf(folder / "quy_hoach_1_2000_unclosed.dxf", plan_gpkg, unclosed=3)
    doc.append(
        {
            "file": "quy_hoach_1_2000_unclosed.dxf",
            "layer": "planning_plots",
            "profile": "tt16",
            "rules": ["cad.unclosed", "cad.label_outside"],
        }
    )
    (folder / "defects.yml").write_text(
        "# Deliberate defects in the CAD drawings; each must be refused with these rule codes.\n"
        + yaml.safe_dump({"files": doc}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return doc


def _shorten(line: shapely.LineString, metres: float) -> list[tuple[float, float]]:
    keep = shapely.line_interpolate_point(line, line.length - metres)
    coords = [c for c, d in zip(line.coords, _distances(line), strict=True) if d < line.length - metres]
    return [*coords, (keep.x, keep.y)]


def _distances(line: shapely.LineString) -> list[float]:
    return [float(line.project(shapely.Point(c))) for c in line.coords]


def _nudge(p: shapely.Point) -> shapely.Point:
    return shapely.Point(p.x + 0.3, p.y + 0.3)


def _outside(lines: list) -> shapely.Point:
    xmin, ymin, xmax, ymax = shapely.total_bounds(np.asarray(lines, dtype=object))
    return shapely.Point(xmax + 50.0, ymax + 50.0)


def _xy(p: shapely.Geometry) -> list[float]:
    q = shapely.point_on_surface(p) if shapely.get_dimensions(p) else p
    return [round(q.x, 2), round(q.y, 2)]
