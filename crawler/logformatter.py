"""Scrapy's log formatter, without the reference cycle a dropped item's message makes.

Scrapy 2.19's :meth:`scrapy.core.scraper.Scraper.start_itemproc_async` keeps
what :meth:`~scrapy.logformatter.LogFormatter.dropped` returns in a local
variable (``logkws``) of its coroutine while it handles a
:class:`~scrapy.exceptions.DropItem`.  Scrapy's result holds the exception
(``args["exception"]``), and the exception's traceback holds that coroutine's
frame: exception -> traceback -> frame -> ``logkws`` -> exception.  Nothing
frees that cycle but Python's cyclic garbage collector, and the frame's other
locals wait with it: the item and the response, with its parsed document.

A plain crawl drops one item a page (:class:`~crawler.exceptions.LinksRecorded`),
so every page's response lived on until a collection reached it, longer the
rarer collections are (``CRAWLER_GC_THRESHOLD``, bench/RESULTS.md "Scale,
round 6").  :class:`CrawlerLogFormatter` gives the message the exception's
text (``str(exception)``, what ``%(exception)s`` prints) instead of the
exception: the same log line, no cycle, and the response is freed as soon as
the pipelines are done with it (an exception whose ``str()`` fails is passed
as it is, as Scrapy passes it).  ``LOG_FORMATTER`` in ``crawler.settings``; a
project's own formatter keeps this by subclassing :class:`CrawlerLogFormatter`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.logformatter import LogFormatter, LogFormatterResult

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.http import Response
    from twisted.python.failure import Failure

__all__ = ["CrawlerLogFormatter"]


class CrawlerLogFormatter(LogFormatter):
    def dropped(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        """Scrapy's message (level, text, item) with ``args["exception"]`` the
        exception's text, not the exception."""
        result = super().dropped(item, exception, response, spider)
        args = result.get("args")
        if isinstance(args, dict) and args.get("exception") is exception:
            try:
                text = str(exception)
            except Exception:  # the exception itself, as Scrapy passes it
                return result
            result = {**result, "args": {**args, "exception": text}}
        return result
