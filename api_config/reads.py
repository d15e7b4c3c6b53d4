"""Where the public API reads: healthy read replicas in turn, the primary when none is fit.

Replicas are PostgreSQL hot standbys (streaming replication; ``bando db replica create`` or
``BANDO_READ_URLS``). A monitor thread asks each one every :data:`CHECK_S` how far it is
behind; one more than ``BANDO_MAX_LAG_S`` behind, or not answering, is skipped until it is
back. Only the public view reads from replicas: loads, edits and the internal API (a
steward reading what they just wrote) use the primary, so nobody reads their own write stale.

A replica can vanish in the middle of a request. The connection that failed marks it unfit
at once, and :func:`rerun` — around each public request's work, in its worker thread —
runs the request again on the primary: public requests only read, so a second run is safe,
and the client gets an answer rather than an error.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from bando.replica import LAG_SQL

LOG = logging.getLogger("bando.api")
CHECK_S = 0.5
_local = threading.local()


def mark_lost() -> None:
    """A replica connection failed during this thread's request."""
    _local.lost = True


def rerun[T](fn: Callable[..., T], *args: object) -> T:
    """Run a request's work; once more (on the primary) when a replica was lost during it."""
    _local.lost = False
    result = fn(*args)
    if getattr(_local, "lost", False):
        _local.lost = False
        LOG.info("a read replica failed during a request; answered from the primary")
        result = fn(*args)
    return result


def _name(url: str) -> str:
    info = conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}"


@dataclass
class Replica:
    name: str
    url: str
    pool: ConnectionPool
    lag_s: float | None = None
    fit: bool = False


@dataclass
class Reads:
    """The replicas of one server process and their state; round-robin over the fit ones."""

    replicas: list[Replica]
    max_lag_s: float
    #: The primary takes its turn in the rotation too (one machine's replica adds no cores).
    with_primary: bool = False
    _turn: itertools.count = field(default_factory=itertools.count, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    @classmethod
    def build(
        cls, urls: list[str], max_lag_s: float, make_pool: Callable[[str, str], ConnectionPool], with_primary: bool
    ) -> Reads:
        return cls([Replica(_name(u), u, make_pool(u, _name(u))) for u in urls], max_lag_s, with_primary)

    def start(self) -> None:
        if self.replicas and self._thread is None:
            self.check()
            self._thread = threading.Thread(target=self._watch, name="bando-replicas", daemon=True)
            self._thread.start()

    def choose(self) -> Replica | None:
        """The replica to read from next; None: the primary."""
        fit: list[Replica | None] = [r for r in self.replicas if r.fit]
        if fit and self.with_primary:
            fit.append(None)
        return fit[next(self._turn) % len(fit)] if fit else None

    def skip(self, replica: Replica) -> None:
        """The replica gave no connection: read elsewhere until the monitor finds it fit again."""
        if replica.fit:
            LOG.warning("read replica %s stopped answering; reading from the primary", replica.name)
        replica.fit = False

    def lost(self, replica: Replica) -> None:
        """A replica failed in the middle of a request: skip it, and have the request run again."""
        self.skip(replica)
        mark_lost()

    def check(self) -> None:
        for r in self.replicas:
            r.lag_s = _lag(r.url)
            fit = r.lag_s is not None and r.lag_s <= self.max_lag_s
            if fit and not r.fit:
                LOG.info("read replica %s is read from (%.1f s behind)", r.name, r.lag_s)
            r.fit = fit

    def _watch(self) -> None:
        while not self._stop.wait(CHECK_S):
            self.check()

    def states(self) -> dict[str, tuple[float | None, bool]]:
        return {r.name: (r.lag_s, r.fit) for r in self.replicas}

    def close(self) -> None:
        self._stop.set()
        for r in self.replicas:
            r.pool.close()


def _lag(url: str) -> float | None:
    """Seconds the replica is behind; None when it does not answer (or is no standby at all)."""
    try:
        with psycopg.connect(url, connect_timeout=1, autocommit=True, application_name="bando-replica-check") as conn:
            row = conn.execute(f"select pg_is_in_recovery(), ({LAG_SQL})").fetchone()
    except psycopg.Error:
        return None
    if row is None or not row[0]:
        return None  # promoted or misconfigured: not a replica of anything
    return float(row[1])
