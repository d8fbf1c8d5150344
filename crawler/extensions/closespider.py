"""``CLOSESPIDER_PAGECOUNT`` (``--max-pages``) counting pages, not every download.

Scrapy's :class:`~scrapy.extensions.closespider.CloseSpider` counts each
``response_received``: the ``robots.txt`` its robots middleware fetches and the
sitemaps a crawl reads count as pages, so ``--max-pages 5`` could record two.
This subclass does not count responses to requests that are not pages: those
with ``meta[NOT_A_PAGE]`` (the site spider's ``robots.txt`` and sitemap
fetches) and those with Scrapy's ``NO_CALLBACK`` (the robots middleware's own
fetch, media downloads).  With a job directory, its counts are kept in the
request journal (:mod:`crawler.journal`): ``--max-pages`` counts the pages of
the whole run, across resumes.  Everything else is Scrapy's.  Enabled in place
of Scrapy's in ``crawler/settings.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.extensions.closespider import CloseSpider
from scrapy.http.request import NO_CALLBACK

from crawler.journal import RequestJournal

if TYPE_CHECKING:
    from typing import Any

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

#: Request meta key: ``True`` when the response is not a page (for ``--max-pages``).
NOT_A_PAGE = "not_a_page"


class PageCountCloseSpider(CloseSpider):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.crawler = crawler
        self._closing = False
        crawler.signals.connect(self._keep_counts, signal=signals.spider_opened)

    def _keep_counts(self) -> None:
        journal = RequestJournal.for_crawler(self.crawler)
        if journal is not None:
            journal.register_state("closespider", lambda: dict(self.counter), self._load)

    def _load(self, counts: Any) -> None:
        self.counter.update({str(k): int(v) for k, v in dict(counts).items()})

    def page_count(self, response: Response, request: Request, spider: Spider) -> None:
        if request.meta.get(NOT_A_PAGE) or request.callback is NO_CALLBACK:
            return
        limit = self.close_on["pagecount"]
        if limit and self.counter["pagecount"] >= limit:  # reached before a resume
            self.counter["pagecount"] += 1
            if not self._closing:
                self._closing = True
                self._close_spider("closespider_pagecount")
            return
        super().page_count(response, request, spider)
