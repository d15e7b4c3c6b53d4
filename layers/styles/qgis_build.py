"""Build a QGIS project from a spec (see :mod:`bando.layers.styles.project`); QGIS's side.

Runs under Debian's ``/usr/bin/python3`` with ``python3-qgis``, never the project's venv,
and imports nothing from bando. Prints one JSON line: each layer's name and validity.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (  # type: ignore[import-not-found]
    QgsApplication,
    QgsColorRampShader,
    QgsCoordinateReferenceSystem,
    QgsDataSourceUri,
    QgsMapBoxGlStyleConverter,
    QgsProject,
    QgsRasterLayer,
    QgsRasterShader,
    QgsRasterTransparency,
    QgsSingleBandPseudoColorRenderer,
    QgsVectorLayer,
    QgsVectorTileLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QColor  # type: ignore[import-not-found]


def _postgres_uri(pg: dict[str, str]) -> str:
    uri = QgsDataSourceUri()
    uri.setConnection(pg["host"], pg["port"], pg["dbname"], pg["user"], "")
    uri.setDataSource("", pg["sql"], "geom", "", "fid")
    uri.setSrid(pg["srid"])
    uri.setWkbType(QgsWkbTypes.parseType(pg["geometry"]))
    uri.setParam("checkPrimaryKeyUnicity", "0")
    return str(uri.uri(False))


def _vector(item: dict[str, Any]) -> Any:
    if item["provider"] == "postgres":
        layer = QgsVectorLayer(_postgres_uri(item["pg"]), item["name"], "postgres")
        layer.setShortName(item["short_name"])
        layer.setAbstract(item.get("abstract", ""))
    else:
        layer = QgsVectorLayer(item["uri"], item["name"], "OAPIF")
    if layer.isValid():
        message, ok = layer.loadNamedStyle(item["qml"])
        if not ok:
            raise SystemExit(f"style {item['qml']} did not load: {message}")
        if item.get("field_names"):  # machine clients key on field names, not on Vietnamese titles
            for index in range(layer.fields().count()):
                layer.removeFieldAlias(index)
        if item.get("subset"):
            layer.setSubsetString(item["subset"])
        if item.get("min_scale"):
            layer.setScaleBasedVisibility(True)
            layer.setMinimumScale(item["min_scale"])
            layer.setMaximumScale(0)
    return layer


def _tiles(item: dict[str, Any]) -> Any:
    uri = QgsDataSourceUri()
    uri.setParam("type", "xyz")
    uri.setParam("url", item["url"])
    uri.setParam("zmin", str(item["zmin"]))
    uri.setParam("zmax", str(item["zmax"]))
    layer = QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), item["name"])
    with open(item["style"], encoding="utf-8") as fh:
        converter = QgsMapBoxGlStyleConverter()
        converter.convert(json.load(fh))
    if converter.renderer() is not None:
        layer.setRenderer(converter.renderer())
    if converter.labeling() is not None:
        layer.setLabeling(converter.labeling())
    layer.setScaleBasedVisibility(True)
    layer.setMinimumScale(item["min_scale"])
    layer.setMaximumScale(item["max_scale"])
    return layer


def _wms(project: Any, wms: dict[str, Any]) -> None:
    """QGIS Server's service settings: the public URL, the CRSs offered, bounded image sizes."""
    project.writeEntry("WMSServiceCapabilities", "/", True)
    project.writeEntry("WMSServiceTitle", "/", project.title())
    project.writeEntry("WMSUrl", "/", wms["url"])
    project.writeEntry("WMSCrsList", "/", wms["crs"])
    project.writeEntry("WMSMaxWidth", "/", wms["max_size"])
    project.writeEntry("WMSMaxHeight", "/", wms["max_size"])
    project.writeEntry("WMSFeatureInfoMaxFeatures", "/", 20)
    project.writeEntry("WMSAddWktGeometry", "/", False)
    project.writeEntry("WMSUseLayerIDs", "/", False)


def _raster(item: dict[str, Any]) -> Any:
    """A GeoTIFF drawn with an interpolated colour ramp; no-data and values below the first stop clear."""
    layer = QgsRasterLayer(item["path"], item["name"], "gdal")
    layer.setShortName(item["short_name"])
    layer.setAbstract(item.get("abstract", ""))
    if layer.isValid() and item["ramp"]:
        ramp = QgsColorRampShader()
        ramp.setColorRampType(QgsColorRampShader.Interpolated)
        ramp.setClassificationMode(QgsColorRampShader.Continuous)
        ramp.setClip(False)
        ramp.setColorRampItemList([QgsColorRampShader.ColorRampItem(v, QColor(c), f"{v:g}") for v, c in item["ramp"]])
        shader = QgsRasterShader()
        shader.setRasterShaderFunction(ramp)
        renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
        renderer.setClassificationMin(item["ramp"][0][0])
        renderer.setClassificationMax(item["ramp"][-1][0])
        layer.setRenderer(renderer)
        transparency = layer.renderer().rasterTransparency() or QgsRasterTransparency()
        below = QgsRasterTransparency.TransparentSingleValuePixel()
        below.min, below.max, below.percentTransparent = -1e12, item["ramp"][0][0], 100.0
        transparency.setTransparentSingleValuePixelList([below])
        layer.renderer().setRasterTransparency(transparency)
    return layer


def build(spec: dict[str, Any]) -> dict[str, Any]:
    project = QgsProject.instance()
    project.setTitle(spec["title"])
    crs = QgsCoordinateReferenceSystem(spec["crs"])
    project.setCrs(crs)
    t = spec["transform"]
    context = project.transformContext()
    context.addCoordinateOperation(
        QgsCoordinateReferenceSystem(t["src"]), QgsCoordinateReferenceSystem(t["dst"]), t["proj"]
    )
    project.setTransformContext(context)
    root = project.layerTreeRoot()
    seen = []
    for group_spec in spec["groups"]:
        group = root.addGroup(group_spec["title"])
        if group_spec.get("short_name"):
            group.setCustomProperty("wmsShortName", group_spec["short_name"])
        for item in group_spec["layers"]:
            kinds = {"vectortile": _tiles, "gdal": _raster}
            layer = kinds.get(item["provider"], _vector)(item)
            seen.append({"name": item["name"], "valid": bool(layer.isValid())})
            project.addMapLayer(layer, False)
            node = group.addLayer(layer)
            node.setItemVisibilityChecked(bool(item["visible"]))
            node.setExpanded(False)
    if spec.get("wms"):
        _wms(project, spec["wms"])
    if not project.write(spec["out"]):
        raise SystemExit(f"QGIS could not write {spec['out']}: {project.error()}")
    return {"out": spec["out"], "layers": seen}


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        spec = json.load(fh)
    app = QgsApplication([], False)
    app.initQgis()
    report = build(spec)
    print(json.dumps(report, ensure_ascii=False))
    app.exitQgis()


if __name__ == "__main__":
    main()
