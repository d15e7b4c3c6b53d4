"""Reading lineage and rejects back for `bando lineage` and `bando rejects`."""

from __future__ import annotations

from bando import db
from bando.errors import NotFound

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
