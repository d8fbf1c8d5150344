"""``crawler crawl --render always`` from ``/live/``: frames, shadow roots, hash routes,
XHR/fetch and script navigations reached with the right ``found_via``, plain and gzip."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.browser.rendered import RenderedResponse
from crawler.browser.result import RenderResult
from crawler.items import Link
from fixtures.tinysite.livedom import EXPECTED_FOUND_VIA
from spiders.site import SiteSpider
from tests.crawltools import CrawlResult, crawl
from tests.test_spider_site_render import BROWSER_OPTIONS, browser_processes

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

#: Reached only through a render: never by a crawl over HTTP.
RENDER_ONLY = {
    path
    for path, found_via in EXPECTED_FOUND_VIA.items()
    if found_via in ("script", "xhr") and "frame" not in path and "#" not in path
} | {"/live/target/navigated"}


def crawl_live(site: TinySite, workdir: Path, mode: str, browser_dir: Path) -> CrawlResult:
    return crawl(
        site.url("/live/"),
        workdir,
        "--render",
        mode,
        "--forms",
        "none",
        "-s",
        f"SELENIUM_TEMP_DIR={browser_dir}",
        *BROWSER_OPTIONS,
    )


def found_via(site: TinySite, result: CrawlResult) -> dict[str, str]:
    """``{path?query#fragment: found_via}`` of the crawl's pages."""
    return {page["url"].replace(site.base_url, ""): page["found_via"] for page in result.pages}


@pytest.fixture(scope="module")
def browser_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browsers")


@pytest.mark.parametrize("encoded", [False, True], ids=["plain", "gzip"])
def test_render_always_reaches_every_live_target(
    encoded: bool,
    tinysite: TinySite,
    tinysite_gzip: TinySite,
    tmp_path: Path,
    browser_dir: Path,
) -> None:
    site = tinysite_gzip if encoded else tinysite
    posts_before = sum(1 for r in site.requests_seen if r.method == "POST")
    result = crawl_live(site, tmp_path, "always", browser_dir)
    assert result.returncode == 0, result.stderr
    assert found_via(site, result) == EXPECTED_FOUND_VIA
    # A script moved /live/navigate: its render's final URL, in the links table as script.
    navigate = next(p for p in result.pages if p["url"].endswith("/live/navigate"))
    assert navigate["final_url"] == site.url("/live/target/navigated")
    assert all(page["status"] == 200 for page in result.pages)
    rendered = {page["url"].replace(site.base_url, "") for page in result.pages if page["rendered"]}
    data = {path for path, via in EXPECTED_FOUND_VIA.items() if via == "xhr"}
    assert rendered == set(EXPECTED_FOUND_VIA) - data  # what scripts requested: over HTTP
    # The page's own POST went out once, from the browser; the crawl never sent it.
    posts = [r.target for r in site.requests_seen if r.method == "POST"][posts_before:]
    assert posts == ["/live/api/log"]
    assert result.stats["discovery/skipped_method/POST"] == 1
    assert "/live/target/closed" not in {r.target for r in site.requests_seen}
    assert "Traceback" not in result.stderr
    assert browser_processes(browser_dir) == []


def test_over_http_only_the_declarative_shadow_link_is_reached(
    tinysite: TinySite, tmp_path: Path, browser_dir: Path
) -> None:
    result = crawl_live(tinysite, tmp_path, "never", browser_dir)
    assert result.returncode == 0, result.stderr
    reached = found_via(tinysite, result)
    assert reached["/live/target/declarative"] == "link"
    assert not RENDER_ONLY & set(reached)
    assert not any("#" in url for url in reached)


def rendered_response(url: str, raw: str, dom: str, discovered: list[Link]) -> HtmlResponse:
    render = RenderResult(url=url, html=dom, discovered=discovered)
    return RenderedResponse(
        url,
        body=dom.encode(),
        encoding="utf-8",
        request=Request(url),
        render=render,
        raw=raw.encode(),
        raw_encoding="utf-8",
    )


def test_links_of_a_rendered_page_raw_html_first_then_discovered() -> None:
    spider = SiteSpider.from_crawler(get_crawler(SiteSpider), start_url="http://a.test/")
    response = rendered_response(
        "http://a.test/app",
        raw="<a href='/one'>One</a><a href='#!/about'>About</a><a href='/gone'>gone</a>",
        dom="<a href='/one'>One</a><a href='/two'>Two</a>",
        discovered=[
            Link("http://a.test/one", "script", "One"),
            Link("http://a.test/frame", "frame", None),
            Link("http://a.test/app#!/about", "script", "About"),
            Link("http://a.test/api?p=2", "xhr", "XHR"),
            Link("http://a.test/frame", "script", None),
        ],
    )
    requests = [r for r in spider.parse(response) if isinstance(r, Request)]
    assert [(r.url, r.meta["found_via"]) for r in requests] == [
        ("http://a.test/one", "link"),
        ("http://a.test/gone", "link"),  # in the HTML as served, removed by a script
        ("http://a.test/frame", "frame"),
        ("http://a.test/app#!/about", "script"),
        ("http://a.test/api?p=2", "xhr"),
        ("http://a.test/two", "script"),  # the serialised DOM's own
    ]
    by_url = {r.url: r.meta for r in requests}
    assert by_url["http://a.test/app#!/about"]["hash_route"] is True
    assert by_url["http://a.test/app#!/about"]["browser"] is True
    assert by_url["http://a.test/api?p=2"]["browser"] is False  # data: over HTTP
    assert "hash_route" not in by_url["http://a.test/one"]
