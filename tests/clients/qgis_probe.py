"""Drive headless QGIS against a running bando server and print what QGIS saw, as JSON.

Run under Debian's *system* Python with ``python3-qgis`` installed, never the project's
virtual environment (QGIS's bindings are built for Debian's Python)::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/clients/qgis_probe.py SPEC.json

``SPEC.json`` (a path, or ``-`` for standard input) says what to look at::

    {"ogc": "http://127.0.0.1:8000/ogc", "collection": "parcels",
     "bboxes": {"main": [lon0, lat0, lon1, lat1], …},  # CRS84, for feature counts
     "key": {"maXa": "12031", "soHieuToBanDo": 2, "soThuTuThua": 34},  # one parcel in the bbox
     "point": [lon, lat],                              # a point inside that parcel
     "tm3": "EPSG:9209",
     "tiles": {"template": "http://…/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt",
               "zmin": 14, "zmax": 22, "zoom": 16, "layer": "parcels",
               "fields": ["loaiDat"]}}                     # tile attributes to decode besides the key

It does what a planner does in QGIS: adds the collection as an OGC API Features layer
(provider ``OAPIF``), reads the features in a bbox, reads one parcel in VN-2000 TM-3, and
adds the collection's vector tiles as a vector tile layer and renders them. Each part
reports on its own; a part that fails reports its error under ``errors`` and the others
still run. The pytest side (``test_qgis.py``) compares the numbers with the database.

This file imports nothing from the project: it must run where only QGIS is installed.
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WEB_MERCATOR_HALF = 20037508.342789244
# EPSG:6960 (Decision 05/2007/QĐ-BTNMT), the only VN-2000 ↔ WGS 84 transformation bando
# accepts. QGIS names it "VN-2000 to WGS 84 (2)"; its PROJ pipeline carries these shifts.
EPSG_6960_SHIFT = "+x=-191.90441429 +y=-39.30318279 +z=-111.45032835"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "-":
        spec = json.load(sys.stdin)
    else:
        with open(argv[1], encoding="utf-8") as f:
            spec = json.load(f)
    try:
        from qgis.core import Qgis, QgsApplication
    except ImportError as exc:
        print(json.dumps({"errors": {"import": f"{type(exc).__name__}: {exc}"}, "python": sys.version}))
        return 3

    profile = os.environ.get("QGIS_CUSTOM_CONFIG_PATH", "")
    app = QgsApplication([], False, profile) if profile else QgsApplication([], False)
    app.initQgis()
    probe = Probe(spec, app)
    out: dict[str, Any] = {"qgis": Qgis.version(), "python": sys.version.split()[0], "errors": {}}
    try:
        out["providers"] = sorted(probe.providers())
        for part in ("features", "tm3", "tiles"):
            try:
                out[part] = getattr(probe, part)()
            except Exception:
                out["errors"][part] = traceback.format_exc(limit=6)
            out.setdefault(part, {})["requests"] = probe.take_requests()
    finally:
        print(json.dumps(out, ensure_ascii=False, default=str))
        sys.stdout.flush()
        app.exitQgis()
    return 0


class Probe:
    def __init__(self, spec: dict, app: Any) -> None:
        from qgis.core import QgsNetworkAccessManager, QgsNetworkRequestParameters

        self.spec = spec
        self.app = app
        self.requests: list[str] = []
        nam = QgsNetworkAccessManager.instance()
        nam.requestAboutToBeCreated[QgsNetworkRequestParameters].connect(
            lambda p: self.requests.append(p.request().url().toString())
        )

    def take_requests(self) -> list[str]:
        self.app.processEvents()  # requests made on worker threads are signalled through the event loop
        taken, self.requests = self.requests, []
        return taken

    @staticmethod
    def providers() -> list[str]:
        from qgis.core import QgsProviderRegistry

        return QgsProviderRegistry.instance().providerList()

    # -- 1 and 2: OGC API Features layer, features in a bbox -------------------------------------

    def features_uri(self, srsname: str) -> str:
        # restrictToRequestBBOX: ask the server for the requested bbox only (the "only request
        # features overlapping the view extent" box of the Add Layer dialog), as a planner does
        # on a large layer; without it QGIS pages through the whole collection first.
        # srsname: QGIS 3.22 ignores it (always CRS84); later QGIS picks it from the collection's
        # `crs` list, and would otherwise default to its `storageCrs` (TM-3).
        params = {
            "url": self.spec["ogc"],
            "typename": self.spec["collection"],
            "srsname": srsname,
            "restrictToRequestBBOX": "1",
        }
        return " ".join(f"{k}='{v}'" for k, v in params.items())

    def layer(self, srsname: str = "OGC:CRS84") -> Any:
        from qgis.core import QgsVectorLayer

        uri = self.features_uri(srsname)
        layer = QgsVectorLayer(uri, self.spec["collection"], "OAPIF")
        if not layer.isValid():
            raise RuntimeError(f"QGIS could not open {uri}: {layer.error().summary()}")
        return layer

    def features(self) -> dict:
        from qgis.core import QgsFeatureRequest, QgsRectangle

        layer = self.layer()
        if not layer.crs().isGeographic():
            raise RuntimeError(f"QGIS opened the layer in {layer.crs().authid()}, not CRS84")
        bboxes = {}
        for name, bbox in self.spec["bboxes"].items():
            request = QgsFeatureRequest().setFilterRect(QgsRectangle(*bbox))
            keys = [self.key_of(f) for f in layer.getFeatures(request)]
            bboxes[name] = {"bbox": bbox, "count": len(keys), "keys": sorted(keys, key=str)}
        return {
            "uri": layer.source(),
            "provider": layer.providerType(),
            "valid": layer.isValid(),
            "crs": layer.crs().authid(),
            "geometry_type": layer.wkbType(),
            "fields": {f.name(): f.typeName() for f in layer.fields()},
            "bboxes": bboxes,
        }

    def key_of(self, feature: Any) -> list:
        return [feature[name] for name in self.spec["key"]]

    # -- 3: the same layer in VN-2000 TM-3 ------------------------------------------------------

    def tm3(self) -> dict:
        """One parcel's vertices in TM-3 metres.

        First the provider is asked for the CRS itself (``srsname``): QGIS builds that honour
        OGC API Features Part 2 request ``crs=…9209`` and the server answers in TM-3. QGIS 3.22
        (Debian 12) ignores it and always reads CRS84, so the layer is reprojected by QGIS the
        way a planner's project in EPSG:9209 does — with the transformation pinned to EPSG:6960
        in the transform context (Project Properties → Transformations).
        """
        from qgis.core import (
            QgsCoordinateReferenceSystem,
            QgsCoordinateTransform,
            QgsCoordinateTransformContext,
            QgsDatumTransform,
            QgsExpression,
            QgsFeatureRequest,
            QgsPointXY,
            QgsRectangle,
        )

        tm3 = QgsCoordinateReferenceSystem(self.spec["tm3"])
        if not tm3.isValid():
            raise RuntimeError(f"QGIS does not know {self.spec['tm3']}")
        key_filter = " and ".join(
            f"{QgsExpression.quotedColumnRef(k)} = {QgsExpression.quotedValue(v)}" for k, v in self.spec["key"].items()
        )
        out: dict[str, Any] = {"crs": tm3.authid(), "crs_proj": tm3.toProj()}

        layer = self.layer()  # CRS84, the OGC API default
        operations = QgsDatumTransform.operations(layer.crs(), tm3)
        out["operations"] = [{"name": op.name, "available": op.isAvailable, "proj": op.proj} for op in operations]
        pinned = [op for op in operations if EPSG_6960_SHIFT in op.proj and op.isAvailable]
        if not pinned:
            raise RuntimeError("QGIS offers no EPSG:6960 (VN-2000 to WGS 84 (2)) operation to TM-3")
        context = QgsCoordinateTransformContext()
        context.addCoordinateOperation(layer.crs(), tm3, pinned[0].proj)
        out["operation"] = pinned[0].name
        lon, lat = self.spec["point"]
        # A request's filter rectangle is in its destination CRS: 20 m around the parcel's point, in TM-3.
        centre = QgsCoordinateTransform(layer.crs(), tm3, context).transform(QgsPointXY(lon, lat))
        around = QgsRectangle(centre.x() - 20, centre.y() - 20, centre.x() + 20, centre.y() + 20)

        def read(source: Any, ctx: QgsCoordinateTransformContext | None) -> list:
            request = QgsFeatureRequest().setFilterExpression(key_filter)
            if ctx is not None:
                request.setDestinationCrs(tm3, ctx)
            request.setFilterRect(around)
            return self.rings(list(source.getFeatures(request)))

        asked = self.layer(srsname=self.spec["tm3"])
        out["layer_crs_with_srsname"] = asked.crs().authid()
        if asked.crs().authid() == tm3.authid():  # Part 2 client: the server does the transformation
            out["route"] = "server"
            out["rings"] = read(asked, None)
        else:
            out["route"] = "client"
            out["rings"] = read(layer, context)
        out["rings_default_operation"] = read(layer, QgsCoordinateTransformContext())  # PROJ's own choice
        return out

    @staticmethod
    def rings(features: list) -> list:
        if len(features) != 1:
            raise RuntimeError(f"expected exactly one feature for the parcel's key, QGIS read {len(features)}")
        geometry = features[0].geometry()
        parts = geometry.asMultiPolygon() if geometry.isMultipart() else [geometry.asPolygon()]
        return [[[p.x(), p.y()] for p in ring] for part in parts for ring in part]

    # -- 4: vector tiles --------------------------------------------------------------------------

    def tiles(self) -> dict:
        """Add the tiles as a QGIS vector tile layer, render it, and collect what QGIS decoded.

        QGIS decodes MVT inside its renderer, so a small renderer written here receives each
        decoded tile (QgsVectorTileRendererData) with its features. In QGIS 3.22 the Python
        binding of QgsVectorTileRenderer cannot declare the attributes it needs, and QGIS
        decodes only the attributes some renderer or labeling asks for; a labeling style whose
        expression names the catalogue's tile properties makes it decode them.
        """
        from qgis.core import (
            QgsCoordinateReferenceSystem,
            QgsCoordinateTransform,
            QgsDataSourceUri,
            QgsGeometry,
            QgsMapRendererCustomPainterJob,
            QgsMapSettings,
            QgsPalLayerSettings,
            QgsPointXY,
            QgsProject,
            QgsRectangle,
            QgsVectorTileBasicLabeling,
            QgsVectorTileBasicLabelingStyle,
            QgsVectorTileLayer,
            QgsVectorTileRenderer,
            QgsWkbTypes,
        )
        from qgis.PyQt.QtCore import QSize
        from qgis.PyQt.QtGui import QColor, QImage, QPainter

        spec = self.spec["tiles"]
        uri = QgsDataSourceUri()
        uri.setParam("type", "xyz")
        uri.setParam("url", spec["template"])
        uri.setParam("zmin", str(spec["zmin"]))
        uri.setParam("zmax", str(spec["zmax"]))
        source = bytes(uri.encodedUri()).decode()
        layer = QgsVectorTileLayer(source, spec["layer"])
        if not layer.isValid():
            raise RuntimeError(f"QGIS could not open the vector tiles {source}: {layer.error().summary()}")
        decoded: dict[tuple, list] = {}
        fields = list(self.spec["key"]) + list(spec.get("fields", []))

        class Collect(QgsVectorTileRenderer):
            def type(self) -> str:
                return "bando-probe"

            def clone(self) -> Collect:
                return Collect()

            def startRender(self, context: Any, tile_zoom: int, tile_range: Any) -> None:
                pass

            def stopRender(self, context: Any) -> None:
                pass

            def requiredLayers(self, context: Any, tile_zoom: int) -> set:
                return {spec["layer"]}

            # Bound from later QGIS versions on (not in 3.22); harmless where QGIS never calls them.
            def usedAttributes(self, context: Any) -> dict:
                return {spec["layer"]: set(fields)}

            def willRenderFeature(self, feature: Any, tile_zoom: int, layer_name: str, context: Any) -> bool:
                return True

            def renderSelectedFeatures(self, *args: Any) -> None:
                pass

            def renderTile(self, tile: Any, context: Any) -> None:
                tid = tile.id()
                decoded[(tid.zoomLevel(), tid.column(), tid.row())] = [
                    ({f.name(): feature[f.name()] for f in feature.fields()}, QgsGeometry(feature.geometry()))
                    for feature in tile.layerFeatures(spec["layer"])
                ]

            def writeXml(self, element: Any, context: Any) -> None:
                pass

            def readXml(self, element: Any, context: Any) -> None:
                pass

        layer.setRenderer(Collect())
        style = QgsVectorTileBasicLabelingStyle()
        style.setLayerName(spec["layer"])
        style.setGeometryType(QgsWkbTypes.PolygonGeometry)
        style.setEnabled(True)
        label = QgsPalLayerSettings()
        label.isExpression = True
        label.fieldName = "concat(" + ", ".join(f'"{name}"' for name in fields) + ")"
        style.setLabelSettings(label)
        labeling = QgsVectorTileBasicLabeling()
        labeling.setStyles([style])
        layer.setLabeling(labeling)

        mercator = QgsCoordinateReferenceSystem("EPSG:3857")
        to_mercator = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), mercator, QgsProject.instance())
        lon, lat = self.spec["point"]
        point = to_mercator.transform(QgsPointXY(lon, lat))
        zoom = int(spec["zoom"])
        x, y = tile_of(lon, lat, zoom)
        x0, y0, x1, y1 = tile_bounds(zoom, x, y)
        inset = (x1 - x0) * 0.05  # stay inside the one tile, so QGIS fetches only it
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(mercator)
        settings.setOutputDpi(96)
        settings.setExtent(QgsRectangle(x0 + inset, y0 + inset, x1 - inset, y1 - inset))
        size, errors = 512, []
        for _ in range(5):  # QGIS picks the tile zoom from the map scale: adjust the size until it is `zoom`
            decoded.clear()
            settings.setOutputSize(QSize(size, size))
            image = QImage(settings.outputSize(), QImage.Format_ARGB32)
            image.fill(QColor(255, 255, 255))
            painter = QPainter(image)
            job = QgsMapRendererCustomPainterJob(settings, painter)
            job.renderSynchronously()
            painter.end()
            errors = [f"{e.layerID}: {e.message}" for e in job.errors()]
            zooms = {z for z, _, _ in decoded}
            if not zooms or zooms == {zoom}:
                break
            size = int(size * 2 ** (zoom - max(zooms)))
        tiles = []
        for (z, col, row), features in sorted(decoded.items()):
            tiles.append(
                {
                    "z": z,
                    "x": col,
                    "y": row,
                    "count": len(features),
                    "keys": sorted(([a.get(k) for k in self.spec["key"]] for a, _ in features), key=str),
                    "attribute_names": sorted({n for a, _ in features for n in a}),
                }
            )
        parcel = None
        want = [self.spec["key"][k] for k in self.spec["key"]]
        for (z, col, row), features in decoded.items():
            for attributes, geometry in features:
                if [attributes.get(k) for k in self.spec["key"]] == want:
                    parcel = {
                        "tile": [z, col, row],
                        "attributes": attributes,
                        "contains_point": geometry.contains(QgsGeometry.fromPointXY(point)),
                        "wkt_3857": geometry.asWkt(3),
                    }
        return {
            "uri": source,
            "valid": layer.isValid(),
            "crs": layer.crs().authid(),
            "source_zoom": [layer.sourceMinZoom(), layer.sourceMaxZoom()],
            "requested_tile": [zoom, x, y],
            "output_size": size,
            "scale": settings.scale(),
            "render_errors": errors,
            "tiles": tiles,
            "parcel": parcel,
        }


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = 2 * WEB_MERCATOR_HALF / 2**z
    return (
        -WEB_MERCATOR_HALF + x * size,
        WEB_MERCATOR_HALF - (y + 1) * size,
        -WEB_MERCATOR_HALF + (x + 1) * size,
        WEB_MERCATOR_HALF - y * size,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
