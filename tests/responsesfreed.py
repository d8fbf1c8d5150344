"""Settings module (``SCRAPY_SETTINGS_MODULE=tests.responsesfreed``): the framework's
settings plus :class:`ResponsesFreed`, which tells whether reference counting
alone frees a crawl's responses.

Python's cyclic garbage collector is off while the engine runs; every text
response received is watched through a weak reference; when the spider closes,
the numbers seen and still alive are written as JSON to
``TEST_RESPONSES_FREED_FILE``.  A response still alive then is held by a
reference cycle (or by something that keeps it for good).
"""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.http import TextResponse

from crawler.settings import *  # noqa: F403
from crawler.settings import EXTENSIONS as _EXTENSIONS

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response

EXTENSIONS = {**_EXTENSIONS, "tests.responsesfreed.ResponsesFreed": 0}


class ResponsesFreed:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.refs: list[weakref.ref[Response]] = []
        self.dropped = 0
        self.was_enabled = gc.isenabled()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        extension = cls(crawler.settings["TEST_RESPONSES_FREED_FILE"])
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.response_received, signal=signals.response_received)
        crawler.signals.connect(extension.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def engine_started(self) -> None:
        gc.disable()

    def response_received(self, response: Response, **_: Any) -> None:
        if isinstance(response, TextResponse):
            self.refs.append(weakref.ref(response))

    def item_dropped(self) -> None:
        self.dropped += 1

    def spider_closed(self) -> None:
        alive = [ref() for ref in self.refs]
        urls = sorted(response.url for response in alive if response is not None)
        result = {"seen": len(self.refs), "alive": urls, "dropped": self.dropped}
        self.path.write_text(json.dumps(result))
        if self.was_enabled:
            gc.enable()
