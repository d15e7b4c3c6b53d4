"""The QGIS project for planners, described from the catalogue and built by QGIS itself.

Python 3.12 cannot load Debian's QGIS bindings (built for the system Python), so this
module writes a *spec* — every public layer grouped by theme with its QML, the plan's
versions as separate filtered layers, the parcels also as vector tiles for the wide
views — and :func:`build` runs ``qgis_build.py`` under ``/usr/bin/python3`` to turn it into
a ``.qgz``. Scale ranges keep QGIS responsive on a million parcels: features are fetched
only close up, the tiles draw the wider views.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bando.crs import transformer
from bando.errors import SetupError
from bando.layers.model import THEMES, Layer
from bando.layers.styles import maplibre, qml, styled
from bando.layers.styles.rules import scale_of_zoom

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("qgis_build.py")
#: Themes drawn top to bottom in the layer tree (points over lines over areas).
THEME_ORDER = ("ioc", "infrastructure", "planning", "cadastre", "land_use", "raster", "base")
#: Switched on when the project opens; everything else is one click away.
VISIBLE = ("communes", "roads", "parcels")
#: Closer than this zoom the parcels come as features (OAPIF), farther as vector tiles.
FEATURES_FROM_ZOOM = 16


@dataclass(frozen=True)
class Version:
    """One version of a versioned layer, as published."""

    id: str
    label: str
    current: bool


def _oapif(api_url: str, layer: Layer) -> str:
    return f"url='{api_url}' typename='{layer.id}' pageSize='1000'"


def _entry(layer: Layer, api_url: str, styles: Path, title: str, subset: str | None, visible: bool) -> dict[str, Any]:
    path = styles / f"{layer.id}.qml"
    path.write_bytes(qml.qml(layer))
    entry: dict[str, Any] = {
        "name": title,
        "provider": "OAPIF",
        "uri": _oapif(api_url, layer),
        "qml": str(path),
        "visible": visible,
        "subset": subset,
    }
    if layer.id == "parcels":  # a million features: fetched only close up
        entry["min_scale"] = scale_of_zoom(FEATURES_FROM_ZOOM - 0.5)
    return entry


def _tiles_entry(layer: Layer, api_url: str, styles: Path) -> dict[str, Any]:
    assert layer.tiles is not None
    path = styles / f"{layer.id}.style.json"
    path.write_text(json.dumps(maplibre.layer_style(layer, api_url, api_url)), encoding="utf-8")
    return {
        "name": f"{layer.title.vi} (ô bản đồ vector / vector tiles)",
        "provider": "vectortile",
        "url": api_url + maplibre.TILE_PATH.format(id=layer.id),
        "zmin": layer.tiles.minzoom,
        "zmax": layer.tiles.maxzoom,
        "style": str(path),
        "visible": layer.id in VISIBLE,
        "max_scale": scale_of_zoom(FEATURES_FROM_ZOOM - 0.5),
        "min_scale": scale_of_zoom(layer.tiles.minzoom - 0.5),
    }


def _layers(layer: Layer, api_url: str, styles: Path, versions: list[Version]) -> list[dict[str, Any]]:
    if layer.versioned and versions:
        return [
            _entry(layer, api_url, styles, f"{layer.title.vi} — {v.label}", f"\"version_id\" = '{v.id}'", False)
            for v in versions
        ]
    out = [_entry(layer, api_url, styles, layer.title.vi, None, layer.id in VISIBLE)]
    if layer.id == "parcels" and layer.tiles:
        out.append(_tiles_entry(layer, api_url, styles))
    return out


def spec(
    layers: list[Layer],
    api_url: str,
    srid: int,
    title: str,
    styles: Path,
    versions: dict[str, list[Version]] | None = None,
) -> dict[str, Any]:
    """What the project holds: groups of layers, the project CRS and the pinned VN-2000 transformation."""
    versions = versions or {}
    api_url = api_url.rstrip("/")
    groups = []
    for theme in THEME_ORDER:
        members = [x for x in layers if x.theme == theme and styled(x)]
        if members:
            entries = [e for x in members for e in _layers(x, api_url, styles, versions.get(x.id, []))]
            groups.append({"title": f"{THEMES[theme].vi} / {THEMES[theme].en}", "layers": entries})
    pipeline = transformer(srid, 4326).to_proj4()
    return {
        "title": title,
        "crs": f"EPSG:{srid}",
        "transform": {"src": f"EPSG:{srid}", "dst": "EPSG:4326", "proj": pipeline},
        "groups": groups,
    }


def _env(home: Path) -> dict[str, str]:
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("QGIS_")}
    (home / "runtime").mkdir(mode=0o700, exist_ok=True)
    return env | {
        "HOME": str(home),
        "QGIS_CUSTOM_CONFIG_PATH": str(home / "profile"),
        "XDG_RUNTIME_DIR": str(home / "runtime"),
        "QT_QPA_PLATFORM": "offscreen",
    }


def build(
    project_spec: dict[str, Any],
    out: Path,
    workdir: Path | None = None,
    timeout_s: float = 300,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write the ``.qgz`` with QGIS; returns what QGIS reported (layers, validity)."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        raise SetupError(f"QGIS projects are built by QGIS under {SYSTEM_PYTHON}, which is missing")
    with tempfile.TemporaryDirectory(prefix="bando-qgis-", dir=workdir) as tmp:
        home = Path(tmp)
        spec_path = home / "spec.json"
        spec_path.write_text(json.dumps(project_spec | {"out": str(out.resolve())}), encoding="utf-8")
        run = subprocess.run(
            [SYSTEM_PYTHON, str(SCRIPT), str(spec_path)],
            capture_output=True,
            text=True,
            env=_env(home) | (extra_env or {}),
            timeout=timeout_s,
            check=False,
        )
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[-1]
        if "No module named 'qgis'" in run.stderr:
            raise SetupError("QGIS is not installed: apt-get install python3-qgis qgis-providers (make setup does)")
        raise SetupError(f"QGIS could not build the project: {last}")
    report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return report


# -- the WMS project: the same layers, read from PostGIS as the public role ---------------


@dataclass(frozen=True)
class PgConn:
    """Where QGIS Server reads the layers; the password stays in a ``PGPASSFILE``, never in the project."""

    host: str
    port: int
    dbname: str
    user: str


def _public_sql(layer: Layer) -> str:
    """Only public columns (the role could read no others anyway), the current version only."""
    cols = ", ".join(['"fid"', '"geom"', *(f'"{f.name}"' for f in layer.public_fields)])
    where = " where valid_to is null" if layer.versioned else ""
    return f'(select {cols} from "data"."{layer.id}"{where})'


def _raster_entry(layer: Layer, path: str) -> dict[str, Any]:
    """A published raster (a GeoTIFF under BANDO_HOME), drawn with the catalogue's colour ramp."""
    nodata = layer.raster.nodata if layer.raster else None
    return {
        "name": layer.title.vi,
        "short_name": layer.id,
        "provider": "gdal",
        "path": path,
        "ramp": [list(stop) for stop in layer.style.ramp],
        "nodata": nodata,
        "visible": True,
        "abstract": layer.description.vi,
    }


def wms_spec(
    layers: list[Layer],
    conn: PgConn,
    srid: int,
    title: str,
    styles: Path,
    service_url: str,
    published: set[str],
    rasters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The WMS server's project: every published public map layer, named by its catalogue id."""
    rasters = rasters or {}
    groups = []
    for theme in THEME_ORDER:
        entries = []
        for layer in (x for x in layers if x.theme == theme and styled(x) and x.id in published):
            path = styles / f"{layer.id}.qml"
            path.write_bytes(qml.qml(layer))
            pg = {"host": conn.host, "port": str(conn.port), "dbname": conn.dbname, "user": conn.user}
            entries.append(
                {
                    "name": layer.title.vi,
                    "short_name": layer.id,
                    "provider": "postgres",
                    "pg": pg | {"sql": _public_sql(layer), "geometry": layer.geometry or "", "srid": str(srid)},
                    "qml": str(path),
                    "visible": True,
                    "abstract": layer.description.vi,
                    "field_names": True,
                }
            )
        entries += [_raster_entry(x, rasters[x.id]) for x in layers if x.theme == theme and x.id in rasters]
        if entries:
            groups.append({"title": f"{THEMES[theme].vi} / {THEMES[theme].en}", "layers": entries, "short_name": theme})
    return {
        "title": title,
        "crs": f"EPSG:{srid}",
        "transform": {"src": f"EPSG:{srid}", "dst": "EPSG:4326", "proj": transformer(srid, 4326).to_proj4()},
        "groups": groups,
        "wms": {"url": service_url, "crs": ["EPSG:3857", "EPSG:4326", f"EPSG:{srid}"], "max_size": 4096},
    }
