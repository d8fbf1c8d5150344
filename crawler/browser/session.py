"""One browser session, driven by one worker thread at a time.

:meth:`BrowserSession.render` turns a :class:`~crawler.browser.result.RenderSpec`
into a :class:`~crawler.browser.result.RenderResult` or raises one of the
``crawler.exceptions`` download errors.  When the error means the browser
cannot be trusted any more (it crashed, its driver died, a page load hung)
:attr:`BrowserSession.broken` is set and the owner must
:meth:`~BrowserSession.quit` it.

The session orchestrates; the concerns live beside it: DevTools events and the
main document (:mod:`crawler.browser.devtools`), cookies between the jar and
the browser (:mod:`crawler.browser.cookies`), waits and actions
(:mod:`crawler.browser.actions`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from selenium.common.exceptions import (
    JavascriptException,
    TimeoutException,
    UnexpectedAlertPresentException,
    WebDriverException,
)

from crawler.browser import actions, explore
from crawler.browser.actions import first_line, locator
from crawler.browser.config import blocked_url_patterns
from crawler.browser.cookies import (
    browser_cookies,
    load_request_cookies_cdp,
    load_request_cookies_webdriver,
)
from crawler.browser.devtools import NetworkQuiet, PerformanceLog, document_status_js
from crawler.browser.dialogs import (
    DIALOG_SCRIPT,
    DIALOGS_JS,
    dialog,
    dialog_note,
    dialogs_from_events,
    dialogs_from_script,
)
from crawler.browser.discovery import fresh_navigation, live_page, requested_urls
from crawler.browser.document import (
    PERMANENT_NET_ERRORS,
    DocumentOutcome,
    document_outcome,
    net_error_from_message,
)
from crawler.browser.driver import create_driver, remote_timeout
from crawler.browser.pagehooks import PageHooks
from crawler.browser.result import Dialog, RenderResult, RenderSpec
from crawler.exceptions import (
    BrowserCrashedError,
    BrowserError,
    BrowserNetError,
    BrowserNotFoundError,
    BrowserPageError,
    BrowserPageLoadTimeoutError,
    BrowserPermanentNetError,
    BrowserResponseTooLargeError,
    BrowserStartError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.browser.config import BrowserConfig, RemoteNode
    from crawler.browser.driver import DriverHandle
    from crawler.browser.politeness import Navigation
    from crawler.items import Link

__all__ = ["BrowserSession", "RenderResult", "RenderSpec", "is_fatal", "locator"]

logger = logging.getLogger(__name__)

# WebDriver error texts that mean the browser side is gone for good.
_FATAL_MESSAGES = (
    "tab crashed",
    "session deleted",
    "invalid session id",
    "chrome not reachable",
    "disconnected",
    "no such window",
    "target window already closed",
    "unable to receive message from renderer",
    "session not created",
)


def is_fatal(exc: BaseException) -> bool:
    """Whether ``exc`` means the session's browser or driver is gone or unusable."""
    if isinstance(exc, WebDriverException):
        message = (exc.msg or str(exc)).lower()
        return any(text in message for text in _FATAL_MESSAGES) or type(exc).__name__ in (
            "InvalidSessionIdException",
            "NoSuchWindowException",
            "SessionNotCreatedException",
        )
    return node_silent(exc)


def node_silent(exc: BaseException) -> bool:
    """Whether ``exc`` says the driver did not answer at all: urllib3's
    ``MaxRetryError`` / ``ReadTimeoutError`` / ``ProtocolError``, a refused or reset
    connection, a socket error (not an answer with an error in it)."""
    return isinstance(exc, OSError) or type(exc).__module__.startswith("urllib3")


class BrowserSession:
    """A started browser plus the per-render logic.  Not thread-safe: one user at a time."""

    def __init__(
        self, config: BrowserConfig, session_id: int = 0, node: RemoteNode | None = None
    ) -> None:
        self.config = config
        self.session_id = session_id
        # The remote node the session lives on (the pool's choice); None: local,
        # or the first of SELENIUM_REMOTE_URL.
        self.node = node if node is not None or not config.is_remote else config.remote_nodes[0]
        self.pages = 0
        self.broken = False
        self._handle: DriverHandle | None = None
        self._user_agent: str | None = config.user_agent
        self._blocked: tuple[str, ...] = ()
        self._log: PerformanceLog | None = None  # DevTools events of the current render
        self._hooks = PageHooks()  # crawler.browser.pagehooks: timers, listeners, navigations
        self._main_window: str | None = None  # Chromium: also the main frame's id
        self._timeouts: float | None = None  # page-load and script timeouts set, seconds
        # The WebDriver session id of a remote session dropped unasked (abandon()):
        # its browser may still run on the node.
        self.abandoned_id: str | None = None

    @property
    def handle(self) -> DriverHandle | None:
        return self._handle

    @property
    def driver(self) -> WebDriver:
        if self._handle is None:
            raise RuntimeError("session not started")
        return self._handle.driver

    def start(self) -> BrowserSession:
        """Start the browser.  Raises :class:`BrowserNotFoundError` when there is no
        browser to start, :class:`BrowserStartError` when it would not start."""
        try:
            self._handle = create_driver(
                self.config, self.node.url if self.node is not None else None
            )
        except BrowserNotFoundError:
            raise
        except Exception as e:
            where = (
                f"on node {self.node.label}"
                if self.node is not None
                else self.config.browser_executable or "from PATH"
            )
            raise BrowserStartError(
                f"could not start {self.config.browser} ({where}): "
                f"{type(e).__name__}: {first_line(e)}"
            ) from e
        self._blocked = ()
        self._hooks = PageHooks()
        self._timeouts = None
        try:
            self._main_window = self._handle.driver.current_window_handle
            if self._handle.cdp:
                self._prepare_browser()
        except Exception as e:
            if self._handle.remote and node_silent(e):
                self.abandon()  # a quit would wait on the node that just did not answer
            else:
                self.quit()
            raise BrowserStartError(
                f"could not prepare {self.config.browser}: {type(e).__name__}: {first_line(e)}"
            ) from e
        if self._handle.cdp and self.config.block_resources:
            self._set_blocked(self.config.block_resources)
        return self

    def _prepare_browser(self) -> None:
        """Once per session: dialogs answered in every document, downloads refused."""
        driver = self.driver
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DIALOG_SCRIPT})
        # A navigation that becomes a download writes nothing to disk; the
        # middleware fetches it over HTTP instead.
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "deny"})

    def quit(self) -> None:
        """Quit the browser; kill what survives; remove temp dirs.  Never raises."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    def abandon(self) -> None:
        """Drop a remote session whose node is gone, without asking the node; its
        WebDriver session id is kept in :attr:`abandoned_id` (for
        :class:`~crawler.browser.pool.BrowserPool` to delete once the node answers)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self.abandoned_id = getattr(handle.driver, "session_id", None)
            handle.abandon()

    # -- rendering -----------------------------------------------------------

    def render(self, spec: RenderSpec, navigation: Navigation | None = None) -> RenderResult:
        """Render ``spec``; with a ``navigation``, the page is requested in its slot's turn."""
        if self._handle is None:
            self.start()
        started = time.monotonic()
        self.pages += 1
        try:
            try:
                result = self._render(spec, navigation)
            except Exception as e:
                # A session that is done for is not asked about its windows: on a
                # node that stopped answering, that would wait out the command
                # timeout a second time.
                if not (self.broken or is_fatal(e)):
                    self._close_other_windows()
                raise
            closed = self._close_other_windows()
            result.windows_closed = closed
            if closed:
                result.notes.append(f"closed {closed} window(s) the page opened")
        except BrowserError:
            raise
        except TimeoutException as e:
            # Only the page load raises a bare TimeoutException here; waits are
            # translated in _wait().  A page that does not load may hang the tab.
            self.broken = True
            raise BrowserPageLoadTimeoutError(
                f"page load of {spec.url} took longer than "
                f"{self._page_load_timeout(spec):g} s; the browser session was replaced"
            ) from e
        except Exception as e:
            if is_fatal(e):
                self.broken = True
                raise BrowserCrashedError(
                    f"browser session {self.session_id} died while rendering {spec.url} "
                    f"({type(e).__name__}: {first_line(e)}); it was replaced"
                ) from e
            if isinstance(e, WebDriverException):
                raise BrowserError(
                    f"rendering {spec.url} failed: {type(e).__name__}: {first_line(e)}"
                ) from e
            raise
        result.elapsed = time.monotonic() - started
        result.session_id = self.session_id
        return result

    def _page_load_timeout(self, spec: RenderSpec) -> float:
        return spec.options.page_load_timeout or self.config.page_load_timeout

    def _render(self, spec: RenderSpec, navigation: Navigation | None) -> RenderResult:
        assert self._handle is not None
        driver = self._handle.driver
        options = spec.options
        cdp = self._handle.cdp
        injected = {name: value for name, value in spec.cookies}
        page_load_timeout = self._page_load_timeout(spec)

        log = self._log = PerformanceLog(driver) if cdp else None
        if log is not None:
            self._prepare_cdp(spec)
            log.reset()  # drop the events of earlier pages
        else:
            if spec.options.block_resources:
                logger.debug("block_resources needs Chromium DevTools; ignored for %s", spec.url)
            load_request_cookies_webdriver(driver, spec.url, spec.cookies, page_load_timeout)
        # Only cookies the browser took can have been deleted by the page.
        held = (
            {c["name"] for c in browser_cookies(driver, cdp, spec.url, spec.url)}
            if injected
            else set()
        )
        self._set_timeouts(page_load_timeout)
        if cdp:  # before the page's scripts run (crawler.browser.pagehooks)
            self._hooks.ensure(driver, self.config.timer_budget > 0 or spec.explore is not None)
        notes: list[str] = []
        fresh_navigation(driver, spec.url)  # a hash route starts on a fresh load
        if navigation is None:
            stopped = self._navigate(spec, page_load_timeout, notes)
        else:
            navigation.begin()
            try:
                stopped = self._navigate(spec, page_load_timeout, notes)
            finally:
                navigation.end(log.document_sent_time() if log is not None else None)
        if log is not None:
            # navigation.end() has just read the log; without it, read it now.
            outcome = self._check_document(spec, log, stopped, notes, read=navigation is None)
            if outcome.not_rendered is not None:
                return self._not_rendered(spec, outcome, notes)

        settle = self.config.settle if options.settle is None else options.settle
        settled = self._settle(log, settle) if log is not None and settle > 0 else None
        wait_timeout = options.wait_timeout or self.config.wait_timeout
        if options.wait_for is not None:
            actions.wait(driver, options.wait_for, wait_timeout, spec.url)
        for action in options.actions:
            actions.perform(driver, action, wait_timeout, spec.url)
        if options.actions and log is not None and settled is not None:
            settled = self._settle(log, settle) and settled  # what the clicks started
        script_result = None
        if options.script is not None:
            try:
                script_result = driver.execute_script(options.script)
            except JavascriptException as e:
                raise BrowserPageError(
                    f"the script of the request failed on {spec.url}: {first_line(e)}"
                ) from e
        # -- time and scrolling, on this load (crawler.browser.explore) --
        discovered: list[Link] = []
        counters: Counter[str] = Counter()
        if self._hooks.installed:
            # settle 0 asks for the DOM as it is: nothing waits for requests then
            wait = self.config.settle_timeout if settle > 0 else 0.0
            step = self._timers_and_scroll
            discovered += self._explore_step(spec, counters, step, spec, counters, wait)
        screenshot = driver.get_screenshot_as_png() if options.screenshot else None

        dialogs: list[Dialog] = []
        if log is not None:
            final_url, html, seen = self._read_page()
            events = log.events()
            dialogs = dialogs_from_script(seen) + dialogs_from_events(events)
            notes += [dialog_note(d) for d in dialogs]
        else:
            final_url = driver.current_url
            html = driver.page_source
        # What the page leads to, from the live DOM and the requests it made
        # (crawler.browser.discovery); after what timers and scrolling revealed.
        links, forms = live_page(driver, notes)
        discovered += links
        if log is not None:
            discovered += requested_urls(log, counters, navigations=not options.actions)
        raw_html = None
        if log is not None:
            status, headers, known, request_id = log.document_response(
                final_url, self._main_window, read=False
            )
            raw_html = log.response_body(request_id)
        else:
            status, headers, known = document_status_js(driver)
        now = browser_cookies(driver, cdp, spec.url, final_url)
        cookies = [c for c in now if injected.get(c["name"]) != c["value"]]
        # Without DevTools, WebDriver only shows the cookies of the page it is on.
        same_site = cdp or urlsplit(final_url).netloc == urlsplit(spec.url).netloc
        deleted = sorted(held - {c["name"] for c in now}) if same_site else []
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        # -- events, last: they may load the page again; html stays the DOM read above --
        if self._hooks.installed and spec.explore is not None and spec.explore.config.max_events:
            discovered += self._explore_step(
                spec,
                counters,
                explore.event_links,
                driver,
                final_url,
                spec.explore,
                lambda: self._reload(final_url, spec),
                counters,
            )
        return RenderResult(
            url=final_url,
            html=html,
            status=status,
            headers=headers,
            status_known=known,
            content_type=content_type,
            cookies=cookies,
            deleted_cookies=deleted,
            settled=settled,
            script_result=script_result,
            screenshot=screenshot,
            raw_html=raw_html,
            discovered=discovered,
            live_forms=forms,
            counters=dict(counters),
            dialogs=dialogs,
            notes=notes,
            load_stopped=stopped,
        )

    def _timers_and_scroll(
        self, spec: RenderSpec, counters: Counter[str], wait: float
    ) -> list[Link]:
        """Timers due within ``SELENIUM_TIMER_BUDGET`` fire now (``timer`` links); then,
        when exploring, the page is scrolled while it grows (``scroll`` links)."""
        driver = self.driver
        links = explore.timer_links(driver, self.config.timer_budget, wait, counters)
        if spec.explore is not None:
            links += explore.scroll_links(driver, spec.explore.config.max_scrolls, wait, counters)
        return links

    def _reload(self, url: str, spec: RenderSpec) -> None:
        """A fresh copy of the page for the next event: loaded, settled, timers advanced."""
        self.driver.get(url)
        settle = self.config.settle if spec.options.settle is None else spec.options.settle
        if self._log is not None and settle > 0:
            self._settle(self._log, settle)
        wait = self.config.settle_timeout if settle > 0 else 0.0
        explore.advance_timers(self.driver, self.config.timer_budget, wait)

    def _explore_step(
        self, spec: RenderSpec, counters: Counter[str], step: Callable[..., list[Link]], *args: Any
    ) -> list[Link]:
        """Run one exploration step; a failure that is not the browser's death is
        counted (``explore/errors``) and the render goes on with what it has."""
        try:
            return step(*args)
        except WebDriverException as e:
            if is_fatal(e):
                raise
            counters["explore/errors"] += 1
            logger.debug("Exploring %s failed: %s", spec.url, first_line(e))
            return []

    def _prepare_cdp(self, spec: RenderSpec) -> None:
        driver = self.driver
        user_agent = spec.user_agent or self.config.user_agent
        if user_agent and user_agent != self._user_agent:
            driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": user_agent})
            self._user_agent = user_agent
        block = spec.options.block_resources
        self._set_blocked(self.config.block_resources if block is None else block)
        load_request_cookies_cdp(driver, spec.url, spec.cookies)

    def _set_blocked(self, block: tuple[str, ...]) -> None:
        if block != self._blocked:
            self.driver.execute_cdp_cmd(
                "Network.setBlockedURLs", {"urls": blocked_url_patterns(block)}
            )
            self._blocked = block

    def _settle(self, log: PerformanceLog, quiet: float) -> bool:
        """Wait until no request has been in flight for ``quiet`` seconds (Chromium).

        ``driver.get`` returns at the load event, but pages commonly start
        requests from their load handlers (the tinysite's home page fetches the
        block with pages 5 and 6 that way) and write the answers into the DOM.
        False when the network is still busy after ``SELENIUM_SETTLE_TIMEOUT``
        (long polling, streams): the DOM is read as it is then.
        """
        condition = NetworkQuiet(log, quiet)
        deadline = time.monotonic() + self.config.settle_timeout
        read = False  # the events up to now were just read: start from them
        while True:
            remaining = condition.remaining(read)
            read = True
            if remaining <= 0:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # Busy: ask again soon; quiet: sleep just until the quiet time is over.
            time.sleep(min(remaining if remaining < quiet else 0.05, left))

    # -- robust renders: navigation, the main document, windows ---------------

    def _set_timeouts(self, seconds: float) -> None:
        """Page-load and script timeouts of ``seconds``; on a remote node each command
        then waits at most :func:`~crawler.browser.driver.remote_timeout` of them (a
        request's own ``page_load_timeout`` moves that bound with it)."""
        if seconds != self._timeouts:
            assert self._handle is not None
            self._handle.set_remote_timeout(remote_timeout(seconds, self.config.remote_margin))
            self.driver.set_page_load_timeout(seconds)
            self.driver.set_script_timeout(seconds)
            self._timeouts = seconds

    def _navigate(self, spec: RenderSpec, timeout: float, notes: list[str]) -> bool:
        """``driver.get``; a page whose load event does not come in ``timeout`` is
        stopped (True, and a note in ``notes``), a real dialog is left to the
        driver's policy.

        Raises :class:`BrowserNetError` / :class:`BrowserPermanentNetError` when
        the driver reports a network error, :class:`BrowserPageLoadTimeoutError`
        (session broken) when loading cannot be stopped or there is no DevTools.
        """
        driver = self.driver
        try:
            driver.get(spec.url)
        except UnexpectedAlertPresentException as e:
            # A dialog the page script could not catch; the driver answered it.
            text = getattr(e, "alert_text", None) or ""
            notes.append(dialog_note(dialog("dialog", text, True)))
        except TimeoutException as e:
            if self._log is None:
                self.broken = True
                raise BrowserPageLoadTimeoutError(
                    f"page load of {spec.url} took longer than {timeout:g} s; "
                    "the browser session was replaced"
                ) from e
            try:
                driver.execute_cdp_cmd("Page.stopLoading", {})
            except Exception as stop_error:
                self.broken = True
                raise BrowserPageLoadTimeoutError(
                    f"page load of {spec.url} took longer than {timeout:g} s and could not "
                    f"be stopped ({first_line(stop_error)}); the browser session was replaced"
                ) from e
            notes.append(
                f"the page did not finish loading in {timeout:g} s: loading was stopped "
                "and the DOM read as it was"
            )
            return True
        except WebDriverException as e:
            net_error = net_error_from_message(e.msg or str(e))
            if net_error is None or is_fatal(e):
                raise
            raise self._net_error(spec, net_error) from e
        return False

    @staticmethod
    def _net_error(spec: RenderSpec, net_error: str) -> BrowserError | BrowserPageError:
        message = f"the browser could not load {spec.url}: {net_error}"
        if net_error in PERMANENT_NET_ERRORS:
            return BrowserPermanentNetError(message + " (not retried)", net_error)
        return BrowserNetError(message, net_error)

    def _check_document(
        self,
        spec: RenderSpec,
        log: PerformanceLog,
        stopped: bool,
        notes: list[str],
        read: bool = True,
    ) -> DocumentOutcome:
        """Judge the main document from the events so far; raise what makes it a failure."""
        outcome = document_outcome(log.events() if read else log.seen(), self._main_window)
        if stopped and outcome.seen and outcome.response is None and outcome.failed is None:
            # The server never sent the document: the browser still shows the last page.
            raise BrowserPageLoadTimeoutError(
                f"page load of {spec.url} took longer than {self._page_load_timeout(spec):g} s: "
                "the server did not send the document"
            )
        if outcome.failed is not None:
            raise self._net_error(spec, outcome.failed)
        size = max(outcome.size, outcome.expected_size)
        if spec.maxsize and size > spec.maxsize:
            self.driver.execute_cdp_cmd("Page.stopLoading", {})
            raise BrowserResponseTooLargeError(
                f"the document of {spec.url} is {size} bytes, larger than the download "
                f"max size ({spec.maxsize}); loading was stopped"
            )
        if spec.warnsize and size > spec.warnsize:
            note = (
                f"the document is {size} bytes, larger than the download warn size "
                f"({spec.warnsize})"
            )
            logger.warning("Rendering %s: %s", spec.url, note)
            notes.append(note)
        return outcome

    def _not_rendered(
        self, spec: RenderSpec, outcome: DocumentOutcome, notes: list[str]
    ) -> RenderResult:
        """The browser did not show the document: say why; the caller fetches it over HTTP."""
        reason = outcome.not_rendered
        response = outcome.response or {}
        return RenderResult(
            url=str(response.get("url") or spec.url),
            html="",
            status=int(response.get("status") or 200),
            status_known=bool(response),
            content_type=outcome.mime_type,
            notes=[*notes, f"not rendered ({reason}): fetched over HTTP"],
            not_rendered=reason,
        )

    def _read_page(self) -> tuple[str, str, object]:
        """``(url, DOM serialised as WebDriver's page_source does, dialogs)`` in one call."""
        url, html, dialogs = self.driver.execute_script(
            "const root = document.documentElement;"
            f"return [document.URL, root ? root.outerHTML : '', {DIALOGS_JS}];"
        )
        return str(url), str(html), dialogs

    def _close_other_windows(self) -> int:
        """Close the windows and tabs the page opened; back to the main window.

        With DevTools only when the render's events show a ``Page.windowOpen``.
        """
        if self._handle is None or self._main_window is None:
            return 0
        log = self._log
        if log is not None and not any(m.get("method") == "Page.windowOpen" for m in log.seen()):
            return 0
        driver = self._handle.driver
        closed = 0
        try:
            handles = driver.window_handles
            for handle in handles:
                if handle != self._main_window:
                    driver.switch_to.window(handle)
                    driver.close()
                    closed += 1
            if closed:
                driver.switch_to.window(self._main_window)
        except WebDriverException as e:
            if is_fatal(e):
                self.broken = True
            logger.debug("closing the windows a page opened failed: %s", first_line(e))
        return closed
