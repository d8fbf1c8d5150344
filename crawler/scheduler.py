"""Scrapy's scheduler with a request journal, so a killed crawl resumes where it was.

With a ``JOBDIR``, :class:`JournalScheduler` journals every request it accepts
(:class:`crawler.journal.RequestJournal`) and commits the journal every
``CRAWLER_JOURNAL_INTERVAL`` seconds and when the crawl closes.  Started
again with a job directory whose crawl did not finish — stopped by Ctrl-C,
``--max-pages`` or an error, or killed with no chance to save Scrapy's own
queue state — it discards the disk queues Scrapy left (``requests.queue``,
whose ``active.json`` a kill leaves stale) and schedules again every
journalled request that is not done, in the order they were first scheduled;
every journalled fingerprint counts as seen.  Queues, priorities and the
dupefilter are otherwise Scrapy's (disk queues in the job directory).

A job directory that holds another crawl (spider or start URL), or one that
finished, is refused with :class:`~crawler.exceptions.JobDirError`.

Stats: ``journal/requeued`` (requests scheduled again on resume),
``journal/segments`` (starts of this run, 1 for a new job),
``journal/unserializable`` (requests a kill would lose: not picklable),
``journal/unrecoverable`` (such requests found on resume).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.core.scheduler import Scheduler
from twisted.internet import task

from crawler.journal import RequestJournal, carry_stats

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)


class JournalScheduler(Scheduler):
    journal: RequestJournal | None = None
    _loop: task.LoopingCall | None = None
    _trigger: object = None
    _closed = False
    _was = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        scheduler = super().from_crawler(crawler)
        scheduler.journal = RequestJournal.for_crawler(crawler)
        if scheduler.journal is not None:
            crawler.signals.connect(scheduler._spider_opened, signal=signals.spider_opened)
        return scheduler

    def open(self, spider: Spider) -> Deferred[None] | None:
        journal = self.journal
        if journal is None:
            return super().open(spider)
        self._was = journal.describe()  # how the job was left, for the log
        journal.begin(
            spider, self.crawler.settings
        )  # JobDirError for another crawl's or a finished job dir
        if journal.resuming and self.dqdir:
            # Scrapy's queue state is written at close only: after a kill it is
            # stale; the journal has every pending request.
            shutil.rmtree(self.dqdir, ignore_errors=True)
            Path(self.dqdir).mkdir(parents=True, exist_ok=True)
        result = super().open(spider)
        if journal.resuming:
            self._restore(journal, spider)
        self._loop = task.LoopingCall(self._commit)
        self._loop.start(journal.interval, now=False)
        # After the store pipeline's "before" trigger has written its last rows.
        from twisted.internet import reactor  # the installed one

        self._trigger = reactor.addSystemEventTrigger("during", "shutdown", self._reactor_stopping)
        return result

    def enqueue_request(self, request: Request) -> bool:
        added = super().enqueue_request(request)
        if added and self.journal is not None:
            fingerprint = self.crawler.request_fingerprinter.fingerprint(request)
            if not self.journal.scheduled(fingerprint, request, self.spider):
                assert self.stats is not None
                self.stats.inc_value("journal/unserializable")
                logger.warning(
                    "Request %s cannot be journalled (not serialisable): a kill would lose it",
                    request,
                )
        return added

    def close(self, reason: str) -> Deferred[None] | None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._trigger is not None:
            from twisted.internet import reactor  # the installed one

            reactor.removeSystemEventTrigger(self._trigger)
            self._trigger = None
        result = super().close(reason)
        self._close_journal(reason)
        return result

    def _reactor_stopping(self) -> None:
        """The reactor stops with the spider open (a second Ctrl-C): what was
        journalled is committed and the job marked stopped, for a resume."""
        self._trigger = None
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._close_journal("shutdown")

    def _close_journal(self, reason: str) -> None:
        if self.journal is None or self._closed:
            return
        self._closed = True
        assert self.stats is not None
        stats = dict(self.stats.get_stats())
        stats["finish_reason"] = reason
        self.journal.close(reason, _jsonable(stats))

    def _commit(self) -> None:
        assert self.journal is not None and self.stats is not None
        self.journal.commit(_jsonable(self.stats.get_stats()))

    def _restore(self, journal: RequestJournal, spider: Spider) -> None:
        seen = getattr(self.df, "add_seen", None)
        if seen is None:
            logger.warning(
                "The dupefilter %s cannot be given the journal's seen requests: "
                "pages may be fetched again",
                type(self.df).__name__,
            )
        else:
            seen(journal.seen())
        count = 0
        for request in journal.pending(spider):
            if not self._dqpush(request):
                self._mqpush(request)
            count += 1
        assert self.stats is not None
        self.stats.set_value("journal/requeued", count)
        lost = journal.unrecoverable()
        if lost:
            self.stats.set_value("journal/unrecoverable", lost)
        logger.info(
            "Resuming %s from %s: %d requests scheduled again%s",
            self._was,
            journal.directory,
            count,
            f", {lost} could not be (not serialisable)" if lost else "",
        )

    def _spider_opened(self, spider: Spider) -> None:
        """The run's earlier segments' counters, once the stats are open."""
        assert self.journal is not None and self.stats is not None
        if self.journal.resuming:
            carry_stats(self.journal.previous_stats, self.stats)
        self.stats.set_value("journal/segments", self.journal.segments)


def _jsonable(stats: dict[str, object]) -> dict[str, object]:
    return {
        k: v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
        for k, v in stats.items()
    }
