"""The dashboard's rendered reports: one render at a time, the last few kept.

Rendering a report (:func:`crawler.report.render_report`) of a big run takes
seconds of CPU and holds the GIL most of that time.  Without limits, a dozen
requests for it (tabs reopened, a page of another site repeating an ``<img>``)
rendered a dozen copies at once on every waitress thread and ``/`` waited
behind them for most of a minute.  So:

* renders take :attr:`ReportCache.render_lock`, one at a time;
* a rendered report is kept (least recently used first out, :data:`CACHE_SIZE`
  of them) under a key of the run ids and each run's :func:`run_version`, so a
  run still crawling or a run that a later run's items changed is rendered again;
* at most :data:`MAX_WAITING` requests wait for the render lock (each holds a
  waitress thread); any more get ``None`` at once (the view answers 503 with
  ``Retry-After``), so the other pages keep threads to run on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from crawler.storage.schema import items, links, pages, rejects, runs

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

    from crawler.storage.sql import SqlStore

#: Reports kept rendered (each is the HTML text: ~1 KB per page of the run).
CACHE_SIZE = 8
#: Requests that may wait for the render lock at once (each holds a server thread).
MAX_WAITING = 4
#: Seconds a request waits for the render lock before it is answered 503.
WAIT_TIMEOUT = 60.0


def run_version(store: SqlStore, run_id: int | None) -> tuple[Any, ...] | None:
    """What a report of run ``run_id`` depends on that may change: its
    ``finished_at`` and ``finish_reason`` and its counts of pages, links, items
    (a later run may take over an item) and rejects.  ``None`` for ``None``."""
    if run_id is None:
        return None

    def count(table: Any) -> Any:
        return select(func.count()).select_from(table).where(table.c.run_id == run_id)

    query = select(
        runs.c.finished_at,
        runs.c.finish_reason,
        *(count(t).scalar_subquery() for t in (pages, links, items, rejects)),
    ).where(runs.c.id == run_id)
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return tuple(row) if row is not None else ("missing",)


class ReportCache:
    """Rendered reports by key, rendered one at a time (module docstring)."""

    def __init__(
        self, size: int = CACHE_SIZE, waiting: int = MAX_WAITING, timeout: float = WAIT_TIMEOUT
    ) -> None:
        self.size = size
        self.timeout = timeout
        self.render_lock = threading.Lock()
        self._entries: OrderedDict[Hashable, str] = OrderedDict()
        self._entries_lock = threading.Lock()
        self._waiting = threading.BoundedSemaphore(waiting)

    def _cached(self, key: Hashable) -> str | None:
        with self._entries_lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def _keep(self, key: Hashable, html: str) -> None:
        with self._entries_lock:
            self._entries[key] = html
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def get(self, key: Hashable, render: Callable[[], str]) -> str | None:
        """The report of ``key``: kept, or ``render()`` under the render lock (its
        exceptions propagate, nothing is kept); ``None`` when :data:`MAX_WAITING`
        requests already wait, or the lock was not free within ``timeout`` seconds."""
        found = self._cached(key)
        if found is not None:
            return found
        if not self._waiting.acquire(blocking=False):
            return None
        try:
            if not self.render_lock.acquire(timeout=self.timeout):
                return None
            try:
                found = self._cached(key)  # rendered while this request waited
                if found is None:
                    found = render()
                    self._keep(key, found)
                return found
            finally:
                self.render_lock.release()
        finally:
            self._waiting.release()
