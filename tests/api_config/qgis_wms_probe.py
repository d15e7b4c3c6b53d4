"""Add bando's /wms as a layer through QGIS's own WMS provider and print whether it is valid.

Run under Debian's system Python with ``python3-qgis``::

    /usr/bin/python3 tests/api_config/qgis_wms_probe.py WMS_URL LAYER

Imports nothing from bando.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import QgsApplication, QgsRasterLayer  # type: ignore[import-not-found]


def main() -> None:
    url, name = sys.argv[1], sys.argv[2]
    app = QgsApplication([], False)
    app.initQgis()
    uri = f"contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&format=image/png&layers={name}&styles=&url={url}"
    layer = QgsRasterLayer(uri, name, "wms")
    out = {"valid": layer.isValid(), "error": layer.error().summary() if not layer.isValid() else ""}
    if layer.isValid():
        out["extent"] = [layer.extent().xMinimum(), layer.extent().yMinimum()]
    print(json.dumps(out))
    app.exitQgis()


if __name__ == "__main__":
    main()
