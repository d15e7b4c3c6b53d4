"""Load every QML and SLD style into headless QGIS and print what QGIS made of them, as JSON.

Run under Debian's system Python with ``python3-qgis`` (never the project's venv)::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/layers/qgis_style_probe.py SPEC.json

``SPEC.json``: ``{"layers": [{"id", "geometry", "fields": [names], "qml": path, "sld": path}]}``.
Each style is loaded into a memory layer of the layer's geometry and fields. This file
imports nothing from the project: it must run where only QGIS is installed.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import QgsApplication, QgsVectorLayer

GEOMETRY = {"MultiPolygon": "MultiPolygon", "MultiLineString": "MultiLineString", "Point": "Point"}


def _renderer(layer: Any) -> dict[str, Any]:
    r = layer.renderer()
    out: dict[str, Any] = {"type": r.type()}
    if r.type() == "categorizedSymbol":
        out["attr"] = r.classAttribute()
        out["colours"] = {c.value(): c.symbol().color().name().upper() for c in r.categories()}
    elif r.type() == "RuleRenderer":
        rules = r.rootRule().descendants()
        out["colours"] = {x.filterExpression(): x.symbol().color().name().upper() for x in rules if x.symbol()}
    else:
        symbol = r.symbol() if hasattr(r, "symbol") else None
        layer0 = symbol.symbolLayer(0) if symbol is not None else None
        out["colour"] = layer0.color().name().upper() if layer0 is not None else None
    return out


def _layer(spec: dict[str, Any], path: str, sld: bool) -> dict[str, Any]:
    fields = "&".join(f"field={name}:string" for name in spec["fields"])
    layer = QgsVectorLayer(f"{GEOMETRY[spec['geometry']]}?crs=EPSG:3857&{fields}", spec["id"], "memory")
    if sld:
        message, ok = layer.loadSldStyle(path)
    else:
        message, ok = layer.loadNamedStyle(path)
    out = {"ok": bool(ok), "message": message, "renderer": _renderer(layer)}
    out["labels"] = bool(layer.labelsEnabled())
    if layer.labelsEnabled() and layer.labeling() is not None:
        settings = layer.labeling().settings()
        out["label_expression"] = settings.fieldName
        out["label_min_scale"] = settings.minimumScale
        out["label_font"] = settings.format().font().family()
    out["aliases"] = {f.name(): f.alias() for f in layer.fields()}
    out["min_scale"] = layer.minimumScale() if layer.hasScaleBasedVisibility() else None
    return out


def main() -> None:
    spec = json.load(open(sys.argv[1], encoding="utf-8"))
    app = QgsApplication([], False)
    app.initQgis()
    result = {}
    for item in spec["layers"]:
        result[item["id"]] = {"qml": _layer(item, item["qml"], False), "sld": _layer(item, item["sld"], True)}
    print(json.dumps(result, ensure_ascii=False))
    app.exitQgis()


if __name__ == "__main__":
    main()
