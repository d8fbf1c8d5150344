"""``--render auto|always`` decisions on real pages, with real Chromium: decoded (gzip)
bodies, types rendered before download, learning from extracted fields, and the
HTTP fallback of a render that fails for good."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

import pytest
import yaml

from fixtures.tinysite import renderflow
from fixtures.tinysite.renderflow import RenderFlowApp
from fixtures.tinysite.server import TinySite
from tests.crawltools import CrawlResult, crawl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Offline: the browser resolves nothing but the fixture's host.
BROWSER_OPTIONS = ("-s", "SELENIUM_ALLOWED_HOSTS=127.0.0.1", "-s", "SELENIUM_POOL_SIZE=2")
ITEMS = [f"/flow/item/{n}" for n in range(1, renderflow.LAST + 1)]
PRODUCTS = [f"/flow/product/{n}" for n in range(1, renderflow.LAST + 1)]


def crawl_site(start_url: str, workdir: Path, mode: str, *options: str) -> CrawlResult:
    browsers = workdir / "browsers"
    browsers.mkdir()
    result = crawl(
        start_url,
        workdir,
        "--render",
        mode,
        "--forms",
        "none",
        "-s",
        f"SELENIUM_TEMP_DIR={browsers}",
        *BROWSER_OPTIONS,
        *options,
    )
    assert list(browsers.iterdir()) == [], "a browser session was left behind"
    return result


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "gzip"])
def flow_site(request: pytest.FixtureRequest) -> Iterator[tuple[TinySite, RenderFlowApp]]:
    app = RenderFlowApp()
    with TinySite(apps=[app], gzip=request.param) as site:
        yield site, app


@pytest.mark.parametrize("mode", ["auto", "always"])
def test_gzip_served_script_links_are_rendered_and_found(
    tinysite_gzip: TinySite, tmp_path: Path, mode: str
) -> None:
    result = crawl_site(tinysite_gzip.url("/"), tmp_path, mode)
    assert result.returncode == 0, result.stderr
    pages = result.by_path()
    assert pages["/"]["rendered"] == 1
    assert (pages["/page5.html"]["found_via"], pages["/page6.html"]["found_via"]) == (
        "script",
        "script",
    )
    if mode == "auto":
        # Decided on the decoded body: before, the gzip bytes showed no <script>.
        assert result.stats["render/auto/rendered"] >= 1
        assert result.stats["render/auto/pages_with_script_links"] == 1


def test_a_type_that_needs_the_browser_is_not_fetched_twice(
    flow_site: tuple[TinySite, RenderFlowApp], tmp_path: Path
) -> None:
    site, app = flow_site
    app.reset()
    result = crawl_site(site.url("/flow/"), tmp_path, "auto")
    assert result.returncode == 0, result.stderr
    pages = result.by_path()
    assert set(ITEMS) <= set(pages)
    assert all(pages[path]["rendered"] == 1 for path in ITEMS)
    assert [pages[path]["found_via"] for path in ITEMS[1:]] == ["script"] * (len(ITEMS) - 1)
    # The first page of the type: over HTTP, then rendered (its scripts add a link);
    # every later one: requested once, by the browser only.
    assert app.clients(ITEMS[0]) == ["http", "browser"]
    for path in ITEMS[1:]:
        assert app.clients(path) == ["browser"], path
    assert result.stats["render/auto/rendered_before_download"] == len(ITEMS) - 1
    assert result.stats["render/auto/types_needing_browser"] == 1
    # Products: scripts fill a field but add no link; without extraction specs
    # that is nothing learned: two samples, then HTTP only.
    assert [app.clients(path) for path in PRODUCTS] == [
        ["http", "browser"],
        ["http", "browser"],
        ["http"],
        ["http"],
    ]
    assert app.clients("/flow/") == app.clients("/flow/about") == ["http"]  # no script


def test_fields_filled_by_scripts_make_a_type_need_the_browser(tmp_path: Path) -> None:
    spec = tmp_path / "product.yaml"
    spec.write_text(yaml.safe_dump(renderflow.SPEC), encoding="utf-8")
    app = RenderFlowApp()
    with TinySite(apps=[app]) as site:
        result = crawl_site(site.url("/flow/product/1"), tmp_path, "auto", "--extract", str(spec))
    assert result.returncode == 0, result.stderr
    assert app.clients(PRODUCTS[0]) == ["http", "browser"]
    for path in PRODUCTS[1:]:
        assert app.clients(path) == ["browser"], path
    assert result.stats["render/auto/pages_with_script_fields"] >= 1
    with sqlite3.connect(result.db) as conn:
        prices = {
            json.loads(data)["name"]: json.loads(data)["price"]
            for (data,) in conn.execute("select data from items where spec = 'flow_product'")
        }
    assert prices == {f"Product {n}": price for n, price in renderflow.PRICES.items()}


def test_always_keeps_the_html_of_a_page_whose_render_fails(tmp_path: Path) -> None:
    app = RenderFlowApp()
    with TinySite(apps=[app]) as site:
        result = crawl_site(
            site.url("/flow/hang?ms=6000"),
            tmp_path,
            "always",
            "-s",
            "SELENIUM_PAGE_LOAD_TIMEOUT=1",
            "-s",
            "RETRY_TIMES=1",
        )
    assert result.returncode == 0, result.stderr
    hang = result.by_path()["/flow/hang?ms=6000"]
    assert (hang["status"], hang["rendered"], hang["title"]) == (200, 0, "Hang")
    assert hang["error"].startswith("render failed: BrowserPageLoadTimeoutError")
    # Two renders (one retry), then the same page once over HTTP.
    assert app.clients("/flow/hang") == ["browser", "browser", "http"]
    about = result.by_path()["/flow/about"]  # the HTML's own link is still followed
    assert (about["found_via"], about["rendered"], about["depth"]) == ("link", 1, 1)
    assert result.stats["crawler/render_fallbacks"] == 1
    assert result.stats["render/fallback/pages"] == 1
    assert "Traceback" not in result.stderr
