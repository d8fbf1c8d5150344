"""Scrapy's in-memory stats collector without its per-access deprecation shim.

Scrapy 2.19's :class:`scrapy.statscollectors.StatsCollector` overrides
``__getattribute__`` so that its methods warn when given the deprecated
``spider`` argument: every attribute read, ``self._stats`` inside
``inc_value`` included, first looks for a ``_cached_<name>`` attribute and
catches the ``AttributeError``, and each method call goes through a
wrapper that checks its arguments.  A crawl makes about 20 such calls a
page (the downloader stats, the depth, the core stats, ours).

:class:`CrawlerStatsCollector` is :class:`~scrapy.statscollectors.MemoryStatsCollector`
with plain attribute access: the same methods and stats, the ``spider``
argument still accepted (and ignored, as Scrapy ignores it), without the
deprecation warning.  ``STATS_CLASS`` in ``crawler.settings``.
"""

from __future__ import annotations

from scrapy.statscollectors import MemoryStatsCollector

__all__ = ["CrawlerStatsCollector"]


class CrawlerStatsCollector(MemoryStatsCollector):
    __getattribute__ = object.__getattribute__
