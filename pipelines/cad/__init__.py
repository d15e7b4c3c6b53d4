"""CAD deliveries (MicroStation DGN v7, AutoCAD DXF) turned into features by a profile.

A cadastral sheet drawn in MicroStation is boundary linework on one level and text
labels inside each parcel; a construction plan in AutoCAD is closed polylines and
lines on named CAD layers with block attributes. Neither is a table of features, so a
*CAD profile* in the layer's catalogue entry says which levels or CAD layers hold the
geometry, how a label's text or a block's attributes become fields, and how polygons
are built. Everything after that — validation, lineage, the atomic publish — is the
ordinary load.

- :mod:`.formats` recognises DWG and DGN v8, which need a proprietary SDK, and refuses them;
- :mod:`.drawing` reads the elements (GDAL for DGN v7, ezdxf for DXF text and blocks);
- :mod:`.build` builds polygons or lines, assigns labels and reports drawing defects;
- :mod:`.source` turns the result into the Arrow table the load reads.
"""

CAD_SUFFIXES = {".dgn", ".dxf", ".dwg"}
