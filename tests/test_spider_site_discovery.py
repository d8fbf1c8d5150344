"""Discovery over plain HTTP, end to end: ``crawler crawl`` against the /discover/ pages.

Every page of :mod:`fixtures.tinysite.discovery` is reached with its
``found_via`` (frames, ``<link rel>``, headers, a declarative shadow root,
sitemaps from robots.txt and /sitemap.xml), plain and gzip-served; the links
table says where each URL came from, fetched or not.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from fixtures.tinysite import discovery
from fixtures.tinysite.server import TinySite
from tests.crawltools import CrawlResult, crawl, run_crawler

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class DiscoveryCrawl:
    def __init__(self, site: TinySite, result: CrawlResult, seen: list[str]) -> None:
        self.site = site
        self.result = result
        self.seen = seen

    def found_via(self) -> dict[str, str]:
        return {
            path: page["found_via"]
            for path, page in self.result.by_path().items()
            if page["status"] == 200
        }

    def where_from(self, url: str, *options: str) -> list[dict[str, Any]]:
        proc = run_crawler(
            "export",
            "1",
            "--what",
            "links",
            "--url",
            url,
            "--store",
            f"sqlite:///{self.result.db}",
            *options,
            cwd=self.result.db.parent,
        )
        assert proc.returncode == 0, proc.stderr
        return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "gzip"])
def discovery_crawl(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DiscoveryCrawl]:
    """One crawl of a site with the discovery apps only (their own robots.txt)."""
    with TinySite(apps=discovery.discovery_apps(), gzip=request.param) as site:
        tmp = tmp_path_factory.mktemp("discovery")
        result = crawl(site.url(discovery.INDEX_PATH), tmp, "-o", "pages.jsonl")
        assert result.returncode == 0, result.stderr[-3000:]
        yield DiscoveryCrawl(site, result, site.seen_paths())


def test_every_page_is_reached_with_its_found_via(discovery_crawl: DiscoveryCrawl) -> None:
    assert discovery_crawl.found_via() == discovery.EXPECTED_FOUND_VIA


def test_what_is_not_a_page_is_never_requested(discovery_crawl: DiscoveryCrawl) -> None:
    seen = set(discovery_crawl.seen)
    assert not seen & discovery.REL_RESOURCE_PATHS  # stylesheets, icons, preloads
    assert not seen & discovery.HEADER_IGNORED_PATHS  # rel=stylesheet, another anchor
    assert discovery.PRIVATE_PATH not in seen  # in a sitemap, disallowed by robots.txt
    # the sitemap files were read...
    assert {
        discovery.SITEMAP_INDEX_PATH,
        discovery.SITEMAP_GZ_PATH,
        discovery.SITEMAP_PLAIN_PATH,
        discovery.ROOT_SITEMAP_PATH,
    } <= seen


def test_robots_txt_and_sitemaps_are_counted_not_recorded(
    discovery_crawl: DiscoveryCrawl,
) -> None:
    result = discovery_crawl.result
    assert not [p for p in result.by_path() if p.endswith((".xml", ".gz", "robots.txt"))]
    stats = result.stats
    assert stats["crawler/sitemaps/robots_txt"] == 1
    assert stats["crawler/sitemaps/files"] == 4  # index, .xml.gz, .xml, /sitemap.xml
    assert stats["crawler/sitemaps/listed_pages"] == 7
    assert stats["robotstxt/forbidden"] == 1
    assert stats["offsite/filtered"] == 1
    # sitemap files are no hops: what they list is one hop from the start page
    assert result.by_path()[discovery.SITEMAP_ONLY_PATH]["depth"] == 1


def test_hash_routes_are_the_page_itself(discovery_crawl: DiscoveryCrawl) -> None:
    pages = discovery_crawl.result.pages
    assert not [p["url"] for p in pages if "#" in p["url"]]
    assert discovery_crawl.result.stats["crawler/links/self"] >= 1


def test_the_page_feed_holds_page_records_only(discovery_crawl: DiscoveryCrawl) -> None:
    feed = discovery_crawl.result.db.parent / "pages.jsonl"
    rows = [json.loads(line) for line in feed.read_text().splitlines()]
    assert sorted(r["url"] for r in rows) == sorted(p["url"] for p in discovery_crawl.result.pages)
    assert not [r for r in rows if "links" in r or "source" in r]


def test_links_say_where_a_url_came_from(discovery_crawl: DiscoveryCrawl) -> None:
    site = discovery_crawl.site
    [row] = discovery_crawl.where_from(site.url(discovery.FRAME_TARGET_PATH))
    assert row == {
        "source": site.url(discovery.FRAME_NAV_PATH),
        "url": site.url(discovery.FRAME_TARGET_PATH),
        "found_via": "link",
        "text": "Inside the frame",
        "refused": None,
        "fetched": True,
    }
    [header] = discovery_crawl.where_from(site.url(discovery.REFRESH_HEADER_PATH))
    assert (header["source"], header["found_via"], header["text"]) == (
        site.url(discovery.HEADERS_PATH),
        "header",
        "Refresh",
    )
    # a sitemap chain: robots.txt -> the index -> the .xml.gz -> the page
    [index] = discovery_crawl.where_from(site.url(discovery.SITEMAP_INDEX_PATH))
    assert (index["source"], index["found_via"]) == (site.url("/robots.txt"), "sitemap")
    [child] = discovery_crawl.where_from(site.url(discovery.SITEMAP_GZ_PATH))
    assert child["source"] == site.url(discovery.SITEMAP_INDEX_PATH)


def test_links_not_fetched_are_recorded_too(discovery_crawl: DiscoveryCrawl) -> None:
    site = discovery_crawl.site
    for url in (site.url(discovery.PRIVATE_PATH), discovery.OFFSITE_URL):
        [row] = discovery_crawl.where_from(url)
        assert row["source"] == site.url(discovery.SITEMAP_GZ_PATH)
        assert (row["found_via"], row["fetched"]) == ("sitemap", False)
    # the start page, listed by a sitemap as well: one fetch, two sources
    sources = {
        (r["source"], r["found_via"])
        for r in discovery_crawl.where_from(site.url(discovery.INDEX_PATH))
    }
    assert (site.url(discovery.SITEMAP_PLAIN_PATH), "sitemap") in sources


def test_export_of_all_links_as_csv(discovery_crawl: DiscoveryCrawl, tmp_path: Path) -> None:
    out = tmp_path / "links.csv"
    proc = run_crawler(
        "export",
        "1",
        "--what",
        "links",
        "--store",
        f"sqlite:///{discovery_crawl.result.db}",
        "-o",
        str(out),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "source,url,found_via,text,refused,fetched"
    assert len(lines) - 1 == discovery_crawl.result.stats["store/links_written"]


@pytest.mark.parametrize("site_fixture", ["tinysite", "tinysite_gzip"])
def test_a_frameset_start_page_leads_to_its_frames(
    request: pytest.FixtureRequest, tmp_path: Path, site_fixture: str
) -> None:
    site: TinySite = request.getfixturevalue(site_fixture)
    result = crawl(site.url(discovery.FRAMESET_PATH), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {path: page["found_via"] for path, page in result.by_path().items()} == {
        discovery.FRAMESET_PATH: "start",
        discovery.FRAME_NAV_PATH: "frame",
        discovery.FRAME_MAIN_PATH: "frame",
        discovery.FRAME_TARGET_PATH: "link",
    }
    # the default site's robots.txt has no Sitemap: line and it has no /sitemap.xml
    assert result.stats["crawler/sitemaps/status/404"] == 1


def test_sitemaps_can_be_turned_off(tmp_path: Path) -> None:
    with TinySite(apps=discovery.discovery_apps()) as site:
        result = crawl(site.url(discovery.INDEX_PATH), tmp_path, "-s", "CRAWLER_SITEMAPS=false")
        seen = set(site.seen_paths())
    assert result.returncode == 0, result.stderr[-3000:]
    sitemap_pages = {p for p, kind in discovery.EXPECTED_FOUND_VIA.items() if kind == "sitemap"}
    assert not sitemap_pages & set(result.by_path())
    assert discovery.ROOT_SITEMAP_PATH not in seen
    assert not [p for p in seen if urlsplit(p).path.endswith((".xml", ".gz"))]


def test_max_pages_counts_pages_not_robots_txt_and_sitemaps(tmp_path: Path) -> None:
    """Four sitemap files and two robots.txt downloads are no pages: --max-pages 3
    still records three pages (Scrapy's own count would have stopped at the files)."""
    with TinySite(apps=discovery.discovery_apps()) as site:
        result = crawl(site.url(discovery.INDEX_PATH), tmp_path, "--max-pages", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.runs[-1]["finish_reason"] == "closespider_pagecount"
    assert len([p for p in result.pages if p["status"] == 200]) >= 3
