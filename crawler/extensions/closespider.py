"""``CLOSESPIDER_PAGECOUNT`` (``--max-pages``) counting pages, not every download.

Scrapy's :class:`~scrapy.extensions.closespider.CloseSpider` counts each
``response_received``: the ``robots.txt`` its robots middleware fetches and the
sitemaps a crawl reads count as pages, so ``--max-pages 5`` could record two.
This subclass does not count responses to requests that are not pages: those
with ``meta[NOT_A_PAGE]`` (the site spider's ``robots.txt`` and sitemap
fetches) and those with Scrapy's ``NO_CALLBACK`` (the robots middleware's own
fetch, media downloads).  Everything else is Scrapy's.  Enabled in place of
Scrapy's in ``crawler/settings.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.extensions.closespider import CloseSpider
from scrapy.http.request import NO_CALLBACK

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.http import Response

#: Request meta key: ``True`` when the response is not a page (for ``--max-pages``).
NOT_A_PAGE = "not_a_page"


class PageCountCloseSpider(CloseSpider):
    def page_count(self, response: Response, request: Request, spider: Spider) -> None:
        if request.meta.get(NOT_A_PAGE) or request.callback is NO_CALLBACK:
            return
        super().page_count(response, request, spider)
