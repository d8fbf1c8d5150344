"""Run one spider in this process and report how it ended."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.crawler import CrawlerProcess
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.project import get_project_settings

from crawler.exceptions import ConfigError
from crawler.feedstorage.preflight import preflight_feeds
from crawler.logfilters import quiet_network_tracebacks, scrapy_logger_at_log_level
from crawler.outcome import CLEAN_REASONS, EXIT_INTERRUPTED, Criteria, Verdict, judge
from crawler.redaction import install_filters
from crawler.settingscheck import check_settings, set_settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy import Spider
    from scrapy.settings import BaseSettings, Settings
    from twisted.python.failure import Failure

__all__ = ["CLEAN_REASONS", "EXIT_INTERRUPTED", "CrawlOutcome", "exit_code_for", "run_spider"]


def exit_code_for(finish_reason: str | None) -> int:
    """The exit code of a crawl that ended with ``finish_reason``, by that alone: 0
    when it did what it was asked (:data:`~crawler.outcome.CLEAN_REASONS`), 130
    when interrupted (``shutdown``), else 1.  The commands go by
    :meth:`CrawlOutcome.verdict`, which also fails a crawl that fetched nothing."""
    if finish_reason in CLEAN_REASONS:
        return 0
    if finish_reason == "shutdown":
        return EXIT_INTERRUPTED
    return 1


@dataclass(frozen=True)
class CrawlOutcome:
    finish_reason: str
    stats: dict[str, Any]

    @property
    def run_id(self) -> int | None:
        return self.stats.get("store/run_id")

    @property
    def exit_code(self) -> int:
        """By the finish reason alone (:func:`exit_code_for`)."""
        return exit_code_for(self.finish_reason)

    def verdict(self, settings: BaseSettings) -> Verdict:
        """Whether the crawl succeeded, by :func:`crawler.outcome.judge` and the
        thresholds of ``settings``."""
        return judge(self.stats, Criteria.from_settings(settings))


def project_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """The framework's settings (or ``SCRAPY_SETTINGS_MODULE``'s), plus command-line ones.

    Raises :class:`~crawler.exceptions.ConfigError` for an override Scrapy refuses
    to store (text that is not JSON for a dict setting)."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    settings = get_project_settings()
    if overrides:
        set_settings(settings, overrides, priority="cmdline")
    return settings


def load_spider_class(spider: str, settings: BaseSettings) -> type[Spider]:
    """The spider class named ``spider`` in ``SPIDER_MODULES``.

    The ``crawler`` commands run the ready-made spiders (``site``, ``extract``,
    ``login``) by name.  A project with its own settings module
    (``SCRAPY_SETTINGS_MODULE``) may not list their package: a
    :class:`~crawler.exceptions.ConfigError` names the spider, the modules
    searched and what to add."""
    try:
        return get_spider_loader(settings).load(spider)
    except KeyError:
        modules = settings.getlist("SPIDER_MODULES")
        searched = ", ".join(modules) if modules else "it is empty"
        raise ConfigError(
            f"no spider named {spider!r} in SPIDER_MODULES ({searched}): add 'spiders' "
            f"(the framework's ready-made spiders) to SPIDER_MODULES, or a spider named "
            f"{spider!r} to one of its modules"
        ) from None


def check_spider_settings(
    spider: str, settings: Settings, arguments: Mapping[str, Any] | None = None
) -> None:
    """:func:`~crawler.settingscheck.check_settings` on ``settings`` plus the spider's
    own, and with ``arguments`` the spider's arguments too (the spider is built
    with them once, which is where it checks them): a
    :class:`~crawler.exceptions.ConfigError` (or ``UsageError``) for a value that
    cannot be right, before anything is crawled or logged."""
    spidercls = load_spider_class(spider, settings)
    check_settings(settings, spidercls=spidercls, spider_arguments=arguments)


def run_spider(
    spider: str, settings: Settings, *, preflight: bool = True, **spider_arguments: Any
) -> CrawlOutcome:
    """Crawl until the spider closes (Ctrl-C stops it gracefully, a second one at once).

    The settings and the spider's arguments are checked first
    (:func:`check_spider_settings`), so a bad value or argument is a
    :class:`~crawler.exceptions.ConfigError` before Scrapy logs anything.  Then,
    with ``preflight``, the feeds to a server are tried
    (:func:`~crawler.feedstorage.preflight.preflight_feeds`: a ``ConfigError``);
    a caller that tried them already passes False.
    """
    check_spider_settings(spider, settings, spider_arguments)
    if preflight:
        preflight_feeds(settings)  # a feed server's login, host key, directory
    process = CrawlerProcess(settings)
    quiet_network_tracebacks(settings.get("LOG_LEVEL"))
    install_filters()  # URL passwords masked from the first record on
    crawler = process.create_crawler(spider)
    failures: list[Failure] = []
    with scrapy_logger_at_log_level(crawler.settings):  # no DEBUG records made at INFO
        process.crawl(crawler, **spider_arguments).addErrback(failures.append)
        process.start()
    # Scrapy's handlers are gone with the reactor: a late Ctrl-C is a KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if failures:  # the spider could not start: bad arguments, a broken component
        failures[0].raiseException()
    stats = crawler.stats.get_stats()
    return CrawlOutcome(finish_reason=str(stats.get("finish_reason", "not_started")), stats=stats)
