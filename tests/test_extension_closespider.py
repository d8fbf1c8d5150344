"""``--max-pages`` counts pages: robots.txt and sitemap downloads do not use it up."""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.test import get_crawler

from crawler.extensions.closespider import NOT_A_PAGE, PageCountCloseSpider


def _extension(pages: int) -> tuple[PageCountCloseSpider, list[str]]:
    crawler = get_crawler(Spider, {"CLOSESPIDER_PAGECOUNT": pages})
    extension = PageCountCloseSpider.from_crawler(crawler)
    closed: list[str] = []
    extension._close_spider = closed.append  # type: ignore[method-assign]
    return extension, closed


def _count(extension: PageCountCloseSpider, request: Request) -> None:
    extension.page_count(Response(request.url, request=request), request, Spider("s"))


def test_robots_txt_and_sitemaps_are_not_pages() -> None:
    extension, closed = _extension(2)
    _count(extension, Request("http://x/", callback=lambda r: None))
    _count(extension, Request("http://x/robots.txt", callback=NO_CALLBACK))
    _count(extension, Request("http://x/sitemap.xml", meta={NOT_A_PAGE: True}))
    _count(extension, Request("http://x/robots.txt", meta={NOT_A_PAGE: True}))
    assert closed == []
    _count(extension, Request("http://x/a"))
    assert closed == ["closespider_pagecount"]


def test_it_replaces_scrapys_extension_in_the_project_settings() -> None:
    from crawler import settings

    assert settings.EXTENSIONS["scrapy.extensions.closespider.CloseSpider"] is None
    assert settings.EXTENSIONS["crawler.extensions.closespider.PageCountCloseSpider"] == 0
