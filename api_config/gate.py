"""Bounded work per view: its own worker threads, and a fast 503 when they are all taken.

pygeoapi's handlers are synchronous, so each request's work runs in a thread. Were every
view to share one default pool, six slow public requests would stall the internal API
too. Each view gets a :class:`Gate`: a fixed number of workers (as many as its database
connections) and a short queue; a request that finds both full is answered at once with
503 and ``Retry-After`` instead of waiting behind the others. A worker is counted until its
thread really finishes — a request whose client gave up still holds its place.

The request's :mod:`budget <bando.api_config.budget>` travels into the thread with the
context, so the database work there knows how much time is left.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bando.api_config.reads import rerun
from bando.errors import Unavailable

T = TypeVar("T")
RETRY_AFTER_S = 1


class Saturated(Unavailable):
    """Every worker of a view is busy and its queue is full."""

    def __init__(self, view: str) -> None:
        super().__init__(f"the {view} API is busy; try again in a moment")


class Gate:
    def __init__(self, view: str, workers: int, queue: int) -> None:
        self.view = view
        self.capacity = workers + queue
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"bando-{view}")
        self._taken = 0
        self._lock = threading.Lock()

    @property
    def taken(self) -> int:
        return self._taken

    def _enter(self) -> None:
        with self._lock:
            if self._taken >= self.capacity:
                raise Saturated(self.view)
            self._taken += 1

    def _leave(self) -> None:
        with self._lock:
            self._taken -= 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on one of this view's workers, in the caller's context; Saturated when full."""
        self._enter()
        context = contextvars.copy_context()

        def work() -> T:
            try:
                return context.run(rerun, fn, *args)  # once more on the primary if a read replica died
            finally:
                self._leave()

        try:
            future = self.executor.submit(work)
        except BaseException:
            self._leave()
            raise
        # a request cancelled while still queued never runs `work`: give its place back here
        future.add_done_callback(lambda f: self._leave() if f.cancelled() else None)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
