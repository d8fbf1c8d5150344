"""Scrapy's duplicate filter, letting redirects to already-crawled pages through."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.dupefilters import RFPDupeFilter

if TYPE_CHECKING:
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

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        dupefilter = super().from_crawler(crawler)
        dupefilter.stats = crawler.stats
        return dupefilter

    def request_seen(self, request: Request) -> bool:
        seen = super().request_seen(request)
        if seen and request.meta.get("redirect_urls"):
            if self.stats is not None:
                self.stats.inc_value("dupefilter/redirect_refetched")
            return False
        return seen
