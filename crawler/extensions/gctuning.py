"""Python's garbage collector tuned for the length of a crawl.

A crawl allocates and frees millions of short-lived container objects
(requests, responses, deferreds, coroutines, selectors, items).  CPython
starts a young-generation collection every ``threshold0`` (700) allocations
net of deallocations, and every collection of the oldest generation walks
every tracked object, the modules and classes imported at start-up included.
With Python's defaults that is about 5% of a plain HTTP crawl's CPU time
(bench/RESULTS.md, "Scale, round 5").

On by default (``CRAWLER_GC_THRESHOLD = 10000``, ``CRAWLER_GC_FREEZE =
True``).  On the 100,000-page benchmark catalogue it took 20% less CPU, at the
same peak memory: 306 MiB against 305 without (bench/RESULTS.md, "Scale, round
6").  That holds because a plain crawl's pages leave no reference cycles
behind (:mod:`crawler.spidermiddlewares.selector`, :mod:`crawler.logformatter`):
before those, each page's response and parsed document waited for a
collection, and this tuning, which makes collections of the older
generations come later, took the same crawl from 355 to 484 MiB.

While the engine runs, :class:`GarbageCollectorTuning`:

* raises ``threshold0`` to ``CRAWLER_GC_THRESHOLD`` (``gc.set_threshold``;
  the two older generations' thresholds are kept), so young collections come
  less often, each over more objects (a value under the current threshold,
  Python's 700 or another crawl's, leaves it: the tuning never collects more
  often);
* with ``CRAWLER_GC_FREEZE``, moves every object alive when the engine starts
  (imports, settings, components) to the permanent generation
  (``gc.freeze``), which later collections skip.

Reference cycles are still collected: later, not never.  The stat
``gc/frozen`` counts the objects frozen.  When the engine stops
the threshold is set back and the frozen objects are unfrozen
(``gc.unfreeze``); with several crawls in one process, when the last stops.
Source: https://docs.python.org/3/library/gc.html (``set_threshold``,
``freeze``).  ``CRAWLER_GC_THRESHOLD = 0`` and ``CRAWLER_GC_FREEZE = False``
leave the collector alone: for a spider whose own code makes reference
cycles that hold much memory.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

__all__ = ["GarbageCollectorTuning"]

# Crawls running in this process with the tuning on, and the thresholds before the first.
_active = 0
_saved: tuple[int, int, int] | None = None
_frozen = False


class GarbageCollectorTuning:
    def __init__(self, crawler: Crawler, threshold: int, freeze: bool) -> None:
        self.crawler = crawler
        self.threshold = threshold
        self.freeze = freeze
        self._started = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        threshold = crawler.settings.getint("CRAWLER_GC_THRESHOLD")
        freeze = crawler.settings.getbool("CRAWLER_GC_FREEZE")
        if threshold <= 0 and not freeze:
            raise NotConfigured
        ext = cls(crawler, threshold, freeze)
        crawler.signals.connect(ext.engine_started, signal=signals.engine_started)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def engine_started(self) -> None:
        global _active, _saved, _frozen
        if self._started:
            return
        self._started = True
        if _active == 0:
            _saved = gc.get_threshold()
        _active += 1
        if self.threshold > 0:
            current = gc.get_threshold()
            gc.set_threshold(max(self.threshold, current[0]), current[1], current[2])
        if self.freeze:
            gc.freeze()
            _frozen = True
            if self.crawler.stats is not None:
                self.crawler.stats.set_value("gc/frozen", gc.get_freeze_count())

    def engine_stopped(self) -> None:
        global _active, _saved, _frozen
        if not self._started:
            return
        self._started = False
        _active -= 1
        if _active == 0:
            if _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
            if _frozen:
                gc.unfreeze()
                _frozen = False
