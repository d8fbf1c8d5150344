"""``CrawlerStatsCollector``: Scrapy's in-memory stats collector, plain attribute access."""

from __future__ import annotations

import timeit

from scrapy import Spider
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from crawler.runner import project_settings
from crawler.statscollectors import CrawlerStatsCollector


def both() -> tuple[MemoryStatsCollector, CrawlerStatsCollector]:
    crawler = get_crawler(Spider)
    return MemoryStatsCollector(crawler), CrawlerStatsCollector(crawler)


def test_same_stats_as_scrapys() -> None:
    for stats in both():
        stats.open_spider()
        stats.inc_value("a")
        stats.inc_value("a", 2)
        stats.inc_value("b", start=10)
        stats.max_value("max", 3)
        stats.max_value("max", 1)
        stats.min_value("min", 3)
        stats.min_value("min", 1)
        stats.set_value("x", "y")
        assert stats.get_value("a") == 3
        assert stats.get_value("missing", "default") == "default"
        assert stats.get_stats() == {"a": 3, "b": 11, "max": 3, "min": 1, "x": "y"}
        stats.clear_stats()
        assert stats.get_stats() == {}


def test_the_spider_argument_is_still_accepted() -> None:
    stats = CrawlerStatsCollector(get_crawler(Spider))
    spider = Spider("s")
    stats.inc_value("a", spider=spider)
    stats.set_value("b", 1, spider=spider)
    assert stats.get_value("a", spider=spider) == 1
    assert stats.get_stats(spider=spider) == {"a": 1, "b": 1}


def test_an_increment_costs_a_fraction_of_scrapys() -> None:
    scrapys, ours = both()
    theirs = min(timeit.repeat(lambda: scrapys.inc_value("k"), number=20000, repeat=3))
    mine = min(timeit.repeat(lambda: ours.inc_value("k"), number=20000, repeat=3))
    assert mine < theirs / 3, (mine, theirs)


def test_the_framework_uses_it() -> None:
    assert project_settings().get("STATS_CLASS") == "crawler.statscollectors.CrawlerStatsCollector"
