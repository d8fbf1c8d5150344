"""Store every page record, item, reject and page link of a crawl in a SQL store, in batches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.settings import overridden_settings
from scrapy.utils.asyncio import is_asyncio_available
from scrapy.utils.conf import build_component_list
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.misc import load_object
from scrapy.utils.reactor import is_reactor_installed
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import task

from crawler.exceptions import InvalidItem, StoreError
from crawler.frontier.shared import SharedCrawl, merge_stats
from crawler.incremental import SIGNATURE_KEY, crawl_signature
from crawler.items import PageLinks, PageRecord
from crawler.journal import RequestJournal
from crawler.outcome import STORED_PAGES_STAT, Criteria, rejudge
from crawler.redaction import redact_mapping, redact_text
from crawler.settingscheck import check_types
from crawler.storage.fallback import FallbackFile
from crawler.storage.rows import item_row
from crawler.storage.schema import PAGE_COLUMNS
from crawler.storage.sql import SqlStore, absolute_url, check_store_url, display_url

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Self, TypeVar

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider
    from twisted.python.failure import Failure

    _T = TypeVar("_T")

logger = logging.getLogger(__name__)

STORE_ERROR_REASON = "store_error"
TABLES = ("items", "pages", "rejects", "links")
MAX_LINK_URL_LENGTH = 1200  # characters: source and URL share PostgreSQL's index row limit
MAX_LINK_TEXT_LENGTH = 200  # characters of anchor text kept


@dataclass(frozen=True)
class StoreConfig:
    url: str
    batch_size: int
    fallback_dir: Path | None  # None: the working directory
    timeout: float  # seconds
    flush_interval: float  # seconds a row may wait for its batch

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> StoreConfig:
        """Raises :class:`~crawler.exceptions.ConfigError` for a bad ``CRAWLER_STORE_*``
        (:class:`~crawler.exceptions.StoreUrlError` for a URL that cannot be a store's;
        whether the store opens is found out when the crawl opens it)."""
        check_types(settings, "CRAWLER_STORE_")
        fallback = settings.get("CRAWLER_STORE_FALLBACK_DIR")
        return cls(
            url=check_store_url(settings.get("CRAWLER_STORE_URL")),
            batch_size=settings.getint("CRAWLER_STORE_BATCH_SIZE"),
            fallback_dir=Path(fallback) if fallback else None,
            timeout=settings.getfloat("CRAWLER_STORE_TIMEOUT"),
            flush_interval=settings.getfloat("CRAWLER_STORE_FLUSH_INTERVAL"),
        )


def check_store_opens(settings: BaseSettings) -> None:
    """Open and close the store a crawl with these settings would write to, so a
    store that cannot be opened (a missing directory, a server that refuses) is
    a :class:`~crawler.exceptions.StoreError` before anything is crawled, not a
    crawl that stops at once.  Nothing is checked when the store pipeline is off
    (``CRAWLER_STORE_ENABLED``, or not in ``ITEM_PIPELINES``).  Creates the
    SQLite file and the tables, as the crawl would."""
    if not settings.getbool("CRAWLER_STORE_ENABLED"):
        return
    enabled = build_component_list(settings.getwithbase("ITEM_PIPELINES"))
    if not any(load_object(path) is StorePipeline for path in enabled):
        return
    timeout = settings.getfloat("CRAWLER_STORE_TIMEOUT")
    SqlStore.open(settings.get("CRAWLER_STORE_URL"), timeout=timeout).close()


def rows_lost(stats: dict[str, Any]) -> int:
    """Rows a failed store did not take and the fallback file could not keep either."""
    return int(stats.get("store/rows_lost", 0))


def unwritten_summary(stats: dict[str, Any]) -> str | None:
    """After a store error, one line for the command line: the rows the store did
    not take, how many the fallback file kept (and where, by table) and how many
    were lost (and why); ``None`` when the store had no error.

    ``not written to the store: 57 rows; 57 saved in PATH (17 items, 40 pages, 0
    rejects); 0 lost``, or ``...; 0 saved; 57 lost (cannot write the fallback
    file PATH: ...)``.
    """
    saved = int(stats.get("store/rows_unwritten", 0))
    lost = rows_lost(stats)
    if not stats.get("store/error") and not saved and not lost:
        return None
    line = f"not written to the store: {saved + lost} rows; {saved} saved"
    if saved:
        counts = ", ".join(
            f"{stats.get(f'store/unwritten/{t}', 0)} {t}"
            for t in TABLES
            if t != "links" or stats.get("store/unwritten/links")
        )
        line += f" in {stats.get('store/fallback_path')} ({counts})"
    line += f"; {lost} lost"
    if lost:
        line += f" ({stats.get('store/fallback_error')})"
    return line


def _shares_frontier(settings: BaseSettings) -> bool:
    """Whether the crawl is a worker of a shared crawl (``CRAWLER_FRONTIER`` and the
    frontier's scheduler): its run is the crawl's, finished by its last worker."""
    scheduler = settings.get("SCHEDULER")
    if not settings.get("CRAWLER_FRONTIER") or not scheduler:
        return False
    # Only now: it imports scrapy-redis and redis, which a crawl without a frontier
    # does not need.
    from crawler.frontier.scheduler import FrontierScheduler

    cls = load_object(scheduler) if isinstance(scheduler, str) else scheduler
    return isinstance(cls, type) and issubclass(cls, FrontierScheduler)


class StorePipeline:
    """Writes page records, items and rejects to the store; one ``runs`` row per crawl.

    * :class:`~crawler.items.PageRecord` -> ``pages``;
    * :class:`~crawler.items.PageLinks` -> ``links``, one row per link (a link
      already stored for the run is kept; a source or URL longer than
      :data:`MAX_LINK_URL_LENGTH` characters is skipped, counted in
      ``store/links_too_long``); the item goes on, for
      :class:`~crawler.pipelines.links.PageLinksPipeline` to end;
    * every other item (an extracted item, or any dataclass, dict or
      ``scrapy.Item`` a spider yields) -> ``items``, upserted on spec + key
      (see :mod:`crawler.storage.rows`), so a re-run updates rather than duplicates;
    * items dropped with :class:`~crawler.exceptions.InvalidItem` by an earlier
      pipeline (Scrapy's ``item_dropped`` signal) -> ``rejects``, with the reason.

    Rows are buffered and written ``CRAWLER_STORE_BATCH_SIZE`` at a time, and at
    least every ``CRAWLER_STORE_FLUSH_INTERVAL`` seconds, one transaction per
    batch, in a worker thread (one write at a time), so a slow database does
    not stall the crawl; an item that fills the buffer waits for
    its batch, which holds back the crawl only as much as the database is behind.
    No write waits longer than about ``CRAWLER_STORE_TIMEOUT`` seconds (see
    :class:`~crawler.storage.sql.SqlStore`; SQLite lock waits are counted in
    ``store/busy_retries`` and ``store/busy_wait``, seconds).  If the store
    cannot be opened or written, the crawl is closed with the reason
    ``store_error`` and every row not written goes to the run's own JSON-lines
    fallback file (:mod:`crawler.storage.fallback`; its path in
    ``store/fallback_path``), so nothing is lost silently; rows that file could
    not take either are counted in ``store/rows_lost``.

    With a job directory (:mod:`crawler.journal`), the run's id is kept in the
    journal and a resumed crawl goes on writing to the same ``runs`` row; the
    page records a batch committed are reported to the journal (their requests
    are done).  If the reactor stops before the spider closed (a second Ctrl-C),
    what is buffered is written there and then and the run finished as
    ``shutdown``.
    """

    def __init__(self, crawler: Crawler, config: StoreConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.store: SqlStore | None = None
        self.run_id: int | None = None
        self.failed: StoreError | None = None
        self._buffer: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
        self._unwritten: Counter[str] = Counter()
        self._fallback: FallbackFile | None = None
        self._opened = datetime.now(UTC)
        self._threaded = False
        self._lock: asyncio.Lock | None = None
        self._journal: RequestJournal | None = None
        self._records: list[PageRecord] = []  # the buffer's page records (for the journal)
        self._ticker: task.LoopingCall | None = None
        self._shutdown_trigger: Any = None
        self._closed = False
        self._shared: SharedCrawl | None = None
        self._batches_taken = 0  # batches taken from the buffer to be written, in order
        self._batches_committed = 0  # the number of the last batch the store committed

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("CRAWLER_STORE_ENABLED"):
            raise NotConfigured  # switched off on purpose (crawler login): silent
        pipeline = cls(crawler, StoreConfig.from_settings(crawler.settings))
        if _shares_frontier(crawler.settings):
            pipeline._shared = SharedCrawl.from_settings(crawler.settings)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        return pipeline

    async def open_spider(self) -> None:
        # Writes go to a worker thread when there is an asyncio loop (Scrapy's
        # default reactor); under another reactor they run inline.
        self._threaded = is_asyncio_available()
        if self._threaded:
            self._lock = asyncio.Lock()
        settings = self._run_settings()
        self._opened = datetime.now(UTC)
        self._journal = RequestJournal.for_crawler(self.crawler)
        if self._journal is not None:
            self._journal.store_writes = True  # records end their requests once committed
        resumed = self._journal.run_id if self._journal is not None else None
        try:
            self.store = await self._call(self._open_store)
            if self._shared is not None:  # one run for every worker of a shared crawl
                store = self.store
                self.run_id = await self._call(
                    self._shared.claim_run,
                    lambda: store.start_run(
                        self._spider.name, getattr(self._spider, "start_url", None), settings
                    ),
                )
            elif resumed is None:
                self.run_id = await self._call(
                    self.store.start_run,
                    self._spider.name,
                    getattr(self._spider, "start_url", None),
                    settings,
                )
            else:
                self.run_id = await self._resume_run(self.store, resumed)
        except StoreError as e:
            self._fail(e)
            raise CloseSpider(STORE_ERROR_REASON) from None
        if self._journal is not None and resumed is None:
            self._journal.set_run(self.run_id, display_url(absolute_url(self.config.url)))
        self.crawler.stats.set_value("store/run_id", self.run_id)
        verb = "Storing" if resumed is None else "Resuming"
        logger.info("%s run %d in %s", verb, self.run_id, display_url(self.config.url))
        if is_reactor_installed():  # not when the pipeline is driven without a crawl
            self._ticker = task.LoopingCall(self._tick)
            self._ticker.start(self.config.flush_interval, now=False)
            from twisted.internet import reactor  # the installed one

            self._shutdown_trigger = reactor.addSystemEventTrigger(
                "before", "shutdown", self._reactor_stopping
            )

    async def _resume_run(self, store: SqlStore, run_id: int) -> int:
        assert self._journal is not None
        shown = display_url(absolute_url(self.config.url))
        if self._journal.store_url != shown:
            raise StoreError(
                f"the job directory {self._journal.directory} belongs to run {run_id} in "
                f"the store {self._journal.store_url}, not {shown}: resume with that store"
            )
        start_url = getattr(self._spider, "start_url", None)
        if not await self._call(store.resume_run, run_id, self._spider.name, start_url):
            raise StoreError(
                f"the store {shown} has no run {run_id} of {self._spider.name} "
                f"{start_url or ''} to resume (the job directory {self._journal.directory} "
                "wrote to it)"
            )
        return run_id

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, PageRecord):
            # Our dataclass: its fields are the columns (no ItemAdapter per page).
            self._buffer["pages"].append({name: getattr(item, name) for name in PAGE_COLUMNS})
            if self._journal is not None:
                self._records.append(item)
        elif isinstance(item, PageLinks):
            self._buffer["links"].extend(self._link_rows(item))
        else:
            self._buffer["items"].append(item_row(item).as_dict())
        await self._flush()
        return item

    async def item_dropped(
        self, item: Any, response: Response | Failure | None, exception: BaseException
    ) -> None:
        """Items an earlier pipeline found invalid become rejects; other drops are ignored."""
        if not isinstance(exception, InvalidItem):
            return
        row = item_row(item)
        self._buffer["rejects"].append(
            {"spec": row.spec, "url": row.url, "reason": str(exception), "data": row.data}
        )
        await self._flush()

    async def close_spider(self) -> None:
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        await self._flush(force=True)

    def _tick(self) -> Any:
        """Every ``CRAWLER_STORE_FLUSH_INTERVAL`` seconds: write what waits, unless a
        batch is being written (its end takes the rows soon enough)."""
        if not self._buffered() or (self._lock is not None and self._lock.locked()):
            return None
        return deferred_from_coro(self._flush(force=True))

    def _reactor_stopping(self) -> None:
        """The reactor stops with the spider still open (a second Ctrl-C): write the
        rows fetched so far and finish the run, here and now (blocking: the
        process is ending).  A worker of a shared crawl writes its rows but leaves
        the run open: the crawl goes on without it."""
        if self._closed or self.store is None or self.run_id is None:
            return
        self._closed = True
        if self._ticker is not None and self._ticker.running:
            self._ticker.stop()
        batch, self._buffer = self._buffer, {table: [] for table in TABLES}
        records, self._records = self._records, []
        if any(batch.values()):
            self._batches_taken += 1
            self._write_batch_now(batch, records)
        self.crawler.stats.set_value("finish_reason", "shutdown")
        if self._shared is not None:
            # A worker of a shared crawl that did not leave it: not known to be the
            # last, so the run stays open for the others, or a worker that joins, to
            # finish (crawler.commands.crawl.report_crawl says so).
            return
        stats = json.loads(json.dumps(self.crawler.stats.get_stats(), default=str))
        try:
            self.store.finish_run(self.run_id, "shutdown", stats)
        except StoreError as e:
            logger.error("%s", e)
        if self.failed is not None:
            self._report_unwritten()

    def _write_batch_now(
        self, batch: dict[str, list[dict[str, Any]]], records: list[PageRecord]
    ) -> None:
        assert self.store is not None and self.run_id is not None
        if self.failed is None:
            try:
                self.store.write_batch(
                    self.run_id, batch["pages"], batch["items"], batch["rejects"], batch["links"]
                )
            except StoreError as e:
                self._fail(e)
            else:
                self._count_written(batch, records)
                self._batches_committed = self._batches_taken
                return
        self._write_fallback(batch)

    def _count_written(
        self, batch: dict[str, list[dict[str, Any]]], records: list[PageRecord]
    ) -> None:
        for table, rows in batch.items():
            if rows:
                self.crawler.stats.inc_value(f"store/{table}_written", len(rows))
        if self._journal is not None:
            self._journal.stored(records)

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        self._closed = True
        if self._shutdown_trigger is not None:
            from twisted.internet import reactor  # the installed one

            reactor.removeSystemEventTrigger(self._shutdown_trigger)
            self._shutdown_trigger = None
        if self.failed is not None:
            self._report_unwritten()
        if self.store is None:
            return
        if self.run_id is not None:
            if self.failed is not None:
                reason = STORE_ERROR_REASON
            self._count_busy()
            if self._shared is not None and not await self._call(self._close_shared, reason):
                await self._call(self.store.close)
                return  # other workers go on: the last one finishes the run
            if self.failed is None:
                with contextlib.suppress(StoreError, SQLAlchemyError):  # for the live line only
                    counts = await self._call(self.store.page_counts, self.run_id, "status")
                    self.crawler.stats.set_value(STORED_PAGES_STAT, sum(n for _, n in counts))
            stats = json.loads(json.dumps(self.crawler.stats.get_stats(), default=str))
            stats["finish_reason"] = reason
            try:
                await self._call(self.store.finish_run, self.run_id, reason, stats)
            except StoreError as e:
                logger.error("%s", e)
            else:
                if self._journal is not None and reason == "finished":
                    self._journal.mark_finished()  # job and run finished together
            self._count_busy()
        await self._call(self.store.close)

    def _close_shared(self, reason: str) -> bool:
        """This worker of a shared crawl is done (:meth:`SharedCrawl.close`): ``True``
        when it is the last, its stats now the merged stats of every worker (the
        run's, for its row and the verdict); stat ``frontier/last_worker``."""
        assert self._shared is not None
        stats = self.crawler.stats
        stats.set_value("finish_reason", reason)
        from crawler.frontier.scheduler import REDIS_DOWN, UNREACHABLE_AT_CLOSE

        down: str | None = None  # why Redis was not reached
        if stats.get_value(UNREACHABLE_AT_CLOSE):
            # Not asked: a call Redis does not answer may still run once it resumes (a
            # frozen host), and a late close would mark the crawl finished there, so that
            # no worker could resume it (crawler worker --crawl ID).
            down = "it did not answer when this worker closed"
        else:
            try:
                everyone = self._shared.close(stats.get_stats())
            except REDIS_DOWN as e:
                down = redact_text(str(e))
        if down is not None:  # no other worker's stats: the run gets this one's
            logger.warning(
                "Cannot reach the frontier's Redis to close this worker (%s): the run %s "
                "is finished with this worker's stats only",
                down,
                self.run_id,
            )
            everyone = {self._shared.worker: json.loads(json.dumps(stats.get_stats(), default=str))}
        if everyone is None:
            stats.set_value("frontier/last_worker", False)
            logger.info(
                "This worker is done; the run %s is finished by the last worker of crawl %s",
                self.run_id,
                self._shared.crawl_id,
            )
            return False
        stats.set_stats(merge_stats(everyone, stats.get_stats()))
        stats.set_value("frontier/last_worker", True)
        # The run's verdict, once, on the merged counts (each worker judged its own part)
        verdict = rejudge(stats, Criteria.from_settings(self.crawler.settings), reason)
        logger.info("%s", verdict.log_line(), extra={"spider": self.crawler.spider})
        return True

    @property
    def _spider(self) -> Spider:
        assert self.crawler.spider is not None
        return self.crawler.spider

    def _open_store(self) -> SqlStore:
        return SqlStore.open(self.config.url, timeout=self.config.timeout)

    def commit_mark(self) -> int:
        """The number of the batch that holds every row received so far: once
        :attr:`committed` reaches it, they are all in the store.  (Batches are
        numbered from 1 in the order they leave the buffer and are written one at a
        time, in that order.)  A shared crawl's scheduler releases a request's lease
        only then (:mod:`crawler.frontier.scheduler`), as the request journal marks a
        request done only once its page record is committed (:mod:`crawler.journal`)."""
        return self._batches_taken + (1 if self._buffered() else 0)

    @property
    def committed(self) -> int:
        """The number of the last batch committed to the store (0: none yet).  Batches
        that went to the fallback file after a store error do not count: the requests
        they end keep their leases, put back in the shared queue when this worker
        closes."""
        return self._batches_committed

    def _count_busy(self) -> None:
        """The store's SQLite lock waits so far, in the stats."""
        if self.store is None or not self.store.busy.retries:
            return
        self.crawler.stats.set_value("store/busy_retries", self.store.busy.retries)
        self.crawler.stats.set_value("store/busy_wait", round(self.store.busy.waited, 2))

    async def _call(self, func: Callable[..., _T], *args: Any) -> _T:
        if self._threaded:
            return await asyncio.to_thread(func, *args)
        return func(*args)

    def _exclusive(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """One batch at a time: a second flush waits until the first is written."""
        return self._lock if self._lock is not None else contextlib.nullcontext()

    def _buffered(self) -> int:
        return sum(len(rows) for rows in self._buffer.values())

    async def _flush(self, force: bool = False) -> None:
        if not force and self._buffered() < self.config.batch_size:
            return
        async with self._exclusive():
            # Checked again: while this flush waited, the one before may have
            # taken the rows.
            if not self._buffered() or (not force and self._buffered() < self.config.batch_size):
                return
            batch, self._buffer = self._buffer, {table: [] for table in TABLES}
            records, self._records = self._records, []
            self._batches_taken += 1
            number = self._batches_taken
            if self.failed is None and self.store is not None and self.run_id is not None:
                try:
                    await self._call(
                        self.store.write_batch,
                        self.run_id,
                        batch["pages"],
                        batch["items"],
                        batch["rejects"],
                        batch["links"],
                    )
                except StoreError as e:
                    self._count_busy()
                    self._fail(e)
                    self._stop_crawl()
                else:
                    self._count_busy()
                    self._count_written(batch, records)
                    self._batches_committed = number
                    return
            self._write_fallback(batch)

    def _link_rows(self, item: PageLinks) -> list[dict[str, Any]]:
        rows = []
        for link in item.links:
            if max(len(item.source), len(link.url)) > MAX_LINK_URL_LENGTH:
                self.crawler.stats.inc_value("store/links_too_long")
                continue
            text = " ".join(link.text.split())[:MAX_LINK_TEXT_LENGTH] if link.text else None
            rows.append(
                {
                    "source": item.source,
                    "url": link.url,
                    "found_via": str(link.found_via),
                    "text": text or None,
                    "refused": link.refused,
                }
            )
        return rows

    def _fail(self, error: StoreError) -> None:
        if self.failed is not None:
            return
        self.failed = error
        logger.error("%s; stopping the crawl", error)
        self.crawler.stats.set_value("store/error", str(error))

    def _stop_crawl(self) -> None:
        """The store is gone mid-crawl: crawling on would only pile up unwritten rows."""
        try:
            engine = self.crawler.engine
        except RuntimeError:  # not crawling: the pipeline is driven directly
            return
        if engine.spider is None:
            return
        deferred_from_coro(engine.close_spider_async(reason=STORE_ERROR_REASON))

    def _fallback_file(self) -> FallbackFile:
        if self._fallback is None:  # named once the run id is known, if the store gave one
            self._fallback = FallbackFile(
                self.config.fallback_dir or Path.cwd(),
                self._spider.name,
                self.config.url,
                self.run_id,
                self._opened,
            )
        return self._fallback

    def _write_fallback(self, batch: dict[str, list[dict[str, Any]]]) -> None:
        fallback = self._fallback_file()
        created = fallback.path is not None
        total = sum(len(rows) for rows in batch.values())
        try:
            fallback.write(batch)
        except OSError as e:
            reason = f"cannot write the fallback file {fallback.intended}: {e.strerror or e}"
            logger.error("%d rows not written to the store are lost: %s", total, reason)
            self.crawler.stats.inc_value("store/rows_lost", total)
            if not self.crawler.stats.get_value("store/fallback_error"):
                self.crawler.stats.set_value("store/fallback_error", reason)
            return
        if not created:
            logger.error("rows the store did not take go to %s", fallback.path)
            self.crawler.stats.set_value("store/fallback_path", str(fallback.path))
        for table, rows in batch.items():
            if rows:
                self._unwritten[table] += len(rows)
                self.crawler.stats.inc_value(f"store/unwritten/{table}", len(rows))
        self.crawler.stats.inc_value("store/rows_unwritten", total)

    def _report_unwritten(self) -> None:
        lost = self.crawler.stats.get_value("store/rows_lost", 0)
        if not self._unwritten and not lost:
            return
        where = self._fallback.path if self._fallback is not None else None
        logger.error(
            "%d items, %d pages, %d rejects and %d links were not written to %s; "
            "they are in %s; %d rows lost",
            self._unwritten["items"],
            self._unwritten["pages"],
            self._unwritten["rejects"],
            self._unwritten["links"],
            display_url(self.config.url),
            where or "no fallback file",
            lost,
        )

    def _run_settings(self) -> dict[str, Any]:
        settings = dict(overridden_settings(self.crawler.settings))
        arguments = getattr(self._spider, "run_arguments", {})
        recorded = {"settings": settings, "spider_arguments": arguments}
        recorded = json.loads(json.dumps(redact_mapping(recorded), default=str))
        # What a later incremental re-crawl requires of its baseline (crawler.incremental):
        # digests and option values, no secrets.
        domains = getattr(self._spider, "allowed_domains", None)
        recorded[SIGNATURE_KEY] = crawl_signature(self.crawler.settings, domains)
        return recorded
