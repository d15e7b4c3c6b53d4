"""A request's time budget, and the database work it is spending it on.

Cancelling a coroutine does not stop the thread it waits for, nor the SQL that thread
runs. So the budget travels with the request (a context variable the worker threads
receive, see :mod:`bando.api_config.gate`): each statement is given at most the time
left (``SET LOCAL statement_timeout``, see :meth:`bando.api_config.runtime.Runtime.connection`),
and when the time is up :meth:`Budget.expire` asks PostgreSQL to cancel whatever the
request's connections are still running. A connection a cancel may have been sent to is
closed rather than reused, so the cancel can never reach the next request's statement.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Iterator

import psycopg

LOG = logging.getLogger("bando.api")
#: Time kept back from the last statement, so PostgreSQL ends it before the request's own limit fires.
MARGIN_S = 0.25


class Budget:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self._active: set[psycopg.Connection] = set()
        self._lock = threading.Lock()

    def remaining(self) -> float:
        """Seconds a statement may still take."""
        return self.deadline - MARGIN_S - time.monotonic()

    @contextlib.contextmanager
    def using(self, conn: psycopg.Connection) -> Iterator[None]:
        with self._lock:
            self._active.add(conn)
        try:
            yield
        finally:
            with self._lock:
                self._active.discard(conn)

    def expire(self) -> int:
        """The time is up: cancel every statement still running for this request; returns how many."""
        with self._lock:
            self.expired = True
            active = list(self._active)
        for conn in active:
            with contextlib.suppress(psycopg.Error):
                conn.cancel_safe(timeout=2.0)
        if active:
            LOG.info("request out of time after %.0f s: %d statement(s) cancelled", self.seconds, len(active))
        return len(active)


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("bando_budget", default=None)


def current() -> Budget | None:
    return _current.get()


def start(seconds: float) -> Budget:
    """A budget for the request being handled in this context (and the threads it hands work to)."""
    budget = Budget(seconds)
    _current.set(budget)
    return budget
