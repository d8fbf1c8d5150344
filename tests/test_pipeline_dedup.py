from __future__ import annotations

from dataclasses import dataclass

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.exceptions import DuplicateItem
from crawler.extract.result import ExtractedItem
from crawler.items import PageRecord
from crawler.pipelines.dedup import DedupPipeline


@dataclass
class Review:
    url: str
    stars: int


def product(sku: str, price: float, spec: str = "product", url: str = "http://x/") -> ExtractedItem:
    return ExtractedItem(spec, url, {"sku": sku, "price": price}, {}, ("sku",))


def make_pipeline(**settings: object) -> DedupPipeline:
    return DedupPipeline.from_crawler(
        get_crawler(settings_dict={"ADDONS": {CrawlerAddon: 0}, **settings})
    )


def test_identical_items_are_dropped_changed_ones_pass() -> None:
    pipeline = make_pipeline()
    first = product("A1", 1.5)
    assert pipeline.process_item(first) is first
    with pytest.raises(DuplicateItem, match=r'duplicate product item \["A1"\]'):
        pipeline.process_item(product("A1", 1.5, url="http://x/elsewhere"))
    changed = product("A1", 2.0)
    assert pipeline.process_item(changed) is changed  # passes; the store updates the row
    with pytest.raises(DuplicateItem):
        pipeline.process_item(product("A1", 2.0))
    assert pipeline.process_item(product("A2", 2.0)) is not None  # another key
    assert pipeline.process_item(product("A1", 2.0, spec="offer")) is not None  # another spec
    stats = pipeline.crawler.stats
    assert stats.get_value("dedup/duplicates") == 2
    assert stats.get_value("dedup/changed") == 1


def test_items_without_a_key_are_identified_by_their_whole_data() -> None:
    pipeline = make_pipeline()
    keyless = ExtractedItem("title", "http://x/a", {"title": "Home"})
    pipeline.process_item(keyless)
    with pytest.raises(DuplicateItem):
        pipeline.process_item(ExtractedItem("title", "http://x/b", {"title": "Home"}))
    pipeline.process_item(ExtractedItem("title", "http://x/c", {"title": "Away"}))
    pipeline.process_item(Review("http://x/r", 5))
    with pytest.raises(DuplicateItem):
        pipeline.process_item(Review("http://x/r", 5))
    pipeline.process_item(Review("http://x/r", 4))
    pipeline.process_item({"a": 1})
    with pytest.raises(DuplicateItem):
        pipeline.process_item({"a": 1})


def test_page_records_are_not_deduplicated() -> None:
    pipeline = make_pipeline()
    record = PageRecord("u", "u", 200, None, None, 0, "start", None, False, "t")
    assert pipeline.process_item(record) is record
    assert pipeline.process_item(record) is record


def test_disabled() -> None:
    with pytest.raises(NotConfigured) as off:  # silent: Scrapy logs no "Disabled" warning
        make_pipeline(CRAWLER_DEDUP_ENABLED=False)
    assert off.value.args == ()
