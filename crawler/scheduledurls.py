"""URLs whose page requests certainly went through the duplicate filter: links to drop early.

A site's pages link to the same pages again and again (its menu, a catalogue's
pager): on the benchmark catalogue 10 of each page's 11 links are requests the
crawl already made.  Each would be built, pass the spider middlewares, the
engine's ``request_scheduled`` signal and the scheduler, and be thrown away by
the duplicate filter.  :class:`ScheduledUrls` lets the spider drop such a link
before its request is built (``spiders/site.py``), with the same result.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

from scrapy.utils.misc import load_object
from scrapy.utils.request import RequestFingerprinter

from crawler.fingerprint import HASH_ROUTE_META_KEY, HashRouteFingerprinter
from crawler.utils.lru import Lru

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: URLs remembered (least recently used forgotten first): about 240 bytes each
#: with a URL of 55 characters, key and order included (tracemalloc), 8 MB in all.
SIZE = 32_000

#: Fingerprinters whose fingerprint of a GET request without a body is a function
#: of its URL and ``meta["hash_route"]`` alone (the others are unknown: the rule
#: below could not hold, and the component is off).
_KNOWN_FINGERPRINTERS = (RequestFingerprinter, HashRouteFingerprinter)

_instances: weakref.WeakKeyDictionary[Crawler, ScheduledUrls | None] = weakref.WeakKeyDictionary()


class ScheduledUrls:
    """Page URLs the duplicate filter certainly holds the fingerprint of.

    The rule: a request's URL is remembered when the duplicate filter has just
    checked it (``request_seen``: its fingerprint is then in the filter's set,
    and a set of seen requests only grows during a crawl: Scrapy's
    ``RFPDupeFilter``, and the shared Redis set of :mod:`crawler.frontier`,
    which a worker never removes from), and only if the fingerprint is a
    function of what is remembered: a ``GET`` without a body, not
    ``meta["verbatim_url"]``, fingerprinted by Scrapy's ``RequestFingerprinter``
    or :class:`~crawler.fingerprint.HashRouteFingerprinter` (method, canonical
    URL, body; the fragment too with ``meta["hash_route"]``, which is part of
    the key).  A later request with that URL and ``hash_route`` flag, built the
    same way (a ``GET`` without a body; its URL as :class:`~crawler.pagerequest.
    PageRequest` makes it safe), has the same fingerprint: the filter would drop
    it (``dont_filter`` requests skip it and are never dropped early).  A link
    that is not here goes the usual way: a request the spider middlewares drop
    (Scrapy's depth and URL length limits) never reaches the filter and is not
    remembered, so a link too deep once is requested when found again shallower.

    Bounded: the :data:`SIZE` URLs used last are kept (a forgotten one is a
    miss).  Starts empty, also when a job directory is resumed.

    :meth:`for_crawler` gives the crawler's instance (``None`` when
    ``CRAWLER_DROP_SCHEDULED_LINKS`` is off, when Scrapy's ``DUPEFILTER_DEBUG``
    is on: a link dropped here would never reach the filter's "Filtered
    duplicate request" line, or when the fingerprinter is another one); the
    duplicate filters (:mod:`crawler.dupefilter`,
    :mod:`crawler.frontier.dupefilter`) call :meth:`seen` and the site spider
    :meth:`holds`.
    """

    __slots__ = ("__weakref__", "_urls", "size")

    def __init__(self, size: int = SIZE) -> None:
        if size < 1:
            raise ValueError(f"ScheduledUrls holds at least 1 URL, not {size}")
        self.size = size
        # (safe URL, meta["hash_route"]) -> True, least recently used dropped
        self._urls: Lru[tuple[str, bool], bool] = Lru(size)

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> ScheduledUrls | None:
        """The crawler's instance (one per crawler), or ``None`` when off."""
        if crawler not in _instances:
            instance: ScheduledUrls | None = None
            if crawler.settings.getbool("DUPEFILTER_DEBUG"):
                # Every duplicate must reach the filter to be logged (Scrapy's
                # RFPDupeFilter.log, scrapy-redis's): no early drop.
                logger.info(
                    "DUPEFILTER_DEBUG is on: already scheduled links are requested and "
                    "left to the duplicate filter, which logs each one "
                    "(CRAWLER_DROP_SCHEDULED_LINKS is off)"
                )
            elif crawler.settings.getbool("CRAWLER_DROP_SCHEDULED_LINKS"):
                # The class, as Scrapy loads it: the instance does not exist yet
                # when the spider is built.
                fingerprinter = load_object(crawler.settings["REQUEST_FINGERPRINTER_CLASS"])
                if fingerprinter in _KNOWN_FINGERPRINTERS:
                    instance = cls()
                else:
                    logger.info(
                        "Already scheduled links are requested again and left to the "
                        "duplicate filter: the fingerprinter %s is not one whose "
                        "fingerprints CRAWLER_DROP_SCHEDULED_LINKS can predict",
                        fingerprinter.__name__,
                    )
            _instances[crawler] = instance
        return _instances[crawler]

    def seen(self, request: Request) -> None:
        """The duplicate filter has checked ``request``: its fingerprint is in the set."""
        if request.method != "GET" or request.body:
            return
        meta = request.meta
        if meta.get("verbatim_url"):
            return
        self._urls.put((request.url, bool(meta.get(HASH_ROUTE_META_KEY))), True)

    def holds(self, safe_url: str, hash_route: bool = False) -> bool:
        """Whether a ``GET`` request without a body for ``safe_url`` (already made
        safe, as ``Request.url`` is), with ``meta["hash_route"]`` as given, would
        certainly be dropped by the duplicate filter."""
        return self._urls.get((safe_url, hash_route)) is not None

    def __len__(self) -> int:
        return len(self._urls)
