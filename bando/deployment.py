"""The database remembers which province (and storage CRS) it was set up for.

Layers marked ``storage_crs: province`` are stored in that province's TM-3 zone;
pointing the same database at another province would mix CRSs without anyone
noticing. The first ``db up`` records the province; every later start and load
compares, and a mismatch is refused with a message saying what to do.
"""

from __future__ import annotations

import psycopg

from bando.errors import SetupError
from bando.province import Province


def check(conn: psycopg.Connection, province: Province) -> None:
    """Record the province on first use; refuse a different one afterwards."""
    wanted = {
        "province_code": str(province.code),
        "province_name": province.name,
        "storage_srid": str(province.tm3_epsg),
    }
    stored: dict[str, str] = dict(conn.execute("select key, value from bando.deployment").fetchall())
    if not stored:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into bando.deployment (key, value) values (%s, %s) on conflict do nothing", list(wanted.items())
            )
        return
    if stored.get("province_code") != wanted["province_code"] or stored.get("storage_srid") != wanted["storage_srid"]:
        raise SetupError(
            f"this database holds {stored.get('province_name')} (province {stored.get('province_code')}, "
            f"stored in EPSG:{stored.get('storage_srid')}), but bando is now configured for {province.name} "
            f"(province {province.code}, EPSG:{province.tm3_epsg}). bando will not mix CRSs in one database: "
            "use another database (BANDO_HOME or DATABASE_URL) for the other province, or set BANDO_PROVINCE back."
        )
