"""Extraction during a crawl: apply the configured specs to every HTML page.

An item pipeline takes one item and returns one, but a page gives many items,
so this step is a **spider middleware**: ``process_spider_output`` sees the
response and adds the page's :class:`~crawler.extract.result.ExtractedItem`\\ s
after the spider's own output, which then goes through the item pipelines
(:mod:`crawler.pipelines`: validate -> dedup -> store).

Every HTML response with a status below 400 is a candidate, fetched over HTTP
or rendered by the browser middleware (``response.flags`` has ``"rendered"``) alike.
A page an incremental re-crawl found unchanged (:mod:`crawler.incremental`)
is a plain response without a body: it is not extracted again; the items the
store holds for its URL (``UnchangedResponse.previous.items``) are emitted
again as items of this run, not parsed (stat ``incremental/items_carried``), so
the run's store rows, feeds and ``CRAWLER_MIN_ITEMS`` count see them.
The specs whose ``url`` pattern matches the response URL are applied to one
parse of the page.  A spec that fails on a page is logged and counted
(``extract/errors/<spec>``); the crawl goes on.

Settings: ``CRAWLER_EXTRACT_SPECS`` (spec file paths, or mappings of the file
form; empty: the middleware is off), ``CRAWLER_EXTRACT_ENGINE`` (``lxml``,
``bs4``, ``bs4-html.parser``).  Stats: ``extract/pages``,
``extract/pages_rendered``, ``extract/pages_unmatched`` (HTML pages no spec's
pattern matched), ``extract/items/<spec>``, ``extract/errors/<spec>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse

from crawler.browser.rendered import is_rendered
from crawler.extract.engines import get_engine
from crawler.extract.exceptions import ExtractError, SpecError
from crawler.extract.loader import load_spec_sources
from crawler.extract.result import ExtractedItem
from crawler.extract.spec import matching_specs
from crawler.incremental import is_unchanged
from crawler.settingscheck import check_types

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

    from crawler.extract.engine import Engine
    from crawler.extract.spec import ItemSpec
    from crawler.incremental import UnchangedResponse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractConfig:
    specs: tuple[ItemSpec, ...]
    engine: str

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> ExtractConfig:
        """Load every spec now, so a bad spec file fails the crawl before it starts
        (:class:`~crawler.extract.exceptions.SpecError` naming the setting, the file
        and the field);
        a bad ``CRAWLER_EXTRACT_*`` value is a :class:`~crawler.exceptions.ConfigError`."""
        check_types(settings, "CRAWLER_EXTRACT_")
        sources = settings.getlist("CRAWLER_EXTRACT_SPECS")
        engine = settings.get("CRAWLER_EXTRACT_ENGINE")
        try:
            specs = load_spec_sources(sources)
        except SpecError as e:
            raise SpecError(f"CRAWLER_EXTRACT_SPECS: {e}") from None
        return cls(specs=tuple(specs), engine=engine)


class ExtractMiddleware:
    def __init__(self, crawler: Crawler, specs: Iterable[ItemSpec], engine: Engine) -> None:
        self.crawler = crawler
        self.specs = tuple(specs)
        self.engine = engine

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = ExtractConfig.from_settings(crawler.settings)
        if not config.specs:
            raise NotConfigured  # the default (no specs): silent
        names = ", ".join(spec.name for spec in config.specs)
        logger.info("Extracting %s with the %s engine", names, config.engine)
        return cls(crawler, config.specs, get_engine(config.engine))

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for output in result:
            yield output
        items = self.carried(response) if is_unchanged(response) else self.extract(response)
        for item in items:
            yield item

    def carried(self, response: UnchangedResponse) -> list[ExtractedItem]:
        """The items the previous run left for an unchanged page, as this crawl's
        specs key them (a spec no longer configured: its items are left out)."""
        by_name = {spec.name: spec for spec in self.specs}
        items = [
            ExtractedItem(name, response.url, dict(data), key=tuple(by_name[name].key))
            for name, data in response.previous.items
            if name in by_name
        ]
        if items:
            self.crawler.stats.inc_value("incremental/items_carried", len(items))
        return items

    def extract(self, response: Response) -> list[ExtractedItem]:
        """The items of every matching spec on ``response`` (none for non-HTML or errors)."""
        if not isinstance(response, HtmlResponse) or response.status >= 400:
            return []
        stats = self.crawler.stats
        specs = matching_specs(self.specs, response.url)
        if not specs:
            stats.inc_value("extract/pages_unmatched")
            return []
        stats.inc_value("extract/pages")
        if is_rendered(response):
            stats.inc_value("extract/pages_rendered")
        # Scrapy's decoded text: the engines decode the same way, and it is cached.
        page = self.engine.parse(response.text, response.url)
        items: list[ExtractedItem] = []
        for spec in specs:
            try:
                found = self.engine.extract_page(spec, page)
            except ExtractError as e:  # its message names the page and the spec
                self._failed(spec, str(e))
                continue
            except Exception as e:  # a bug must not stop the crawl; its traceback is logged
                where = f"{response.url}: spec {spec.name!r}"
                self._failed(spec, f"{where}: {type(e).__name__}: {e}", exc_info=True)
                continue
            stats.inc_value(f"extract/items/{spec.name}", len(found))
            items.extend(found)
        return items

    def _failed(self, spec: ItemSpec, message: str, exc_info: bool = False) -> None:
        self.crawler.stats.inc_value(f"extract/errors/{spec.name}")
        logger.error(
            "Extraction failed: %s",
            message,
            exc_info=exc_info,
            extra={"spider": self.crawler.spider},
        )
