"""``bando consultation``: open a plan version to public comment for a set period.

The version must be loaded (its layer versioned); the period is stored with it and the
public API accepts comments only inside it (:mod:`bando.api_config.comments`). Running the
command again moves the period. A version loaded with ``--draft`` is on view but not in
force until :func:`approve` (``bando approve``) gives it its decision and start date.
"""

from __future__ import annotations

from datetime import date, datetime

from psycopg import sql

from bando import db
from bando.errors import BadInput
from bando.layers import catalogue
from bando.pipelines import opendata
from bando.province import configured
from bando.settings import get_settings


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


def approve(
    layer_id: str,
    version_id: str,
    valid_from: date,
    decision: str | None = None,
    decision_date: date | None = None,
    authority: str | None = None,
    url: str | None = None,
) -> None:
    """Put a draft version in force from ``valid_from``: the one in force until then ends that day.

    One transaction over both the version register and the layer's rows, so the site and the
    API never see two versions in force, or none.
    """
    settings = get_settings()
    layer = catalogue.load(settings.layers_dir).get(layer_id)
    with db.connect(url) as conn:
        row = conn.execute(
            "select draft from bando.layer_versions where layer = %s and version_id = %s for update",
            (layer_id, version_id),
        ).fetchone()
        if row is None:
            raise BadInput(f"{layer_id} has no version {version_id!r}; load it first")
        if not row[0]:
            raise BadInput(f"{layer_id} {version_id!r} is not a draft; it is already approved")
        later = conn.execute(
            "select version_id, valid_from from bando.layer_versions where layer = %s and valid_to is null"
            " and valid_from >= %s",
            (layer_id, valid_from),
        ).fetchone()
        if later:  # it would not end, and two versions would be in force
            raise BadInput(f"--valid-from must be after {later[1]}, when {later[0]!r} (in force) began")
        table = sql.Identifier("data", layer.table)
        conn.execute(sql.SQL("lock table {} in exclusive mode").format(table))
        close = " and valid_to is null and (valid_from is null or valid_from < %s)"
        conn.execute(
            sql.SQL("update {} set valid_to = %s where version_id <> %s" + close).format(table),
            (valid_from, version_id, valid_from),
        )
        conn.execute(
            sql.SQL("update {} set valid_from = %s, valid_to = null where version_id = %s").format(table),
            (valid_from, version_id),
        )
        conn.execute(
            "update bando.layer_versions set valid_to = %s where layer = %s and version_id <> %s" + close,
            (valid_from, layer_id, version_id, valid_from),
        )
        conn.execute(
            "update bando.layer_versions set draft = false, valid_from = %s, valid_to = null,"
            " decision = coalesce(%s, decision), decision_date = coalesce(%s, decision_date),"
            " authority = coalesce(%s, authority) where layer = %s and version_id = %s",
            (valid_from, decision, decision_date, authority, layer_id, version_id),
        )
        # a new clock for the layer: tile caches and ETags must not keep the previous version in force
        conn.execute(
            "update bando.layer_state set revision = revision + 1, published_at = now() where layer = %s", (layer_id,)
        )
    opendata.export_after_publish(layer, url or db.database_url(settings), settings, configured(settings))
