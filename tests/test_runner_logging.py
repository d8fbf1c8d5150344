"""The ``scrapy`` logger at ``LOG_LEVEL`` while ``crawler.runner`` crawls
(:func:`crawler.logfilters.scrapy_logger_at_log_level`): below it no record is made,
at and above it every line is logged as before."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
from scrapy.settings import Settings
from scrapy.utils.log import DEFAULT_LOGGING

from crawler.logfilters import scrapy_logger_at_log_level
from tests.crawltools import crawl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.tinysite.server import TinySite


class _Seen(logging.Handler):
    """Every record that reaches it (level 0): what the logger made."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def seen() -> Iterator[_Seen]:
    """A handler on ``scrapy.core.engine``, the ``scrapy`` logger at DEBUG as
    Scrapy's ``configure_logging`` leaves it."""
    scrapy_logger = logging.getLogger("scrapy")
    before = scrapy_logger.level
    scrapy_logger.setLevel(DEFAULT_LOGGING["loggers"]["scrapy"]["level"])
    handler = _Seen()
    engine = logging.getLogger("scrapy.core.engine")
    engine.addHandler(handler)
    try:
        yield handler
    finally:
        engine.removeHandler(handler)
        scrapy_logger.setLevel(before)


def _log_both() -> None:
    engine = logging.getLogger("scrapy.core.engine")
    engine.debug("Crawled (200) <GET http://127.0.0.1/a> (referer: None)")
    engine.info("Spider opened")


@pytest.mark.parametrize("level", ["INFO", logging.INFO])
def test_no_debug_record_is_made_at_info(seen: _Seen, level: str | int) -> None:
    with scrapy_logger_at_log_level(Settings({"LOG_LEVEL": level})):
        _log_both()
    assert [r.getMessage() for r in seen.records] == ["Spider opened"]
    assert logging.getLogger("scrapy").level == logging.DEBUG  # restored


def test_debug_records_are_made_at_debug(seen: _Seen) -> None:
    with scrapy_logger_at_log_level(Settings({"LOG_LEVEL": "DEBUG"})):
        _log_both()
    assert [r.levelname for r in seen.records] == ["DEBUG", "INFO"]


def test_left_alone_without_scrapy_root_handler(seen: _Seen) -> None:
    """The user's own handlers decide what is kept: the logger is not raised."""
    settings = Settings({"LOG_LEVEL": "INFO", "LOG_INSTALL_ROOT_HANDLER": False})
    with scrapy_logger_at_log_level(settings):
        _log_both()
    assert [r.levelname for r in seen.records] == ["DEBUG", "INFO"]


def test_restored_when_the_crawl_raises(seen: _Seen) -> None:
    with pytest.raises(RuntimeError), scrapy_logger_at_log_level(Settings({"LOG_LEVEL": "ERROR"})):
        assert logging.getLogger("scrapy").level == logging.ERROR
        raise RuntimeError
    assert logging.getLogger("scrapy").level == logging.DEBUG


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_crawl_logs_what_its_level_asks_for(tinysite: TinySite, tmp_path: Path, level: str) -> None:
    """A real crawl: at DEBUG Scrapy's "Crawled (200)" lines are logged and
    counted; at INFO they are not, its INFO lines and their count are."""
    result = crawl(
        tinysite.url("/"),
        tmp_path,
        "--render",
        "never",
        "--log-level",
        level,
        "-s",
        "CLOSESPIDER_PAGECOUNT=3",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.pages
    assert "[scrapy.core.engine] INFO: Spider opened" in result.stderr
    assert result.stats["log_count/INFO"] > 0
    if level == "DEBUG":
        assert "[scrapy.core.engine] DEBUG: Crawled (200)" in result.stderr
        assert result.stats["log_count/DEBUG"] > 0
    else:
        assert "Crawled (200)" not in result.stderr
        assert "log_count/DEBUG" not in result.stats
