"""Waiting out another process's SQLite write lock: retries with backoff, bounded in total.

SQLite lets one writer at a time hold a database (in WAL mode readers go on).
A write that finds it held fails with ``SQLITE_BUSY`` ("database is locked")
once SQLite's own busy handler has waited :data:`ATTEMPT_WAIT` seconds (the
connection's ``timeout``).  :class:`BusyRetry` then runs the whole transaction
again after a pause that doubles from :data:`FIRST_DELAY` up to
:data:`MAX_DELAY` seconds, until the operation has waited ``bound`` seconds in
all (``CRAWLER_STORE_TIMEOUT``); then the last error is raised, for the store
to report as a store error.  A whole transaction is retried, never one
statement of it, so a retry also recovers from ``SQLITE_BUSY_SNAPSHOT`` (a
read snapshot outdated by another writer), where SQLite does not wait at all.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    _T = TypeVar("_T")

SQLITE_BUSY = 5  # primary result codes (https://www.sqlite.org/rescode.html)
SQLITE_LOCKED = 6
ATTEMPT_WAIT = 0.25  # seconds SQLite's busy handler waits within one attempt
FIRST_DELAY = 0.05  # seconds before the first retry; doubled each time
MAX_DELAY = 1.0  # seconds: the longest pause between attempts


def is_busy(error: BaseException) -> bool:
    """Whether ``error`` (sqlite3's, or SQLAlchemy's wrapping it as ``orig``) is
    SQLite's busy or locked result, extended codes included."""
    orig = getattr(error, "orig", None) or error
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
    return "database is locked" in str(orig) or "database is busy" in str(orig)


class BusyRetry:
    """Runs operations again while SQLite reports busy, for at most ``bound``
    seconds each; counts what it did across all of them.

    :attr:`retries` is the number of attempts repeated, :attr:`waited` the
    seconds spent in attempts that failed busy and in the pauses after them,
    :attr:`gave_up_after` the seconds the last operation that gave up had waited.
    """

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self.retries = 0
        self.waited = 0.0
        self.gave_up_after: float | None = None

    def call(self, operation: Callable[[], _T]) -> _T:
        """``operation()``, again after each busy failure until the bound; the
        last busy error (or any other error at once) is raised."""
        started = time.monotonic()
        delay = FIRST_DELAY
        while True:
            attempt = time.monotonic()
            try:
                return operation()
            except Exception as error:
                if not is_busy(error):
                    raise
                now = time.monotonic()
                self.waited += now - attempt
                elapsed = now - started
                if elapsed >= self.bound:
                    self.gave_up_after = elapsed
                    raise
                pause = min(delay, self.bound - elapsed)
                time.sleep(pause)
                self.waited += pause
                self.retries += 1
                delay = min(delay * 2, MAX_DELAY)
