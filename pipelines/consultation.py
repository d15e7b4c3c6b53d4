"""``bando consultation``: open a plan version to public comment for a set period.

The version must be loaded (its layer versioned); the period is stored with it and the
public API accepts comments only inside it (:mod:`bando.api_config.comments`). Running the
command again moves the period.
"""

from __future__ import annotations

from datetime import datetime

from bando import db
from bando.errors import BadInput


def open_period(layer_id: str, version_id: str, opens: datetime, closes: datetime, url: str | None = None) -> None:
    if closes <= opens:
        raise BadInput("--closes must be after --opens")
    with db.connect(url) as conn:
        if not conn.execute(
            "select 1 from bando.layer_versions where layer = %s and version_id = %s", (layer_id, version_id)
        ).fetchone():
            raise BadInput(f"{layer_id} has no version {version_id!r}; load it first")
        conn.execute(
            "insert into bando.consultations (layer, version_id, opens_at, closes_at) values (%s, %s, %s, %s)"
            " on conflict (layer, version_id) do update set opens_at = excluded.opens_at, closes_at = excluded.closes_at",
            (layer_id, version_id, opens, closes),
        )
