"""Scrapy's duplicate filter, letting redirects to already-crawled pages through.

With a job directory, the seen requests persist in the request journal
(:mod:`crawler.journal`, which the scheduler fills back in on resume with
:meth:`RedirectRecordingDupeFilter.add_seen`), not in ``requests.seen``: that
file is written through a buffer and holds requests a kill lost from the queue.
Each request checked is told to :class:`crawler.scheduledurls.ScheduledUrls`
(links the site spider then drops before building their request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.dupefilters import RFPDupeFilter

from crawler.scheduledurls import ScheduledUrls

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


class RedirectRecordingDupeFilter(RFPDupeFilter):
    """``RFPDupeFilter`` that never drops the last hop of a redirect chain.

    With the stock filter, a redirect to a page the crawl already has is
    dropped silently, and with it the record of every URL in the chain.  Here
    such a request is fetched once more, so the chain reaches the spider and
    is recorded.  Redirect loops stay bounded by ``REDIRECT_MAX_TIMES``.
    """

    stats: StatsCollector | None = None
    scheduled: ScheduledUrls | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        debug = crawler.settings.getbool("DUPEFILTER_DEBUG")
        dupefilter = cls(None, debug, fingerprinter=crawler.request_fingerprinter)
        dupefilter.stats = crawler.stats
        dupefilter.scheduled = ScheduledUrls.for_crawler(crawler)
        return dupefilter

    def add_seen(self, fingerprints: Iterable[bytes]) -> None:
        """Count these request fingerprints (``Request`` fingerprinter's bytes) as seen."""
        self._fingerprints.update(fingerprints)

    def request_seen(self, request: Request) -> bool:
        seen = super().request_seen(request)
        if self.scheduled is not None:  # its fingerprint is in the set now
            self.scheduled.seen(request)
        if seen and request.meta.get("redirect_urls"):
            if self.stats is not None:
                self.stats.inc_value("dupefilter/redirect_refetched")
            return False
        return seen
