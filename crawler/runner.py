"""Run one spider in this process and report how it ended."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from crawler.logfilters import hide_url_passwords, quiet_network_tracebacks

if TYPE_CHECKING:
    from twisted.python.failure import Failure

# finish reasons that mean "the crawl did what it was asked"
CLEAN_REASONS = (
    "finished",
    "closespider_pagecount",
    "closespider_itemcount",
    "closespider_timeout",
)
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class CrawlOutcome:
    finish_reason: str
    stats: dict[str, Any]

    @property
    def run_id(self) -> int | None:
        return self.stats.get("store/run_id")

    @property
    def exit_code(self) -> int:
        if self.finish_reason in CLEAN_REASONS:
            return 0
        if self.finish_reason == "shutdown":
            return EXIT_INTERRUPTED
        return 1


def project_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """The framework's settings (or ``SCRAPY_SETTINGS_MODULE``'s), plus command-line ones."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    settings = get_project_settings()
    if overrides:
        settings.setdict(overrides, priority="cmdline")
    return settings


def run_spider(spider: str, settings: Settings, **spider_arguments: Any) -> CrawlOutcome:
    """Crawl until the spider closes (Ctrl-C stops it gracefully, a second one at once)."""
    process = CrawlerProcess(settings)
    quiet_network_tracebacks(settings.get("LOG_LEVEL", "DEBUG"))
    hide_url_passwords()
    crawler = process.create_crawler(spider)
    failures: list[Failure] = []
    process.crawl(crawler, **spider_arguments).addErrback(failures.append)
    process.start()
    if failures:  # the spider could not start: bad arguments, a broken component
        failures[0].raiseException()
    stats = crawler.stats.get_stats()
    return CrawlOutcome(finish_reason=str(stats.get("finish_reason", "not_started")), stats=stats)
