"""A crawl's responses, with their parsed documents, are freed by reference counting
alone: no reference cycle keeps them waiting for Python's cyclic garbage collector
(the spider middleware ``crawler.spidermiddlewares.selector``, the log formatter
``crawler.logformatter``).  Both cycles are Scrapy's, and the collector's
thresholds decide how long their memory lingers (``CRAWLER_GC_THRESHOLD``)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import Spider
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.logformatter import CrawlerLogFormatter
from crawler.spidermiddlewares.selector import SelectorReleaseMiddleware
from tests.crawltools import read_store, run_crawler, subprocess_env

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fixtures.tinysite.server import TinySite

SIZE = 40


def freed_crawl(tinysite: TinySite, tmp_path: Path, *options: str) -> dict[str, Any]:
    """``crawler crawl`` of the catalogue with the collector off (tests.responsesfreed)."""
    out = tmp_path / "freed.json"
    env = dict(subprocess_env(), SCRAPY_SETTINGS_MODULE="tests.responsesfreed")
    db = tmp_path / "crawl.db"
    proc = run_crawler(
        "crawl",
        tinysite.url(f"/catalog/?size={SIZE}"),
        "--store",
        f"sqlite:///{db}",
        "-s",
        f"TEST_RESPONSES_FREED_FILE={out}",
        "-s",
        "CRAWLER_MAX_PAGES_PER_PATTERN=0",
        *options,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pages, _ = read_store(db)
    assert len(pages) == SIZE + 1
    return json.loads(out.read_text())


def test_a_crawls_responses_are_freed_without_the_collector(
    tinysite: TinySite, tmp_path: Path
) -> None:
    freed = freed_crawl(tinysite, tmp_path)
    assert freed["seen"] >= SIZE + 1  # the pages (and robots.txt, a sitemap)
    assert freed["alive"] == []


def test_with_items_extracted_rejected_and_a_debug_log(tinysite: TinySite, tmp_path: Path) -> None:
    """Extraction with a spec some products break (rejects: dropped items) and a
    DEBUG log, where each dropped item's message is written."""
    spec = Path(__file__).parent / "specs" / "catalog_strict.yaml"
    freed = freed_crawl(tinysite, tmp_path, "--extract", str(spec), "--log-level", "DEBUG")
    assert freed["alive"] == []
    assert freed["dropped"] > SIZE  # the links of each page and the rejects


def _spider() -> Spider:
    """A spider of a crawler whose dropped items are logged at WARNING."""
    crawler = get_crawler(Spider, {"DEFAULT_DROPITEM_LOG_LEVEL": "WARNING"})
    return Spider.from_crawler(crawler, name="cycles")


def test_dropped_message_is_scrapys_without_the_exception_object() -> None:
    formatter = CrawlerLogFormatter()
    item = {"a": 1}
    error = DropItem("a reason")
    response = HtmlResponse("http://example.com/", body=b"")

    spider = _spider()
    ours = formatter.dropped(item, error, response, spider)
    scrapys = super(CrawlerLogFormatter, formatter).dropped(item, error, response, spider)
    assert ours["args"]["exception"] == "a reason"
    assert ours["args"]["item"] is item
    assert ours["level"] == scrapys["level"] == logging.WARNING
    assert ours["msg"] % ours["args"] == scrapys["msg"] % scrapys["args"]


async def _output(response: HtmlResponse, fail: bool) -> AsyncIterator[Any]:
    yield response.xpath("//title/text()").get()
    if fail:
        raise ValueError("the callback failed")


def test_selector_released_after_the_output_or_its_failure() -> None:
    asyncio.run(_selector_released())


async def _selector_released() -> None:
    middleware = SelectorReleaseMiddleware()
    for fail in (False, True):
        response = HtmlResponse(
            "http://example.com/", body=b"<title>T</title>", request=Request("http://example.com/")
        )
        seen = []
        try:
            async for output in middleware.process_spider_output_async(
                response, _output(response, fail)
            ):
                assert response._cached_selector is not None  # still there for the output
                seen.append(output)
        except ValueError:
            assert fail
        assert seen == ["T"]
        assert response._cached_selector is None
        assert response.xpath("//title/text()").get() == "T"  # parsed again on demand
    sync = list(middleware.process_spider_output(response, iter([response.css("title").get()])))
    assert sync == ["<title>T</title>"]
    assert response._cached_selector is None


def test_an_exception_whose_text_fails_is_passed_as_scrapy_passes_it() -> None:
    class Unprintable(DropItem):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    error = Unprintable("a reason")
    result = CrawlerLogFormatter().dropped({}, error, None, _spider())
    assert result["args"]["exception"] is error
