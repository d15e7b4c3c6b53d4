"""Writes every dataset other than the parcel GeoPackage, in a fixed order.

`generate.py` builds the parcels (the expensive part, and the only one needed at
scale); this module turns them, and the layout, into the other deliveries and
the manifest. Each step logs a progress line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shapely

from .construction import construction_layers
from .dirty import short_names, write_dirty
from .documents import decision_pdf
from .geometry import Layout
from .hamlets import hamlets_frame
from .infrastructure import build_network, network_frames
from .ioc import cameras, readings, sensors
from .parcels import CommuneParcels, parcels_frame
from .planning import plan_frame, plan_v1, plan_v2, status_frame
from .raster import flood_depth, write_cog
from .writers import frame, write_csv, write_geojson, write_gpkg, write_legacy_shapefile, write_shapefile


def communes_frame(layout: Layout):
    """ranh_gioi_xa: one MultiPolygon per commune, natural area in hectares."""
    cells = layout.communes
    cols = {
        "maXa": [c.spec.code for c in cells],
        "tenXa": [c.spec.name for c in cells],
        "loaiDonVi": [c.spec.kind for c in cells],
        "maTinh": [layout.prov.code] * len(cells),
        "tenTinh": [layout.prov.name] * len(cells),
        "dienTichTuNhien": [round(c.polygon.area / 10_000, 2) for c in cells],
    }
    return frame(cols, [shapely.multipolygons([c.polygon]) for c in cells], layout.prov.epsg)


PLAN_TITLE = "Quy hoạch sử dụng đất đến năm 2030"


def write_all(
    seed: int,
    layout: Layout,
    communes: list[CommuneParcels],
    out_root: Path,
    out: Path,
    wanted: set[str],
    log: Callable[[str], None],
) -> dict[str, object]:
    """Write the requested datasets under `out`; the manifest under `out_root`."""
    prov, epsg = layout.prov, layout.prov.epsg
    summary: dict[str, object] = {}
    parcels = parcels_frame(communes, epsg)

    if "communes" in wanted:
        p = out / "communes.gpkg"
        p.unlink(missing_ok=True)
        write_gpkg(communes_frame(layout), p, "ranh_gioi_xa", multi=True)
        log(f"  communes: {len(layout.communes)} → {p.name}")
    if "hamlets" in wanted:
        hamlets = hamlets_frame(seed, layout, communes)
        write_geojson(hamlets, out / "hamlets.geojson")
        log(f"  hamlets: {len(hamlets)} → hamlets.geojson")
    if "parcels_tcvn3" in wanted:
        write_legacy_shapefile(short_names(parcels), out / "parcels_tcvn3" / "thua_dat.shp", "tcvn3")
        log(f"  parcels (TCVN3 Shapefile): {len(parcels)} → parcels_tcvn3/thua_dat.shp")
    if "land_use_status" in wanted:
        p = out / "land_use_status.gpkg"
        p.unlink(missing_ok=True)
        st = status_frame(communes, epsg)
        write_gpkg(st, p, "hien_trang_sdd", multi=True)
        log(f"  land-use status: {len(st)} polygons → {p.name}")
    if "land_use_plan" in wanted:
        v1 = plan_v1(seed, layout, communes)
        versions = [(v1, prov.plan_v1, "land_use_plan_v1.gpkg")]
        if prov.plan_v2 is not None:
            v2, changes = plan_v2(seed, layout, communes, v1)
            versions.append((v2, prov.plan_v2, "land_use_plan_v2.gpkg"))
            summary["plan_changes"] = changes
        for i, (zones, dec, name) in enumerate(versions):
            p = out / name
            p.unlink(missing_ok=True)
            write_gpkg(plan_frame(zones, dec, epsg), p, "quy_hoach_sdd", multi=True)
            log(f"  land-use plan {dec.version_id}: {len(zones)} zones → {name}")
            title = ("Điều chỉnh " if i else "") + PLAN_TITLE
            pdf = out / "documents" / f"{dec.version_id}.pdf"
            pdf.parent.mkdir(parents=True, exist_ok=True)
            pdf.write_bytes(decision_pdf(dec, title, layout.prov.name))
    if "construction_plan" in wanted:
        cp = next(c for c in communes if c.code == prov.construction_plan_commune)
        layers, roads = construction_layers(seed, layout, cp, prov)
        p = out / "construction_plan_1_2000.gpkg"
        p.unlink(missing_ok=True)
        for name, gdf in layers.items():
            write_gpkg(gdf, p, name, multi=True)
        log("  construction plan 1/2000: " + ", ".join(f"{k} {len(v)}" for k, v in layers.items()))
        summary["planned_roads"] = [(r.number, r.name, r.lo_gioi) for r in roads]
    if "infrastructure" in wanted:
        frames = network_frames(seed, build_network(seed, layout, communes), epsg)
        write_geojson(frames["roads"], out / "roads.geojson")
        write_shapefile(frames["pipes"], out / "water_pipes" / "ong_cap_nuoc.shp", encoding="UTF-8")
        write_geojson(frames["drains"], out / "drainage.geojson")
        write_shapefile(frames["power"], out / "power_lines" / "duong_day.shp", encoding="UTF-8")
        n = write_csv(
            out / "point_assets.csv",
            ["maTaiSan", "loai", "trangThai", "namLapDat", "toaDoX", "toaDoY"],
            frames["point_rows"],
        )
        log(
            f"  infrastructure: roads {len(frames['roads'])}, pipes {len(frames['pipes'])}, drains "
            f"{len(frames['drains'])}, power {len(frames['power'])}, point assets {n}"
        )
    if "ioc" in wanted:
        cam = cameras(seed, layout, communes)
        write_csv(out / "cameras.csv", ["maCamera", "tenCamera", "kinhDo", "viDo", "trangThai"], cam)
        sen = sensors(seed, layout, communes)
        write_csv(out / "sensors.csv", ["maCamBien", "tenTram", "loai", "kinhDo", "viDo", "donVi"], sen)
        n = write_csv(out / "sensor_readings.csv", ["maCamBien", "thoiGian", "giaTri"], readings(seed, sen))
        log(f"  IOC: {len(cam)} cameras, {len(sen)} sensors, {n} readings")
    if "flood_depth" in wanted:
        depth, transform = flood_depth(seed, layout, communes)
        write_cog(out / "flood_depth.tif", depth, transform, epsg)
        log(f"  flood depth: {depth.shape[1]}x{depth.shape[0]} px COG → flood_depth.tif")
    if "dirty" in wanted:
        doc = write_dirty(parcels, out / "dirty", epsg)
        log(f"  dirty variants: {len(doc['files'])} files → dirty/ (defects.yml)")
    if "formats" in wanted:
        from .formats import write_formats

        counts = write_formats(out, epsg)
        log(
            f"  other formats: DGN, DXF, 2 MapInfo TAB, File Geodatabase, {counts['dirty_cad']} dirty drawings → formats/"
        )
    if "manifest" in wanted:
        path = write_manifest(layout, out_root, out, seed)
        log(f"  manifest → {path}")
    return summary


def _q(v: object) -> str:
    """A YAML scalar: JSON strings are valid YAML double-quoted strings."""
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)


def manifest_path(prov, out_root: Path, out: Path) -> Path:
    """OUT/manifest.yml (Hưng Yên, historically) or OUT/<province>/manifest.yml."""
    return (out_root if prov.manifest_at_root else out) / "manifest.yml"


def _has_hamlets(prov) -> bool:
    return prov.datasets is None or "hamlets" in prov.datasets


def write_manifest(layout: Layout, out_root: Path, out: Path, seed: int) -> Path:
    """manifest.yml: which file feeds which catalogue layer (paths relative to the manifest)."""
    prov = layout.prov
    path = manifest_path(prov, out_root, out)
    base = path.parent
    rel = out.relative_to(base).as_posix() if out.is_relative_to(base) else out.as_posix()
    pre = "" if rel == "." else f"{rel}/"
    crs = f"EPSG:{prov.epsg}"
    deliveries = prov.deliveries

    def version(dec) -> dict[str, str]:
        return {
            "id": dec.version_id,
            "decision": dec.number,
            "decision_date": dec.date,
            "authority": dec.authority,
            "valid_from": dec.date,
        }

    def parcels(d) -> dict[str, object]:
        entry: dict[str, object] = {
            "source": f"{pre}{d.filename}",
            "source_layer": "thua_dat",
            "crs": f"EPSG:{d.epsg}",
            "encoding": "utf-8",
        }
        if len(deliveries) > 1:
            codes = [c.spec.code for c in layout.communes if prov.delivery_for(c.spec) == d]
            entry["note"] = f"former {d.former_province} cadastre (communes {', '.join(codes)})"
        return entry

    plans = [(prov.plan_v1, "land_use_plan_v1.gpkg")]
    if prov.plan_v2 is not None:
        plans.append((prov.plan_v2, "land_use_plan_v2.gpkg"))
    gp = f"{pre}construction_plan_1_2000.gpkg"
    entries: list[tuple[str, dict[str, Any]]] = [
        (
            "communes",
            {"source": f"{pre}communes.gpkg", "source_layer": "ranh_gioi_xa", "crs": crs, "encoding": "utf-8"},
        ),
        *([("hamlets", {"source": f"{pre}hamlets.geojson", "encoding": "utf-8"})] if _has_hamlets(prov) else []),
        *[("parcels", parcels(d)) for d in deliveries],
        ("land_use_status", {"source": f"{pre}land_use_status.gpkg", "source_layer": "hien_trang_sdd", "crs": crs}),
        *[
            (
                "land_use_plan",
                {
                    "source": f"{pre}{name}",
                    "source_layer": "quy_hoach_sdd",
                    "crs": crs,
                    "version": version(dec),
                    "documents": [f"{pre}documents/{dec.version_id}.pdf"],
                },
            )
            for dec, name in plans
        ],
        (
            "planning_plots",
            {"source": gp, "source_layer": "PhanOQuyHoach_A", "crs": crs, "version": version(prov.construction_plan)},
        ),
        (
            "planning_land_functions",
            {
                "source": gp,
                "source_layer": "ChucNangSuDungDat_A",
                "crs": crs,
                "version": version(prov.construction_plan),
            },
        ),
        (
            "red_lines",
            {"source": gp, "source_layer": "ChiGioiDuongDo_L", "crs": crs, "version": version(prov.construction_plan)},
        ),
        (
            "building_lines",
            {"source": gp, "source_layer": "ChiGioiXayDung_L", "crs": crs, "version": version(prov.construction_plan)},
        ),
        ("roads", {"source": f"{pre}roads.geojson", "encoding": "utf-8"}),
        ("water_pipes", {"source": f"{pre}water_pipes/ong_cap_nuoc.shp", "crs": crs, "encoding": "utf-8"}),
        ("drainage_lines", {"source": f"{pre}drainage.geojson", "encoding": "utf-8"}),
        ("power_lines", {"source": f"{pre}power_lines/duong_day.shp", "crs": crs, "encoding": "utf-8"}),
        (
            "point_assets",
            {
                "source": f"{pre}point_assets.csv",
                "crs": crs,
                "x_column": "toaDoY",
                "y_column": "toaDoX",
                "encoding": "utf-8",
            },
        ),
        (
            "cameras",
            {
                "source": f"{pre}cameras.csv",
                "crs": "EPSG:4326",
                "x_column": "kinhDo",
                "y_column": "viDo",
                "encoding": "utf-8",
            },
        ),
        (
            "env_sensors",
            {
                "source": f"{pre}sensors.csv",
                "crs": "EPSG:4326",
                "x_column": "kinhDo",
                "y_column": "viDo",
                "encoding": "utf-8",
            },
        ),
        ("sensor_readings", {"source": f"{pre}sensor_readings.csv", "encoding": "utf-8"}),
        ("flood_depth", {"source": f"{pre}flood_depth.tif", "crs": crs}),
    ]
    lines = [
        "# Which sample file feeds which catalogue layer (layers/<layer>.yml).",
        f"# Written by data_samples/generate.py (seed {seed}); paths are relative to this file.",
        "# point_assets: toaDoX is the NORTHING and toaDoY the EASTING (Vietnamese surveying",
        "# convention), hence x_column: toaDoY. CSV lon/lat columns are named explicitly too.",
    ]
    if len(deliveries) > 1:
        lines += [
            f"# {prov.name} joins former provinces on different meridians: each cadastral delivery",
            "# keeps its own TM-3 zone (" + ", ".join(f"{d.former_province} EPSG:{d.epsg}" for d in deliveries) + ");",
            f"# bando reprojects both into the storage zone EPSG:{prov.epsg}. Each parcels delivery",
            "# replaces only its own communes (the catalogue's partition: maXa), so both are kept.",
        ]
    lines += [f"province: {prov.name}", "deliveries:"]
    for layer, fields in entries:
        lines.append(f"  - layer: {layer}")
        for k, v in fields.items():
            if isinstance(v, dict):
                inner = ", ".join(f"{ik}: {_q(iv)}" for ik, iv in v.items())
                lines.append(f"    {k}: {{{inner}}}")
            else:
                lines.append(f"    {k}: {_q(v) if k == 'note' else v}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
