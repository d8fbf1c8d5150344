"""The ``payments`` spider: log in to the payments app and list the user's payments and total.

``scrapy crawl payments -a login_url=URL -a username=alice -a password_env=VAR
[-a password_file=FILE] [-a fetch=http|browser] [-a parser=lxml|bs4]
[-a index_url=URL]`` yields one :class:`PaymentItem` per
payment and one :class:`PaymentsTotal`.

It logs in through :class:`~crawler.login.middleware.LoginMiddleware` rather
than with requests of its own: the arguments become the ``CRAWLER_LOGIN_*``
settings, so this spider gets the same CSRF handling, success checks,
re-login on expiry, logout blocking and secret masking as every other crawl,
and is only left to fetch the index and parse it.  ``fetch`` chooses how both
happen: ``http`` logs in with a form post and downloads the index; ``browser``
logs in by typing into the page and renders the index in Chromium.

The page itself is read by :func:`parse_lxml` or :func:`parse_bs4`, which
depend on the HTML only (so they are tested from saved pages); the spider
just fetches and routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import lxml.html
from bs4 import BeautifulSoup
from scrapy import Request, Spider
from scrapy.exceptions import UsageError

from crawler.summary import table

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

PARSERS = ("lxml", "bs4")
DIRECTIONS = ("to", "from")
_OWN_TEXT = re.compile(r"^(\d+)\s+(to|from)\s+(\S+)$")


@dataclass(frozen=True)
class PaymentItem:
    """One payment as the logged-in user's index shows it."""

    direction: str  # "to": the user paid; "from": the user was paid
    amount: int
    counterparty: str
    memo: str

    @property
    def signed_amount(self) -> int:
        return self.amount if self.direction == "from" else -self.amount


@dataclass(frozen=True)
class PaymentsTotal:
    """What came in minus what went out, over ``payments`` payments."""

    payments: int
    total: int


class PaymentsPageError(ValueError):
    """The page has no payments list, or an item of it is not in the expected shape."""


def _squash(text: str) -> str:
    return " ".join(text.split())


def _item(direction: str, own_text: str, memo: str) -> PaymentItem:
    match = _OWN_TEXT.match(_squash(own_text))
    if direction not in DIRECTIONS or match is None or match[2] != direction:
        raise PaymentsPageError(
            f"a payment item is not '<li class=\"to|from\">AMOUNT to|from NAME <i>MEMO</i>': "
            f"class {direction!r}, text {own_text.strip()[:60]!r}"
        )
    return PaymentItem(direction, int(match[1]), match[3], _squash(memo))


def parse_lxml(html: str | bytes) -> list[PaymentItem]:
    doc = lxml.html.fromstring(html)
    lists = doc.xpath("//ul[contains(concat(' ', normalize-space(@class), ' '), ' payments ')]")
    if not lists:
        raise PaymentsPageError('the page has no <ul class="payments">')
    return [
        _item(
            li.get("class", "").strip(),
            " ".join(li.xpath("text()")),
            li.xpath("string(i)"),
        )
        for li in lists[0].xpath("li")
    ]


def parse_bs4(html: str | bytes) -> list[PaymentItem]:
    soup = BeautifulSoup(html, "lxml")
    payments = soup.select_one("ul.payments")
    if payments is None:
        raise PaymentsPageError('the page has no <ul class="payments">')
    items = []
    for li in payments.find_all("li", recursive=False):
        memo = li.find("i")
        items.append(
            _item(
                " ".join(li.get("class") or []),
                " ".join(li.find_all(string=True, recursive=False)),
                memo.get_text() if memo is not None else "",
            )
        )
    return items


def get_parser(name: str) -> Callable[[str | bytes], list[PaymentItem]]:
    if name == "lxml":
        return parse_lxml
    if name == "bs4":
        return parse_bs4
    raise ValueError(f"parser must be one of {', '.join(PARSERS)}, not {name!r}")


def total(payments: Iterable[PaymentItem]) -> PaymentsTotal:
    items = list(payments)
    return PaymentsTotal(payments=len(items), total=sum(p.signed_amount for p in items))


def payments_table(payments: Iterable[PaymentItem], summary: PaymentsTotal | None = None) -> str:
    """The payments as a small text table, with the total under it."""
    items = list(payments)
    summary = summary or total(items)
    rows = [(p.direction, p.amount, p.counterparty, p.memo or "-") for p in items]
    return (
        table(["direction", "amount", "counterparty", "memo"], rows)
        + f"\n\nTotal of {summary.payments} payments: {summary.total:+d}"
    )


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
