"""What every provider shares in one server process: settings, catalogue, province, pool.

pygeoapi instantiates a provider for every request, so providers must be cheap to
build: they look their layer up here instead of reading files or opening
connections. The pool is created once per process and checks connections on
checkout, so a restarted PostgreSQL is reconnected without restarting bando.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from bando import db
from bando.errors import Unavailable
from bando.layers import catalogue as catalogue_mod
from bando.layers.catalogue import Catalogue
from bando.layers.model import Layer, LayerField
from bando.province import Province
from bando.province import configured as configured_province
from bando.settings import Settings, get_settings

POOL_TIMEOUT_S = 3.0
#: How long a request waits for a connection while the database was unreachable moments ago
#: (the pool's last attempt to connect failed): long enough to get one once it is back.
DOWN_TIMEOUT_S = 0.5
DOWN_MEMORY_S = 10.0


@dataclass
class Runtime:
    settings: Settings
    _unreachable_at: float = field(default=float("-inf"), init=False, repr=False)

    @cached_property
    def catalogue(self) -> Catalogue:
        return catalogue_mod.load(self.settings.layers_dir)

    @cached_property
    def province(self) -> Province:
        return configured_province(self.settings)

    @cached_property
    def pool(self) -> ConnectionPool:
        pool = ConnectionPool(
            db.database_url(self.settings),
            min_size=1,
            max_size=self.settings.pool_size,
            kwargs={
                "autocommit": True,
                "connect_timeout": 3,
                "options": f"-c statement_timeout={self.settings.statement_timeout_ms}",
            },
            check=ConnectionPool.check_connection,
            open=False,
            name="bando",
            reconnect_timeout=0,
            reconnect_failed=self._unreachable,
        )
        pool.open(wait=False)
        return pool

    def _unreachable(self, pool: ConnectionPool) -> None:
        """The pool gave up connecting: the database is down (called in a pool worker thread)."""
        self._unreachable_at = time.monotonic()

    def layer(self, layer_id: str) -> Layer:
        return self.catalogue.get(layer_id)

    def srid(self, layer: Layer) -> int:
        return self.province.storage_srid(layer.storage_crs)

    @staticmethod
    def fields(layer: Layer, view: str) -> tuple[LayerField, ...]:
        """The fields a view may show: public ones only, unless internal."""
        return layer.fields if view == "internal" else layer.public_fields

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        down = time.monotonic() - self._unreachable_at < DOWN_MEMORY_S
        try:
            with self.pool.connection(timeout=DOWN_TIMEOUT_S if down else POOL_TIMEOUT_S) as conn:
                if down:
                    self._unreachable_at = float("-inf")
                yield conn
        except PoolTimeout:
            raise Unavailable() from None
        except psycopg.OperationalError:
            raise Unavailable() from None


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = Runtime(get_settings())
        return _runtime


def reset_runtime() -> None:
    """Close the pool and forget everything (tests, and `bando serve` shutdown)."""
    global _runtime
    with _lock:
        if _runtime is not None and "pool" in _runtime.__dict__:
            _runtime.pool.close()
        _runtime = None
