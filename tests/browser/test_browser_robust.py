"""Robust renders with real Chromium: dialogs, stopped loads, downloads and other
non-HTML documents, Chrome's error pages, windows the page opens, size limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.dialogs import dialogs_from_events
from crawler.browser.document import document_outcome, net_error_from_message
from crawler.browser.request import BrowserOptions, Click
from crawler.browser.result import Dialog
from crawler.browser.session import BrowserSession, RenderSpec
from crawler.exceptions import (
    BrowserNetError,
    BrowserPageLoadTimeoutError,
    BrowserPermanentNetError,
    BrowserResponseTooLargeError,
)
from fixtures.tinysite import hostile
from fixtures.tinysite.hostile import HostileApp
from fixtures.tinysite.scripted import ScriptedApp
from fixtures.tinysite.server import TinySite
from tests.browser.conftest import browser_settings, needs_chromium

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def hostile_site() -> Iterator[TinySite]:
    app = HostileApp()
    with TinySite(apps=[app, ScriptedApp()]) as server:
        yield server
        app.release()


@pytest.fixture
def session(browser_root: str) -> Iterator[BrowserSession]:
    settings = browser_settings(browser_root, SELENIUM_PAGE_LOAD_TIMEOUT=2)
    config = BrowserConfig.from_settings(framework_settings(settings))
    session = BrowserSession(config, 1).start()
    yield session
    session.quit()


def spec(url: str, **options: object) -> RenderSpec:
    return RenderSpec(url=url, options=BrowserOptions(**options))  # type: ignore[arg-type]


# -- pure parts ---------------------------------------------------------------


def test_net_error_from_driver_message() -> None:
    text = "unknown error: net::ERR_NAME_NOT_RESOLVED\n  (Session info: chrome=156)"
    assert net_error_from_message(text) == "net::ERR_NAME_NOT_RESOLVED"
    assert net_error_from_message("no such element") is None


def test_dialog_events_pair_opening_and_closing() -> None:
    events = [
        {"method": "Page.javascriptDialogOpening", "params": {"type": "confirm", "message": "Go?"}},
        {"method": "Page.javascriptDialogClosed", "params": {"result": False}},
        {"method": "Page.javascriptDialogOpening", "params": {"type": "beforeunload"}},
    ]
    assert dialogs_from_events(events) == [
        Dialog("confirm", "Go?", False),
        Dialog("beforeunload", "", True),  # no close seen: answered by the policy
    ]


def test_outcome_of_a_download_and_of_another_frame() -> None:
    main = "MAIN"
    events = [
        {
            "method": "Network.requestWillBeSent",
            "params": {"requestId": "S", "type": "Document", "frameId": "SUB"},
        },
        {
            "method": "Network.requestWillBeSent",
            "params": {
                "requestId": "R",
                "type": "Document",
                "frameId": main,
                "request": {"url": "http://h/x.csv"},
            },
        },
        {"method": "Network.loadingFailed", "params": {"requestId": "S", "errorText": "x"}},
        {
            "method": "Network.loadingFailed",
            "params": {"requestId": "R", "errorText": "net::ERR_ABORTED"},
        },
        {"method": "Page.downloadWillBegin", "params": {"frameId": main, "url": "http://h/x.csv"}},
    ]
    outcome = document_outcome(events, main)
    assert outcome.request_id == "R"
    assert outcome.not_rendered == "download"
    assert outcome.failed is None


# -- dialogs --------------------------------------------------------------------


@needs_chromium
def test_dialogs_on_load_are_answered_and_recorded(
    session: BrowserSession, hostile_site: TinySite
) -> None:
    result = session.render(spec(hostile_site.url(hostile.DIALOGS_PATH)))
    assert [(d.type, d.accepted) for d in result.dialogs] == [
        ("alert", True),
        ("confirm", False),  # never confirm what may be destructive
        ("prompt", False),
    ]
    assert result.dialogs[1].message == "Delete everything?"
    assert f'href="{hostile.AFTER_DIALOGS_PATH}"' in result.html
    assert f'href="{hostile.CONFIRMED_PATH}"' not in result.html
    assert "<title>name=null</title>" in result.html
    assert any("confirm 'Delete everything?' dismissed" in note for note in result.notes)
    # The session goes on: the next page renders.
    assert session.render(spec(hostile_site.url(hostile.INDEX_PATH))).status == 200


@needs_chromium
def test_dialog_from_a_timer(session: BrowserSession, hostile_site: TinySite) -> None:
    result = session.render(
        spec(hostile_site.url(hostile.TIMER_DIALOG_PATH), wait_for="a[href$='after-timer.html']")
    )
    assert result.dialogs == [Dialog("alert", "Time is up", True)]
    assert hostile.AFTER_TIMER_PATH in result.html


@needs_chromium
def test_beforeunload_does_not_hold_the_next_render(
    session: BrowserSession, hostile_site: TinySite
) -> None:
    # A click gives the page the user activation Chrome wants before it asks.
    first = session.render(
        spec(hostile_site.url(hostile.BEFOREUNLOAD_PATH), actions=(Click("#touch"),))
    )
    assert "touched" in first.html
    after = session.render(spec(hostile_site.url(hostile.INDEX_PATH)))
    assert after.url == hostile_site.url(hostile.INDEX_PATH)
    assert hostile.DIALOGS_PATH in after.html
    assert after.dialogs == [Dialog("beforeunload", "", True)]
    assert "the previous page's beforeunload dialog accepted" in after.notes
    assert not session.broken


# -- page-load timeout --------------------------------------------------------------


@needs_chromium
def test_a_load_that_never_ends_is_stopped_and_read(
    session: BrowserSession, hostile_site: TinySite
) -> None:
    result = session.render(spec(hostile_site.url(hostile.HELD_PATH), page_load_timeout=1))
    assert result.load_stopped
    assert hostile.AFTER_HELD_PATH in result.html  # the page's script ran
    assert result.status == 200 and result.status_known
    assert any("did not finish loading in 1 s" in note for note in result.notes)
    assert not session.broken
    assert session.render(spec(hostile_site.url(hostile.INDEX_PATH))).status == 200


# -- downloads and non-HTML documents --------------------------------------------------


@needs_chromium
@pytest.mark.parametrize(
    ("path", "reason", "mime"),
    [
        (hostile.ATTACHMENT_PATH, "download", "text/csv"),
        (hostile.PDF_PATH, "non_html", "application/pdf"),
        (hostile.IMAGE_PATH, "non_html", "image/png"),
        (hostile.JSON_PATH, "non_html", "application/json"),
    ],
)
def test_downloads_and_documents_that_are_not_html_are_not_rendered(
    session: BrowserSession, hostile_site: TinySite, path: str, reason: str, mime: str
) -> None:
    session.render(spec(hostile_site.url(hostile.INDEX_PATH)))  # a page to stay on
    result = session.render(spec(hostile_site.url(path)))
    assert result.not_rendered == reason
    assert result.content_type == mime
    assert result.html == ""  # never the previous page's DOM


# -- Chrome's error pages -----------------------------------------------------------


@needs_chromium
def test_redirect_loop_is_a_permanent_net_error(
    session: BrowserSession, hostile_site: TinySite
) -> None:
    with pytest.raises(BrowserPermanentNetError, match="ERR_TOO_MANY_REDIRECTS") as caught:
        session.render(spec(hostile_site.url(hostile.LOOP_PATH)))
    assert caught.value.net_error == "net::ERR_TOO_MANY_REDIRECTS"
    assert not session.broken


@needs_chromium
def test_bad_gzip_is_a_permanent_net_error(session: BrowserSession, hostile_site: TinySite) -> None:
    with pytest.raises(BrowserPermanentNetError, match="ERR_CONTENT_DECODING_FAILED"):
        session.render(spec(hostile_site.url(hostile.BAD_GZIP_PATH)))


@needs_chromium
def test_refused_connection_and_unknown_host_are_retried_net_errors(
    session: BrowserSession, closed_port: int
) -> None:
    with pytest.raises(BrowserNetError, match="ERR_CONNECTION_REFUSED"):
        session.render(spec(f"http://127.0.0.1:{closed_port}/"))
    with pytest.raises(BrowserNetError, match="ERR_NAME_NOT_RESOLVED"):
        session.render(spec("http://unknown-host.invalid/"))
    assert not session.broken


# -- windows ------------------------------------------------------------------------


@needs_chromium
def test_windows_the_page_opens_are_closed(session: BrowserSession, hostile_site: TinySite) -> None:
    result = session.render(spec(hostile_site.url(hostile.POPUPS_PATH)))
    assert result.windows_closed == 2
    assert hostile.AFTER_POPUPS_PATH in result.html
    assert session.driver.window_handles == [session.driver.current_window_handle]
    after = session.render(spec(hostile_site.url(hostile.INDEX_PATH)))
    assert after.url == hostile_site.url(hostile.INDEX_PATH)
    assert after.windows_closed == 0


# -- size limits --------------------------------------------------------------------


@needs_chromium
def test_a_document_over_the_max_size_is_cancelled(
    session: BrowserSession, hostile_site: TinySite
) -> None:
    url = hostile_site.url(hostile.BIG_PATH)
    too_large = RenderSpec(url=url, options=BrowserOptions(), maxsize=100_000)
    with pytest.raises(BrowserResponseTooLargeError, match=r"larger than the download max size"):
        session.render(too_large)
    warned = session.render(RenderSpec(url=url, options=BrowserOptions(), warnsize=100_000))
    assert any("larger than the download warn size" in note for note in warned.notes)
    assert hostile.AFTER_BIG_PATH in warned.html


@needs_chromium
def test_a_document_that_never_arrives_is_a_timeout(
    session: BrowserSession, hostile_site: TinySite
) -> None:
    with pytest.raises(BrowserPageLoadTimeoutError, match="did not send the document"):
        session.render(spec(hostile_site.url("/js/hold?ms=2500"), page_load_timeout=0.5))
    assert not session.broken
