"""Links already scheduled, dropped before their request is built
(``CRAWLER_DROP_SCHEDULED_LINKS``, crawler.scheduledurls): real crawls of a small
site, with and without, request the same pages and store the same rows and stats."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from tests.crawltools import crawl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PAGES = 12


def _page(path: str) -> str | None:
    """The site's HTML at ``path`` (with its query), None for a 404.

    Every page links to every page (a menu), to a query in two orders, to pages
    with fragments; ``/deep.html`` is linked from ``/a.html`` only (depth 2) and
    listed by ``/sitemap.xml`` (depth 1)."""
    menu = "".join(f'<a href="/p{n}.html">p{n}</a>' for n in range(PAGES))
    extra = (
        '<a href="/list?x=1&y=2">list</a><a href="/list?y=2&x=1">list again</a>'
        '<a href="/p1.html#top">p1 top</a><a href="/p2.html?b=2&a=1">p2 query</a>'
        '<a href="/a.html">a</a><a href="/">home</a>'
    )
    if path == "/a.html":
        extra += '<a href="/deep.html">deep</a>'
    known = {"/", "/a.html", "/deep.html", "/list?x=1&y=2", "/list?y=2&x=1", "/p2.html?b=2&a=1"}
    if path not in known and not (path.startswith("/p") and path.partition("?")[0][2:-5].isdigit()):
        return None
    return f"<html><head><title>{path}</title></head><body>{menu}{extra}</body></html>"


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.fetched[self.path] += 1  # type: ignore[attr-defined]
        port = self.server.server_address[1]
        if self.path == "/sitemap.xml":
            time.sleep(self.server.sitemap_delay)  # type: ignore[attr-defined]
            body = (
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>http://127.0.0.1:{port}/deep.html</loc></url></urlset>"
            )
            content_type = "application/xml"
        else:
            page = _page(self.path)
            if page is None:
                self.send_error(404)
                return
            body, content_type = page, "text/html; charset=utf-8"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.fetched = Counter()  # type: ignore[attr-defined]
    server.sitemap_delay = 0.0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _stored(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        pages = conn.execute(
            "select url, final_url, status, title, depth, found_via, referer from pages "
            "order by url"
        ).fetchall()
        links = conn.execute(
            "select source, url, found_via, text, refused from links "
            "order by source, url, found_via"
        ).fetchall()
    return pages, links


# Stats that must not change (what differs: the new count, and times and sizes).
SAME_STATS = (
    "dupefilter/filtered",
    "request_depth_max",
    "scheduler/enqueued",
    "downloader/request_count",
    "item_scraped_count",
    "request_depth_count/1",
    "request_depth_count/2",
)


def test_same_pages_rows_and_stats_with_and_without_the_early_drop(
    site: ThreadingHTTPServer, tmp_path: Path
) -> None:
    start = f"http://127.0.0.1:{site.server_address[1]}/"
    # One request at a time: the same order in both crawls (referers, depths).
    options = ("--render", "never", "-s", "CONCURRENT_REQUESTS=1", "-s", "DEPTH_STATS_VERBOSE=1")
    results = {}
    fetched = {}
    for on in (True, False):
        site.fetched.clear()  # type: ignore[attr-defined]
        setting = f"CRAWLER_DROP_SCHEDULED_LINKS={on}"
        result = crawl(start, tmp_path, *options, "-s", setting, db_name=f"{on}.db")
        assert result.returncode == 0, result.stderr[-3000:]
        results[on] = result
        fetched[on] = dict(site.fetched)  # type: ignore[attr-defined]
    on, off = results[True], results[False]
    assert fetched[True] == fetched[False]
    # each URL requested once (robots.txt: by Scrapy's middleware and the spider)
    assert {n for path, n in fetched[True].items() if path != "/robots.txt"} == {1}
    # the query in another order is the same page
    assert "/list?y=2&x=1" not in fetched[True]
    assert _stored(on.db) == _stored(off.db)
    assert len(_stored(on.db)[0]) == PAGES + 5  # p0..p11, /, a, deep, list, p2?a=1&b=2
    for name in SAME_STATS:
        assert on.stats.get(name) == off.stats.get(name), name
    assert on.stats["crawler/links/already_scheduled"] > PAGES * PAGES // 2
    assert "crawler/links/already_scheduled" not in off.stats


def test_a_link_too_deep_once_is_crawled_when_found_shallower(
    site: ThreadingHTTPServer, tmp_path: Path
) -> None:
    """``--max-depth 1``: ``/deep.html`` is first linked from ``/a.html`` (depth 2:
    dropped by Scrapy's DepthMiddleware, never in the duplicate filter), then
    listed by the sitemap, which comes late (depth 1): it is crawled."""
    site.sitemap_delay = 1.0  # type: ignore[attr-defined]
    start = f"http://127.0.0.1:{site.server_address[1]}/"
    result = crawl(start, tmp_path, "--render", "never", "--max-depth", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["depth/request_ignored_count"] >= 1  # /deep.html from /a.html, ...
    deep = result.by_path()["/deep.html"]
    assert (deep["status"], deep["depth"], deep["found_via"]) == (200, 1, "sitemap")


def test_dupefilter_debug_logs_every_duplicate(site: ThreadingHTTPServer, tmp_path: Path) -> None:
    """``DUPEFILTER_DEBUG``: the early drop is off, so the filter sees (and logs)
    every duplicate link, as in a crawl without it."""
    start = f"http://127.0.0.1:{site.server_address[1]}/"
    debug = ("-s", "DUPEFILTER_DEBUG=true", "-s", "LOG_LEVEL=DEBUG")
    result = crawl(start, tmp_path, "--render", "never", *debug)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "crawler/links/already_scheduled" not in result.stats
    assert result.stderr.count("Filtered duplicate request") == result.stats["dupefilter/filtered"]
    assert result.stats["dupefilter/filtered"] > PAGES * PAGES // 2
