"""Least privilege in the database: who may read what, enforced by PostgreSQL itself."""

from __future__ import annotations

import psycopg
import pytest

from bando import db, roles


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


@pytest.mark.parametrize("column", ["tenChu", "soDinhDanh"])
def test_the_public_role_cannot_read_a_restricted_column(loaded: list, column: str) -> None:
    with _connect(db.view_url("public")) as conn:
        assert conn.info.user == roles.API
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(f'select "{column}" from data.parcels limit 1')
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute("select * from data.parcels limit 1")  # every column: restricted ones too
        assert conn.execute('select count("loaiDat"), count(geom) from data.parcels').fetchone()[0] > 0


def test_the_public_role_reads_what_the_api_shows_and_writes_nothing(loaded: list) -> None:
    with _connect(db.view_url("public")) as conn:
        assert conn.execute("select count(*) from bando.layer_state").fetchone()[0] > 0
        assert conn.execute("select count(layer) from bando.lineage").fetchone()[0] > 0
        for forbidden in ("select * from bando.rejects", "select source_path from bando.lineage"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(forbidden)
        refused = (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)
        with pytest.raises(refused):
            conn.execute("create temp table t (x int)")
        with pytest.raises(refused):
            conn.execute("insert into bando.layer_state (layer, lineage_id, row_count) values ('x', 1, 0)")


def test_the_internal_role_reads_every_column_but_not_the_rejects(loaded: list) -> None:
    with _connect(db.view_url("internal")) as conn:
        assert conn.info.user == roles.INTERNAL
        assert conn.execute('select count("tenChu") from data.parcels').fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from bando.rejects")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from data.parcels")


def test_no_role_bando_uses_is_a_superuser_and_the_owner_owns_the_data(loaded: list) -> None:
    with _connect(db.admin_url()) as admin:
        powers = dict(
            admin.execute(
                "select rolname, rolsuper or rolcreaterole or rolcreatedb or rolbypassrls from pg_roles"
                " where rolname = any(%s)",
                ([roles.OWNER, roles.API, roles.INTERNAL],),
            ).fetchall()
        )
        owners = {
            r[0]
            for r in admin.execute("select distinct tableowner from pg_tables where schemaname in ('bando', 'data')")
        }
        public_connect = admin.execute(
            "select has_database_privilege('public', current_database(), 'connect')"
        ).fetchone()[0]
    assert powers == {roles.OWNER: False, roles.API: False, roles.INTERNAL: False}
    assert owners == {roles.OWNER}
    assert not public_connect, "any role of the cluster could connect to bando's database"
    with _connect(db.database_url()) as conn:
        assert conn.info.user == roles.OWNER


def test_a_catalogue_change_reaches_the_grants(loaded: list) -> None:
    """`bando db up` regrants every published table from the catalogue, so a field made
    restricted after its load is unreadable at once (no reload needed)."""
    from bando.layers import catalogue
    from bando.pipelines.access import grant_all
    from bando.settings import get_settings

    with _connect(db.database_url()) as owner:
        owner.execute('grant select ("tenChu") on data.parcels to bando_api')  # as a stale grant would
        done = grant_all(owner, catalogue.load(get_settings().layers_dir))
    assert "parcels" in done
    with _connect(db.view_url("public")) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute('select "tenChu" from data.parcels limit 1')
