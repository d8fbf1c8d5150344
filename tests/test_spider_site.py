"""The site spider end to end, through ``crawler crawl`` against the tinysite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from examples.demo import DEMO_USER
from fixtures.tinysite import classic, payments, rough
from tests.crawltools import REPO_ROOT, CrawlResult, crawl, read_store, run_scrapy, subprocess_env

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite


def test_get_only_crawl_records_the_three_plain_pages(tinysite: TinySite, tmp_path: Path) -> None:
    result = crawl(
        tinysite.url("/"), tmp_path, "--render", "never", "--forms", "none", "-o", "pages.jsonl"
    )
    assert result.returncode == 0, result.stderr
    assert result.html_paths() == classic.GET_ONLY_PATHS
    found_via = {path: page["found_via"] for path, page in result.by_path().items()}
    assert found_via == {"/": "start", "/page1.html": "link", "/page2.html": "link"}
    assert result.by_path()["/page1.html"]["referer"] == tinysite.url("/")
    assert result.by_path()["/page1.html"]["title"] == classic.PAGE_TITLES["/page1.html"]
    # the summary is printed
    assert "found via" in result.stdout and "start" in result.stdout


def test_feed_holds_the_same_urls_as_the_store(tinysite: TinySite, tmp_path: Path) -> None:
    import json

    result = crawl(tinysite.url("/"), tmp_path, "-o", "pages.jsonl", "-o", "pages.csv")
    assert result.returncode == 0, result.stderr
    feed = [json.loads(line) for line in (tmp_path / "pages.jsonl").read_text().splitlines()]
    assert sorted(r["url"] for r in feed) == sorted(p["url"] for p in result.pages)
    assert {
        "final_url",
        "status",
        "content_type",
        "title",
        "depth",
        "found_via",
        "referer",
        "rendered",
        "fetched_at",
    } <= set(feed[0])
    csv_lines = (tmp_path / "pages.csv").read_text().splitlines()
    assert len(csv_lines) == len(result.pages) + 1


@pytest.fixture(scope="module")
def rough_crawl(
    tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory
) -> tuple[CrawlResult, list[str]]:
    before = len(tinysite.requests_seen)
    result = crawl(
        tinysite.url(rough.INDEX_PATH),
        tmp_path_factory.mktemp("rough"),
        "--max-depth",
        "4",
        "-s",
        "RETRY_TIMES=2",
    )
    seen = [r.target for r in tinysite.requests_seen[before:]]
    return result, seen


def test_rough_crawl_exits_cleanly(rough_crawl: tuple[CrawlResult, list[str]]) -> None:
    result, _ = rough_crawl
    assert result.returncode == 0, result.stderr
    assert result.runs[-1]["finish_reason"] == "finished"


def test_robots_disallowed_path_is_never_requested(
    rough_crawl: tuple[CrawlResult, list[str]],
) -> None:
    result, seen = rough_crawl
    assert not [t for t in seen if t.startswith(rough.PRIVATE_PATH)]
    assert rough.PRIVATE_PATH not in result.by_path()
    assert result.stats["robotstxt/forbidden"] >= 1


def test_calendar_trap_ends_at_max_depth(rough_crawl: tuple[CrawlResult, list[str]]) -> None:
    result, _ = rough_crawl
    months = [p for p in result.by_path() if "/calendar/" in p]
    assert months, "the calendar was not crawled at all"
    assert max(result.by_path()[p]["depth"] for p in months) == 4
    assert len(months) == 4  # depth 1 (linked from the index) to depth 4


def test_redirect_chain_is_recorded(rough_crawl: tuple[CrawlResult, list[str]]) -> None:
    pages = rough_crawl[0].by_path()
    landing = pages[rough.LANDING_PATH]
    # the landing page is also linked directly: whichever fetch lands last wins the row
    assert landing["found_via"] in ("redirect", "link")
    assert landing["status"] == 200
    assert pages[rough.REDIRECT_START_PATH]["status"] == 302
    assert pages[rough.REDIRECT_MIDDLE_PATH]["status"] == 301
    assert pages[rough.REDIRECT_START_PATH]["final_url"].endswith(rough.LANDING_PATH)
    assert pages[rough.REDIRECT_MIDDLE_PATH]["final_url"].endswith(rough.LANDING_PATH)


def test_redirect_target_found_only_by_redirect(tinysite: TinySite, tmp_path: Path) -> None:
    result = crawl(tinysite.url(rough.REDIRECT_START_PATH), tmp_path)
    assert result.returncode == 0, result.stderr
    pages = result.by_path()
    assert pages[rough.LANDING_PATH]["found_via"] == "redirect"
    assert pages[rough.LANDING_PATH]["referer"].endswith(rough.REDIRECT_MIDDLE_PATH)
    assert pages[rough.REDIRECT_START_PATH]["found_via"] == "start"


def test_error_statuses_are_recorded(rough_crawl: tuple[CrawlResult, list[str]]) -> None:
    result, seen = rough_crawl
    assert result.by_path()[rough.MISSING_PATH]["status"] == 404
    flaky = [p for p in result.by_path() if p.startswith(rough.FLAKY_PATH)]
    assert len(flaky) == 1
    assert result.by_path()[flaky[0]]["status"] == 200  # recovered on retry
    assert len([t for t in seen if t.startswith(rough.FLAKY_PATH)]) == 2
    assert result.stats["retry/count"] >= 1


def test_pdf_is_recorded_not_parsed(rough_crawl: tuple[CrawlResult, list[str]]) -> None:
    result, _ = rough_crawl
    pdf = result.by_path()[rough.PDF_PATH]
    assert pdf["content_type"] == "application/pdf"
    assert pdf["status"] == 200
    assert pdf["title"] is None
    assert result.stats["crawler/pages/not_parsed"] >= 1


def test_link_in_malformed_html_is_followed(rough_crawl: tuple[CrawlResult, list[str]]) -> None:
    assert rough.FROM_MALFORMED_PATH in rough_crawl[0].by_path()


def test_windows_1252_title_is_decoded(rough_crawl: tuple[CrawlResult, list[str]]) -> None:
    assert rough_crawl[0].by_path()[rough.CP1252_PATH]["title"] == rough.CP1252_TITLE


def test_non_http_and_external_links_are_not_requested(
    rough_crawl: tuple[CrawlResult, list[str]],
) -> None:
    result, seen = rough_crawl
    assert all(urlsplit(p["url"]).hostname == "127.0.0.1" for p in result.pages)
    assert not [t for t in seen if "javascript" in t or "mailto" in t or "external" in t]
    assert result.stats["crawler/links/skipped_scheme/javascript"] >= 1
    assert result.stats["crawler/links/skipped_scheme/mailto"] >= 1
    assert result.stats["offsite/filtered"] >= 1


def test_relative_links_and_fragments(rough_crawl: tuple[CrawlResult, list[str]]) -> None:
    result, _ = rough_crawl
    assert rough.RELATIVE_PATH in result.by_path()
    assert rough.SLOW_URL in result.by_path()
    assert not [p["url"] for p in result.pages if "#" in p["url"]]
    urls = [p["url"] for p in result.pages]
    assert len(urls) == len(set(urls))


def test_max_pages_bounds_a_crawl_trap(tinysite: TinySite, tmp_path: Path) -> None:
    result = crawl(tinysite.url(rough.CALENDAR_START_PATH), tmp_path, "--max-pages", "5")
    assert result.returncode == 0, result.stderr
    assert result.runs[-1]["finish_reason"] == "closespider_pagecount"
    assert 3 <= len(result.pages) <= 8  # responses in flight when the limit hits still land


def test_same_crawl_twice_into_one_store(tinysite: TinySite, tmp_path: Path) -> None:
    first = crawl(tinysite.url("/"), tmp_path)
    second = crawl(tinysite.url("/"), tmp_path)
    assert first.returncode == second.returncode == 0
    assert [r["id"] for r in second.runs] == [1, 2]
    import sqlite3

    conn = sqlite3.connect(second.db)
    rows = conn.execute("select run_id, count(*), count(distinct url) from pages group by run_id")
    # /, page1, page2, the search results (GET form, submitted by default), page3, page4
    assert [tuple(r) for r in rows] == [(1, 6, 6), (2, 6, 6)]


def test_unwritable_store_exits_nonzero_naming_the_path(tinysite: TinySite, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    db = blocker / "crawl.db"
    from tests.crawltools import run_crawler

    proc = run_crawler("crawl", tinysite.url("/"), "--store", f"sqlite:///{db}", cwd=tmp_path)
    assert proc.returncode != 0
    assert str(db) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ctrl_c_stops_the_crawl_cleanly(tinysite: TinySite, tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    start = tinysite.url("/catalog/?size=400&delay=150")
    before = len(tinysite.requests_seen)
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", start, "--store", f"sqlite:///{db}"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    deadline = time.monotonic() + 30
    while len([r for r in tinysite.requests_seen[before:] if "/catalog/item/" in r.target]) < 10:
        assert time.monotonic() < deadline, "the crawl never got going"
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    pages, runs = read_store(db)
    assert runs[-1]["finish_reason"] == "shutdown"
    assert len(pages) >= 5
    assert "Traceback" not in stderr


def test_scrapy_crawl_site_works_from_the_project(tinysite: TinySite, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = run_scrapy(
        "crawl",
        "site",
        "-a",
        f"start_url={tinysite.url('/')}",
        "-s",
        f"CRAWLER_STORE_URL=sqlite:///{tmp_path / 'x.db'}",
        "-O",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    paths = {
        urlsplit(line.split('"url": "')[1].split('"')[0]).path
        for line in out.read_text().splitlines()
    }
    assert paths == classic.WITH_FORMS_PATHS  # GET forms are submitted by default


def test_demo_prints_the_summary(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "found via" in proc.stdout
    assert "/page1.html" in proc.stdout
    pages = [line.split() for line in proc.stdout.splitlines() if line.startswith("/page")]
    found_via = {cells[0]: cells[2] for cells in pages}
    assert found_via["/page5.html"] == found_via["/page6.html"] == "script"
    [search] = [line.split() for line in proc.stdout.splitlines() if line.startswith("/search")]
    assert (search[0], search[2]) == (classic.SEARCH_URL, "form")  # its form was submitted
    assert found_via["/page3.html"] == found_via["/page4.html"] == "link"
    assert set(found_via) | {"/search.html?q=A"} == {
        *(p for p in classic.WITH_FORMS_AND_JS_PATHS if p.startswith("/page")),
        classic.SEARCH_URL,
    }
    assert (tmp_path / "crawl.db").exists()
    # crawler report's path, its HTML report, said once
    assert "`crawler report RUN`): report-1.html\n" in proc.stdout
    assert (proc.stdout + proc.stderr).count("report-1.html") == 1
    assert (tmp_path / "report-1.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # the book's second example (mscrape.py -s): brandon's payments made and their total,
    # read alike by lxml and BeautifulSoup
    made = [p for p in payments.EXPECTED_PAYMENTS[DEMO_USER] if p.direction == "to"]
    rows = [f"{p.amount:>12} {p.memo}" for p in made]
    total = f"{payments.payments_made(DEMO_USER):>12} Total payments made"
    assert total == "         325 Total payments made"
    rule = f"{'-' * 8:>12} {'-' * 30}"
    assert "\n".join([*rows, rule, total]) in proc.stdout
    count = len(payments.EXPECTED_PAYMENTS[DEMO_USER])
    assert f"BeautifulSoup and lxml read the same {count} payments" in proc.stdout
    assert f"(payments made: {payments.payments_made(DEMO_USER)} by lxml)" in proc.stdout
    assert payments.USERS[DEMO_USER] not in proc.stdout + proc.stderr


def test_dead_link_is_recorded_with_its_error(tmp_path: Path, closed_port: int) -> None:
    result = crawl(f"http://127.0.0.1:{closed_port}/", tmp_path, "-s", "RETRY_TIMES=1")
    assert result.returncode == 1, result.stderr  # recorded, and a crawl that got nothing
    assert "(crawl failed: start_url_failed, no_pages)" in result.stderr
    [page] = result.pages
    assert page["status"] is None
    assert "Refused" in page["error"] or "refused" in page["error"]
    assert result.stats["retry/count"] >= 1  # robots.txt is retried too
    assert any(k.startswith("crawler/page_errors/") for k in result.stats)
    assert "Traceback" not in result.stderr


def test_allow_domain_extends_the_followed_hosts() -> None:
    from spiders.site import SiteSpider

    spider = SiteSpider(start_url="http://127.0.0.1:8000/", allow_domains="localhost,example.org")
    assert spider.allowed_domains == ["127.0.0.1", "localhost", "example.org"]
    spider = SiteSpider(start_url="http://127.0.0.1:8000/", allow_domains=["localhost"])
    assert spider.allowed_domains == ["127.0.0.1", "localhost"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "needs a start URL"),
        ({"start_url": "mailto:x@y"}, "must be an http"),
        ({"start_url": "http://x/", "max_depth": "deep"}, "max_depth must be a whole number"),
        ({"start_url": "http://x/", "max_pages": "-1"}, "max_pages must be a whole number >= 0"),
        ({"start_url": "http://x/", "render": "sometimes"}, "render must be one of never"),
        ({"start_url": "http://x/", "forms": "some"}, "forms must be one of none, get, all"),
        ({"start_url": "http://x/", "submit_forms": "("}, "submit_forms must be a regular"),
    ],
)
def test_bad_spider_arguments_are_config_errors(arguments: dict[str, str], message: str) -> None:
    from crawler.exceptions import ConfigError
    from spiders.site import SiteSpider

    with pytest.raises(ConfigError, match=message):
        SiteSpider(**arguments)


def test_requests_of_a_page_share_one_bound_callback() -> None:
    """A breadth-first frontier holds tens of thousands of requests: they share the
    spider's bound ``parse`` and ``on_error`` rather than a new method object each
    (bench/RESULTS.md, memory)."""
    from scrapy import Request
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from spiders.site import SiteSpider

    crawler = get_crawler(SiteSpider)
    spider = SiteSpider.from_crawler(crawler, start_url="http://127.0.0.1/")
    crawler.spider = spider
    crawler.stats.open_spider()
    body = b"<html><body><a href='/a'>a</a> <a href='/b'>b</a></body></html>"
    page = HtmlResponse(
        "http://127.0.0.1/", body=body, encoding="utf-8", request=Request("http://127.0.0.1/")
    )
    requests = [r for r in spider.parse(page) if isinstance(r, Request)]
    assert [r.url for r in requests] == ["http://127.0.0.1/a", "http://127.0.0.1/b"]
    assert requests[0].callback is requests[1].callback
    assert requests[0].errback is requests[1].errback
    assert requests[0].callback == spider.parse
    assert requests[0].errback == spider.on_error
