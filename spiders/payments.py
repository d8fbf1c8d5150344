"""The ``payments`` spider: log in to the payments app and list the user's payments and total.

``scrapy crawl payments -a login_url=URL -a username=NAME -a password_env=VAR
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

The page is the index of the payments app of *Foundations of Python Network
Programming* (ch. 11), read by :func:`parse_lxml` or :func:`parse_bs4` (the
two libraries of the book's ``mscrape.py``), which depend on the HTML only
(so they are tested from saved pages) and give the same items; the spider
just fetches and routes.  A page with no payments on it (the login page, a
wrong ``index_url``) is an error that says what the page was, and the crawl
ends with the finish reason ``no_items`` (``CRAWLER_MIN_ITEMS`` is 1 here),
never as an empty feed that looks fine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import lxml.html
from scrapy import Request, Spider
from scrapy.http import TextResponse

from crawler.browser.rendered import is_rendered
from crawler.exceptions import ConfigError
from crawler.login.check import same_page
from crawler.login.form import has_password_field
from crawler.summary import table

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator
    from typing import Self

    from bs4 import Tag
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

PARSERS = ("lxml", "bs4")
DIRECTIONS = ("to", "from")
# What the <li> says before the counterparty's <b>: "$125 to".
_LEAD = re.compile(r"^\$(\d+) (to|from)$")
_ITEMS_XPATH = " | ".join(
    f"//li[contains(concat(' ', normalize-space(@class), ' '), ' {d} ')]" for d in DIRECTIONS
)
_ITEMS_CSS = ", ".join(f"li.{d}" for d in DIRECTIONS)
SHAPE = '<li class="to|from">$AMOUNT to|from <b>NAME</b> for: <i>MEMO</i></li>'


@dataclass(frozen=True)
class PaymentItem:
    """One payment as the logged-in user's index shows it."""

    direction: str  # "to": the user paid; "from": the user was paid
    amount: int  # whole dollars
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
    """An item of the page's payments list is not in the book's shape."""


def _squash(text: str) -> str:
    return " ".join(text.split())


def _item(classes: Iterable[str], lead: str, counterparty: str | None, memo: str) -> PaymentItem:
    """A payment from the parts of its ``<li>``: class, text before ``<b>``, ``<b>``, ``<i>``."""
    directions = [c for c in classes if c in DIRECTIONS]
    match = _LEAD.match(_squash(lead))
    if len(directions) != 1 or match is None or match[2] != directions[0] or not counterparty:
        raise PaymentsPageError(
            f"a payment item is not '{SHAPE}': class {' '.join(classes)!r}, "
            f"text before <b> {_squash(lead)[:60]!r}, <b> {counterparty!r}"
        )
    return PaymentItem(directions[0], int(match[1]), _squash(counterparty), _squash(memo))


def parse_lxml(html: str | bytes) -> list[PaymentItem]:
    """The payments of a page, in page order: every ``li.to`` and ``li.from``; ``[]`` if none.

    Raises :class:`PaymentsPageError` when such an item is not in the shape of :data:`SHAPE`.
    """
    doc = lxml.html.document_fromstring(html)
    items = []
    for li in doc.xpath(_ITEMS_XPATH):
        names = li.xpath("b[1]")
        memos = li.xpath("i[1]")
        items.append(
            _item(
                (li.get("class") or "").split(),
                "".join(li.xpath("b[1]/preceding-sibling::text()")),
                names[0].text_content() if names else None,
                memos[0].text_content() if memos else "",
            )
        )
    return items


def _lead_bs4(li: Tag) -> str:
    """The ``<li>``'s own text before its first ``<b>`` (comments left out, as lxml does)."""
    from bs4 import NavigableString

    parts = []
    for child in li.children:
        if getattr(child, "name", None) == "b":
            return "".join(parts)
        if type(child) is NavigableString:
            parts.append(str(child))
    return ""


def parse_bs4(html: str | bytes) -> list[PaymentItem]:
    """:func:`parse_lxml` with BeautifulSoup: the same items, the same errors."""
    # Imported here: Scrapy's spider loader imports this module for every crawl
    # of the project, and BeautifulSoup with soupsieve costs ~75 ms to import.
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    items = []
    for li in soup.select(_ITEMS_CSS):
        name = li.find("b", recursive=False)
        memo = li.find("i", recursive=False)
        items.append(
            _item(
                li.get("class") or [],
                _lead_bs4(li),
                name.get_text() if name is not None else None,
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
    custom_settings = {
        "CRAWLER_STORE_ENABLED": False,  # items, not pages: feeds take them
        "CRAWLER_MIN_ITEMS": 1,  # no payments: finish reason no_items, exit code 1
    }

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
            raise ConfigError("the payments spider needs -a login_url=URL -a username=NAME")
        if not password_env and not password_file:
            raise ConfigError(
                "the payments spider needs -a password_env=VAR (an environment variable "
                "holding the password) or -a password_file=FILE"
            )
        if fetch not in FETCH_MODES:
            raise ConfigError(f"fetch must be one of {', '.join(FETCH_MODES)}, not {fetch!r}")
        if parser not in PARSERS:
            raise ConfigError(f"parser must be one of {', '.join(PARSERS)}, not {parser!r}")
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
        spider.apply_arguments(crawler.settings)
        return spider

    def apply_arguments(self, settings: BaseSettings) -> None:
        """The arguments configure the login (settings are not frozen until the
        spider exists); the settings check runs the login's own check on them."""
        login = {
            "CRAWLER_LOGIN_URL": self.login_url,
            "CRAWLER_LOGIN_USERNAME": self.username,
            "CRAWLER_LOGIN_PASSWORD_ENV": self.password_env,
            "CRAWLER_LOGIN_PASSWORD_FILE": self.password_file,
            "CRAWLER_LOGIN_WITH": self.fetch,
        }
        for name, value in login.items():
            settings.set(name, value, priority="spider")

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
        how = "rendered" if is_rendered(response) else "HTTP"
        if not isinstance(response, TextResponse):
            kind = response.headers.get("Content-Type", b"").decode("latin-1") or "no content type"
            self.logger.error(
                "No payments on %s (%s): the page is not HTML (%s)", response.url, how, kind
            )
            return
        try:
            payments = get_parser(self.parser)(response.text)
        except PaymentsPageError as e:
            self.logger.error(
                "The payments on %s are not in the expected shape: %s", response.url, e
            )
            return
        if not payments:
            self.logger.error(
                "No payments on %s (%s): %s", response.url, how, self.describe(response)
            )
            return
        self.logger.info(
            "%d payments on %s (%s, %s)", len(payments), response.url, how, self.parser
        )
        yield from payments
        yield total(payments)

    def describe(self, response: TextResponse) -> str:
        """What a page without payments is, and what probably went wrong."""
        title = _squash(response.xpath("string(//title)").get() or "")
        title = title or _squash(response.xpath("string(//h1)").get() or "")
        page = f"the page is {title!r}" if title else "the page has no title"
        if same_page(response.url, self.login_url) or has_password_field(response.text):
            return f"{page} and asks for a password -- the login did not work?"
        return (
            f"{page} and has no {_ITEMS_CSS} item -- is index_url "
            "the payments index of the logged-in user?"
        )
