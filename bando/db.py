"""Where the database is, and how to reach it — as which role.

One code path serves the demo, the tests and production: with ``DATABASE_URL`` set
bando uses that server and never starts one; without it, the embedded cluster under
``BANDO_HOME``. :func:`up` brings either to a usable state (roles, database, PostGIS,
migrations, VN-2000 CRS rows, grants) and is safe to call any number of times.

Each kind of work has its own login (see :mod:`bando.roles`): :func:`admin_url` for
``bando db up`` alone, :func:`database_url` (the owner) for migrations, loads and the
steward's tools, :func:`view_url` for the API servers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bando import migrate, roles
from bando.cluster import SUPERUSER, Cluster, find_bindir
from bando.errors import SetupError, Unavailable
from bando.passwords import Passwords
from bando.settings import Settings, get_settings

LOG = logging.getLogger("bando.db")


def embedded(settings: Settings | None = None) -> Cluster:
    s = settings or get_settings()
    return Cluster(
        home=s.home,
        bindir=find_bindir(s.pg_bindir),
        durable=s.db_durable,
        archive=s.wal_archive,
        archiving=s.db_archive,
    )


def is_external(settings: Settings | None = None) -> bool:
    return bool((settings or get_settings()).database_url)


def _running(s: Settings) -> Cluster:
    cluster = embedded(s)
    if not cluster.initialised() or cluster.configured_port() is None:
        raise Unavailable("the embedded database has not been created yet: run `bando db up`")
    return cluster


def database_url(settings: Settings | None = None) -> str:
    """The owner's URL (migrations, loads, the steward's tools); the embedded cluster must be up."""
    s = settings or get_settings()
    if s.database_url:
        return s.database_url
    return _running(s).url(s.db_name, roles.OWNER)


def admin_url(settings: Settings | None = None, db_name: str | None = None) -> str:
    """A superuser's URL: for ``bando db up`` only, never for a server."""
    s = settings or get_settings()
    if s.database_url:
        return s.admin_database_url or s.database_url
    return _running(s).url(db_name or s.db_name, SUPERUSER)


def view_url(view: str, settings: Settings | None = None) -> str:
    """The URL an API view connects with: its own role, never the owner or a superuser."""
    s = settings or get_settings()
    role = roles.VIEW_ROLES[view]
    explicit = s.api_database_url if view == "public" else s.internal_database_url
    if explicit:
        return explicit
    password = Passwords(s.home).get(role)
    if s.database_url:
        if password is None:
            setting = "BANDO_API_DATABASE_URL" if view == "public" else "BANDO_INTERNAL_DATABASE_URL"
            raise SetupError(f"no login for the {view} API: run `bando db up` here, or set {setting}")
        return make_conninfo(s.database_url, user=role, password=password)
    return _running(s).url(s.db_name, role)


def connect(url: str | None = None, **kwargs: Any) -> psycopg.Connection:
    """A psycopg connection, with an unreachable server turned into a clear Unavailable."""
    try:
        return psycopg.connect(url or database_url(), connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        hint = "run `bando db up`" if not is_external() else "check DATABASE_URL and the server"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        raise Unavailable(f"cannot reach the database ({first}); {hint}") from None


def scalar(conn: psycopg.Connection, query: Any, params: Any = None) -> Any:
    """The first value of a query that always answers one row (a count, an aggregate, a ``show``)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise RuntimeError("a single-row query answered no row")
    return row[0]


def _ensure_database(admin_url: str, name: str, owner: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(owner)))
        else:
            conn.execute(sql.SQL("alter database {} owner to {}").format(sql.Identifier(name), sql.Identifier(owner)))


def _ensure_postgis(conn: psycopg.Connection) -> None:
    available = conn.execute("select 1 from pg_available_extensions where name = 'postgis'").fetchone()
    if not available:
        major = scalar(conn, "show server_version_num")[:2]
        raise SetupError(
            f"PostGIS is not installed on this PostgreSQL {major} server. Install it "
            f"(Debian: apt-get install postgresql-{major}-postgis-3) and run `bando db up` again."
        )
    conn.execute("create extension if not exists postgis")


@dataclass
class Status:
    mode: str  # "embedded" | "external"
    running: bool
    url: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def up(settings: Settings | None = None, edit_tables: Iterable[str] = ()) -> Status:
    """Start (if embedded) and prepare the database; idempotent. ``edit_tables`` are the layer
    tables the internal API may edit (one edit role each, see :mod:`bando.roles`)."""
    from bando import deployment
    from bando.province import configured

    s = settings or get_settings()
    province = configured(s)  # before anything starts: a missing province is a setup error
    if not s.database_url:
        embedded(s).start()
        _embedded_roles(s, tuple(edit_tables))
    else:
        _external_roles(s, tuple(edit_tables))
    with connect(database_url(s), autocommit=True) as conn:
        try:
            _ensure_postgis(conn)
            migrate.run(conn)
            deployment.check(conn, province)
            if not all(roles.exists(conn, r) for r in roles.READERS):
                raise SetupError(_ROLES_MISSING)
            roles.grant_platform(conn)
            roles.grant_editors(conn)
        except psycopg.errors.InsufficientPrivilege as exc:
            first = str(exc).strip().splitlines()[0]
            raise SetupError(
                f"the database owner {conn.info.user!r} lacks a privilege ({first}); run `bando db up` with "
                "BANDO_ADMIN_DATABASE_URL set to a superuser's URL, or grant it as SECURITY.md shows"
            ) from None
    return status(s)


_ROLES_MISSING = (
    f"the database roles {roles.API} and {roles.INTERNAL} do not exist and DATABASE_URL may not create them: "
    "set BANDO_ADMIN_DATABASE_URL to a superuser's URL for `bando db up`, or create them as SECURITY.md shows"
)


def _embedded_roles(s: Settings, edit_tables: tuple[str, ...]) -> None:
    """The embedded cluster's owner and API roles, with generated passwords; the database is the owner's."""
    passwords = Passwords(s.home)
    with connect(admin_url(s, "postgres"), autocommit=True) as admin:
        for role in (roles.OWNER, *roles.READERS):
            roles.ensure_role(admin, role, passwords.ensure(role))
        roles.ensure_edit_roles(admin, edit_tables)
    _ensure_database(admin_url(s, "postgres"), s.db_name, roles.OWNER)
    with connect(admin_url(s), autocommit=True) as admin:
        roles.prepare_database(admin, roles.OWNER, s.db_name)


def _external_roles(s: Settings, edit_tables: tuple[str, ...]) -> None:
    """DATABASE_URL: its user is the owner; the API roles are made with BANDO_ADMIN_DATABASE_URL
    (or DATABASE_URL, when it may create roles), passwords from the settings or generated here."""
    with connect(s.database_url, autocommit=True) as conn:
        owner = conn.info.user
        if roles.is_superuser(conn):
            LOG.warning(
                "DATABASE_URL connects as the superuser %r: loads run with every power; "
                "give bando an owner role of its own (SECURITY.md)",
                owner,
            )
    s.home.mkdir(parents=True, exist_ok=True)  # reports, rasters and the API's passwords: bando's alone
    if s.home.stat().st_uid == os.geteuid():
        s.home.chmod(0o700)
    with connect(admin_url(s), autocommit=True) as admin:
        if not roles.is_privileged(admin):
            if not all(roles.exists(admin, r) for r in roles.READERS):
                raise SetupError(_ROLES_MISSING)
            return
        passwords = Passwords(s.home)
        for view, role in roles.VIEW_ROLES.items():
            explicit = s.api_database_url if view == "public" else s.internal_database_url
            password = conninfo_to_dict(explicit).get("password") if explicit else passwords.ensure(role)
            roles.ensure_role(admin, role, str(password) if password is not None else None)
        roles.ensure_edit_roles(admin, edit_tables)
        if roles.is_superuser(admin):
            roles.prepare_database(admin, owner, admin.info.dbname)


def down(settings: Settings | None = None) -> bool:
    """Stop the embedded cluster; an external server is never touched."""
    s = settings or get_settings()
    if s.database_url:
        return False
    return embedded(s).stop()


def status(settings: Settings | None = None) -> Status:
    s = settings or get_settings()
    if s.database_url:
        mode, details = "external", {}
    else:
        cluster = embedded(s)
        pid = cluster.pid() if cluster.initialised() else None
        details = {"data directory": str(cluster.datadir), "pid": pid}
        if pid is None:
            return Status("embedded", False, details=details | {"initialised": cluster.initialised()})
        details |= {"port": cluster.configured_port(), "socket": str(cluster.sockdir)}
        mode = "embedded"
    url = database_url(s)
    try:
        with connect(url) as conn:
            row = conn.execute(
                "select version(), postgis_lib_version(), "
                "(select coalesce(max(version), 0) from bando.schema_migrations)"
            ).fetchone()
    except (Unavailable, psycopg.Error) as exc:
        return Status(mode, False, url, details | {"error": str(exc).splitlines()[0]})
    assert row is not None
    details |= {
        "province": s.province,
        "server": row[0].split(",")[0],
        "postgis": row[1],
        "schema version": row[2],
    }
    return Status(mode, True, url, details)
