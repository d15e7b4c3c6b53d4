"""Who may read a published layer, derived from the catalogue: the grants of :mod:`bando.roles`.

A publish swaps a new table in, which starts with no grants: the publishing transaction
grants it again, so readers never see the new table without its privileges. The public
API's role gets the public columns only (plus ``fid``, the geometry and the version
columns), so a field the catalogue marks restricted is unreadable to it by PostgreSQL's
own rules. ``bando db up`` reapplies the grants to every published layer, so a catalogue
change reaches the database without a reload.
"""

from __future__ import annotations

import psycopg

from bando import roles
from bando.db import scalar
from bando.layers.catalogue import Catalogue
from bando.layers.model import Layer
from bando.layers.tables import VERSION_COLUMNS


def public_columns(layer: Layer) -> list[str]:
    cols = ["fid", *(f.name for f in layer.public_fields)]
    if layer.versioned:
        cols += VERSION_COLUMNS
    if layer.geometry:
        cols.append("geom")
    return cols


def grant_layer(conn: psycopg.Connection, layer: Layer) -> None:
    roles.grant_table(conn, layer.table, public_columns(layer))


def grant_all(conn: psycopg.Connection, catalogue: Catalogue) -> list[str]:
    """Regrant every published vector layer of the catalogue; returns the layers granted."""
    done = []
    for layer in catalogue:
        if layer.kind != "raster" and scalar(conn, "select to_regclass(%s)", (f"data.{layer.table}",)):
            grant_layer(conn, layer)
            done.append(layer.id)
    return done
