"""End the way of :class:`~crawler.items.PageLinks` items through the pipelines.

A spider yields one ``PageLinks`` item per page (every URL the page led to);
the store pipeline, before this one, writes them to its ``links`` table.  Here
they are dropped with :class:`~crawler.exceptions.LinksRecorded` (logged at
DEBUG, counted by Scrapy in ``item_dropped_reasons_count/LinksRecorded``), so
they never reach a feed (``-o``, ``FEEDS`` without ``item_classes``, ``scrapy
crawl -O``) nor ``item_scraped_count`` (``CRAWLER_MIN_ITEMS``), whether the
store is on or not.  Every other item passes untouched.  Its place in
``ITEM_PIPELINES`` must be after the store's (800): 900 in ``crawler.settings``.
"""

from __future__ import annotations

from typing import Any

from crawler.exceptions import LinksRecorded
from crawler.items import PageLinks


class PageLinksPipeline:
    def process_item(self, item: Any) -> Any:
        if isinstance(item, PageLinks):
            raise LinksRecorded(f"{len(item.links)} links of {item.source}")
        return item
