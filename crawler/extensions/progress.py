"""How far a crawl is: one live line on a terminal, or a log line every ``LOGSTATS_INTERVAL``.

Scrapy's :class:`~scrapy.extensions.logstats.LogStats` with a line that says
more, in its place (``EXTENSIONS`` in ``crawler/settings.py``); it still
records ``responses_per_minute`` and ``items_per_minute`` at the close.
``CRAWLER_PROGRESS`` (``crawler crawl --progress``) chooses what is shown:

* ``auto`` (the default): when standard error is a terminal, one line redrawn
  four times a second (:class:`crawler.terminal.LiveLine`, rich), log records
  printed whole above it, and the last state left on the screen at the end;
  otherwise as ``log``.  Also as ``log`` when the terminal cannot redraw a
  line (``TERM=dumb``: :attr:`~crawler.terminal.LiveLine.interactive`), and
  when a feed writes to standard output (``stdout:`` in ``FEEDS``) and that is
  a terminal too: its items would be printed into the line;
* ``log``: an INFO record every ``LOGSTATS_INTERVAL`` seconds (none at 0)::

      Progress: 412 pages (23.1/s), 1,203 queued, 2 renders, 3 errors, 0:00:18 elapsed

* ``off``: nothing (the stats at the close are still recorded).

The fields (:class:`Snapshot`):

* pages: page requests that got a response (``outcome/pages`` of
  :mod:`crawler.downloadermiddlewares.outcome`, else Scrapy's
  ``response_received_count``); in the last state, drawn when the engine has
  stopped, the pages the store holds for the run (``store/pages``, which the
  run's summary counts too: redirects are pages of their own there) when a
  store was written; for a spider with a ``progress`` property
  (``(done, total)``: ``crawler extract``'s URLs), ``done/total`` and a bar;
* the rate: pages a second over the last :data:`RATE_WINDOW` seconds, or
  since the previous log line when those are further apart;
* queued: requests in Scrapy's scheduler (its ``len``; at the close, 0 for a
  crawl that finished, else as last read before Scrapy closed the scheduler);
* renders: renders running in the browser pool
  (:attr:`crawler.browser.pool.BrowserPool.rendering`); left out when
  :class:`~crawler.browser.middleware.SeleniumMiddleware` is not enabled;
* errors: page responses with a status >= 400 plus page requests that ended
  with no response, after retries (``outcome/http_errors`` +
  ``outcome/no_response``; else every response >= 400 and download exception
  Scrapy counted);
* elapsed: since the spider opened.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from collections.abc import Sized
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.extensions.logstats import LogStats
from scrapy.utils.asyncio import create_looping_call

from crawler.outcome import HTTP_ERRORS_STAT, NO_RESPONSE_STAT, PAGES_STAT, STORED_PAGES_STAT

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.core.scheduler import BaseScheduler
    from scrapy.crawler import Crawler

    from crawler.browser.pool import BrowserPool
    from crawler.terminal import LiveLine

logger = logging.getLogger(__name__)

MODES = ("auto", "log", "off")  # CRAWLER_PROGRESS
RATE_WINDOW = 10.0  # seconds of pages the rate is taken over, at least
REDRAW_INTERVAL = 0.25  # seconds between redraws of the live line
_STATUS_PREFIX = "downloader/response_status_count/"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class Snapshot:
    """A crawl's progress at one moment (see the module's docstring)."""

    pages: int
    rate: float  # pages a second
    queued: int | None  # None: the scheduler has no len
    renders: int | None  # None: no browser pool
    errors: int
    elapsed: float  # seconds
    total: int | None = None  # pages to do, when the spider knows

    def line(self) -> str:
        """``412 pages (23.1/s), 1,203 queued, 2 renders, 3 errors, 0:00:18 elapsed``."""
        if self.total is None:
            pages = _count(self.pages, "page")
        else:
            pages = f"{self.pages:,}/{self.total:,} pages"
        parts = [f"{pages} ({self.rate:,.1f}/s)"]
        if self.queued is not None:
            parts.append(f"{self.queued:,} queued")
        if self.renders is not None:
            parts.append(_count(self.renders, "render"))
        parts.append(_count(self.errors, "error"))
        parts.append(f"{timedelta(seconds=int(self.elapsed))} elapsed")
        return ", ".join(parts)


class RateMeter:
    """Things a second over the last ``window`` seconds: samples of a running
    count are kept back to the newest one at least ``window`` old (or the first)."""

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, count: int) -> float:
        """Record ``count`` at ``now`` (seconds, monotonic) and return the rate."""
        self.samples.append((now, count))
        while len(self.samples) > 2 and self.samples[1][0] <= now - self.window:
            self.samples.popleft()
        then, before = self.samples[0]
        return (count - before) / (now - then) if now > then else 0.0


def count_errors(stats: dict[str, Any]) -> int:
    """Errors by the outcome middleware's counts when present (final fates,
    page requests only), else by Scrapy's (every attempt and request)."""
    if HTTP_ERRORS_STAT in stats:
        return int(stats.get(HTTP_ERRORS_STAT, 0)) + int(stats.get(NO_RESPONSE_STAT, 0))
    statuses = sum(
        int(n)
        for key, n in stats.items()
        if key.startswith(_STATUS_PREFIX) and key[len(_STATUS_PREFIX) :].isdigit()
        if int(key[len(_STATUS_PREFIX) :]) >= 400
    )
    return statuses + int(stats.get("downloader/exception_count", 0))


class Progress(LogStats):
    """The progress line: live on a terminal, else logged (see the module's docstring)."""

    def __init__(self, crawler: Crawler, *, interval: float, live: bool) -> None:
        """``interval``: seconds between log lines (0: none); ``live``: draw the line
        when the spider opens, if the terminal can redraw it (else log)."""
        assert crawler.stats is not None
        super().__init__(crawler.stats, interval or 60.0)  # LogStats divides by it
        self.crawler = crawler
        self.log_interval = interval  # 0: no log lines
        self.live = live
        self.meter = RateMeter()
        self.started = time.monotonic()
        self.line: LiveLine | None = None
        self.redraw: Any = None  # the live line's looping call
        # Found when the spider opens: the spider (its progress), the queue, the browsers
        self.spider: Spider | None = None
        self.scheduler: BaseScheduler | None = None
        self.pool: BrowserPool | None = None
        # The queue's length when last read, and whether the scheduler was closed since
        # (Scrapy closes it before spider_closed; a closed disk queue says 0).
        self.queued: int | None = None
        self.closed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        mode = crawler.settings.get("CRAWLER_PROGRESS")
        if mode not in MODES:
            raise NotConfigured(f"CRAWLER_PROGRESS is {mode!r}, not one of {', '.join(MODES)}")
        interval = crawler.settings.getfloat("LOGSTATS_INTERVAL")
        live = (
            mode == "auto"
            and sys.stderr.isatty()
            and not (sys.stdout.isatty() and feeds_to_stdout(crawler.settings.getdict("FEEDS")))
        )
        progress = cls(crawler, interval=0 if mode == "off" else interval, live=live)
        crawler.signals.connect(progress.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(progress.spider_closed, signal=signals.spider_closed)
        # The last state, drawn when everything is counted and stored (the spider's
        # close, the store's count); the line is taken down even when the spider
        # never opened or closed.
        crawler.signals.connect(progress.stop_line, signal=signals.engine_stopped)
        return progress

    def spider_opened(self, spider: Spider) -> None:
        self.started = time.monotonic()
        self.spider = spider
        assert self.crawler.engine is not None
        self.scheduler = self.crawler.engine.scheduler
        self.pool = _browser_pool(self.crawler)
        first = self.snapshot()
        if self.live:
            from crawler.terminal import LiveLine  # rich: only for a crawl that draws

            line = LiveLine(total=first.total)
            if line.interactive:  # else rich would show nothing until the end: log
                self.line = line
                line.start(first.line(), completed=first.pages)
                self.redraw = create_looping_call(self.draw)
                self.redraw.start(REDRAW_INTERVAL, now=False)
        log_to_terminal = self.line is not None and self.line.reroutes_log
        if self.log_interval and not log_to_terminal:  # the line says it already
            self.task = create_looping_call(self.log, spider)
            self.task.start(self.log_interval, now=False)

    def snapshot(self, *, final: bool = False) -> Snapshot:
        """The crawl's progress now (reads the stats, the scheduler, the pool);
        ``final``: the last state, with the pages as stored (see the module's docstring)."""
        stats = self.stats.get_stats()
        total = None
        progress = getattr(self.spider, "progress", None)
        if isinstance(progress, tuple) and len(progress) == 2:
            pages, total = int(progress[0]), int(progress[1])
        elif final and STORED_PAGES_STAT in stats:
            pages = int(stats[STORED_PAGES_STAT])
        elif PAGES_STAT in stats:
            pages = int(stats[PAGES_STAT])
        else:
            pages = int(stats.get("response_received_count", 0))
        now = time.monotonic()
        if not self.closed:
            self.queued = len(self.scheduler) if isinstance(self.scheduler, Sized) else None
        return Snapshot(
            pages=pages,
            rate=self.meter.add(now, pages),
            queued=self.queued,
            renders=self.pool.rendering if self.pool is not None else None,
            errors=count_errors(stats),
            elapsed=now - self.started,
            total=total,
        )

    def draw(self) -> None:
        if self.line is not None:
            state = self.snapshot()
            self.line.update(state.line(), completed=state.pages)

    def log(self, spider: Spider) -> None:
        logger.info("Progress: %s", self.snapshot().line(), extra={"spider": spider})

    def stop_line(self) -> None:
        """Draw the final state and take the live line down (idempotent)."""
        self.closed = True  # the scheduler is closed, or about to be
        if self.redraw is not None and self.redraw.running:
            self.redraw.stop()
        if self.line is not None:
            line, self.line = self.line, None
            state = self.snapshot(final=True)
            line.stop(state.line(), completed=state.pages)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        # The last state shows the queue as last read, empty when the crawl finished
        # (Scrapy closes an idle spider only when its scheduler has nothing left).
        # It is drawn at engine_stopped, after the other components' spider_closed.
        self.closed = True
        if reason == "finished" and self.queued is not None:
            self.queued = 0
        if self.redraw is not None and self.redraw.running:
            self.redraw.stop()
        self.draw()
        super().spider_closed(spider, reason)


def feeds_to_stdout(feeds: dict[Any, Any]) -> bool:
    """Whether one of Scrapy's ``FEEDS`` writes to standard output (a ``stdout:``
    URI: Scrapy's :class:`~scrapy.extensions.feedexport.StdoutFeedStorage`)."""
    return any(str(uri).lower().startswith("stdout:") for uri in feeds)


def _browser_pool(crawler: Crawler) -> BrowserPool | None:
    from crawler.browser.middleware import SeleniumMiddleware

    middleware = crawler.get_downloader_middleware(SeleniumMiddleware)
    return middleware.pool if middleware is not None else None
