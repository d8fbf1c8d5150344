"""The one-off extraction spider: fetch a list of URLs and extract items from each.

``crawler extract`` runs it; from Scrapy it is::

    scrapy crawl extract -a url=https://example.org/a -a spec=product.yaml -O items.jsonl
    scrapy crawl extract -a urls="URL1 URL2" -a item=css:li.result \\
        -a field.title=css:h2 -a "field.links[]=css:a::attr(href)" -O items.csv

Arguments: ``url``, ``urls`` (separated by whitespace), ``from_file`` (one URL a
line; blank lines and ``#`` comments skipped), ``spec`` (spec files, comma
separated), ``item`` and ``field.NAME`` / ``field.NAME[]`` (an inline spec, see
:mod:`crawler.extract.inline`; from Python, ``fields=["NAME=SELECTOR", ...]``),
``spec_name`` (the inline spec's name), ``render`` (``never``, ``auto`` or
``always``, as ``CRAWLER_RENDER``).
The spider follows no links: the extraction middleware
(:mod:`crawler.spidermiddlewares.extract`) turns each page into items, with the specs added
to ``CRAWLER_EXTRACT_SPECS``.

It tells what went wrong, in stats (read by ``crawler extract``) and warnings:

* ``extract/urls_failed``: URLs that gave no page (HTTP error, no response);
* ``extract/login_pages``: URLs that were redirected to a login page (a form
  with a username and a password field, :func:`crawler.login.form.find_login_form`):
  the session is missing or expired; ``extract/first_login_page`` is the
  first, as ``"URL -> LOGIN_PAGE_URL"``;
* ``extract/no_items``: HTML pages (status below 400, login pages left out)
  from which no item with a value came (no spec matched, the item selector
  matched nothing, or every field was empty); ``extract/pages_with_items``
  the others.  Items count whether the pipelines kept or dropped them.

A run from which no page gave an item with a value (every URL failed, led to
a login page, or matched nothing) ends with the finish reason ``no_items``
and one error line, so ``scrapy crawl extract`` and ``crawler extract`` exit
with code 1 rather than 0 with an empty feed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy import Request, Spider, signals
from scrapy.exceptions import CloseSpider
from scrapy.http import HtmlResponse
from scrapy.settings import SETTINGS_PRIORITIES

from crawler.exceptions import ConfigError
from crawler.extract.inline import DEFAULT_NAME, spec_sources
from crawler.extract.result import ExtractedItem
from crawler.login.check import same_page
from crawler.login.form import find_login_form
from crawler.settingscheck import check_argument
from crawler.utils.url import check_url, read_url_file

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

FIELD_ARGUMENT = "field."
_EMPTY = (None, "", [], {})


def has_value(item: Any) -> bool:
    """Whether any field of ``item`` found something (an extracted item's page URL aside)."""
    data = item.data if isinstance(item, ExtractedItem) else ItemAdapter(item).asdict()
    return any(value not in _EMPTY for value in data.values())


def requested_url(response: Response) -> str:
    """The URL asked for, before any redirect."""
    redirects = response.meta.get("redirect_urls")
    if redirects:
        return str(redirects[0])
    return response.request.url if response.request is not None else response.url


def landed_on_login_page(response: HtmlResponse) -> bool:
    """Whether ``response`` is not the page asked for but a login form (a form with a
    username and a password field: a change-password form is not one)."""
    if same_page(requested_url(response), response.url):
        return False
    form = find_login_form(response.text, response.url)
    return form is not None and form.username_field is not None


def _split(value: str | Sequence[str] | None, separator: str | None) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(separator) if v.strip()]
    return list(value)


class ExtractSpider(Spider):
    name = "extract"
    # An error page is reported, not dropped without a word by HttpErrorMiddleware.
    custom_settings = {"HTTPERROR_ALLOW_ALL": True}

    def __init__(
        self,
        url: str | None = None,
        urls: str | Sequence[str] | None = None,
        from_file: str | None = None,
        spec: str | Sequence[str] | None = None,
        item: str | None = None,
        fields: str | Sequence[str] | None = None,
        spec_name: str = DEFAULT_NAME,
        render: str | None = None,
        **kwargs: Any,
    ) -> None:
        inline = _split(fields, "\n")  # from -a: one NAME=SELECTOR a line
        for key in [k for k in kwargs if k.startswith(FIELD_ARGUMENT)]:
            inline.append(f"{key[len(FIELD_ARGUMENT) :]}={kwargs.pop(key)}")
        super().__init__(**kwargs)
        found = _split(url, None) + _split(urls, None)
        if from_file:
            found += read_url_file(from_file)
        if not found:
            raise ConfigError("the extract spider needs URLs: -a url=, -a urls= or -a from_file=")
        self.urls = [check_url(u) for u in found]
        self.start_url = self.urls[0]
        check_argument("render", "CRAWLER_RENDER", render)
        self.render = render or None
        self.spec_sources = spec_sources(_split(spec, ","), item, inline, spec_name)
        self.done = 0
        self.login_pages: list[tuple[str, str]] = []  # (URL asked for, login page URL)
        self._pages: set[str] = set()  # HTML pages to extract from, by URL
        self._with_items: set[str] = set()  # pages an item with a value came from
        self._reported_nothing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.apply_arguments(crawler.settings)
        spider.render = crawler.settings.get("CRAWLER_RENDER")
        # Kept or dropped by the pipelines, an item shows its page gave something.
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(spider.item_seen, signal=signal)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        return spider

    def apply_arguments(self, settings: BaseSettings) -> None:
        """Add the specs of the arguments to ``CRAWLER_EXTRACT_SPECS`` and make
        ``render`` the ``CRAWLER_RENDER`` that ``RenderModeMiddleware`` reads; a
        :class:`~crawler.exceptions.ConfigError` when there is no spec at all."""
        name = "CRAWLER_EXTRACT_SPECS"
        configured = settings.getlist(name)
        if not configured and not self.spec_sources:
            raise ConfigError(
                "the extract spider needs a spec: -a spec=FILE, or -a field.NAME=SELECTOR"
            )
        # Above any priority the setting already has, or a -s value would hide ours.
        priority = max(settings.getpriority(name) or 0, SETTINGS_PRIORITIES["spider"])
        settings.set(name, [*configured, *self.spec_sources], priority=priority)
        if self.render is not None:
            settings.set("CRAWLER_RENDER", self.render, priority="spider")

    @property
    def run_arguments(self) -> dict[str, Any]:
        """What this run was asked to do, for the store's runs table."""
        return {
            "urls": len(self.urls),
            "first_url": self.start_url,
            "specs": self.spec_sources,
            "render": self.render,
        }

    @property
    def progress(self) -> tuple[int, int]:
        """URLs done (fetched or failed) and in all, for :mod:`crawler.extensions.progress`."""
        return self.done, len(self.urls)

    async def start(self) -> AsyncIterator[Request]:
        for url in self.urls:
            yield Request(url, callback=self.parse, errback=self.failed)

    def parse(self, response: Response) -> None:
        self.done += 1
        if response.status >= 400:
            self._count_failure()
            self.logger.warning("%s: HTTP %d, nothing extracted", response.url, response.status)
        elif not isinstance(response, HtmlResponse):
            self.crawler.stats.inc_value("extract/urls_not_html")
            kind = response.headers.get(b"Content-Type", b"no content type").decode("latin-1")
            self.logger.warning("%s: not HTML (%s), nothing extracted", response.url, kind)
        elif landed_on_login_page(response):
            requested = requested_url(response)
            self.login_pages.append((requested, response.url))
            self.crawler.stats.inc_value("extract/login_pages")
            self.logger.warning(
                "%s led to a login page (%s): log in first (CRAWLER_LOGIN_URL or "
                "CRAWLER_COOKIES_FILE)",
                requested,
                response.url,
            )
        else:
            self._pages.add(response.url)

    def item_seen(self, item: Any, response: Response | None = None) -> None:
        if response is not None and has_value(item):
            self._with_items.add(response.url)

    def idle(self) -> None:
        """Nothing left to fetch: a run that extracted nothing at all ends as ``no_items``."""
        if self._pages & self._with_items:
            return
        if not self._reported_nothing:  # idle again after another handler kept it open
            self._reported_nothing = True
            self.logger.error(
                "Nothing extracted from %d URL(s): %d gave no page, %d led to a login page, "
                "%d page(s) gave no item with a value (no selector of the spec matched "
                "anything on them)",
                len(self.urls),
                self.crawler.stats.get_value("extract/urls_failed", 0),
                len(self.login_pages),
                len(self._pages),
            )
        raise CloseSpider("no_items")

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats
        with_items = self._pages & self._with_items
        stats.set_value("extract/pages_with_items", len(with_items))
        if len(with_items) < len(self._pages):
            stats.set_value("extract/no_items", len(self._pages) - len(with_items))
        if self.login_pages:
            requested, landed = self.login_pages[0]
            stats.set_value("extract/first_login_page", f"{requested} -> {landed}")

    def failed(self, failure: Failure) -> None:
        self.done += 1
        self._count_failure()
        request: Request = failure.request  # type: ignore[attr-defined]
        self.logger.warning("%s: no page: %s", request.url, failure.getErrorMessage())

    def _count_failure(self) -> None:
        self.crawler.stats.inc_value("extract/urls_failed")
