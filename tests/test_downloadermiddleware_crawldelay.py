"""crawler.downloadermiddlewares.crawldelay: a slot never faster than robots.txt asks."""

from __future__ import annotations

import pytest
from scrapy import Spider
from scrapy.core.downloader import Slot
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.downloadermiddlewares.crawldelay import CrawlDelayMiddleware, slow_down


@pytest.mark.parametrize(
    ("delay", "jitter", "asked", "after"),
    [
        (0.0, 0.5, 1.0, (1.0, 0.0)),  # Scrapy's defaults: the crawl delay, no jitter below it
        (1.5, 0.5, 1.0, (1.5, 1 / 3)),  # jitter narrowed: 1.5 * (1 - 1/3) = 1.0
        (4.0, 0.5, 1.0, (4.0, 0.5)),  # already slower whatever the jitter draws
        (2.0, 1.5, 1.0, (2.0, 0.5)),  # a jitter past 100% could draw no wait at all
    ],
)
def test_slow_down(delay: float, jitter: float, asked: float, after: tuple[float, float]) -> None:
    slot = Slot(concurrency=8, delay=delay, jitter=jitter)
    slow_down(slot, asked)
    assert (slot.delay, slot.jitter) == pytest.approx(after)
    for _ in range(200):
        assert slot.download_delay() >= asked - 1e-9


@pytest.mark.parametrize(
    "settings", [{"ROBOTSTXT_OBEY": False}, {"ROBOTSTXT_OBEY": True, "CRAWLER_MAX_CRAWL_DELAY": 0}]
)
def test_off_without_robots_or_with_no_maximum(settings: dict[str, object]) -> None:
    with pytest.raises(NotConfigured):
        CrawlDelayMiddleware.from_crawler(get_crawler(Spider, settings))
