"""Store every item of a crawl in a SQL store, in batched transactions."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.settings import overridden_settings
from scrapy.utils.defer import deferred_from_coro

from crawler import default_settings
from crawler.exceptions import StoreError
from crawler.items import PageRecord
from crawler.redaction import redact_mapping
from crawler.storage.schema import PAGE_COLUMNS
from crawler.storage.sql import SqlStore, display_url

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider

logger = logging.getLogger(__name__)

STORE_ERROR_REASON = "store_error"


@dataclass(frozen=True)
class StoreConfig:
    url: str
    batch_size: int
    fallback_path: Path | None

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> StoreConfig:
        batch_size = settings.getint(
            "CRAWLER_STORE_BATCH_SIZE", default_settings.CRAWLER_STORE_BATCH_SIZE
        )
        if batch_size < 1:
            raise ValueError(f"CRAWLER_STORE_BATCH_SIZE must be at least 1, not {batch_size}")
        fallback = settings.get("CRAWLER_STORE_FALLBACK_PATH")
        return cls(
            url=settings.get("CRAWLER_STORE_URL", default_settings.CRAWLER_STORE_URL),
            batch_size=batch_size,
            fallback_path=Path(fallback) if fallback else None,
        )


class StorePipeline:
    """Writes page records to the store and keeps one ``runs`` row per crawl.

    Rows are buffered and written ``CRAWLER_STORE_BATCH_SIZE`` at a time.  If the
    store cannot be opened or written, the crawl is closed with the reason
    ``store_error`` and every row not written goes to a JSON-lines fallback file,
    so nothing is lost silently.
    """

    def __init__(self, crawler: Crawler, config: StoreConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.store: SqlStore | None = None
        self.run_id: int | None = None
        self.failed: StoreError | None = None
        self._buffer: list[dict[str, Any]] = []
        self._unwritten = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("CRAWLER_STORE_ENABLED", True):
            raise NotConfigured("the store is disabled (CRAWLER_STORE_ENABLED=False)")
        pipeline = cls(crawler, StoreConfig.from_settings(crawler.settings))
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        try:
            self.store = SqlStore.open(self.config.url)
            self.run_id = self.store.start_run(
                spider=self._spider.name,
                start_url=getattr(self._spider, "start_url", None),
                settings=self._run_settings(),
            )
        except StoreError as e:
            self._fail(e)
            raise CloseSpider(STORE_ERROR_REASON) from None
        self.crawler.stats.set_value("store/run_id", self.run_id)
        logger.info("Storing run %d in %s", self.run_id, display_url(self.config.url))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageRecord):
            return item
        adapter = ItemAdapter(item)
        self._buffer.append({name: adapter.get(name) for name in PAGE_COLUMNS})
        if len(self._buffer) >= self.config.batch_size:
            self._flush()
        return item

    def close_spider(self) -> None:
        self._flush()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.failed is not None:
            self._report_unwritten()
        if self.store is None:
            return
        if self.run_id is not None:
            if self.failed is not None:
                reason = STORE_ERROR_REASON
            stats = json.loads(json.dumps(self.crawler.stats.get_stats(), default=str))
            stats["finish_reason"] = reason
            try:
                self.store.finish_run(self.run_id, reason, stats)
            except StoreError as e:
                logger.error("%s", e)
        self.store.close()

    @property
    def _spider(self) -> Spider:
        assert self.crawler.spider is not None
        return self.crawler.spider

    def _flush(self) -> None:
        rows, self._buffer = self._buffer, []
        if not rows:
            return
        if self.failed is None and self.store is not None and self.run_id is not None:
            try:
                self.store.write_pages(self.run_id, rows)
            except StoreError as e:
                self._fail(e)
                self._stop_crawl()
            else:
                self.crawler.stats.inc_value("store/pages_written", len(rows))
                return
        self._write_fallback(rows)

    def _fail(self, error: StoreError) -> None:
        if self.failed is not None:
            return
        self.failed = error
        logger.error("%s; stopping the crawl", error)
        self.crawler.stats.set_value("store/error", str(error))

    def _stop_crawl(self) -> None:
        """The store is gone mid-crawl: crawling on would only pile up unwritten rows."""
        try:
            engine = self.crawler.engine
        except RuntimeError:  # not crawling: the pipeline is driven directly
            return
        if engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=STORE_ERROR_REASON))

    def _fallback_path(self) -> Path:
        if self.config.fallback_path is not None:
            return self.config.fallback_path
        return Path.cwd() / f"unwritten-{self._spider.name}-run{self.run_id or 0}.jsonl"

    def _write_fallback(self, rows: list[dict[str, Any]]) -> None:
        path = self._fallback_path()
        try:
            with path.open("a", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        except OSError as e:
            logger.error("could not write %d unwritten rows to %s: %s", len(rows), path, e)
            self.crawler.stats.inc_value("store/rows_lost", len(rows))
            return
        self._unwritten += len(rows)
        self.crawler.stats.inc_value("store/rows_unwritten", len(rows))

    def _report_unwritten(self) -> None:
        if self._unwritten:
            logger.error(
                "%d rows were not written to %s; they are in %s",
                self._unwritten,
                display_url(self.config.url),
                self._fallback_path(),
            )
            self.crawler.stats.set_value("store/fallback_path", str(self._fallback_path()))

    def _run_settings(self) -> dict[str, Any]:
        settings = dict(overridden_settings(self.crawler.settings))
        arguments = getattr(self._spider, "run_arguments", {})
        recorded = {"settings": settings, "spider_arguments": arguments}
        return json.loads(json.dumps(redact_mapping(recorded), default=str))
