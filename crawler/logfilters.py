"""Log filters for crawls run by the ``crawler`` command.

(Secrets are masked in every crawl's log by :mod:`crawler.redaction`.)
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING

from scrapy.utils.misc import load_object

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy.settings import BaseSettings

# Network failures a crawl expects: the message says what happened, so a
# traceback only buries it.
NETWORK_ERRORS: tuple[type[BaseException], ...] = tuple(
    load_object(path)
    for path in (
        "scrapy.exceptions.CannotResolveHostError",
        "scrapy.exceptions.DownloadConnectionRefusedError",
        "scrapy.exceptions.DownloadFailedError",
        "scrapy.exceptions.DownloadTimeoutError",
        "scrapy.exceptions.ResponseDataLossError",
        "twisted.internet.error.ConnectError",
        "twisted.internet.error.ConnectionLost",
        "twisted.internet.error.TimeoutError",
    )
)
# Scrapy components that log expected failures with a traceback, and those failures:
# the network's, and a feed file that cannot be written (a full disk, a lost mount).
NOISY_LOGGERS: dict[str, tuple[type[BaseException], ...]] = {
    "scrapy.downloadermiddlewares.robotstxt": NETWORK_ERRORS,
    "scrapy.core.scraper": NETWORK_ERRORS,
    "scrapy.extensions.feedexport": (OSError,),
}


class ExpectedErrorTracebackFilter(logging.Filter):
    """Keep the message of an expected error, with the error's own words; drop its traceback."""

    def __init__(self, expected: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.expected):
            error = record.exc_info[1]
            record.msg, record.args = f"{record.getMessage()}: {error}", ()
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_network_tracebacks(log_level: str | int) -> None:
    """Install the filters unless the user asked for DEBUG logging (``log_level``:
    a level name or an int, as ``LOG_LEVEL`` takes)."""
    level = logging.getLevelNamesMapping().get(log_level, log_level)
    if isinstance(level, int) and level <= logging.DEBUG:
        return
    for name, expected in NOISY_LOGGERS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, ExpectedErrorTracebackFilter) for f in logger.filters):
            logger.addFilter(ExpectedErrorTracebackFilter(expected))


@contextmanager
def scrapy_logger_at_log_level(settings: BaseSettings) -> Iterator[None]:
    """While the block runs, the ``scrapy`` logger drops records below ``LOG_LEVEL``
    before they are made, rather than its handlers after.

    Scrapy's ``configure_logging`` sets the ``scrapy`` logger to DEBUG
    (``scrapy.utils.log.DEFAULT_LOGGING``) and leaves the filtering to the
    handlers it installs, the root handler and the ``log_count/*`` counter, both
    at ``LOG_LEVEL``: at INFO each page still makes the records of its
    "Crawled (200)" and "Scraped from" DEBUG lines, only to drop them.  Only
    with ``LOG_INSTALL_ROOT_HANDLER`` (otherwise the user's handlers decide what
    is kept); ``settings`` are the crawler's (its spider's ``custom_settings``
    merged).  The previous level is restored on the way out.
    """
    name = settings.get("LOG_LEVEL")
    level = logging.getLevelNamesMapping().get(name, name)
    logger = logging.getLogger("scrapy")
    previous = logger.level
    raise_level = (
        settings.getbool("LOG_INSTALL_ROOT_HANDLER")
        and isinstance(level, int)
        and level > logger.getEffectiveLevel()
    )
    if raise_level:
        logger.setLevel(level)
    try:
        yield
    finally:
        if raise_level:
            logger.setLevel(previous)
