"""The database roles bando uses, and every grant they get — in one place.

Least privilege, enforced by PostgreSQL rather than by bando's own code:

* the **owner** (``bando_owner`` on the embedded cluster; the ``DATABASE_URL`` user
  otherwise) owns the database's schemas and tables: migrations, loads and publishing
  run as it. It is not a superuser.
* ``bando_api`` — the public OGC API. It may read only the *public* columns of published
  tables (column privileges, granted at every publish from the catalogue, so a
  restricted field stays unreadable even to a bug in the API) and the platform tables
  the API shows; never ``bando.rejects``. Its transactions are read-only by default.
* ``bando_internal`` — the internal API: every column of ``data.*``. It writes nothing itself
  (``NOINHERIT``): an edit switches, for its one transaction, to the layer's edit role
  (``bando_edit_<table>``, no login), which may change that one table and append to the
  audit and history — so a token scoped to one layer cannot write another even through a bug.

A superuser (the embedded cluster's ``postgres``, or ``BANDO_ADMIN_DATABASE_URL``) is used
by ``bando db up`` alone, for what needs one: roles, the database, PostGIS, ownership,
``spatial_ref_sys``. The API servers never connect as the owner or a superuser.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import psycopg
from psycopg import sql

OWNER = "bando_owner"
API = "bando_api"
INTERNAL = "bando_internal"
#: The login role each API view connects as.
VIEW_ROLES = {"public": API, "internal": INTERNAL}
READERS = (API, INTERNAL)
SCHEMAS = ("bando", "data", "staging")
#: Platform tables the APIs read (records, tiles, coverages, the planning report), with the
#: columns they may see; None = every column. Never ``bando.rejects`` (original records).
PLATFORM_READS: dict[str, tuple[str, ...] | None] = {
    "layer_state": None,
    "layer_versions": None,
    "plan_documents": None,  # published with their plan: decisions are public documents
    "consultations": None,
    "comment_counts": None,  # per zone, closed periods only: no text, no names
    "rasters": None,
    "land_use_codes": None,
    "land_use_legacy": None,
    "lineage": ("id", "layer", "outcome", "started_at", "finished_at"),
    # every state of an edited feature: the public API reads the public fields' copy only
    "feature_history": ("id", "layer", "fid", "valid_from", "valid_to", "public", "geom"),
}
EDIT_PREFIX = "bando_edit_"
#: What every edit role may do outside its own table: append audit and history, bump the revision.
EDIT_PLATFORM = (
    "grant insert, select on bando.audit, bando.feature_history to {r}",
    "grant update (valid_to) on bando.feature_history to {r}",
    "grant usage on sequence bando.audit_id_seq, bando.feature_history_id_seq to {r}",
    "grant select (layer, revision, row_count, bounds), update (revision, row_count, bounds) on bando.layer_state to {r}",
    "grant execute on function bando.month_partitions(regclass, timestamptz[]) to {r}",
)
_ROLE_OPTIONS = "login nosuperuser nocreatedb nocreaterole noreplication nobypassrls"


def _ident(*names: str) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def is_privileged(conn: psycopg.Connection) -> bool:
    """Whether this connection may create roles (superuser or CREATEROLE)."""
    row = conn.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user").fetchone()
    return bool(row and row[0])


def is_superuser(conn: psycopg.Connection) -> bool:
    row = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
    return bool(row and row[0])


def exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is not None


def ensure_role(admin: psycopg.Connection, role: str, password: str | None) -> None:
    """A login role without any special power; its password set when given (sent as a SCRAM
    verifier computed here, so the password itself never reaches the server or its log)."""
    name = sql.Identifier(role)
    if not exists(admin, role):
        with contextlib.suppress(psycopg.errors.DuplicateObject):  # a concurrent `bando db up`
            admin.execute(sql.SQL("create role {} " + _ROLE_OPTIONS).format(name))
    admin.execute(sql.SQL("alter role {} " + _ROLE_OPTIONS).format(name))
    if role == API:  # the public API never writes: say so to the server too
        admin.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(name))
    if password is not None:
        verifier = admin.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
        admin.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role), sql.Literal(verifier.decode())))


def prepare_database(admin: psycopg.Connection, owner: str, db_name: str) -> None:
    """As a superuser, in bando's database: PostGIS, the owner owns bando's schemas and all
    in them, only bando's roles may connect, and the owner may register CRS rows."""
    admin.execute("create extension if not exists postgis")
    own = sql.Identifier(owner)
    for schema in SCHEMAS:
        admin.execute(sql.SQL("create schema if not exists {} authorization {}").format(sql.Identifier(schema), own))
        admin.execute(sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema), own))
    stray = admin.execute(
        "select c.relkind, n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')"
        " and pg_get_userbyid(c.relowner) <> %s"
        " and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid"
        " and d.deptype in ('a', 'i'))",  # a serial's sequence moves with its table
        (list(SCHEMAS), owner),
    ).fetchall()
    for kind, schema, name in stray:  # made by an older bando as the superuser
        what = {"S": "sequence", "v": "view", "m": "materialized view", "f": "foreign table"}.get(kind, "table")
        admin.execute(sql.SQL(f"alter {what} {{}} owner to {{}}").format(sql.Identifier(schema, name), own))
    admin.execute(sql.SQL("grant select, insert, update, delete on public.spatial_ref_sys to {}").format(own))
    database = sql.Identifier(db_name)
    admin.execute(sql.SQL("revoke all on database {} from public").format(database))
    admin.execute(sql.SQL("grant connect, temporary on database {} to {}").format(database, sql.Identifier(owner)))
    admin.execute(sql.SQL("grant connect on database {} to {}").format(database, _ident(*READERS)))
    if exists(admin, "bando_reader"):  # the unused read-only role of bando before 0.2
        admin.execute("revoke all on all tables in schema data from bando_reader")
        admin.execute("revoke all on schema data from bando_reader")
        admin.execute(sql.SQL("revoke all on database {} from bando_reader").format(database))


def grant_platform(owner: psycopg.Connection) -> None:
    """As the owner: what both API roles may read outside ``data`` (rerun by every ``bando db up``)."""
    readers = _ident(*READERS)
    owner.execute(sql.SQL("grant usage on schema bando, data to {}").format(readers))
    for table, columns in PLATFORM_READS.items():
        target = sql.Identifier("bando", table)
        owner.execute(sql.SQL("revoke all on {} from {}").format(target, readers))
        if columns is None:
            owner.execute(sql.SQL("grant select on {} to {}").format(target, readers))
        else:
            owner.execute(sql.SQL("grant select ({}) on {} to {}").format(_ident(*columns), target, readers))
    owner.execute(sql.SQL("grant select (properties) on bando.feature_history to {}").format(sql.Identifier(INTERNAL)))
    grant_comments(owner)


def grant_comments(owner: psycopg.Connection) -> None:
    """Comments are personal data: the public API may only add one through ``bando.add_comment``
    (period and flood limit checked there); the internal API reads and moderates them."""
    owner.execute(sql.SQL("revoke all on bando.comments from {}").format(_ident(*READERS)))
    owner.execute(sql.SQL("grant select, update (status, moderated_at) on bando.comments to {}").format(
        sql.Identifier(INTERNAL)))  # fmt: skip
    owner.execute(
        sql.SQL(
            "grant execute on function bando.add_comment(text, text, text, double precision, double precision,"
            " text, text, text, text, text, int, interval) to {}"
        ).format(sql.Identifier(API))
    )


def grant_table(conn: psycopg.Connection, table: str, public_columns: Iterable[str]) -> None:
    """Who may read one published table: the public API its public columns, the internal API all.
    The one place to extend when a role gets more (e.g. an edit API's writes)."""
    target = sql.Identifier("data", table)
    conn.execute(sql.SQL("revoke all on {} from {}").format(target, _ident(*READERS)))
    conn.execute(sql.SQL("grant select ({}) on {} to {}").format(_ident(*public_columns), target, sql.Identifier(API)))
    conn.execute(sql.SQL("grant select on {} to {}").format(target, sql.Identifier(INTERNAL)))
    editor = edit_role(table)
    if exists(conn, editor):
        conn.execute(sql.SQL("revoke all on {} from {}").format(target, sql.Identifier(editor)))
        conn.execute(sql.SQL("grant select, insert, update, delete on {} to {}").format(target, sql.Identifier(editor)))


def edit_role(table: str) -> str:
    """The no-login role whose privileges an edit of ``data.<table>`` runs with."""
    return f"{EDIT_PREFIX}{table}"


def ensure_edit_roles(admin: psycopg.Connection, tables: Iterable[str]) -> None:
    """As a role creator: one edit role per layer table, which the internal API may switch to
    (``SET ROLE``) but does not inherit from."""
    admin.execute(sql.SQL("alter role {} noinherit").format(sql.Identifier(INTERNAL)))
    for table in tables:
        role = sql.Identifier(edit_role(table))
        if not exists(admin, edit_role(table)):
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                admin.execute(sql.SQL("create role {} nologin noinherit").format(role))
        admin.execute(sql.SQL("grant {} to {}").format(role, sql.Identifier(INTERNAL)))


def grant_editors(owner: psycopg.Connection) -> None:
    """As the owner: what every existing edit role may do on bando's platform tables."""
    editors = [
        r[0]
        for r in owner.execute(
            "select rolname from pg_roles where rolname like %s", (EDIT_PREFIX.replace("_", "\\_") + "%",)
        )
    ]
    for editor in editors:
        owner.execute(sql.SQL("grant usage on schema bando, data to {}").format(sql.Identifier(editor)))
        for statement in EDIT_PLATFORM:
            owner.execute(sql.SQL(statement).format(r=sql.Identifier(editor)))
