"""Reading lineage and rejects back for `bando lineage` and `bando rejects`."""

from __future__ import annotations

from bando import db
from bando.errors import NotFound
from bando.province import TIMEZONE

LINEAGE_COLUMNS = (
    "id",
    "started",
    "outcome",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rows_repaired",
    "source_crs",
    "encoding",
    "version_id",
    "source_path",
    "message",
    "duration_s",
    "files",
)


def lineage_rows(layer: str, limit: int, load: int | None = None) -> list[dict]:
    """The loads of a layer, newest first (or the one load ``load``), as dicts of LINEAGE_COLUMNS."""
    with db.connect() as conn:
        rows = conn.execute(
            "select id, to_char(started_at, 'YYYY-MM-DD HH24:MI:SS'), outcome, rows_read, rows_loaded,"
            " rows_rejected, rows_repaired, source_crs, encoding, version_id, source_path, message,"
            " duration_s, files from bando.lineage where layer = %s and (%s::bigint is null or id = %s)"
            " order by id desc limit %s",
            (layer, load, load, limit),
        ).fetchall()
    if load is not None and not rows:
        raise NotFound(f"layer {layer!r} has no load #{load}")
    return [dict(zip(LINEAGE_COLUMNS, r, strict=True)) for r in rows]


def reject_rows(layer: str, lineage_id: int | None, rule: str | None, limit: int) -> tuple[int, list[tuple]]:
    with db.connect() as conn:
        if lineage_id is None:
            row = conn.execute("select max(lineage_id) from bando.rejects where layer = %s", (layer,)).fetchone()
            if not row or row[0] is None:
                raise NotFound(f"no rejected rows or warnings recorded for layer {layer!r}")
            lineage_id = int(row[0])
        rows = conn.execute(
            "select source_index, source_file, file_index, rule, severity, reason from bando.rejects"
            " where lineage_id = %s and (%s::text is null or rule = %s)"
            " order by severity = 'error' desc, source_index nulls first, id limit %s",
            (lineage_id, rule, rule, limit),
        ).fetchall()
    return lineage_id, rows


def feature_life(layer: str, fid: int) -> list[tuple[str, str, str, dict | None, dict | None]]:
    """Every recorded change of one feature, oldest first: (when, who, operation, before, after)."""
    with db.connect() as conn:
        rows = conn.execute(
            "select to_char(at at time zone %s, 'YYYY-MM-DD HH24:MI:SS'), token, operation, before, after"
            " from bando.audit where layer = %s and fid = %s order by id",
            (TIMEZONE, layer, fid),
        ).fetchall()
    if not rows:
        raise NotFound(f"no recorded change of feature {fid} of layer {layer!r}")
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def changes(before: dict | None, after: dict | None) -> list[str]:
    """What one change did, field by field ('name: old → new'); the geometry is named, not printed."""
    before, after = before or {}, after or {}
    out = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old != new:
            out.append(f"{key} changed" if key == "geometry" else f"{key}: {_shown(old)} → {_shown(new)}")
    return out


def _shown(value: object) -> str:
    return "∅" if value is None else str(value)[:60]
