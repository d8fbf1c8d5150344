"""``crawler crawl --render always|auto``: links written by scripts, with real Chromium."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite import classic
from tests.crawltools import CrawlResult, crawl

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

# Offline: the browser resolves nothing but the fixture's host.
BROWSER_OPTIONS = ("-s", "SELENIUM_ALLOWED_HOSTS=127.0.0.1", "-s", "SELENIUM_POOL_SIZE=2")
CLASSIC_WITH_SCRIPTS = classic.GET_ONLY_PATHS | classic.SCRIPT_LINKS
# A page with a script whose document the server sends after 2 s: over HTTP it
# arrives, in a browser with a 1 s page-load timeout it never does.
STUCK_DOCUMENT = "/js/stuck?ms=6000&delay=2000"


def browser_processes(under: Path) -> list[str]:
    """Browser and driver processes whose command line mentions ``under`` (their temp dir)."""
    found = subprocess.run(
        ["pgrep", "-a", "-f", "chromedriver|chromium"], capture_output=True, text=True, check=False
    ).stdout
    return [line for line in found.splitlines() if str(under) in line]


@pytest.fixture(scope="module")
def browser_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this module's crawls keep their browser sessions (to find leftovers)."""
    return tmp_path_factory.mktemp("browsers")


def crawl_rendered(site: TinySite, workdir: Path, mode: str, browser_dir: Path) -> CrawlResult:
    return crawl(
        site.url("/"),
        workdir,
        "--render",
        mode,
        "--forms",
        "none",
        "-s",
        f"SELENIUM_TEMP_DIR={browser_dir}",
        *BROWSER_OPTIONS,
    )


@pytest.fixture(scope="module")
def always(
    tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory, browser_dir: Path
) -> CrawlResult:
    return crawl_rendered(tinysite, tmp_path_factory.mktemp("always"), "always", browser_dir)


@pytest.fixture(scope="module")
def auto(
    tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory, browser_dir: Path
) -> CrawlResult:
    return crawl_rendered(tinysite, tmp_path_factory.mktemp("auto"), "auto", browser_dir)


def test_render_always_follows_links_written_by_scripts(always: CrawlResult) -> None:
    assert always.returncode == 0, always.stderr
    # The home page's script fetches /further.html (XHR) and writes it in.
    assert always.html_paths() == CLASSIC_WITH_SCRIPTS | {classic.FURTHER_PATH}
    found_via = {path: page["found_via"] for path, page in always.by_path().items()}
    assert found_via == {
        "/": "start",
        "/page1.html": "link",
        "/page2.html": "link",
        "/page5.html": "script",
        "/page6.html": "script",
        classic.FURTHER_PATH: "xhr",
    }
    rendered = {path for path, page in always.by_path().items() if page["rendered"]}
    assert rendered == CLASSIC_WITH_SCRIPTS  # what a script requested is data: plain HTTP
    assert always.stats["selenium/renders"] == len(CLASSIC_WITH_SCRIPTS)


def test_render_auto_finds_the_same_pages_with_fewer_renders(
    always: CrawlResult, auto: CrawlResult
) -> None:
    assert auto.returncode == 0, auto.stderr
    assert auto.html_paths() == always.html_paths()
    assert auto.by_path()["/page5.html"]["found_via"] == "script"
    assert auto.stats["selenium/renders"] < always.stats["selenium/renders"]
    rendered = {path for path, page in auto.by_path().items() if page["rendered"]}
    assert rendered == {"/"}  # the only page with a script
    assert auto.stats["render/auto/pages_with_script_links"] == 1


def test_no_browser_is_left_after_rendered_crawls(
    always: CrawlResult, auto: CrawlResult, browser_dir: Path
) -> None:
    assert always.returncode == auto.returncode == 0
    assert always.stats["selenium/sessions_started"] >= 1
    assert browser_processes(browser_dir) == []
    assert list(browser_dir.iterdir()) == []  # profiles and temp dirs removed too


def test_non_html_is_not_rendered(tinysite: TinySite, tmp_path: Path) -> None:
    from fixtures.tinysite import rough

    result = crawl(
        tinysite.url(rough.INDEX_PATH),
        tmp_path,
        "--render",
        "always",
        "--max-depth",
        "1",
        *BROWSER_OPTIONS,
    )
    assert result.returncode == 0, result.stderr
    pdf = result.by_path()[rough.PDF_PATH]
    assert (pdf["content_type"], pdf["rendered"]) == ("application/pdf", 0)
    cp1252 = result.by_path()[rough.CP1252_PATH]
    assert cp1252["rendered"] == 1
    assert cp1252["title"] == rough.CP1252_TITLE
    assert cp1252["content_type"].startswith("text/html; charset=windows-1252")
    assert result.by_path()[rough.MISSING_PATH]["status"] == 404  # the browser's real status


def test_auto_keeps_the_html_of_a_page_whose_render_fails(
    tinysite: TinySite, tmp_path: Path
) -> None:
    result = crawl(
        tinysite.url(STUCK_DOCUMENT),
        tmp_path,
        "--render",
        "auto",
        "-s",
        "SELENIUM_PAGE_LOAD_TIMEOUT=1",
        "-s",
        "RETRY_TIMES=1",
        *BROWSER_OPTIONS,
    )
    assert result.returncode == 0, result.stderr
    stuck = result.by_path()[STUCK_DOCUMENT]
    assert (stuck["status"], stuck["rendered"]) == (200, 0)
    assert "render failed" in stuck["error"]
    assert "/js/plain?n=9" in result.by_path()  # the HTML's own link is still followed
    assert result.stats["crawler/render_fallbacks"] == 1
    assert result.stats["selenium/render_failures/page_load_timeout"] == 2  # retried once
    assert "Traceback" not in result.stderr


def test_run_settings_record_the_render_mode(auto: CrawlResult) -> None:
    settings = json.loads(auto.runs[-1]["settings"])
    assert settings["spider_arguments"]["render"] == "auto"
