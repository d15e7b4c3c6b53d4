"""What every provider shares in one server process: settings, catalogue, province, pools.

pygeoapi instantiates a provider for every request, so providers must be cheap to
build: they look their layer up here instead of reading files or opening
connections. Each view has its own pool, connecting as its own role (``bando_api``,
``bando_internal``: never the owner or a superuser, see :mod:`bando.roles`), and its own
workers (:mod:`bando.api_config.gate`). Pools are created once per process and check
connections on checkout, so a restarted PostgreSQL is reconnected without restarting bando.

Every use of a connection is one transaction whose ``statement_timeout`` is the view's
limit or the request's remaining time, whichever is shorter; the database's answers are
mapped to domain errors here, once: a statement stopped for its cost is the client's to
narrow (:class:`~bando.errors.TooExpensive`, 400), only a lost or refused connection is
:class:`~bando.errors.Unavailable` (503).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from bando import db
from bando.api_config import budget as budget_mod
from bando.api_config.gate import Gate
from bando.api_config.metrics import PUBLIC_READS, REPLICA_FALLBACKS
from bando.api_config.reads import Reads, Replica
from bando.errors import BadInput, BandoError, TooExpensive, Unavailable
from bando.layers import catalogue as catalogue_mod
from bando.layers.catalogue import Catalogue
from bando.layers.model import Layer, LayerField
from bando.province import Province
from bando.province import configured as configured_province
from bando.replica import read_urls
from bando.settings import Settings, get_settings

POOL_TIMEOUT_S = 3.0
#: How long a request waits for a connection while the database was unreachable moments ago
#: (the pool's last attempt to connect failed): long enough to get one once it is back.
DOWN_TIMEOUT_S = 0.5
DOWN_MEMORY_S = 10.0
#: How long a request waits for a replica's connection before reading from the primary instead.
REPLICA_TIMEOUT_S = 0.5


def domain_error(exc: psycopg.Error, limit_s: float) -> BandoError | None:
    """What a database error means for the client; None when the caller knows better."""
    if isinstance(exc, psycopg.errors.QueryCanceled):  # statement_timeout, or the request's time is up
        return TooExpensive(limit_s)
    if isinstance(exc, psycopg.errors.ProgramLimitExceeded):  # e.g. a filter nested past the stack
        return BadInput("the request is too complex for the database; simplify it")
    if isinstance(exc, psycopg.OperationalError):
        return Unavailable()
    return None


@dataclass
class Runtime:
    settings: Settings
    _unreachable_at: float = field(default=float("-inf"), init=False, repr=False)
    _pools: dict[str, ConnectionPool] = field(default_factory=dict, init=False, repr=False)
    _gates: dict[str, Gate] = field(default_factory=dict, init=False, repr=False)
    _reads: Reads | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @cached_property
    def catalogue(self) -> Catalogue:
        return catalogue_mod.load(self.settings.layers_dir)

    @cached_property
    def province(self) -> Province:
        return configured_province(self.settings)

    def statement_timeout_s(self, view: str) -> float:
        s = self.settings
        return (s.public_statement_timeout_ms if view == "public" else s.statement_timeout_ms) / 1000

    def pool(self, view: str = "public") -> ConnectionPool:
        with self._lock:
            if view not in self._pools:
                self._pools[view] = self._open_pool(view)
            return self._pools[view]

    def gate(self, view: str) -> Gate:
        """The view's workers and its limit on requests in flight."""
        with self._lock:
            if view not in self._gates:
                s = self.settings
                queue = s.pool_size if s.queue_size is None else s.queue_size
                self._gates[view] = Gate(view, s.pool_size, queue)
            return self._gates[view]

    def _open_pool(self, view: str) -> ConnectionPool:
        return self._make_pool(db.view_url(view, self.settings), view, f"bando-{view}")

    def _make_pool(self, url: str, view: str, name: str) -> ConnectionPool:
        pool = ConnectionPool(
            url,
            min_size=1,
            max_size=self.settings.pool_size,
            kwargs={
                "autocommit": True,
                "connect_timeout": 3,
                "application_name": f"bando-api-{view}",
                "options": f"-c statement_timeout={int(self.statement_timeout_s(view) * 1000)}",
            },
            check=ConnectionPool.check_connection,
            open=False,
            name=name,
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
    def connection(self, view: str = "public") -> Iterator[psycopg.Connection]:
        """A pooled connection of the view's role, in a transaction bounded by the time left.

        The public view reads from a fit replica when there is one (:mod:`bando.api_config.reads`)."""
        budget = budget_mod.current()
        limit_s = self.statement_timeout_s(view)
        if budget is not None:
            if budget.expired or budget.remaining() < 0.05:
                raise TooExpensive(budget.seconds)
            limit_s = min(limit_s, budget.remaining())
        reads = self.reads() if view == "public" else None
        replica = reads.choose() if reads is not None else None
        down = time.monotonic() - self._unreachable_at < DOWN_MEMORY_S
        try:
            with ExitStack() as stack:
                conn = self._replica_connection(stack, replica) if replica is not None else None
                if conn is None:
                    replica = None
                    if reads is not None and reads.replicas and not reads.with_primary:
                        REPLICA_FALLBACKS.inc()
                    timeout = DOWN_TIMEOUT_S if down else POOL_TIMEOUT_S
                    conn = stack.enter_context(self.pool(view).connection(timeout=timeout))
                    if down:
                        self._unreachable_at = float("-inf")
                if reads is not None:
                    PUBLIC_READS.labels(replica.name if replica is not None else "primary").inc()
                try:
                    with budget.using(conn) if budget is not None else nullcontext(), conn.transaction():
                        conn.execute("select set_config('statement_timeout', %s, true)", (str(int(limit_s * 1000)),))
                        yield conn
                finally:
                    if budget is not None and budget.expired:
                        conn.close()  # a cancel may still be on its way to it: never hand it to another request
        except PoolTimeout:
            raise Unavailable() from None
        except psycopg.Error as exc:
            if replica is not None and isinstance(exc, psycopg.OperationalError):
                self.reads().lost(replica)  # the request is run again on the primary (reads.rerun)
            mapped = domain_error(exc, limit_s)
            if mapped is None:
                raise
            raise mapped from None

    def _replica_connection(self, stack: ExitStack, replica: Replica) -> psycopg.Connection | None:
        """A connection to the chosen replica, or None (and the replica skipped) when it does not give one."""
        try:
            return stack.enter_context(replica.pool.connection(timeout=REPLICA_TIMEOUT_S))
        except (PoolTimeout, psycopg.OperationalError):
            self.reads().skip(replica)
            return None

    def reads(self) -> Reads:
        """The read replicas of this process (none unless configured), watched from a thread."""
        with self._lock:
            if self._reads is None:
                s = self.settings
                self._reads = Reads.build(read_urls(s), s.max_lag_s, self._replica_pool, s.read_from_primary)
                self._reads.start()
            return self._reads

    def _replica_pool(self, url: str, name: str) -> ConnectionPool:
        return self._make_pool(url, "public", f"bando-replica-{name}")

    def pool_stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            pools = dict(self._pools)
            if self._reads is not None:
                pools |= {f"replica {r.name}": r.pool for r in self._reads.replicas}
        return {name: pool.get_stats() for name, pool in pools.items()}

    def replica_states(self) -> dict[str, tuple[float | None, bool]]:
        return self._reads.states() if self._reads is not None else {}


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
        if _runtime is not None:
            for pool in _runtime._pools.values():
                pool.close()
            for gate in _runtime._gates.values():
                gate.close()
            if _runtime._reads is not None:
                _runtime._reads.close()
        _runtime = None
