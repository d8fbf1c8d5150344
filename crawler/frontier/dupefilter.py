"""scrapy-redis's duplicate filter, keyed by Scrapy's request fingerprinter.

scrapy-redis fingerprints a request by its own recipe (method, canonical URL,
body); here the crawl's ``REQUEST_FINGERPRINTER_CLASS``
(:class:`crawler.fingerprint.HashRouteFingerprinter`) decides, as in a crawl
without a frontier, and the set holds its 20-byte digests rather than 40 hex
digits.  As :class:`crawler.dupefilter.RedirectRecordingDupeFilter`, the last
hop of a redirect chain to a page already crawled is let through once, and
each request checked is told to :class:`crawler.scheduledurls.ScheduledUrls`.

A fingerprint in the shared set stays there until the crawl finishes (nothing
removes one before: :meth:`crawler.frontier.shared.SharedCrawl.close`), so this
process remembers the last ``CRAWLER_FRONTIER_SEEN_CACHE`` fingerprints it
added or found there, least recently used first out, and answers "seen" for
them without asking Redis: most links of a page lead to pages already seen.
A fingerprint it forgot is asked again (one ``SADD``), so the answer is the
same either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy_redis.dupefilter import RFPDupeFilter

from crawler.frontier.shared import connect
from crawler.scheduledurls import ScheduledUrls
from crawler.utils.lru import Lru

if TYPE_CHECKING:
    from typing import Self

    from redis import Redis
    from scrapy import Request, Spider
    from scrapy.statscollectors import StatsCollector
    from scrapy.utils.request import RequestFingerprinterProtocol


class FrontierDupeFilter(RFPDupeFilter):
    """Seen fingerprints in the Redis set ``<CRAWLER_FRONTIER_PREFIX>:seen``.

    ``cache_size``: how many fingerprints known to be in that set this process
    remembers (0: none, every request asks Redis).  Stats:
    ``frontier/seen_cache/hits`` (requests found seen without a round trip).
    """

    def __init__(
        self,
        server: Redis,
        key: str,
        debug: bool = False,
        fingerprinter: RequestFingerprinterProtocol | None = None,
        stats: StatsCollector | None = None,
        cache_size: int = 0,
        scheduled: ScheduledUrls | None = None,
    ) -> None:
        super().__init__(server, key, debug)
        self.fingerprinter = fingerprinter
        self.stats = stats
        self.cache_size = cache_size
        # fingerprints in the set (None: remember none)
        self._known: Lru[bytes, bool] | None = Lru(cache_size) if cache_size > 0 else None
        self.scheduled = scheduled

    @classmethod
    def from_spider(cls, spider: Spider) -> Self:
        """Called by scrapy-redis's scheduler when it opens."""
        crawler = spider.crawler
        settings = crawler.settings
        return cls(
            connect(
                settings["CRAWLER_FRONTIER"], settings.getfloat("CRAWLER_FRONTIER_SOCKET_TIMEOUT")
            ),
            f"{settings['CRAWLER_FRONTIER_PREFIX']}:seen",
            settings.getbool("DUPEFILTER_DEBUG"),
            fingerprinter=crawler.request_fingerprinter,
            stats=crawler.stats,
            cache_size=settings.getint("CRAWLER_FRONTIER_SEEN_CACHE"),
            scheduled=ScheduledUrls.for_crawler(crawler),
        )

    def request_fingerprint(self, request: Request) -> bytes:  # type: ignore[override]
        assert self.fingerprinter is not None
        return self.fingerprinter.fingerprint(request)

    def known(self, fingerprint: bytes) -> bool:
        """Whether ``fingerprint`` is certainly in the shared set (remembered here)."""
        if self._known is None or self._known.get(fingerprint) is None:
            return False
        if self.stats is not None:
            self.stats.inc_value("frontier/seen_cache/hits")
        return True

    def remember(self, fingerprint: bytes) -> None:
        """``fingerprint`` is in the shared set now (added or found there)."""
        if self._known is not None:
            self._known.put(fingerprint, True)

    def request_seen(self, request: Request) -> bool:
        fingerprint = self.request_fingerprint(request)
        if self.known(fingerprint):
            added = False
        else:
            added = bool(self.server.sadd(self.key, fingerprint))
            self.remember(fingerprint)
        return self.seen_after(request, added)

    def seen_after(self, request: Request, added: bool) -> bool:
        """What :meth:`request_seen` answers once the request's fingerprint was
        ``added`` to the set (``False``: it was there already)."""
        if self.scheduled is not None:  # in the shared set for the rest of the crawl
            self.scheduled.seen(request)
        if added:
            return False
        if request.meta.get("redirect_urls"):
            if self.stats is not None:
                self.stats.inc_value("dupefilter/redirect_refetched")
            return False
        return True

    def log(self, request: Request, spider: Spider) -> None:
        """scrapy-redis's log line, and Scrapy's ``dupefilter/filtered`` count."""
        super().log(request, spider)
        if self.stats is not None:
            self.stats.inc_value("dupefilter/filtered")

    def close(self, reason: str = "") -> None:
        """The seen set stays while other workers crawl (the last one deletes it)."""
