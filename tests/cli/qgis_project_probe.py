"""Open a bando QGIS project in headless QGIS, render it around a point and report, as JSON.

Run under Debian's system Python with ``python3-qgis``::

    /usr/bin/python3 tests/cli/qgis_project_probe.py PROJECT.qgz X Y HALF_M

(X, Y in the project's CRS.) Reports every layer's validity, the groups, the parcels'
aliases and the colour of the rendered pixel at (X, Y). Imports nothing from bando.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # type: ignore[import-not-found]
    QgsApplication,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize  # type: ignore[import-not-found]
from qgis.PyQt.QtGui import QColor  # type: ignore[import-not-found]

SIZE = 400


def main() -> None:
    path, x, y, half = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
    ok = project.read(path)
    root = project.layerTreeRoot()
    layers = {
        lyr.name(): {"valid": lyr.isValid(), "provider": lyr.providerType()} for lyr in project.mapLayers().values()
    }
    groups = [g.name() for g in root.findGroups()]
    visible = [lyr for lyr in root.layerOrder() if root.findLayer(lyr.id()).isVisible()]
    settings = QgsMapSettings()
    settings.setLayers(visible)
    settings.setDestinationCrs(project.crs())
    settings.setTransformContext(project.transformContext())
    settings.setOutputSize(QSize(SIZE, SIZE))
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setExtent(QgsRectangle(x - half, y - half, x + half, y + half))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(os.environ.get("PROBE_PNG", "/dev/null"), "PNG")
    c = image.pixelColor(SIZE // 2, SIZE // 2)
    parcels = next(
        (lyr for lyr in project.mapLayers().values() if lyr.providerType() == "OAPIF" and "Thửa" in lyr.name()), None
    )
    aliases = {f.name(): f.alias() for f in parcels.fields()} if parcels else {}
    report = {
        "read": ok,
        "crs": project.crs().authid(),
        "layers": layers,
        "groups": groups,
        "visible": [lyr.name() for lyr in visible],
        "subsets": {
            lyr.name(): lyr.subsetString() for lyr in project.mapLayers().values() if hasattr(lyr, "subsetString")
        },
        "pixel": [c.red(), c.green(), c.blue()],
        "aliases": aliases,
        "scale": settings.scale(),
        "operations": len(project.transformContext().coordinateOperations()),
    }
    print(json.dumps(report, ensure_ascii=False))
    app.exitQgis()


if __name__ == "__main__":
    main()
