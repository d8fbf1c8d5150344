"""robots.txt ``Crawl-delay``, obeyed per host: never faster than the site asks.

Scrapy's ``RobotsTxtMiddleware`` obeys ``Allow``/``Disallow`` only, though its
parser reads ``Crawl-delay`` (``RobotParser.crawl_delay``, Scrapy 2.18; Protego
underneath) and each parsed robots.txt is announced by the ``robots_parsed``
signal.  :class:`CrawlDelayMiddleware` keeps the delay each robots.txt asks of
our user agent (``ROBOTSTXT_USER_AGENT``, else the request's ``User-Agent``,
else ``USER_AGENT``, as the robots.txt middleware chooses), cut to
``CRAWLER_MAX_CRAWL_DELAY`` seconds, and before every request to that
``scheme://host:port`` makes the request's downloader slot at least that slow:
``slot.delay`` is raised to the crawl delay and ``slot.jitter`` narrowed so that
the random variation of ``DOWNLOAD_DELAY_JITTER`` (±50% by default) never
shortens a wait below it.  A slot already slower is left alone.

It sits after ``RobotsTxtMiddleware`` (100) and before the browser middleware
(950), so rendered requests, which :mod:`crawler.browser.politeness` spaces by
the same slot, obey it too.  AutoThrottle lowers a slot's delay after each
response (``response_downloaded``); the floor is put back in the same signal,
before the slot's next request starts.  Off (``NotConfigured``) without
``ROBOTSTXT_OBEY`` (``--ignore-robots``) or with ``CRAWLER_MAX_CRAWL_DELAY = 0``.

Stats: ``crawler/crawl_delay/hosts`` (robots.txt files with a ``Crawl-delay``
for us), ``crawler/crawl_delay/capped`` (of those, cut to the maximum).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)


def slow_down(slot: Slot, delay: float) -> bool:
    """Make ``slot`` wait at least ``delay`` seconds between requests, whatever its
    jitter draws (``Slot.download_delay``: ``slot.delay * (1 ± jitter)``); True
    if it had to change."""
    if slot.delay * (1 - slot.jitter) >= delay:
        return False
    slot.delay = max(slot.delay, delay)
    slot.jitter = max(0.0, min(slot.jitter, 1 - delay / slot.delay))
    return True


class CrawlDelayMiddleware:
    def __init__(self, crawler: Crawler, max_delay: float) -> None:
        self.crawler = crawler
        self.max_delay = max_delay
        settings = crawler.settings
        self._user_agent: str = settings.get("ROBOTSTXT_USER_AGENT") or ""
        self._default_user_agent: str = settings.get("USER_AGENT") or ""
        self.delays: dict[str, float] = {}  # "scheme://host:port" -> seconds

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured("robots.txt is not obeyed (ROBOTSTXT_OBEY), nor its Crawl-delay")
        max_delay = settings.getfloat("CRAWLER_MAX_CRAWL_DELAY")
        if max_delay <= 0:
            raise NotConfigured("Crawl-delay is ignored (CRAWLER_MAX_CRAWL_DELAY=0)")
        middleware = cls(crawler, max_delay)
        crawler.signals.connect(middleware.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(middleware.response_downloaded, signal=signals.response_downloaded)
        return middleware

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        user_agent: str | bytes = (
            self._user_agent or request.headers.get(b"User-Agent") or self._default_user_agent
        )
        asked = robotparser.crawl_delay(user_agent)
        if not asked or asked <= 0:
            return
        delay = min(asked, self.max_delay)
        origin = _origin(request)
        self.delays[origin] = delay
        stats = self.crawler.stats
        stats.inc_value("crawler/crawl_delay/hosts")
        if delay < asked:
            stats.inc_value("crawler/crawl_delay/capped")
            logger.warning(
                "robots.txt of %s asks for a Crawl-delay of %g s; waiting %g s "
                "(CRAWLER_MAX_CRAWL_DELAY)",
                origin,
                asked,
                delay,
            )
        else:
            logger.info("Obeying the Crawl-delay of %s: %g s between requests", origin, delay)

    def process_request(self, request: Request) -> None:
        self._slow_down(request)

    def response_downloaded(self, response: Response, request: Request) -> None:
        self._slow_down(request)  # after AutoThrottle's adjustment, if it is on

    def _slow_down(self, request: Request) -> None:
        if not self.delays:
            return
        delay = self.delays.get(_origin(request))
        engine = self.crawler.engine
        if delay is None or engine is None or engine.downloader is None:
            return
        # The same call the downloader (and crawler.browser.politeness) makes:
        # the request's slot, created with the slot's settings if it is new.
        _, slot = engine.downloader._get_slot(request)
        slow_down(slot, delay)


def _origin(request: Request) -> str:
    parts = urlparse_cached(request)
    return f"{parts.scheme}://{parts.netloc}"
