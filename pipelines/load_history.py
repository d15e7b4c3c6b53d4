"""A re-delivery in the features' history: what a load closed and what it opened.

Edits through the internal API and loads share one history (``bando.feature_history``) and
one audit (``bando.audit``), so ``datetime=`` and ``bando history`` tell a feature's whole
life: a parcel split by a new cadastral delivery shows as the old parcel ending and the two
new ones starting at that load. Run inside the load's transaction, just before the swap, as
set-based statements whose writes follow the number of changes, not the layer's size.

Old and new rows are paired by feature id, except in a partitioned layer with a key: it
numbers each delivery's rows after every id it has used (the rows it keeps from other
partitions stay as they are), so its feature ids move between deliveries while the parcels
do not, and the key (commune, sheet, number) pairs them. A pair is a change only if a field or the geometry differs (typed comparison, no text
casts). An unchanged feature whose id moved takes its history and audit along, so its life
reads on under the new id.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from bando.layers.model import Layer
from bando.layers.tables import copy_columns

#: history and audit rows of features that reappear unchanged under a new id follow them
FOLLOW = (
    "with m as (select old_fid, new_fid from load_moved)"
    " , h as (update bando.feature_history h set fid = m.new_fid from m where h.layer = %(layer)s"
    " and h.fid = m.old_fid returning 1)"
    " update bando.audit a set fid = m.new_fid from m where a.layer = %(layer)s and a.fid = m.old_fid"
)
RECORD = (
    "with a as (insert into bando.audit (token, layer, fid, operation, before, after)"
    " select %(who)s, %(layer)s, coalesce(new_fid, old_fid), 'load',"
    " case when had then before_props || jsonb_build_object('geometry', st_asgeojson(before_geom)::jsonb) end,"
    " case when has then after_props || jsonb_build_object('geometry', st_asgeojson(after_geom)::jsonb) end"
    " from load_changes returning id, fid),"
    " closed as (update bando.feature_history h set valid_to = now() from load_changes c"
    " where h.layer = %(layer)s and h.fid = c.old_fid and c.had and h.valid_to is null returning h.fid)"
    " insert into bando.feature_history (layer, fid, valid_from, valid_to, properties, public, geom, audit_id)"
    " select %(layer)s, c.old_fid, null, now(), c.before_props, c.before_props - %(restricted)s::text[],"
    " c.before_geom, null from load_changes c where c.had and c.old_fid not in (select fid from closed)"
    " union all select %(layer)s, c.new_fid, now(), null, c.after_props, c.after_props - %(restricted)s::text[],"
    " c.after_geom, a.id from load_changes c join a on a.fid = c.new_fid where c.has"
)


def record(conn: psycopg.Connection, layer: Layer, staging: str, lineage_id: int) -> None:
    """Close the states the new table does not keep and open the ones it brings (same instant: now())."""
    if layer.versioned:
        return  # plan versions keep their own valid_from/valid_to
    old, new = sql.Identifier("data", layer.table), sql.Identifier("staging", staging)
    params = {
        "layer": layer.id,
        "restricted": [f.name for f in layer.fields if not f.public],
        "who": f"bando load (lineage {lineage_id})",
    }
    by_key = bool(layer.key and layer.partition)
    pair = layer.key if by_key else ("fid",)
    on = sql.SQL(" and ").join(sql.SQL("n.{k} = o.{k}").format(k=sql.Identifier(k)) for k in pair)
    content = [sql.Identifier(c) for c in copy_columns(layer) if c != "fid"]
    differs = sql.SQL("row({o}) is distinct from row({n})").format(
        o=sql.SQL(", ").join(sql.SQL("o.{}").format(c) for c in content),
        n=sql.SQL(", ").join(sql.SQL("n.{}").format(c) for c in content),
    )
    geom = "{a}.geom" if layer.geometry else "null::geometry"
    conn.execute(
        sql.SQL(
            "create temporary table load_changes on commit drop as select o.fid as old_fid, n.fid as new_fid,"
            " to_jsonb(o) - 'fid' - 'geom' as before_props, to_jsonb(n) - 'fid' - 'geom' as after_props,"
            " {og} as before_geom, {ng} as after_geom, o.fid is not null as had, n.fid is not null as has"
            " from {old} o full join {new} n on {on} where o.fid is null or n.fid is null or {differs}"
        ).format(
            old=old, new=new, on=on, differs=differs, og=sql.SQL(geom.format(a="o")), ng=sql.SQL(geom.format(a="n"))
        ),
    )
    if by_key:
        conn.execute(
            sql.SQL(
                "create temporary table load_moved on commit drop as select o.fid as old_fid, n.fid as new_fid"
                " from {old} o join {new} n on {on} join (select distinct fid from bando.feature_history"
                " where layer = %(layer)s) h on h.fid = o.fid where o.fid <> n.fid and not ({differs})"
            ).format(old=old, new=new, on=on, differs=differs),
            params,
        )
        conn.execute(FOLLOW, params)
    conn.execute(RECORD, params)
