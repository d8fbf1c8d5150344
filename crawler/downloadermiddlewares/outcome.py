"""Count what decides whether a crawl failed, and record the verdict in its stats.

The outermost downloader middleware (``DOWNLOADER_MIDDLEWARES`` order 10, in
``crawler/settings.py``), so it sees each request's final fate, after Scrapy's
retries (``RetryMiddleware`` gives up: the exception passes on) and redirects
(a redirect is a new request: only its last response passes on).  For every
page request (not those with ``meta[NOT_A_PAGE]``, the site spider's
``robots.txt`` and sitemaps, nor Scrapy's ``NO_CALLBACK`` ones: robots.txt,
the login's pages) it counts:

* ``outcome/pages``: the request got a response, any status;
* ``outcome/http_errors``: ... with a status >= 400;
* ``outcome/items``: items scraped that are not the site spider's page records;
* ``outcome/no_response``: URLs whose request ended with an exception
  (refused, timed out, DNS) and for which no response came later (the site
  spider asks for a page again over HTTP when its render failed); a request a
  component refused on purpose (``IgnoreRequest``: offsite, robots.txt) is not
  an error;
* a page request that ended with an exception an inner middleware raised in
  ``process_response`` (a redirect loop, a body too large once
  decompressed), which Scrapy passes to the errback without
  ``process_exception``: found when a crawl that ran out of requests closes
  (finish reason ``finished``) as a request that went in and never came out,
  and counted in ``outcome/no_response``;
* when the spider closes, for the start requests (Scrapy's
  ``is_start_request``) that ended with no response (``IgnoreRequest``
  included) or a status >= 400: ``outcome/start_url/url``, ``.../status`` or
  ``.../error`` (the first one) and ``outcome/start_urls_failed``.

With a job directory the counts are kept across a resume (the journal's
state), and are the run's: a page a resume fetches again (in flight when the
crawl stopped, or fetched after the journal's last commit) and its items are
counted once (the pages' URLs are a set the journal keeps,
:meth:`~crawler.journal.RequestJournal.remember`); ``outcome/started_at`` is
the first segment's start and ``outcome/elapsed_seconds`` the time the run's
segments crawled.  A worker of a shared crawl (``CRAWLER_FRONTIER``) judges
its own part without the thresholds on counts (``CRAWLER_MIN_PAGES``...): a
worker that got no page does not fail; the last worker judges the run.
When the spider closes, it records the verdict (:func:`crawler.outcome.judge`)
in the stats: ``outcome/status``, ``outcome/failed/<code>``,
``outcome/error_ratio``, and logs it in one INFO
line, ``Crawl outcome: failed (start_url_failed, no_pages): MESSAGE``
(:meth:`crawler.outcome.Verdict.log_line`), before Scrapy's ``Spider closed``
line: Scrapyd keeps only the log.  Its ``spider_closed``
handler is connected after the extensions' (Scrapy's ``CoreStats``) and
before the item pipelines', so the store's runs row keeps the verdict; a feed
that fails to be written after that (feeds are stored concurrently) is in the
command's verdict, exit code and outcome file only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http.request import NO_CALLBACK

from crawler.extensions.closespider import NOT_A_PAGE
from crawler.items import PageRecord
from crawler.journal import RequestJournal
from crawler.outcome import (
    ELAPSED_STAT,
    HTTP_ERRORS_STAT,
    ITEMS_STAT,
    NO_RESPONSE_STAT,
    PAGES_STAT,
    START_ERROR_STAT,
    START_FAILED_STAT,
    START_STATUS_STAT,
    START_URL_STAT,
    STARTED_AT_STAT,
    Criteria,
    error_counts,
    judge,
    record_verdict,
)
from crawler.redaction import redact_url

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

JOURNAL_STATE = "outcome"
_PAGES_SET = "pages"  # the journal's set of the URLs of the pages counted
_MAX_ERROR = 200  # characters of an exception's text kept
_COUNTS = (PAGES_STAT, HTTP_ERRORS_STAT, ITEMS_STAT)


def is_page(request: Request) -> bool:
    """Whether ``request`` is for a page (the rule of ``--max-pages``,
    :class:`crawler.extensions.closespider.PageCountCloseSpider`)."""
    return not request.meta.get(NOT_A_PAGE) and request.callback is not NO_CALLBACK


def describe_error(exception: BaseException) -> str:
    """``exception`` as a sentence of at most 200 characters.  Twisted's
    ``ResponseNeverReceived`` / ``ResponseFailed`` (the ``__cause__`` of Scrapy's
    ``DownloadFailedError``) hold their causes as a list of
    ``Failure`` objects (``reasons``): their exceptions are described instead,
    and a TLS error (``OpenSSL.SSL.Error``) as ``TLS handshake failed: ...``."""
    wrapped: BaseException | None = exception  # Scrapy's DownloadFailedError from it
    while wrapped is not None and not isinstance(getattr(wrapped, "reasons", None), list):
        wrapped = wrapped.__cause__
    reasons = getattr(wrapped, "reasons", None)
    if isinstance(reasons, list) and reasons:
        causes = [getattr(r, "value", r) for r in reasons]
        text = "; ".join(_describe_one(c) for c in causes if isinstance(c, BaseException))
    else:
        text = _describe_one(exception)
    text = " ".join(text.split()) or type(exception).__name__
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."


def _describe_one(exception: BaseException) -> str:
    if _is_tls_error(exception):
        # OpenSSL's error queue: [[(library, function, reason), ...]]
        queue = exception.args[0] if exception.args else []
        said = [str(e[-1]) for e in queue if isinstance(e, tuple) and e and e[-1]]
        detail = ", ".join(said) or str(exception)
        hint = " (is the port HTTPS?)" if "wrong version number" in detail else ""
        return f"TLS handshake failed: {detail}{hint}"
    return str(exception)


def _is_tls_error(exception: BaseException) -> bool:
    return any(
        cls.__name__ == "Error" and cls.__module__ == "OpenSSL.SSL"
        for cls in type(exception).__mro__
    )


class OutcomeMiddleware:
    def __init__(self, crawler: Crawler, criteria: Criteria) -> None:
        self.crawler = crawler
        self.criteria = criteria
        # With a job directory: the pages counted over the whole run (URLs), and
        # those counted before this resume, whose items were counted then too
        self.journal: RequestJournal | None = None
        self.counted: set[str] = set()
        self.before: frozenset[str] = frozenset()
        # The run's start (ISO-8601, UTC; the first segment's) and the seconds it
        # ran in the segments before this one
        self.started_at = datetime.now(UTC).isoformat()
        self.elapsed_before = 0.0
        self.segment_started = time.monotonic()
        # URL -> why it got no response, until a response for it comes after all
        # (the site spider asks again over HTTP when a render failed)
        self.no_response: dict[str, str] = {}
        # start URL asked for -> [final URL, HTTP status or None, error or None]
        self.start_failures: dict[str, list[Any]] = {}
        # page requests in the downloader's hands: (method, URL asked for) ->
        # (is a start request, redirects so far); see _dropped
        self.pending: dict[tuple[str, str], tuple[bool, int]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        criteria = Criteria.from_settings(crawler.settings)
        if crawler.settings.get("CRAWLER_FRONTIER"):
            # A worker of a shared crawl judges its own part: the thresholds on counts
            # are the run's, judged on every worker's counts by the last one to close
            # (crawler.pipelines.store, crawler.outcome.rejudge).
            criteria = replace(criteria, min_pages=0, min_items=0, max_error_ratio=1.0)
        middleware = cls(crawler, criteria)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(middleware.item_scraped, signal=signals.item_scraped)
        return middleware

    @property
    def stats(self) -> StatsCollector:
        assert self.crawler.stats is not None
        return self.crawler.stats

    def spider_opened(self) -> None:
        for key in (*_COUNTS, NO_RESPONSE_STAT):
            self.stats.set_value(key, 0)  # present: the counts were taken (crawler.outcome)
        self.segment_started = time.monotonic()
        journal = RequestJournal.for_crawler(self.crawler)
        if journal is not None:
            self.journal = journal
            # committed with the state below, in one transaction (RequestJournal.commit)
            self.before = frozenset(journal.remembered(JOURNAL_STATE).get(_PAGES_SET, ()))
            self.counted = set(self.before)
            journal.register_state(JOURNAL_STATE, self._dump, self._load)

    def _elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.segment_started

    def _dump(self) -> dict[str, Any]:
        counts = {key: self.stats.get_value(key, 0) for key in _COUNTS}
        return {
            **counts,
            "no_response": self.no_response,
            "start": self.start_failures,
            "started_at": self.started_at,
            "elapsed": round(self._elapsed(), 3),
        }

    def _load(self, saved: Any) -> None:
        saved = dict(saved)
        for key in _COUNTS:
            self.stats.set_value(key, int(saved.get(key, 0)))
        self.no_response = dict(saved.get("no_response", {}))
        self.start_failures = dict(saved.get("start", {}))
        self.stats.set_value(NO_RESPONSE_STAT, len(self.no_response))
        self.started_at = str(saved.get("started_at") or self.started_at)
        self.elapsed_before = float(saved.get("elapsed", 0.0))

    def item_scraped(self, item: Any, response: Response | None = None) -> None:
        if isinstance(item, PageRecord):
            return
        if response is not None and response.url in self.before:
            return  # a page counted before the resume, fetched again: its items too
        self.stats.inc_value(ITEMS_STAT)

    def _first_time(self, response: Response) -> bool:
        """Whether the page is counted: always without a job directory; with one,
        the first time in the run (a resume fetches again the pages in flight
        when the crawl stopped, or done since the last commit)."""
        if self.journal is None:
            return True
        if response.url in self.counted:
            return False
        self.counted.add(response.url)
        self.journal.remember(JOURNAL_STATE, _PAGES_SET, response.url)
        return True

    def process_request(self, request: Request) -> None:
        if is_page(request):
            redirects = len(request.meta.get("redirect_urls", ()))
            start = bool(request.meta.get("is_start_request"))
            self.pending[_key(request)] = (start, redirects)

    def process_response(self, request: Request, response: Response) -> Response:
        if not is_page(request):
            return response
        self.pending.pop(_key(request), None)
        first = self._first_time(response)
        if first:
            self.stats.inc_value(PAGES_STAT)
        if self.no_response.pop(request.url, None) is not None:
            self.stats.set_value(NO_RESPONSE_STAT, len(self.no_response))
        failed = response.status >= 400
        if failed and first:
            self.stats.inc_value(HTTP_ERRORS_STAT)
        if request.meta.get("is_start_request"):
            if failed:
                self._start_failed(request, response.status, None)
            else:
                self.start_failures.pop(_asked_for(request), None)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        if not is_page(request):
            return
        self.pending.pop(_key(request), None)
        if not isinstance(exception, IgnoreRequest):
            self.no_response[request.url] = describe_error(exception)
            self.stats.set_value(NO_RESPONSE_STAT, len(self.no_response))
        if request.meta.get("is_start_request"):
            self._start_failed(request, None, describe_error(exception))

    def _start_failed(self, request: Request, status: int | None, error: str | None) -> None:
        self.start_failures[_asked_for(request)] = [request.url, status, error]

    def _dropped(self) -> None:
        """Page requests that left the downloader unseen after a crawl that ran out of
        requests: an inner middleware raised in ``process_response``, which Scrapy
        hands to the errback without ``process_exception`` (a redirect loop at
        ``REDIRECT_MAX_TIMES``, a body too large once decompressed).  They got no page."""
        for (_, url), (start, redirects) in self.pending.items():
            if redirects:
                error = f"still redirected after {redirects} redirects (a redirect loop?)"
            else:
                error = "its response was dropped after the download (see the log)"
            self.no_response.setdefault(url, error)
            if start:
                self.start_failures.setdefault(url, [url, None, error])
        self.pending.clear()
        self.stats.set_value(NO_RESPONSE_STAT, len(self.no_response))

    def spider_closed(self, reason: str) -> None:
        if reason == "finished":  # nothing was in flight
            self._dropped()
        if self.start_failures:
            url, (_, status, error) = next(iter(self.start_failures.items()))
            self.stats.set_value(START_URL_STAT, redact_url(url))
            self.stats.set_value(
                START_STATUS_STAT if error is None else START_ERROR_STAT, status or error
            )
            self.stats.set_value(START_FAILED_STAT, len(self.start_failures))
        self.stats.set_value(STARTED_AT_STAT, self.started_at)
        self.stats.set_value(ELAPSED_STAT, round(self._elapsed(), 3))
        stats = self.stats.get_stats()
        verdict = judge(stats, self.criteria, finish_reason=reason)
        record_verdict(self.stats, verdict, error_counts(stats)[2])
        # One line a reader of the log alone finds (Scrapyd: crawler.scrapyd)
        logger.info("%s", verdict.log_line(), extra={"spider": self.crawler.spider})


def _key(request: Request) -> tuple[str, str]:
    return request.method, _asked_for(request)


def _asked_for(request: Request) -> str:
    """The URL a request was first made for, before redirects."""
    return str(request.meta.get("redirect_urls", [request.url])[0])
