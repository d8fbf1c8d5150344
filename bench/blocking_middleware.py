"""The baseline the browser benchmark compares against: scrapy-selenium's design.

One WebDriver, created when the crawl starts and called from
``process_request`` on the reactor thread: while it renders, nothing else in
the crawl moves.  For measurement only; never use this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.http import HtmlResponse

from crawler.browser.config import BrowserConfig
from crawler.browser.driver import create_driver

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

    from crawler.browser.driver import DriverHandle


class BlockingSeleniumMiddleware:
    def __init__(self, handle: DriverHandle) -> None:
        self.handle = handle

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = cls(create_driver(BrowserConfig.from_settings(crawler.settings)))
        crawler.signals.connect(middleware.handle.close, signal=signals.spider_closed)
        return middleware

    def process_request(self, request: Request) -> HtmlResponse | None:
        if not request.meta.get("browser"):
            return None
        driver = self.handle.driver
        driver.get(request.url)  # blocks the reactor for the whole render
        return HtmlResponse(
            driver.current_url, body=driver.page_source, encoding="utf-8", request=request
        )
