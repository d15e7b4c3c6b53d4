"""Collection extents for the API, read from what is published (cheap: planner estimates)."""

from __future__ import annotations

import logging

from bando.api_config.runtime import Runtime
from bando.crs import transformer
from bando.errors import Unavailable

LOG = logging.getLogger("bando.api")


def published_extents(runtime: Runtime) -> dict[str, list[float]]:
    """CRS84 bounding boxes of published vector layers; empty where unknown."""
    out: dict[str, list[float]] = {}
    try:
        with runtime.connection() as conn:
            rows = conn.execute(
                "select s.layer, s.srid, st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e)"
                " from bando.layer_state s cross join lateral"
                " (select st_estimatedextent('data', s.layer, 'geom') as e) x"
                " where s.srid is not null and exists (select 1 from information_schema.columns c"
                " where c.table_schema = 'data' and c.table_name = s.layer and c.column_name = 'geom')"
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
            x0, y0, x1, y1 = transformer(srid, 4326).transform_bounds(*box)
            out[layer] = [round(v, 6) for v in (x0, y0, x1, y1)]
    return out
