from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import scrapy
from scrapy import Spider, signals
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.utils.test import get_crawler
from sqlalchemy import event

from crawler.addon import CrawlerAddon
from crawler.exceptions import DuplicateItem, InvalidItem, LinksRecorded
from crawler.extract.result import ExtractedItem
from crawler.items import Link, PageLinks, PageRecord
from crawler.pipelines.links import PageLinksPipeline
from crawler.pipelines.store import StorePipeline, unwritten_summary

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path


class DummySpider(Spider):
    name = "dummy"
    start_url = "http://127.0.0.1/"
    run_arguments = {"start_url": "http://127.0.0.1/", "password": "hunter2"}


def record(n: int) -> PageRecord:
    return PageRecord(
        url=f"http://127.0.0.1/p{n}",
        final_url=f"http://127.0.0.1/p{n}",
        status=200,
        content_type="text/html",
        title=f"P{n}",
        depth=1,
        found_via="link",
        referer=None,
        rendered=False,
        fetched_at="2026-11-21T00:00:00+00:00",
    )


def product(sku: str, price: float = 1.5) -> ExtractedItem:
    return ExtractedItem(
        "product", f"http://127.0.0.1/{sku}", {"sku": sku, "price": price}, {}, ("sku",)
    )


@dataclass
class Review:  # an item type a user's spider might yield
    url: str
    stars: int


class Quote(scrapy.Item):
    text = scrapy.Field()


def make_pipeline(tmp_path: Path, **settings: object) -> StorePipeline:
    crawler = get_crawler(
        DummySpider,
        {
            "ADDONS": {CrawlerAddon: 0},
            "CRAWLER_STORE_URL": f"sqlite:///{tmp_path / 'crawl.db'}",
            "CRAWLER_STORE_FALLBACK_DIR": str(tmp_path / "fallback"),
            "MY_API_TOKEN": "tok-secret",
            **settings,
        },
    )
    crawler.spider = crawler._create_spider()
    return StorePipeline.from_crawler(crawler)


def drive(
    pipeline: StorePipeline,
    items: list[Any],
    between: Callable[[], Awaitable[None] | None] | None = None,
    reason: str = "finished",
) -> None:
    """Open, feed ``items`` (an ``Exception`` in the list is an invalid drop of the item
    before it), close: what Scrapy does, on an asyncio loop as in a crawl."""

    async def run() -> None:
        await pipeline.open_spider()
        if between is not None:
            done = between()
            if done is not None:
                await done
        for item in items:
            if isinstance(item, tuple):
                dropped, exception = item
                await pipeline.crawler.signals.send_catch_log_async(
                    signal=signals.item_dropped,
                    item=dropped,
                    response=None,
                    spider=pipeline.crawler.spider,
                    exception=exception,
                )
            else:
                await pipeline.process_item(item)
        await pipeline.close_spider()
        await pipeline.spider_closed(pipeline.crawler.spider, reason)

    asyncio.run(run())


def rows(tmp_path: Path, query: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(tmp_path / "crawl.db")
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def test_disabled_store_is_not_configured(tmp_path: Path) -> None:
    with pytest.raises(NotConfigured) as off:  # silent: Scrapy logs no "Disabled" warning
        make_pipeline(tmp_path, CRAWLER_STORE_ENABLED=False)
    assert off.value.args == ()


def test_rows_are_written_in_batches_off_the_reactor_thread(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CRAWLER_STORE_BATCH_SIZE=3)
    commits: list[str] = []

    def listen() -> None:
        assert pipeline.store is not None
        event.listen(
            pipeline.store.engine,
            "commit",
            lambda conn: commits.append(threading.current_thread().name),
        )

    items: list[Any] = [record(0), product("a"), record(1), product("b"), record(2)]
    items += [(product("bad"), InvalidItem("missing_required: sku: gone", kind="missing_required"))]
    items += [record(3)]
    drive(pipeline, items, between=listen)

    assert len(commits) == 3 + 1  # rows 3 + 3, the last one at close; the run's finish
    assert threading.main_thread().name not in commits
    assert rows(tmp_path, "select count(*) from pages") == [(4,)]
    assert rows(tmp_path, "select spec, key, url from items order by key") == [
        ("product", '["a"]', "http://127.0.0.1/a"),
        ("product", '["b"]', "http://127.0.0.1/b"),
    ]
    assert rows(tmp_path, "select spec, url, reason, data from rejects") == [
        (
            "product",
            "http://127.0.0.1/bad",
            "missing_required: sku: gone",
            '{"sku": "bad", "price": 1.5}',
        )
    ]
    reason, settings = rows(tmp_path, "select finish_reason, settings from runs")[0]
    assert reason == "finished"
    assert "hunter2" not in settings and "tok-secret" not in settings
    assert json.loads(settings)["spider_arguments"]["start_url"] == "http://127.0.0.1/"
    stats = pipeline.crawler.stats
    assert stats.get_value("store/pages_written") == 4
    assert stats.get_value("store/items_written") == 2
    assert stats.get_value("store/rejects_written") == 1


def test_one_commit_per_item_with_batch_size_one(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CRAWLER_STORE_BATCH_SIZE=1)
    commits: list[int] = []

    def listen() -> None:
        assert pipeline.store is not None
        event.listen(pipeline.store.engine, "commit", lambda conn: commits.append(1))

    drive(pipeline, [product(str(n)) for n in range(5)], between=listen)
    assert len(commits) == 5 + 1  # the items, then the run's finish


def test_user_items_of_any_type_are_stored_by_class_name(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path)
    drive(
        pipeline,
        [
            Review("http://127.0.0.1/r/1", 5),
            Review("http://127.0.0.1/r/1", 5),  # the same again: one row
            Review("http://127.0.0.1/r/1", 4),  # all fields are the key: another row
            {"name": "plain dict"},
            Quote(text="To be"),
        ],
    )
    stored = rows(tmp_path, "select spec, key, data, url from items order by spec, key")
    assert [(spec, json.loads(data)) for spec, _, data, _ in stored] == [
        ("Quote", {"text": "To be"}),
        ("Review", {"url": "http://127.0.0.1/r/1", "stars": 4}),
        ("Review", {"url": "http://127.0.0.1/r/1", "stars": 5}),
        ("dict", {"name": "plain dict"}),
    ]
    assert stored[1][3] == "http://127.0.0.1/r/1"
    assert stored[0][3] is None


def test_other_drops_are_not_rejects(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path)
    drive(pipeline, [(product("a"), DuplicateItem("seen"))])
    assert rows(tmp_path, "select count(*) from rejects") == [(0,)]


def test_unopenable_store_closes_the_spider(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CRAWLER_STORE_URL=f"sqlite:///{tmp_path}/x/y/z.db")
    with pytest.raises(CloseSpider) as info:
        asyncio.run(pipeline.open_spider())
    assert info.value.reason == "store_error"
    assert "x/y/z.db" in pipeline.crawler.stats.get_value("store/error")


def test_rows_of_a_failed_store_go_to_the_fallback_file(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CRAWLER_STORE_BATCH_SIZE=2)

    def break_items_table() -> None:
        conn = sqlite3.connect(tmp_path / "crawl.db")
        conn.execute("drop table items")
        conn.close()

    items: list[Any] = [record(0), record(1)]  # pages only: written
    items += [record(2), product("a")]  # fails as one transaction, and all after it
    items += [product("b")]
    items += [(product("c"), InvalidItem("conversion: price: int: not an integer", "conversion"))]
    drive(pipeline, items, between=break_items_table)

    assert rows(tmp_path, "select url from pages") == [
        ("http://127.0.0.1/p0",),
        ("http://127.0.0.1/p1",),
    ]
    stats = pipeline.crawler.stats.get_stats()
    [fallback] = (tmp_path / "fallback").iterdir()
    assert re.fullmatch(r"unwritten-dummy-crawl\.db-run1-\d{8}T\d{6}Z\.jsonl", fallback.name)
    assert stats["store/fallback_path"] == str(fallback)
    lines = [json.loads(line) for line in fallback.read_text().splitlines()]
    by_table: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_table.setdefault(line.pop("table"), []).append(line)
    assert [p["url"] for p in by_table["pages"]] == ["http://127.0.0.1/p2"]
    assert [(i["spec"], i["key"], i["data"]["sku"]) for i in by_table["items"]] == [
        ("product", '["a"]', "a"),
        ("product", '["b"]', "b"),
    ]
    assert by_table["rejects"][0]["reason"].startswith("conversion: price")
    assert stats["store/rows_unwritten"] == 4
    assert "cannot write pages and items to store" in stats["store/error"]
    assert unwritten_summary(stats) == (
        f"not written to the store: 4 rows; 4 saved in {fallback} "
        "(2 items, 1 pages, 1 rejects); 0 lost"
    )
    assert rows(tmp_path, "select finish_reason from runs") == [("store_error",)]


def test_page_links_become_link_rows_once_each(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CRAWLER_STORE_BATCH_SIZE=3)
    source = "http://127.0.0.1/p0"
    long_url = "http://127.0.0.1/" + "x" * 2000
    links = [
        Link("http://127.0.0.1/p1", "link", "  One\n  page "),
        Link("http://127.0.0.1/p1", "link", "again"),  # same row: the first is kept
        Link("http://127.0.0.1/p1", "frame"),
        Link("http://127.0.0.1/s.xml", "sitemap", "t" * 500),
        Link(long_url, "link"),  # too long for PostgreSQL's index: skipped, counted
    ]
    drive(pipeline, [record(0), PageLinks(source, links), PageLinks(source, links[:1])])
    assert rows(tmp_path, "select source, url, found_via, text from links order by url, 3") == [
        (source, "http://127.0.0.1/p1", "frame", None),
        (source, "http://127.0.0.1/p1", "link", "One page"),
        (source, "http://127.0.0.1/s.xml", "sitemap", "t" * 200),
    ]
    stats = pipeline.crawler.stats.get_stats()
    assert stats["store/links_too_long"] == 1
    assert stats["store/links_written"] == 5  # rows sent; duplicates ignored by the store


def test_page_links_end_after_the_store() -> None:
    pipeline = PageLinksPipeline()
    with pytest.raises(LinksRecorded, match="1 links of http://x/"):
        pipeline.process_item(PageLinks("http://x/", [Link("http://x/y", "link")]))
    page = record(1)
    assert pipeline.process_item(page) is page
