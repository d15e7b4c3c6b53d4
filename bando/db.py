"""Where the database is, and how to reach it.

One code path serves the demo, the tests and production: with ``DATABASE_URL`` set
bando uses that server and never starts one; without it, the embedded cluster under
``BANDO_HOME``. :func:`up` brings either to a usable state (database, PostGIS,
migrations, VN-2000 CRS rows) and is safe to call any number of times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from bando import migrate
from bando.cluster import Cluster, find_bindir
from bando.errors import SetupError, Unavailable
from bando.settings import Settings, get_settings


def embedded(settings: Settings | None = None) -> Cluster:
    s = settings or get_settings()
    return Cluster(home=s.home, bindir=find_bindir(s.pg_bindir), durable=s.db_durable)


def is_external(settings: Settings | None = None) -> bool:
    return bool((settings or get_settings()).database_url)


def database_url(settings: Settings | None = None) -> str:
    """The URL of bando's database; the embedded cluster must be up (``bando db up``)."""
    s = settings or get_settings()
    if s.database_url:
        return s.database_url
    cluster = embedded(s)
    if not cluster.initialised() or cluster.configured_port() is None:
        raise Unavailable("the embedded database has not been created yet: run `bando db up`")
    return cluster.url(s.db_name)


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


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


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


def up(settings: Settings | None = None) -> Status:
    """Start (if embedded) and prepare the database; idempotent."""
    from bando import deployment
    from bando.province import configured

    s = settings or get_settings()
    province = configured(s)  # before anything starts: a missing province is a setup error
    if not s.database_url:
        cluster = embedded(s)
        cluster.start()
        _ensure_database(cluster.url("postgres"), s.db_name)
    with connect(database_url(s), autocommit=True) as conn:
        _ensure_postgis(conn)
        migrate.run(conn)
        deployment.check(conn, province)
    return status(s)


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
