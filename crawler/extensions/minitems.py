"""End a crawl that yields too few items with a finish reason that says so.

``CRAWLER_MIN_ITEMS = N`` (0, the default, turns this off): when the spider
goes idle with fewer than N items scraped (Scrapy's ``item_scraped_count``:
items that passed every pipeline, without the site spider's page records:
:func:`crawler.outcome.items_of`), the crawl closes with the finish reason
``no_items`` (none at all) or ``too_few_items``, which
:func:`crawler.outcome.judge` makes a failure (exit code 1), and one error names
the pages the crawl got for the spider (URL, status, title, whether it asks
for a password; not ``robots.txt`` or the login's own pages),
so a login that did not work or selectors that match nothing are not an empty
feed that looks fine.  Spiders that exist to yield items set it in their
``custom_settings``; ``-s CRAWLER_MIN_ITEMS=N`` sets it for any crawl.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.http import TextResponse
from scrapy.http.request import NO_CALLBACK

from crawler.login.form import has_password_field
from crawler.outcome import items_of

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

SAMPLE_PAGES = 3  # pages described in the error
_MAX_TITLE = 60


@dataclass(frozen=True)
class PageSeen:
    """What the error says about one page the crawl got."""

    url: str
    status: int
    title: str
    asks_password: bool

    def __str__(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.title:
            parts.append(repr(self.title))
        if self.asks_password:
            parts.append("asks for a password: did the login work?")
        return f"{self.url} ({', '.join(parts)})"


def page_seen(response: Response) -> PageSeen:
    title, asks_password = "", False
    if isinstance(response, TextResponse):
        title = " ".join((response.xpath("string(//title)").get() or "").split())
        if len(title) > _MAX_TITLE:
            title = title[: _MAX_TITLE - 3] + "..."
        asks_password = has_password_field(response.text)
    return PageSeen(response.url, response.status, title, asks_password)


class MinItems:
    """Closes an idle crawl with ``no_items`` / ``too_few_items`` below ``CRAWLER_MIN_ITEMS``."""

    def __init__(self, crawler: Crawler, min_items: int) -> None:
        self.crawler = crawler
        self.min_items = min_items
        self.pages = 0
        self.samples: list[PageSeen] = []
        self._reported = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        min_items = crawler.settings.getint("CRAWLER_MIN_ITEMS")  # checked by the add-on
        if min_items == 0:
            raise NotConfigured
        extension = cls(crawler, min_items)
        crawler.signals.connect(extension.response_received, signal=signals.response_received)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        return extension

    def response_received(self, response: Response, request: Request) -> None:
        if request.callback is NO_CALLBACK:  # a component's own request: robots.txt, the login
            return
        self.pages += 1
        if len(self.samples) < SAMPLE_PAGES:
            self.samples.append(page_seen(response))

    def spider_idle(self) -> None:
        assert self.crawler.stats is not None
        items = items_of(self.crawler.stats.get_stats())
        if items >= self.min_items:
            return
        reason = "no_items" if items == 0 else "too_few_items"
        if not self._reported:  # idle again after another handler kept the spider open
            self._reported = True
            logger.error(
                "The crawl yielded %d item%s, fewer than CRAWLER_MIN_ITEMS=%d: %s",
                items,
                "" if items == 1 else "s",
                self.min_items,
                self._pages_description(),
                extra={"spider": self.crawler.spider},
            )
        raise CloseSpider(reason)

    def _pages_description(self) -> str:
        if not self.pages:
            return "it got no page (see the errors above)"
        listed = "; ".join(str(page) for page in self.samples)
        if self.pages == 1:
            return f"it got 1 page: {listed}"
        shown = "" if self.pages <= len(self.samples) else f", the first {len(self.samples)}"
        return f"it got {self.pages} pages{shown}: {listed}"
