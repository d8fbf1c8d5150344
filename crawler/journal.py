"""The request journal: what a crawl with a job directory must not forget when it is killed.

Scrapy's job directory (``JOBDIR``) keeps the scheduler's disk queues, the
dupefilter's ``requests.seen`` and ``spider.state``, but writes their state
only when the crawl closes: after a SIGKILL (or a crash, or the OOM killer)
the queue's ``active.json`` is stale or missing and a resume finds nothing to
do.  The journal is one SQLite file in the job directory
(``JOBDIR/journal.sqlite3``, WAL, committed at least every
``CRAWLER_JOURNAL_INTERVAL`` seconds) that holds:

* every request the scheduler accepted (its fingerprint and the request,
  serialised as Scrapy's disk queues do: :meth:`scrapy.Request.to_dict`
  (built by :class:`~crawler.utils.requestdict.RequestDictEncoder`)
  then pickle), in order;
* which of them are *done*: the request's page record was committed to the
  store (:meth:`RequestJournal.expect` ties a record to its request,
  :meth:`RequestJournal.stored` is called by the store pipeline after the
  transaction that wrote it);
* the run it belongs to (``runs.id`` and the store URL), the spider and start
  URL, whether it ended (``running``, ``stopped``, ``finished``), the stats of the
  segments before, and the state components registered
  (:meth:`RequestJournal.register_state`: trap budgets, ``--max-pages`` counts).

A resumed crawl (:class:`crawler.scheduler.JournalScheduler`) re-schedules every
journalled request that is not done — those still queued and those in flight
when the process died, renders included — and treats every journalled
fingerprint as seen.  A page whose record was committed but whose done mark
was not is fetched again and upserted on ``(run_id, url)``: nothing is lost,
nothing is stored twice.  What the journal relies on: a page's record is its
request's last output to reach the store (the journal spider middleware holds
records back to the end of each response's output), and the item pipelines
before the store do not hold items back across responses.

Writes are synchronous=NORMAL in WAL mode: a killed process loses nothing
committed; a power cut may lose the last commit, never corrupting the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pickle
import sqlite3
import time
import weakref
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.utils.job import job_dir
from scrapy.utils.request import request_from_dict

from crawler.exceptions import JobDirError
from crawler.utils.requestdict import RequestDictEncoder

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

JOURNAL_FILE = "journal.sqlite3"
LOCK_FILE = "journal.lock"  # flock()ed by the crawl using the job directory
PICKLE_PROTOCOL = 4  # as scrapy.squeues

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    fp BLOB NOT NULL UNIQUE,
    request BLOB,  -- NULL once done, or when the request could not be serialised
    done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_pending ON requests (done, seq);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    name TEXT NOT NULL, key TEXT NOT NULL, member TEXT NOT NULL,
    PRIMARY KEY (name, key, member)
) WITHOUT ROWID;
"""


class JobState(StrEnum):
    """How the job directory's last crawl ended (``meta.state``)."""

    RUNNING = "running"  # still crawling, or killed: recovered on the next start
    STOPPED = "stopped"  # closed before the queue was empty (Ctrl-C, --max-pages, errors)
    FINISHED = "finished"  # nothing left to crawl: a resume is refused


_held: set[Path] = set()  # job directories this process holds the lock of
_journals: weakref.WeakKeyDictionary[Crawler, RequestJournal | None] = weakref.WeakKeyDictionary()


class RequestJournal:
    """One job directory's journal (see the module docstring).

    Not thread-safe: every method is called from the reactor thread.
    """

    def __init__(self, directory: Path, interval: float = 1.0) -> None:
        """Open (or create) ``directory/journal.sqlite3``; ``interval`` is the most
        seconds between commits.  Raises :class:`~crawler.exceptions.JobDirError`
        when the directory or the file cannot be opened."""
        self.directory = directory
        self.interval = interval
        self.path = directory / JOURNAL_FILE
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = _lock(directory)  # JobDirError while another crawl holds it
            _held.add(directory.resolve())
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise JobDirError(f"cannot open the job journal {self.path}: {e}") from None
        self._scheduled: list[tuple[bytes, bytes | None]] = []
        self._dicts: RequestDictEncoder | None = None  # Request.to_dict for the spider
        self._members: list[tuple[str, str, str]] = []
        self._done: list[bytes] = []
        self._expected: dict[int, tuple[Any, bytes]] = {}
        self._providers: dict[str, Callable[[], Any]] = {}
        self._meta: dict[str, Any] = {
            key: json.loads(value) for key, value in self._db.execute("SELECT key, value FROM meta")
        }
        self._saved_state: dict[str, Any] = {
            name: json.loads(value) for name, value in self._db.execute("SELECT * FROM state")
        }
        self._dirty: set[str] = set()
        self._last_commit = time.monotonic()
        self.failed: str | None = None  # why journalling stopped, if it did
        # True once a store pipeline reports the records it commits (stored());
        # otherwise a record ends its request when it has passed the pipelines.
        self.store_writes = False
        self.resuming = self.state is not None and self.state is not JobState.FINISHED

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> Self | None:
        """The crawler's journal (one per crawler, opened on first use), or ``None``
        without a ``JOBDIR``.  Raises :class:`~crawler.exceptions.JobDirError`."""
        if crawler not in _journals:
            directory = job_dir(crawler.settings)
            interval = crawler.settings.getfloat("CRAWLER_JOURNAL_INTERVAL")
            journal = cls(Path(directory), interval) if directory else None
            if journal is not None:
                crawler.signals.connect(journal._item_scraped, signal=signals.item_scraped)
                crawler.signals.connect(journal._item_gone, signal=signals.item_dropped)
                crawler.signals.connect(journal._item_gone, signal=signals.item_error)
            _journals[crawler] = journal
        return _journals[crawler]  # type: ignore[return-value]

    def _item_scraped(self, item: object) -> None:
        """Without a store writing records (``CRAWLER_STORE_ENABLED`` off: feeds only),
        a record that passed every pipeline ends its request."""
        if not self.store_writes:
            self.stored([item])

    def _item_gone(self, item: object) -> None:
        """A record dropped or failed in a pipeline: its request stays pending.
        (Records the store took are ended by :meth:`stored` before this.)"""
        if not self.store_writes or id(item) in self._expected:
            self.forget(item)

    # -- what the job is ------------------------------------------------------

    @property
    def state(self) -> JobState | None:
        """``None`` for a new job directory."""
        state = self._meta.get("state")
        return JobState(state) if state else None

    @property
    def run_id(self) -> int | None:
        return self._meta.get("run_id")

    @property
    def segments(self) -> int:
        """How many times the run was started (1 for a new job, once :meth:`begin` ran)."""
        return int(self._meta.get("segments", 0))

    @property
    def store_url(self) -> str | None:
        return self._meta.get("store_url")

    @property
    def previous_stats(self) -> dict[str, Any]:
        """The run's stats when its last segment stopped (or, for a killed segment,
        at its last commit); ``{}`` for a new job.  A resumed crawl adds its own
        counters to these (:func:`carry_stats`), so they are the whole run's."""
        return dict(self._meta.get("segment_stats") or self._meta.get("stats") or {})

    def describe(self) -> str:
        """``run 7 of site http://host/ (stopped: shutdown)``, for messages."""
        return _describe(self._meta)

    def check(self, spider: str, start_url: str | None) -> None:
        """Refuse a job directory that belongs to another crawl or has finished: a
        :class:`~crawler.exceptions.JobDirError` saying what it holds and what to do."""
        _check(self._meta, self.directory, spider, start_url)

    def begin(self, spider: Spider, settings: BaseSettings) -> None:
        """Mark the job running (a new one, or a resumed one after :meth:`check`,
        whose arguments must be the run's: :func:`job_arguments`)."""
        start_url = getattr(spider, "start_url", None)
        self.check(spider.name, start_url)
        arguments = job_arguments(settings, spider)
        _check_arguments(self._meta, self.directory, arguments)
        segments = int(self._meta.get("segments", 0)) + 1
        self._set_meta(spider=spider.name, start_url=start_url, state=JobState.RUNNING)
        self._set_meta(segments=segments, reason=None, arguments=arguments)
        self._commit_meta()

    def set_run(self, run_id: int, store_url: str) -> None:
        """The store's ``runs`` row this job writes to; committed at once."""
        self._set_meta(run_id=run_id, store_url=store_url)
        self._commit_meta()

    # -- requests -------------------------------------------------------------

    def scheduled(self, fingerprint: bytes, request: Request, spider: Spider) -> bool:
        """Journal a request the scheduler accepted; ``False`` when it cannot be
        serialised (a callback that is not a spider method, unpicklable meta): it is
        then journalled as seen only, and a kill would lose it."""
        try:
            if self._dicts is None or self._dicts.spider is not spider:
                self._dicts = RequestDictEncoder(spider)
            blob: bytes | None = pickle.dumps(
                self._dicts.to_dict(request), protocol=PICKLE_PROTOCOL
            )
        except (ValueError, TypeError, AttributeError, pickle.PicklingError):
            blob = None
        self._scheduled.append((fingerprint, blob))
        return blob is not None

    def expect(self, record: object, fingerprint: bytes) -> None:
        """``record`` (an item object) is the last output of the request with this
        fingerprint: once it is stored, the request is done."""
        self._expected[id(record)] = (record, fingerprint)

    def stored(self, records: Iterable[object]) -> None:
        """The store committed these items: the requests they end are done."""
        for record in records:
            expected = self._expected.pop(id(record), None)
            if expected is not None and expected[0] is record:
                self._done.append(expected[1])

    def forget(self, record: object) -> None:
        """An expected record that will never be stored (dropped): its request stays
        pending, to be fetched again by a resume."""
        self._expected.pop(id(record), None)

    def seen(self) -> Iterator[bytes]:
        """The fingerprint of every journalled request (committed ones)."""
        for (fp,) in self._db.execute("SELECT fp FROM requests"):
            yield bytes(fp)

    def pending(self, spider: Spider) -> Iterator[Request]:
        """The journalled requests not done, in the order they were scheduled."""
        rows = self._db.execute(
            "SELECT request FROM requests WHERE done = 0 AND request IS NOT NULL ORDER BY seq"
        )
        for (blob,) in rows:
            yield request_from_dict(pickle.loads(blob), spider=spider)

    def unrecoverable(self) -> int:
        """Journalled requests not done that could not be serialised."""
        (count,) = self._db.execute(
            "SELECT count(*) FROM requests WHERE done = 0 AND request IS NULL"
        ).fetchone()
        return int(count)

    # -- component state ------------------------------------------------------

    def register_state(
        self, name: str, dump: Callable[[], Any], load: Callable[[Any], None]
    ) -> None:
        """Keep a component's state across a resume: ``dump()`` (JSON-able) is saved
        with every commit; ``load(value)`` is called now with the saved value, if any."""
        self._providers[name] = dump
        if name in self._saved_state:
            load(self._saved_state[name])

    def remember(self, name: str, key: str, member: str) -> None:
        """Add ``member`` to the set ``key`` of a component's state ``name`` (written
        with the next commit; for state that grows with the crawl, where
        :meth:`register_state` would rewrite it all every second)."""
        self._members.append((name, key, member))

    def remembered(self, name: str) -> dict[str, set[str]]:
        """The sets of ``name`` committed so far: ``{key: {member, ...}}``."""
        sets: dict[str, set[str]] = {}
        rows = self._db.execute("SELECT key, member FROM members WHERE name = ?", (name,))
        for key, member in rows:
            sets.setdefault(key, set()).add(member)
        return sets

    # -- writing --------------------------------------------------------------

    def due(self) -> bool:
        return time.monotonic() - self._last_commit >= self.interval

    def commit(self, stats: dict[str, Any] | None = None) -> None:
        """Write what was journalled since the last commit, in one transaction (new
        requests before done marks), with the components' state and ``stats``."""
        if self.failed is not None:
            return
        scheduled, self._scheduled = self._scheduled, []
        done, self._done = self._done, []
        members, self._members = self._members, []
        self._last_commit = time.monotonic()
        try:
            self._db.execute("BEGIN")
            if scheduled:
                self._db.executemany(
                    "INSERT OR IGNORE INTO requests (fp, request) VALUES (?, ?)", scheduled
                )
            if done:
                self._db.executemany(
                    "UPDATE requests SET done = 1, request = NULL WHERE fp = ?",
                    ((fp,) for fp in done),
                )
            if members:
                self._db.executemany(
                    "INSERT OR IGNORE INTO members (name, key, member) VALUES (?, ?, ?)", members
                )
            for name, dump in self._providers.items():
                self._db.execute(
                    "INSERT OR REPLACE INTO state (name, value) VALUES (?, ?)",
                    (name, json.dumps(dump())),
                )
            if stats is not None:
                self._meta["segment_stats"] = stats
                self._write_meta("segment_stats")
            self._db.execute("COMMIT")
        except sqlite3.Error as e:
            self._give_up(e)

    def close(self, reason: str, stats: dict[str, Any]) -> None:
        """Commit and record how the crawl ended.  The job is ``finished`` only once
        the store has finished its run too (:meth:`mark_finished`; at once when no
        store writes records): a kill in between leaves it ``stopped``, resumable."""
        finished = reason == "finished" and not self.store_writes
        self.commit()
        self._set_meta(
            state=JobState.FINISHED if finished else JobState.STOPPED, reason=reason, stats=stats
        )
        self._meta.pop("segment_stats", None)
        try:
            self._db.execute("DELETE FROM meta WHERE key = 'segment_stats'")
            self._commit_meta()
        except sqlite3.Error as e:
            self._give_up(e)

    def mark_finished(self) -> None:
        """The store finished the run of a crawl that closed as ``finished``."""
        self._set_meta(state=JobState.FINISHED)
        self._commit_meta()

    def abandon(self) -> None:
        """Close the file and give up the job directory's lock, writing nothing
        (what a killed process does)."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        os.close(self._lock)
        _held.discard(self.directory.resolve())

    def _give_up(self, error: sqlite3.Error) -> None:
        self.failed = f"cannot write the job journal {self.path}: {error}"
        logger.error("%s; this crawl cannot be resumed after a kill", self.failed)
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    def _set_meta(self, **values: Any) -> None:
        self._meta.update({k: str(v) if isinstance(v, StrEnum) else v for k, v in values.items()})
        self._dirty |= set(values)

    def _commit_meta(self) -> None:
        dirty, self._dirty = self._dirty, set()
        try:
            for key in dirty:
                self._write_meta(key)
        except sqlite3.Error as e:
            self._give_up(e)

    def _write_meta(self, key: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (key, json.dumps(self._meta.get(key), default=str)),
        )


def job_meta(directory: str | Path) -> dict[str, Any]:
    """What the job directory's journal says of its crawl, read-only: ``{}`` for a
    directory with no journal, or one killed before it wrote anything.  Raises
    :class:`~crawler.exceptions.JobDirError` for a journal that cannot be read."""
    path = Path(directory) / JOURNAL_FILE
    if not path.is_file() or not path.stat().st_size:
        return {}
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
                return {}
            return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
    except (sqlite3.Error, ValueError) as e:
        raise JobDirError(
            f"cannot read the job journal {path}: {e}: remove the job directory to start again"
        ) from None


def check_job_dir(
    directory: str | Path,
    spider: str,
    start_url: str | None,
    store_url: str | None = None,
    arguments: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:meth:`RequestJournal.check` without creating anything, and that no other
    crawl is using the directory; with ``store_url`` (as :func:`crawler.storage.sql.
    display_url` shows it, absolute), that a resume would write to the run's own
    store; with ``arguments`` (:func:`job_arguments`), that they are the run's.
    Returns :func:`job_meta`.  Raises :class:`~crawler.exceptions.JobDirError`."""
    meta = job_meta(directory)
    if Path(directory).is_dir() and Path(directory).resolve() not in _held:
        os.close(_lock(Path(directory)))
    _check(meta, Path(directory), spider, start_url)
    if store_url is not None and meta.get("store_url") and meta["store_url"] != store_url:
        raise JobDirError(
            f"the job directory {directory} holds {_describe(meta)}, stored in "
            f"{meta['store_url']}, not {store_url}: resume with that store "
            f"(--store {meta['store_url']}, or CRAWLER_STORE_URL)"
        )
    _check_arguments(meta, Path(directory), arguments)
    return meta


def _lock(directory: Path) -> int:
    """An exclusive ``flock`` on the directory's lock file (released when the process
    ends, killed or not); the open descriptor.  Raises
    :class:`~crawler.exceptions.JobDirError` when another process holds it."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JobDirError(
            f"the job directory {directory} is in use by another crawl: wait for it to "
            "end, or stop it (a killed crawl leaves the directory free)"
        ) from None
    return fd


def describe_job(meta: dict[str, Any]) -> str:
    """:func:`job_meta` in words: ``run 7 of site http://host/ (stopped: shutdown)``."""
    return _describe(meta)


def _describe(meta: dict[str, Any]) -> str:
    reason = meta.get("reason")
    state = meta.get("state")
    if state == JobState.RUNNING:
        state = "not closed: killed or crashed"
    elif reason and reason != state:
        state = f"{state}: {reason}"
    start_url = meta.get("start_url")
    return f"run {meta.get('run_id')} of {meta.get('spider')}" + (
        f" {start_url} ({state})" if start_url else f" ({state})"
    )


#: Settings a resume must repeat: what the crawl follows and how (``--render``,
#: ``--forms``, ``--form-value``, ``--submit-forms``, ``--explore``, ``--max-depth``);
#: ``--max-pages`` may change, to crawl on past it.
RESUME_SETTINGS = (
    "CRAWLER_EXPLORE",
    "CRAWLER_FORMS",
    "CRAWLER_FORM_VALUES",
    "CRAWLER_RENDER",
    "CRAWLER_SUBMIT_FORMS",
    "DEPTH_LIMIT",
)


def job_arguments(settings: BaseSettings, spider: Spider | None) -> dict[str, Any]:
    """What a resume must repeat: :data:`RESUME_SETTINGS` (spider arguments applied)
    and the spider's ``allowed_domains`` (``--allow-domain``), as JSON gives them back."""
    arguments: dict[str, Any] = {name: settings.get(name) for name in RESUME_SETTINGS}
    domains = getattr(spider, "allowed_domains", None)
    # Hosts the start URL redirected to are the crawl's findings, not its arguments
    # (crawler.downloadermiddlewares.offsite).
    added = getattr(spider, "start_redirect_domains", ())
    if domains and added:
        domains = [domain for domain in domains if domain not in added]
    arguments["allowed_domains"] = domains
    return dict(json.loads(json.dumps(arguments, default=str)))


def _check_arguments(
    meta: dict[str, Any], directory: Path, arguments: dict[str, Any] | None
) -> None:
    """A resume with other arguments than the run's (``--max-depth``, ``--render``,
    ``--forms``...) would end the run with another crawl's pages: refused."""
    before = meta.get("arguments")
    if not meta.get("state") or before is None or arguments is None or before == arguments:
        return
    changed = ", ".join(
        f"{name} {arguments.get(name)!r} (the run's: {before.get(name)!r})"
        for name in sorted(set(before) | set(arguments))
        if before.get(name) != arguments.get(name)
    )
    raise JobDirError(
        f"the job directory {directory} holds {_describe(meta)}, started with other "
        f"arguments: {changed}; resume with the run's (only --max-pages may change), "
        "or choose another job directory"
    )


def _check(meta: dict[str, Any], directory: Path, spider: str, start_url: str | None) -> None:
    if not meta.get("state"):
        return
    if meta.get("spider") != spider or meta.get("start_url") != start_url:
        raise JobDirError(
            f"the job directory {directory} holds {_describe(meta)}, not a crawl of "
            f"{spider}{f' {start_url}' if start_url else ''}: choose another job directory"
        )
    if meta.get("state") == JobState.FINISHED:
        raise JobDirError(
            f"the job directory {directory} holds {_describe(meta)}, which finished: "
            "nothing to resume (choose another job directory for a new crawl)"
        )


#: Stats that are not counters: not carried into a resumed segment.
NOT_CARRIED = ("store/run_id", "journal/requeued", "journal/unrecoverable", "journal/segments")
#: ... nor those a component restores from its own journal state (the outcome
#: middleware's, counted once per page over the run: adding would count twice)
NOT_CARRIED_PREFIXES = ("outcome/",)


def carry_stats(previous: dict[str, Any], stats: StatsCollector) -> None:
    """Add the integer counters of the run's earlier segments to a resumed crawl's
    stats (keys ending in ``max`` keep the larger value); times and texts are the
    new segment's own."""
    for key, value in previous.items():
        if key in NOT_CARRIED or key.startswith(NOT_CARRIED_PREFIXES):
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if key.endswith("max"):
            stats.max_value(key, value)
        else:
            stats.inc_value(key, value)
