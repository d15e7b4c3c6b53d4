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
    QgsCoordinateReferenceSystem,
    QgsDataSourceUri,
    QgsMapBoxGlStyleConverter,
    QgsProject,
    QgsVectorLayer,
    QgsVectorTileLayer,
)


def _vector(item: dict[str, Any]) -> Any:
    layer = QgsVectorLayer(item["uri"], item["name"], "OAPIF")
    if layer.isValid():
        message, ok = layer.loadNamedStyle(item["qml"])
        if not ok:
            raise SystemExit(f"style {item['qml']} did not load: {message}")
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
        for item in group_spec["layers"]:
            layer = _tiles(item) if item["provider"] == "vectortile" else _vector(item)
            seen.append({"name": item["name"], "valid": bool(layer.isValid())})
            project.addMapLayer(layer, False)
            node = group.addLayer(layer)
            node.setItemVisibilityChecked(bool(item["visible"]))
            node.setExpanded(False)
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
