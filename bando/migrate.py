"""Versioned schema migrations, and the code tables kept in sync with their CSV files.

Migrations are the numbered ``.sql`` files in ``bando/migrations/``; each applies once,
in order, inside its own transaction, under an advisory lock so two ``bando db up``
calls cannot race. Code tables and VN-2000 CRS rows are data, not schema: they are
upserted from the files in ``bando/data/`` on every run, so editing the CSV is enough.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bando import crs

MIGRATIONS = Path(__file__).with_name("migrations")
DATA = Path(__file__).with_name("data")
_LOCK = 0x62616E64  # "band"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available() -> list[Migration]:
    found = []
    for path in sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        number, _, name = path.stem.partition("_")
        found.append(Migration(int(number), name, path))
    return found


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run(conn: psycopg.Connection) -> list[Migration]:
    """Apply pending migrations and sync data tables; returns what was applied."""
    applied_now = []
    conn.execute("select pg_advisory_lock(%s)", (_LOCK,))
    try:
        conn.execute("create schema if not exists bando")
        conn.execute(
            "create table if not exists bando.schema_migrations ("
            " version int primary key, name text not null,"
            " applied_at timestamptz not null default now())"
        )
        done = {r[0] for r in conn.execute("select version from bando.schema_migrations")}
        for migration in available():
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.path.read_text(encoding="utf-8"))
                conn.execute(
                    "insert into bando.schema_migrations (version, name) values (%s, %s)",
                    (migration.version, migration.name),
                )
            applied_now.append(migration)
        with conn.transaction():
            sync_code_tables(conn)
            register_crs(conn)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_LOCK,))
    return applied_now


def sync_code_tables(conn: psycopg.Connection) -> None:
    codes = _read_csv("land_use_codes.csv")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into bando.land_use_codes (code, name_vi, name_en, grp, colour)"
            " values (%(code)s, %(name_vi)s, %(name_en)s, %(group)s, %(colour)s)"
            " on conflict (code) do update set name_vi = excluded.name_vi,"
            " name_en = excluded.name_en, grp = excluded.grp, colour = excluded.colour",
            codes,
        )
        cur.executemany(
            "insert into bando.land_use_legacy (legacy_code, code, note)"
            " values (%(legacy_code)s, %(code)s, %(note)s)"
            " on conflict (legacy_code) do update set code = excluded.code, note = excluded.note",
            _read_csv("land_use_legacy.csv"),
        )


def register_crs(conn: psycopg.Connection) -> None:
    """Upsert every VN-2000 SRID, pinned to EPSG:6960 (see :mod:`bando.crs`)."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)"
            " values (%s, %s, %s, %s, %s)"
            " on conflict (srid) do update set auth_name = excluded.auth_name,"
            " auth_srid = excluded.auth_srid, srtext = excluded.srtext,"
            " proj4text = excluded.proj4text",
            crs.spatial_ref_sys_rows(),
        )
