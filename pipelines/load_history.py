"""A re-delivery in the features' history: what a load closed and what it opened.

Edits through the internal API and loads share one history (``bando.feature_history``) and
one audit (``bando.audit``), so ``datetime=`` and ``bando history`` tell a feature's whole
life: a parcel split by a new cadastral delivery shows as the old parcel ending and the two
new ones starting at that load. Run inside the load's transaction, just before the swap, as
one set-based statement each way: only rows the delivery changed, added or removed are written.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from bando.layers.model import Layer


def record(conn: psycopg.Connection, layer: Layer, staging: str, lineage_id: int) -> None:
    """Close the states the new table does not keep and open the ones it brings (same instant: now())."""
    if layer.versioned:
        return  # plan versions keep their own valid_from/valid_to
    old, new = sql.Identifier("data", layer.table), sql.Identifier("staging", staging)
    restricted = [f.name for f in layer.fields if not f.public]
    geom = "{a}.geom" if layer.geometry else "null::geometry"
    params = {"layer": layer.id, "restricted": restricted, "who": f"bando load (lineage {lineage_id})"}
    changed = sql.SQL(
        "select coalesce(o.fid, n.fid) as fid, to_jsonb(o) - 'fid' - 'geom' as before_props,"
        " to_jsonb(n) - 'fid' - 'geom' as after_props, {og} as before_geom, {ng} as after_geom,"
        " o.fid is not null as had, n.fid is not null as has"
        " from {old} o full join {new} n on n.fid = o.fid where o::text is distinct from n::text"
    ).format(old=old, new=new, og=sql.SQL(geom.format(a="o")), ng=sql.SQL(geom.format(a="n")))
    conn.execute(sql.SQL("create temporary table load_changes on commit drop as {}").format(changed), params)
    conn.execute(
        "with a as (insert into bando.audit (token, layer, fid, operation, before, after)"
        " select %(who)s, %(layer)s, fid, 'load', case when had then before_props || jsonb_build_object('geometry', st_asgeojson(before_geom)::jsonb) end,"
        " case when has then after_props || jsonb_build_object('geometry', st_asgeojson(after_geom)::jsonb) end from load_changes returning id, fid),"
        " closed as (update bando.feature_history h set valid_to = now() from load_changes c"
        " where h.layer = %(layer)s and h.fid = c.fid and c.had and h.valid_to is null returning h.fid)"
        " insert into bando.feature_history (layer, fid, valid_from, valid_to, properties, public, geom, audit_id)"
        " select %(layer)s, c.fid, null, now(), c.before_props, c.before_props - %(restricted)s::text[],"
        " c.before_geom, null from load_changes c where c.had and c.fid not in (select fid from closed)"
        " union all select %(layer)s, c.fid, now(), null, c.after_props, c.after_props - %(restricted)s::text[],"
        " c.after_geom, a.id from load_changes c join a on a.fid = c.fid where c.has",
        params,
    )
