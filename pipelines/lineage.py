"""Lineage and rejects: every load accounted for, written outside the load's transaction.

The load itself runs in one transaction that a crash rolls back whole; its lineage
row and rejects are written on a separate autocommit connection, so they survive a
refused or killed run. A session-level advisory lock per layer serialises loads and
tells the next run that a 'running' row without a live owner was interrupted.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bando.errors import LoadRefused
from bando.pipelines.normalise import Issue

REJECT_COLUMNS = (
    "lineage_id",
    "layer",
    "source_index",
    "source_file",
    "file_index",
    "rule",
    "severity",
    "reason",
    "record",
    "geometry_wkt",
)


class Lineage:
    def __init__(self, url: str, layer: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.layer = layer
        self.id: int | None = None
        self.files: list[tuple[int, str]] = []  # (first source index, file name) of each file read so far

    def close(self) -> None:
        self.conn.close()

    def lock(self) -> None:
        """Take the layer's load lock; mark rows left 'running' by dead loads as failed."""
        got = self.conn.execute("select pg_try_advisory_lock(hashtext(%s))", (f"bando.load:{self.layer}",)).fetchone()
        if not got or not got[0]:
            raise LoadRefused(f"another load of layer {self.layer!r} is running; wait for it to finish")
        # A load stopped between its commit and its last lineage update did publish: say so.
        self.conn.execute(
            "update bando.lineage l set outcome = 'published', finished_at = now(),"
            " message = 'published; the load stopped after its commit, before it wrote its report'"
            " where l.layer = %s and l.outcome = 'running' and l.id in (select lineage_id from bando.layer_state"
            " union all select lineage_id from bando.layer_versions)",
            (self.layer,),
        )
        self.conn.execute(
            "update bando.lineage set outcome = 'failed', finished_at = now(),"
            " message = 'interrupted: the load stopped before finishing (killed or crashed);"
            " nothing of it was published' where layer = %s and outcome = 'running'",
            (self.layer,),
        )

    def previous_publish(self, sha: str, catalogue_version: str, version_id: str | None) -> int | None:
        """The lineage id of the load that published exactly this source, if it is still current."""
        row = self.conn.execute(
            "select id, source_sha256, catalogue_version from bando.lineage"
            " where layer = %s and outcome = 'published' and coalesce(version_id, '') = coalesce(%s, '')"
            " order by id desc limit 1",
            (self.layer, version_id),
        ).fetchone()
        if row and row[1] == sha and row[2] == catalogue_version:
            return int(row[0])
        return None

    def start(self, **values: Any) -> int:
        cols = ["layer", *values]
        row = self.conn.execute(
            f"insert into bando.lineage ({', '.join(cols)}) values ({', '.join(['%s'] * len(cols))}) returning id",
            [self.layer, *values.values()],
        ).fetchone()
        assert row is not None
        self.id = int(row[0])
        return self.id

    def update(self, **values: Any) -> None:
        sets = ", ".join(f"{k} = %s" for k in values)
        params = [Jsonb(v) if k in ("report", "files") else v for k, v in values.items()]
        self.conn.execute(f"update bando.lineage set {sets} where id = %s", [*params, self.id])

    def finish(self, outcome: str, **values: Any) -> None:
        self.conn.execute(
            "update bando.lineage set finished_at = now(),"
            " duration_s = extract(epoch from now() - started_at) where id = %s",
            (self.id,),
        )
        self.update(outcome=outcome, **values)

    def write_rejects(self, issues: Iterable[Issue], records: dict[int, dict], wkt: dict[int, str]) -> None:
        with self.conn.cursor() as cur, cur.copy(f"copy bando.rejects ({', '.join(REJECT_COLUMNS)}) from stdin") as cp:
            starts = [first for first, _ in self.files]
            for i in issues:
                record = records.get(i.index) if i.severity == "error" else None
                k = bisect_right(starts, i.index) - 1
                first, name = self.files[k] if k >= 0 else (0, None)
                cp.write_row(
                    (
                        self.id,
                        self.layer,
                        i.index,
                        name,
                        i.index - first if name is not None else None,
                        i.rule,
                        i.severity,
                        i.reason,
                        json.dumps(record, ensure_ascii=False) if record is not None else None,
                        wkt.get(i.index) if i.severity == "error" else None,
                    )
                )

    def file_reject(self, rule: str, reason: str) -> None:
        self.conn.execute(
            "insert into bando.rejects (lineage_id, layer, rule, severity, reason) values (%s, %s, %s, 'error', %s)",
            (self.id, self.layer, rule, reason),
        )
