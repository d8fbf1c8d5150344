"""scrapy-redis's duplicate filter, keyed by Scrapy's request fingerprinter.

scrapy-redis fingerprints a request by its own recipe (method, canonical URL,
body); here the crawl's ``REQUEST_FINGERPRINTER_CLASS``
(:class:`crawler.fingerprint.HashRouteFingerprinter`) decides, as in a crawl
without a frontier, and the set holds its 20-byte digests rather than 40 hex
digits.  As :class:`crawler.dupefilter.RedirectRecordingDupeFilter`, the last
hop of a redirect chain to a page already crawled is let through once, and
each request checked is told to :class:`crawler.scheduledurls.ScheduledUrls`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy_redis.dupefilter import RFPDupeFilter

from crawler.frontier.shared import connect
from crawler.scheduledurls import ScheduledUrls

if TYPE_CHECKING:
    from typing import Self

    from redis import Redis
    from scrapy import Request, Spider
    from scrapy.statscollectors import StatsCollector
    from scrapy.utils.request import RequestFingerprinterProtocol


class FrontierDupeFilter(RFPDupeFilter):
    """Seen fingerprints in the Redis set ``<CRAWLER_FRONTIER_PREFIX>:seen``."""

    def __init__(
        self,
        server: Redis,
        key: str,
        debug: bool = False,
        fingerprinter: RequestFingerprinterProtocol | None = None,
        stats: StatsCollector | None = None,
        scheduled: ScheduledUrls | None = None,
    ) -> None:
        super().__init__(server, key, debug)
        self.fingerprinter = fingerprinter
        self.stats = stats
        self.scheduled = scheduled

    @classmethod
    def from_spider(cls, spider: Spider) -> Self:
        """Called by scrapy-redis's scheduler when it opens."""
        crawler = spider.crawler
        settings = crawler.settings
        return cls(
            connect(settings["CRAWLER_FRONTIER"]),
            f"{settings['CRAWLER_FRONTIER_PREFIX']}:seen",
            settings.getbool("DUPEFILTER_DEBUG"),
            fingerprinter=crawler.request_fingerprinter,
            stats=crawler.stats,
            scheduled=ScheduledUrls.for_crawler(crawler),
        )

    def request_fingerprint(self, request: Request) -> bytes:  # type: ignore[override]
        assert self.fingerprinter is not None
        return self.fingerprinter.fingerprint(request)

    def request_seen(self, request: Request) -> bool:
        seen = bool(super().request_seen(request))
        if self.scheduled is not None:  # in the shared set for the rest of the crawl
            self.scheduled.seen(request)
        if seen and request.meta.get("redirect_urls"):
            if self.stats is not None:
                self.stats.inc_value("dupefilter/redirect_refetched")
            return False
        return seen

    def log(self, request: Request, spider: Spider) -> None:
        """scrapy-redis's log line, and Scrapy's ``dupefilter/filtered`` count."""
        super().log(request, spider)
        if self.stats is not None:
            self.stats.inc_value("dupefilter/filtered")

    def close(self, reason: str = "") -> None:
        """The seen set stays while other workers crawl (the last one deletes it)."""
