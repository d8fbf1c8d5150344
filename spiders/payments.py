"""The ``payments`` spider: log in to the payments app and list the user's payments and total.

``scrapy crawl payments -a login_url=URL -a username=alice -a password_env=VAR
[-a password_file=FILE] [-a fetch=http|browser] [-a parser=lxml|bs4]
[-a index_url=URL]`` yields one :class:`~crawler.payments.PaymentItem` per
payment and one :class:`~crawler.payments.PaymentsTotal`.

It logs in through :class:`~crawler.login.middleware.LoginMiddleware` rather
than with requests of its own: the arguments become the ``CRAWLER_LOGIN_*``
settings, so this spider gets the same CSRF handling, success checks,
re-login on expiry, logout blocking and secret masking as every other crawl,
and is only left to fetch the index and parse it.  ``fetch`` chooses how both
happen: ``http`` logs in with a form post and downloads the index; ``browser``
logs in by typing into the page and renders the index in Chromium.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from scrapy import Request, Spider
from scrapy.exceptions import UsageError

from crawler.payments import PARSERS, get_parser, total

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.payments import PaymentItem, PaymentsTotal

FETCH_MODES = ("http", "browser")


class PaymentsSpider(Spider):
    name = "payments"
    custom_settings = {"CRAWLER_STORE_ENABLED": False}  # items, not pages: feeds take them

    def __init__(
        self,
        login_url: str | None = None,
        username: str | None = None,
        password_env: str | None = None,
        password_file: str | None = None,
        fetch: str = "http",
        parser: str = "lxml",
        index_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not login_url or not username:
            raise UsageError("the payments spider needs -a login_url=URL -a username=NAME")
        if not password_env and not password_file:
            raise UsageError(
                "the payments spider needs -a password_env=VAR (an environment variable "
                "holding the password) or -a password_file=FILE"
            )
        if fetch not in FETCH_MODES:
            raise UsageError(f"fetch must be one of {', '.join(FETCH_MODES)}, not {fetch!r}")
        if parser not in PARSERS:
            raise UsageError(f"parser must be one of {', '.join(PARSERS)}, not {parser!r}")
        self.login_url = login_url
        self.username = username
        self.password_env = password_env
        self.password_file = password_file
        self.fetch = fetch
        self.parser = parser
        self.index_url = index_url or urljoin(login_url, "./")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # Settings are not frozen until the spider exists: the arguments configure the login.
        login = {
            "CRAWLER_LOGIN_URL": spider.login_url,
            "CRAWLER_LOGIN_USERNAME": spider.username,
            "CRAWLER_LOGIN_PASSWORD_ENV": spider.password_env,
            "CRAWLER_LOGIN_PASSWORD_FILE": spider.password_file,
            "CRAWLER_LOGIN_WITH": spider.fetch,
        }
        for name, value in login.items():
            crawler.settings.set(name, value, priority="spider")
        return spider

    @property
    def run_arguments(self) -> dict[str, Any]:
        return {
            "login_url": self.login_url,
            "username": self.username,
            "fetch": self.fetch,
            "parser": self.parser,
            "index_url": self.index_url,
        }

    async def start(self) -> AsyncIterator[Request]:
        yield Request(
            self.index_url,
            callback=self.parse,
            meta={"browser": self.fetch == "browser"},
            dont_filter=True,
        )

    def parse(self, response: Response) -> Iterator[PaymentItem | PaymentsTotal]:
        payments = get_parser(self.parser)(response.text)
        self.logger.info(
            "%d payments on %s (%s, %s)",
            len(payments),
            response.url,
            "rendered" if response.meta.get("rendered") else "HTTP",
            self.parser,
        )
        yield from payments
        yield total(payments)
