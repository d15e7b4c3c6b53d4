"""Collection extents for the API at start-up: what each publish recorded (and edits grew) in
``bando.layer_state``, the same extents the tile clock reads later (:meth:`Lineages.extent`)."""

from __future__ import annotations

import logging

from bando.api_config.runtime import Runtime
from bando.api_config.tile_cache import crs84_box
from bando.errors import Unavailable

LOG = logging.getLogger("bando.api")


def published_extents(runtime: Runtime) -> dict[str, list[float]]:
    """CRS84 bounding boxes of published vector layers and rasters; empty where unknown."""
    out: dict[str, list[float]] = {}
    try:
        with runtime.connection() as conn:
            rows = conn.execute(
                "select layer, srid, st_xmin(bounds), st_ymin(bounds), st_xmax(bounds), st_ymax(bounds)"
                " from bando.layer_state where srid is not null and bounds is not null"
            ).fetchall()
    except Unavailable:
        LOG.warning("database unavailable at start-up: collection extents fall back to the province's")
        return out
    except Exception as exc:  # extents are a nicety; never stop the server for them
        LOG.warning("could not read collection extents: %s", type(exc).__name__)
        return out
    try:
        with runtime.connection() as conn:
            rows += conn.execute(
                "select layer, srid, bounds[1], bounds[2], bounds[3], bounds[4] from bando.rasters"
                " where version_id = 'current'"
            ).fetchall()
    except Exception as exc:  # same as above: never fatal
        LOG.warning("could not read raster extents: %s", type(exc).__name__)
    for layer, srid, *box in rows:
        if box[0] is not None:
            out[layer] = list(crs84_box(srid, *box))
    return out
