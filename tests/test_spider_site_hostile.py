"""``crawler crawl --render always`` over the hostile pages, with real Chromium,
plain and gzip-served: every page is recorded as itself, dialogs and stopped
loads are noted on the page, Chrome's error pages are errors, not status 200."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite import hostile
from tests.crawltools import CrawlResult, crawl
from tests.test_spider_site_render import BROWSER_OPTIONS, browser_processes

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

OPTIONS = (
    "--render",
    "always",
    "--forms",
    "none",
    "-s",
    "SELENIUM_PAGE_LOAD_TIMEOUT=2",
    "-s",
    "DOWNLOAD_MAXSIZE=100000",
    *BROWSER_OPTIONS,
)


@pytest.fixture(scope="module", params=["plain", "gzip"])
def hostile_crawl(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[CrawlResult, TinySite, Path]:
    site: TinySite = request.getfixturevalue(
        "tinysite" if request.param == "plain" else "tinysite_gzip"
    )
    workdir = tmp_path_factory.mktemp(f"hostile-{request.param}")
    browsers = workdir / "browsers"
    browsers.mkdir()
    result = crawl(
        site.url(hostile.INDEX_PATH),
        workdir,
        *OPTIONS,
        "-s",
        f"SELENIUM_TEMP_DIR={browsers}",
        timeout=180,
    )
    return result, site, browsers


def test_dialogs_are_answered_and_noted(hostile_crawl: tuple[CrawlResult, TinySite, Path]) -> None:
    result, _, _ = hostile_crawl
    assert result.returncode == 0, result.stderr
    pages = result.by_path()
    dialogs = pages[hostile.DIALOGS_PATH]
    assert (dialogs["status"], dialogs["rendered"], dialogs["error"]) == (200, 1, None)
    assert "confirm 'Delete everything?' dismissed" in dialogs["notes"]
    assert "alert 'Welcome to the hostile page' accepted" in dialogs["notes"]
    assert pages[hostile.AFTER_DIALOGS_PATH]["found_via"] == "script"
    assert hostile.CONFIRMED_PATH not in pages  # confirm() never said yes
    assert hostile.AFTER_TIMER_PATH in pages
    assert "alert 'Time is up' accepted" in pages[hostile.TIMER_DIALOG_PATH]["notes"]
    assert result.stats["selenium/dialogs/alert"] == 2
    assert result.stats["selenium/dialogs/confirm"] == 1
    assert result.stats["selenium/dialogs/prompt"] == 1


def test_a_load_that_never_ends_is_read_as_it_is(
    hostile_crawl: tuple[CrawlResult, TinySite, Path],
) -> None:
    result, _, _ = hostile_crawl
    pages = result.by_path()
    held = pages[hostile.HELD_PATH]
    assert (held["status"], held["rendered"], held["error"]) == (200, 1, None)
    assert "did not finish loading in 2 s" in held["notes"]
    assert pages[hostile.AFTER_HELD_PATH]["status"] == 200
    assert result.stats["selenium/page_loads_stopped"] == 1
    assert "selenium/session_restarts" not in result.stats


def test_downloads_and_non_html_are_recorded_as_themselves(
    hostile_crawl: tuple[CrawlResult, TinySite, Path],
) -> None:
    result, _, _ = hostile_crawl
    pages = result.by_path()
    expected = {
        hostile.ATTACHMENT_PATH: "text/csv; charset=utf-8",
        hostile.PDF_PATH: "application/pdf",
        hostile.IMAGE_PATH: "image/png",
        hostile.JSON_PATH: "application/json",
    }
    got = {
        path: (pages[path]["status"], pages[path]["content_type"], pages[path]["rendered"])
        for path in expected
    }
    assert got == {path: (200, mime, 0) for path, mime in expected.items()}
    assert all(pages[path]["title"] is None for path in expected)  # no other page's DOM
    assert result.stats["selenium/not_rendered/download"] == 1
    assert result.stats["selenium/not_rendered/non_html"] == 3


def test_chrome_error_pages_are_errors(hostile_crawl: tuple[CrawlResult, TinySite, Path]) -> None:
    result, _, _ = hostile_crawl
    pages = result.by_path()
    loop = pages[hostile.LOOP_PATH]
    assert loop["status"] is None
    assert "net::ERR_TOO_MANY_REDIRECTS" in loop["error"]
    bad = pages[hostile.BAD_GZIP_PATH]
    assert bad["status"] is None
    assert "net::ERR_CONTENT_DECODING_FAILED" in bad["error"]
    # Permanent: each rendered once, not retried.
    assert result.stats["selenium/render_failures/net_error"] == 2
    assert result.stats["selenium/net_errors/ERR_TOO_MANY_REDIRECTS"] == 1


def test_windows_are_closed_and_sizes_limited(
    hostile_crawl: tuple[CrawlResult, TinySite, Path],
) -> None:
    result, _, browsers = hostile_crawl
    pages = result.by_path()
    assert hostile.AFTER_POPUPS_PATH in pages
    assert result.stats["selenium/windows_closed"] == 2
    big = pages[hostile.BIG_PATH]
    assert big["status"] is None
    assert "larger than the download max size (100000)" in big["error"]
    assert hostile.AFTER_BIG_PATH not in pages
    assert result.stats["selenium/render_failures/too_large"] == 1
    assert browser_processes(browsers) == []
    assert "Traceback" not in result.stderr


def test_a_gzip_bomb_is_recorded_as_too_large_and_the_crawl_goes_on(
    tinysite: TinySite, tmp_path: Path
) -> None:
    """48 MiB of HTML in ~50 KB of gzip, over plain HTTP: the default
    DOWNLOAD_MAXSIZE (32 MiB) stops the decompression; the page is recorded with
    the error rather than dropped, and the crawl ends normally: as a failed crawl
    (exit code 1), for its start URL gave no page."""
    result = crawl(tinysite.url(hostile.GZIP_BOMB_PATH), tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "(crawl failed: start_url_failed, no_pages)" in result.stderr
    [page] = result.pages
    assert page["status"] is None
    assert "exceeded DOWNLOAD_MAXSIZE (33554432 B) during decompression" in page["error"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("path", [hostile.LOOP_PATH, hostile.REFRESH_LOOP_PATH])
def test_a_redirect_loop_over_http_is_recorded_with_the_reason(
    tinysite: TinySite, tmp_path: Path, path: str
) -> None:
    """A 302 loop and a <meta http-equiv=refresh> loop: Scrapy's redirect middlewares
    give up at REDIRECT_MAX_TIMES; the page that starts the loop is recorded, and
    a crawl whose start URL is a loop failed (exit code 1) and says so."""
    result = crawl(tinysite.url(path), tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert (
        f"error: the start URL {tinysite.url(path)} gave no page: still redirected after 20 "
        "redirects (a redirect loop?) (crawl failed: start_url_failed, no_pages)"
    ) in result.stderr
    [page] = result.pages
    assert page["url"] == tinysite.url(path)
    assert page["status"] is None
    assert page["error"].startswith("redirect loop: max redirections reached after 20 redirects")
    assert "through 2 URLs" in page["error"]
    assert result.stats["crawler/page_errors/redirect_loop"] == 1
