"""The ``login`` spider: log in (through ``LoginMiddleware``) and save the session, nothing else.

``crawler login LOGIN_URL --username U --password-env VAR --save-cookies FILE``
runs it; so does ``scrapy crawl login -s CRAWLER_LOGIN_URL=... -a save_cookies=FILE``.
It requests no page: it waits for the login the middleware makes for every
crawl and then writes Scrapy's cookie jar as a Netscape cookies.txt file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Spider

from crawler.exceptions import ConfigError
from crawler.login.cookies import crawl_cookie_jar, save_cookies_txt
from crawler.login.middleware import find_login_middleware

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings


class LoginSpider(Spider):
    name = "login"
    custom_settings = {"CRAWLER_STORE_ENABLED": False}

    def __init__(self, save_cookies: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.save_cookies = save_cookies

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.apply_arguments(crawler.settings)
        return spider

    def apply_arguments(self, settings: BaseSettings) -> None:
        """No setting comes from the arguments, but the crawl needs a login to make:
        a :class:`~crawler.exceptions.ConfigError` without ``CRAWLER_LOGIN_URL``."""
        if not settings.get("CRAWLER_LOGIN_URL"):
            raise ConfigError("the login spider needs CRAWLER_LOGIN_URL and the login settings")

    @property
    def run_arguments(self) -> dict[str, Any]:
        return {"save_cookies": self.save_cookies}

    async def start(self) -> AsyncIterator[Request]:
        middleware = find_login_middleware(self.crawler)
        if middleware is None:
            self.logger.error("LoginMiddleware is not enabled: nothing logs in")
            return
        if await middleware.ensure_login() and self.save_cookies:
            count = save_cookies_txt(crawl_cookie_jar(self.crawler), self.save_cookies)
            self.crawler.stats.set_value("login/cookies_saved", count)
            self.logger.info("Saved %d cookies to %s", count, self.save_cookies)
        return
        yield  # an async generator that yields no request
