"""One style per layer, derived from the catalogue into every encoding a client reads.

The catalogue's ``style`` section (colours, widths, the coded field, the label template)
is the only place a layer's look is written. From it:

* :mod:`.maplibre` — MapLibre style JSON: one per layer and one for the whole map (the
  site and the IOC page draw with it), over bando's own vector tiles and glyphs;
* :mod:`.sld` — SLD 1.0 for WMS servers and GeoServer-minded clients;
* :mod:`.qml` — QGIS QML with Vietnamese field aliases;
* :mod:`.legend` — an SVG legend per layer.

Every encoding reads the same :mod:`.rules` (classes, labels, zoom-to-scale), so a colour
changed in ``layers/*.yml`` or ``bando/data/land_use_codes.csv`` changes everywhere.
"""

from __future__ import annotations

from bando.layers.styles.rules import STYLE_ID, Klass, classes, styled

__all__ = ["STYLE_ID", "Klass", "classes", "styled"]
