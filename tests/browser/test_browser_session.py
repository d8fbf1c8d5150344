"""BrowserSession against real Chromium, called directly (no reactor)."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import pytest
from scrapy.exceptions import DownloadFailedError, DownloadTimeoutError
from selenium.common.exceptions import InvalidSessionIdException, WebDriverException
from urllib3.exceptions import MaxRetryError

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.request import BrowserOptions
from crawler.browser.session import BrowserSession, RenderSpec, is_fatal, locator
from crawler.exceptions import (
    BrowserCrashedError,
    BrowserNotFoundError,
    BrowserPageLoadTimeoutError,
    BrowserWaitTimeoutError,
)
from tests.browser.conftest import (
    browser_settings,
    find_process,
    is_browser_main,
    needs_chromium,
    processes_under,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fixtures.tinysite.server import TinySite


@pytest.fixture
def session(browser_root: str) -> Iterator[BrowserSession]:
    config = BrowserConfig.from_settings(framework_settings(browser_settings(browser_root)))
    session = BrowserSession(config, 1).start()
    yield session
    session.quit()


def spec(url: str, **options: object) -> RenderSpec:
    return RenderSpec(url=url, options=BrowserOptions(**options))  # type: ignore[arg-type]


def test_locator() -> None:
    assert locator("#a .b") == ("css selector", "#a .b")
    assert locator("//a[@href]") == ("xpath", "//a[@href]")
    assert locator("(//a)[2]") == ("xpath", "(//a)[2]")
    assert locator("xpath:a") == ("xpath", "a")
    assert locator("css:/odd") == ("css selector", "/odd")


def test_fatal_errors() -> None:
    assert is_fatal(InvalidSessionIdException("invalid session id"))
    assert is_fatal(WebDriverException("unknown error: session deleted because of page crash"))
    assert is_fatal(WebDriverException("tab crashed"))
    assert is_fatal(MaxRetryError(None, "/session", None))  # type: ignore[arg-type]
    assert is_fatal(ConnectionRefusedError())
    assert not is_fatal(WebDriverException("no such element"))


def test_error_classes_are_scrapy_download_errors() -> None:
    assert issubclass(BrowserCrashedError, DownloadFailedError)
    assert issubclass(BrowserWaitTimeoutError, DownloadTimeoutError)
    assert issubclass(BrowserPageLoadTimeoutError, DownloadTimeoutError)


@needs_chromium
def test_redirects_report_final_url(session: BrowserSession, site: TinySite) -> None:
    by_http = session.render(spec(site.url("/js/redirect-http")))
    assert by_http.url == site.url("/js/landing")
    assert by_http.status == 200 and by_http.status_known
    by_js = session.render(spec(site.url("/js/redirect-js"), wait_for="#landed"))
    assert by_js.url == site.url("/js/landing")
    assert "landed" in by_js.html
    assert session.pages == 2


@needs_chromium
def test_scroll_action(session: BrowserSession, site: TinySite) -> None:
    from crawler.browser.request import ScrollToBottom

    result = session.render(
        spec(site.url("/js/long"), actions=(ScrollToBottom(wait_for="#bottom-seen"),))
    )
    assert 'id="bottom-seen"' in result.html


@needs_chromium
def test_block_resources_stops_image_and_font_requests(
    session: BrowserSession, site: TinySite
) -> None:
    session.render(spec(site.url("/js/images?run=open")))
    session.render(spec(site.url("/js/images?run=blocked"), block_resources=("image", "font")))
    targets = [r.target for r in site.requests_seen]
    assert any(t.startswith("/js/img/a.png?run=open") for t in targets)
    assert any(t.startswith("/js/font/f.woff2?run=open") for t in targets)
    assert any(t.startswith("/js/css/site.css?run=blocked") for t in targets)
    blocked = [t for t in targets if "run=blocked" in t and t.startswith(("/js/img", "/js/font"))]
    assert blocked == []


@needs_chromium
def test_wait_for_never_matching_times_out(session: BrowserSession, site: TinySite) -> None:
    with pytest.raises(BrowserWaitTimeoutError, match="'#never' did not match"):
        session.render(spec(site.url("/js/links"), wait_for="#never", wait_timeout=0.5))
    assert not session.broken
    # A callable condition gets the driver.
    result = session.render(
        spec(
            site.url("/js/links"),
            wait_for=lambda d: len(d.find_elements("css selector", "a.scripted")) == 3,
        )
    )
    assert result.html.count('class="scripted"') == 3


@needs_chromium
def test_document_that_never_arrives_times_out_and_keeps_the_session(
    session: BrowserSession, site: TinySite
) -> None:
    session.render(spec(site.url("/js/plain")))
    with pytest.raises(BrowserPageLoadTimeoutError, match=r"did not send the document"):
        session.render(spec(site.url("/js/hold?ms=3000"), page_load_timeout=0.5))
    assert not session.broken  # the browser answered: loading was stopped
    after = session.render(spec(site.url("/js/links")))
    assert after.url == site.url("/js/links")


@needs_chromium
def test_killed_browser_is_reported_and_quit_leaves_nothing(
    session: BrowserSession, site: TinySite, browser_root: str
) -> None:
    session.render(spec(site.url("/js/plain")))
    pids = find_process(browser_root, is_browser_main)
    assert session.handle is not None and pids == [session.handle.browser_pid]
    import os
    import signal

    os.kill(pids[0], signal.SIGKILL)
    with pytest.raises(BrowserCrashedError, match="died while rendering"):
        session.render(spec(site.url("/js/plain?n=2")))
    assert session.broken
    session.quit()
    assert processes_under(browser_root) == []


@pytest.mark.skipif(
    not (shutil.which("geckodriver") and shutil.which("firefox")),
    reason="geckodriver and firefox are not on PATH",
)
def test_firefox_renders(site: TinySite, browser_root: str) -> None:
    settings = browser_settings(
        browser_root, SELENIUM_BROWSER="firefox", SELENIUM_BROWSER_ARGUMENTS=[]
    )
    session = BrowserSession(BrowserConfig.from_settings(framework_settings(settings)), 1).start()
    try:
        result = session.render(spec(site.url("/js/links"), wait_for="a.scripted"))
        assert result.html.count('class="scripted"') == 3
        assert not result.status_known
    finally:
        session.quit()
    assert processes_under(browser_root) == []


def test_no_browser_on_path_is_one_clear_error_and_starts_nothing(
    browser_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = BrowserConfig.from_settings(framework_settings(browser_settings(browser_root)))
    monkeypatch.setenv("PATH", browser_root)  # a directory without any browser in it
    with pytest.raises(BrowserNotFoundError, match="SELENIUM_BROWSER_EXECUTABLE_PATH"):
        BrowserSession(config, 1).start()
    assert os.listdir(browser_root) == []
