from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

import pytest
from scrapy import Spider
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.utils.test import get_crawler
from sqlalchemy import event

from crawler.items import PageRecord
from pipelines.store import StorePipeline

if TYPE_CHECKING:
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


def make_pipeline(tmp_path: Path, **settings: object) -> StorePipeline:
    crawler = get_crawler(
        DummySpider,
        {
            "CRAWLER_STORE_URL": f"sqlite:///{tmp_path / 'crawl.db'}",
            "CRAWLER_STORE_FALLBACK_PATH": str(tmp_path / "fallback.jsonl"),
            "MY_API_TOKEN": "tok-secret",
            **settings,
        },
    )
    crawler.spider = crawler._create_spider()
    return StorePipeline.from_crawler(crawler)


def test_disabled_store_is_not_configured(tmp_path: Path) -> None:
    with pytest.raises(NotConfigured, match="CRAWLER_STORE_ENABLED"):
        make_pipeline(tmp_path, CRAWLER_STORE_ENABLED=False)


def test_rows_are_written_in_batches(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CRAWLER_STORE_BATCH_SIZE=3)
    pipeline.open_spider()
    assert pipeline.store is not None
    commits: list[int] = []
    event.listen(pipeline.store.engine, "commit", lambda conn: commits.append(1))
    for n in range(7):
        pipeline.process_item(record(n))
    assert len(commits) == 2  # 3 + 3, one still buffered
    pipeline.close_spider()
    assert len(commits) == 3
    pipeline.spider_closed(pipeline.crawler.spider, "finished")
    conn = sqlite3.connect(tmp_path / "crawl.db")
    assert conn.execute("select count(*) from pages").fetchone()[0] == 7
    reason, settings = conn.execute("select finish_reason, settings from runs").fetchone()
    assert reason == "finished"
    assert "hunter2" not in settings and "tok-secret" not in settings
    assert json.loads(settings)["spider_arguments"]["start_url"] == "http://127.0.0.1/"
    assert pipeline.crawler.stats.get_value("store/pages_written") == 7


def test_unopenable_store_closes_the_spider(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CRAWLER_STORE_URL=f"sqlite:///{tmp_path}/x/y/z.db")
    with pytest.raises(CloseSpider) as info:
        pipeline.open_spider()
    assert info.value.reason == "store_error"
    assert "x/y/z.db" in pipeline.crawler.stats.get_value("store/error")


def test_rows_of_a_failed_store_go_to_the_fallback_file(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, CRAWLER_STORE_BATCH_SIZE=2)
    pipeline.open_spider()
    sqlite3.connect(tmp_path / "crawl.db").execute("drop table pages")
    for n in range(5):
        pipeline.process_item(record(n))
    pipeline.close_spider()
    pipeline.spider_closed(pipeline.crawler.spider, "finished")

    lines = (tmp_path / "fallback.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["url"] for line in lines) == [
        f"http://127.0.0.1/p{n}" for n in range(5)
    ]
    stats = pipeline.crawler.stats
    assert stats.get_value("store/rows_unwritten") == 5
    assert "cannot write pages" in stats.get_value("store/error")
    reason = (
        sqlite3.connect(tmp_path / "crawl.db")
        .execute("select finish_reason from runs")
        .fetchone()[0]
    )
    assert reason == "store_error"
