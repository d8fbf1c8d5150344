"""A one-line progress bar on stderr, for spiders that know how far they are.

Enable it with ``EXTENSIONS = {"crawler.progress.ProgressBar": 0}``; it draws
only when stderr is a terminal, from the spider's ``progress`` property
(``(done, total)``), a few times a second, with ``\\r`` and no dependency.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider

INTERVAL = 0.2  # seconds between redraws
WIDTH = 30  # characters of bar


def render_bar(done: int, total: int) -> str:
    filled = WIDTH * done // total if total else WIDTH
    return f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}"


class ProgressBar:
    def __init__(self, crawler: Crawler, stream: TextIO) -> None:
        self.crawler = crawler
        self.stream = stream
        self._task: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not sys.stderr.isatty():
            raise NotConfigured  # stderr is not a terminal: the usual case, silent
        bar = cls(crawler, sys.stderr)
        crawler.signals.connect(bar.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(bar.spider_closed, signal=signals.spider_closed)
        return bar

    def spider_opened(self, spider: Spider) -> None:
        if not hasattr(spider, "progress"):
            return
        self._task = create_looping_call(self.draw)
        self._task.start(INTERVAL, now=True)

    def draw(self) -> None:
        done, total = self.crawler.spider.progress  # type: ignore[union-attr]
        self.stream.write(f"\r{render_bar(done, total)}")
        self.stream.flush()

    def spider_closed(self) -> None:
        if self._task is None:
            return
        if self._task.running:
            self._task.stop()
        self.draw()
        self.stream.write("\n")
        self.stream.flush()
