"""One browser session, driven by one worker thread at a time.

:meth:`BrowserSession.render` turns a :class:`RenderSpec` into a
:class:`RenderResult` or raises one of the ``crawler.exceptions`` download
errors.  When the error means the browser cannot be trusted any more (it
crashed, its driver died, a page load hung) :attr:`BrowserSession.broken` is
set and the owner must :meth:`~BrowserSession.quit` it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    InvalidArgumentException,
    InvalidSelectorException,
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from crawler.browser.config import blocked_url_patterns
from crawler.browser.driver import create_driver
from crawler.browser.request import BrowserOptions, Click, Fill, ScrollToBottom
from crawler.exceptions import (
    BrowserCrashedError,
    BrowserError,
    BrowserNotFoundError,
    BrowserPageError,
    BrowserPageLoadTimeoutError,
    BrowserStartError,
    BrowserWaitTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from selenium.webdriver.remote.webdriver import WebDriver

    from crawler.browser.config import BrowserConfig
    from crawler.browser.driver import DriverHandle
    from crawler.browser.politeness import Navigation
    from crawler.browser.request import WaitCondition

logger = logging.getLogger(__name__)

# Response headers that describe the bytes on the wire, not the DOM we return.
_DROPPED_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "set-cookie"}
# Seconds between two checks of a wait condition (Selenium's default is 0.5).
_POLL = 0.05
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


@dataclass(frozen=True)
class RenderSpec:
    url: str
    options: BrowserOptions
    cookies: tuple[tuple[str, str], ...] = ()  # the request's Cookie header, parsed
    user_agent: str | None = None


@dataclass
class RenderResult:
    url: str  # the browser's final URL
    html: str
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    status_known: bool = False
    cookies: list[dict[str, Any]] = field(default_factory=list)  # new or changed cookies
    deleted_cookies: list[str] = field(default_factory=list)  # names the render removed
    script_result: Any = None
    screenshot: bytes | None = None
    elapsed: float = 0.0
    session_id: int = 0
    raw_html: str | None = None  # the document as the server sent it (Chromium only)
    settled: bool | None = None  # the network went quiet; None: not waited for


def locator(selector: str) -> tuple[str, str]:
    """``(By.XPATH, ...)`` for XPath-looking or ``xpath:`` selectors, else CSS."""
    if selector.startswith("xpath:"):
        return By.XPATH, selector[6:]
    if selector.startswith("css:"):
        return By.CSS_SELECTOR, selector[4:]
    if selector.startswith(("/", "./", "(")):
        return By.XPATH, selector
    return By.CSS_SELECTOR, selector


def is_fatal(exc: BaseException) -> bool:
    """Whether ``exc`` means the session's browser or driver is gone or unusable."""
    if isinstance(exc, WebDriverException):
        message = (exc.msg or str(exc)).lower()
        return any(text in message for text in _FATAL_MESSAGES) or type(exc).__name__ in (
            "InvalidSessionIdException",
            "NoSuchWindowException",
            "SessionNotCreatedException",
        )
    # urllib3's MaxRetryError / ProtocolError, ConnectionError, socket errors:
    # the driver process does not answer any more.
    return isinstance(exc, OSError) or type(exc).__module__.startswith("urllib3")


class BrowserSession:
    """A started browser plus the per-render logic.  Not thread-safe: one user at a time."""

    def __init__(self, config: BrowserConfig, session_id: int = 0) -> None:
        self.config = config
        self.session_id = session_id
        self.pages = 0
        self.broken = False
        self._handle: DriverHandle | None = None
        self._user_agent: str | None = config.user_agent
        self._blocked: tuple[str, ...] = ()
        self._events: list[dict[str, Any]] = []  # DevTools events of the current render

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
            self._handle = create_driver(self.config)
        except BrowserNotFoundError:
            raise
        except Exception as e:
            where = self.config.remote_url or self.config.browser_executable or "from PATH"
            raise BrowserStartError(
                f"could not start {self.config.browser} ({where}): "
                f"{type(e).__name__}: {_first_line(e)}"
            ) from e
        self._blocked = ()
        if self._handle.cdp and self.config.block_resources:
            self._set_blocked(self.config.block_resources)
        return self

    def quit(self) -> None:
        """Quit the browser; kill what survives; remove temp dirs.  Never raises."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    # -- rendering -----------------------------------------------------------

    def render(self, spec: RenderSpec, navigation: Navigation | None = None) -> RenderResult:
        """Render ``spec``; with a ``navigation``, the page is requested in its slot's turn."""
        if self._handle is None:
            self.start()
        started = time.monotonic()
        self.pages += 1
        try:
            result = self._render(spec, navigation)
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
                    f"({type(e).__name__}: {_first_line(e)}); it was replaced"
                ) from e
            if isinstance(e, WebDriverException):
                raise BrowserError(
                    f"rendering {spec.url} failed: {type(e).__name__}: {_first_line(e)}"
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

        if cdp:
            self._prepare_cdp(spec)
            driver.get_log("performance")  # drop the events of earlier pages
            self._events = []
        else:
            self._prepare_generic(spec)
        # Only cookies the browser took can have been deleted by the page.
        held = set(self._cookie_names(spec.url)) if injected else set()
        page_load_timeout = self._page_load_timeout(spec)
        driver.set_page_load_timeout(page_load_timeout)
        driver.set_script_timeout(page_load_timeout)
        if navigation is None:
            driver.get(spec.url)
        else:
            navigation.begin()
            try:
                driver.get(spec.url)
            finally:
                navigation.end(self._document_sent_time() if cdp else None)

        settle = self.config.settle if options.settle is None else options.settle
        settled = self._settle(settle) if cdp and settle > 0 else None
        wait_timeout = options.wait_timeout or self.config.wait_timeout
        if options.wait_for is not None:
            self._wait(options.wait_for, wait_timeout, spec.url)
        for action in options.actions:
            self._act(action, wait_timeout, spec.url)
        if options.actions and settled is not None:
            settled = self._settle(settle) and settled  # what the clicks started
        script_result = None
        if options.script is not None:
            try:
                script_result = driver.execute_script(options.script)
            except JavascriptException as e:
                raise BrowserPageError(
                    f"the script of the request failed on {spec.url}: {_first_line(e)}"
                ) from e
        screenshot = driver.get_screenshot_as_png() if options.screenshot else None

        final_url = driver.current_url
        html = driver.page_source
        raw_html = None
        if cdp:
            status, headers, known, request_id = self._document_response(final_url)
            raw_html = self._document_body(request_id)
        else:
            status, headers, known = self._document_status_js()
        now = self._browser_cookies(spec.url, final_url)
        cookies = [c for c in now if injected.get(c["name"]) != c["value"]]
        # Without DevTools, WebDriver only shows the cookies of the page it is on.
        same_site = cdp or urlsplit(final_url).netloc == urlsplit(spec.url).netloc
        deleted = sorted(held - {c["name"] for c in now}) if same_site else []
        return RenderResult(
            url=final_url,
            html=html,
            status=status,
            headers=headers,
            status_known=known,
            cookies=cookies,
            deleted_cookies=deleted,
            settled=settled,
            script_result=script_result,
            screenshot=screenshot,
            raw_html=raw_html,
        )

    def _prepare_cdp(self, spec: RenderSpec) -> None:
        driver = self.driver
        user_agent = spec.user_agent or self.config.user_agent
        if user_agent and user_agent != self._user_agent:
            driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": user_agent})
            self._user_agent = user_agent
        block = spec.options.block_resources
        self._set_blocked(self.config.block_resources if block is None else block)
        # Scrapy's cookie jar is the truth: the browser starts every render with
        # exactly the cookies of the request, so jars (meta "cookiejar") never mix.
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        if spec.cookies:
            driver.execute_cdp_cmd(
                "Network.setCookies",
                {
                    "cookies": [
                        {"name": name, "value": value, "url": spec.url, "path": "/"}
                        for name, value in spec.cookies
                    ]
                },
            )

    def _set_blocked(self, block: tuple[str, ...]) -> None:
        if block != self._blocked:
            self.driver.execute_cdp_cmd(
                "Network.setBlockedURLs", {"urls": blocked_url_patterns(block)}
            )
            self._blocked = block

    def _prepare_generic(self, spec: RenderSpec) -> None:
        """Without DevTools a cookie can only be added on a page of its site."""
        if spec.options.block_resources:
            logger.debug("block_resources needs Chromium DevTools; ignored for %s", spec.url)
        if not spec.cookies:
            return
        driver = self.driver
        parts = urlsplit(spec.url)
        current = urlsplit(driver.current_url)
        if (current.scheme, current.netloc) != (parts.scheme, parts.netloc):
            driver.set_page_load_timeout(self._page_load_timeout(spec))
            driver.get(f"{parts.scheme}://{parts.netloc}/robots.txt")
        driver.delete_all_cookies()
        for name, value in spec.cookies:
            driver.add_cookie({"name": name, "value": value, "path": "/"})

    def _condition(self, condition: WaitCondition) -> Any:
        if callable(condition):
            return condition
        return ec.presence_of_element_located(locator(condition))

    def _wait(self, condition: WaitCondition, timeout: float, url: str) -> Any:
        try:
            wait = WebDriverWait(self.driver, timeout, poll_frequency=_POLL)
            return wait.until(self._condition(condition))
        except TimeoutException as e:
            raise BrowserWaitTimeoutError(
                f"wait_for {_describe(condition)} did not match on {url} within {timeout:g} s"
            ) from e
        except (InvalidSelectorException, InvalidArgumentException) as e:
            raise BrowserPageError(
                f"wait_for {_describe(condition)} is not a valid selector ({url})"
            ) from e

    def _act(self, action: Click | Fill | ScrollToBottom, timeout: float, url: str) -> None:
        driver = self.driver
        try:
            if isinstance(action, Click):
                element = self._wait_element(
                    ec.element_to_be_clickable(locator(action.selector)),
                    action.selector,
                    timeout,
                    url,
                )
                try:
                    element.click()
                except ElementClickInterceptedException:
                    driver.execute_script("arguments[0].click();", element)
            elif isinstance(action, Fill):
                element = self._wait_element(
                    ec.visibility_of_element_located(locator(action.selector)),
                    action.selector,
                    timeout,
                    url,
                )
                element.clear()
                element.send_keys(action.value)
            else:
                driver.execute_script(
                    "window.scrollTo(0, Math.max(document.body.scrollHeight,"
                    " document.documentElement.scrollHeight));"
                )
        except (
            NoSuchElementException,
            ElementNotInteractableException,
            StaleElementReferenceException,
            InvalidSelectorException,
            JavascriptException,
        ) as e:
            raise BrowserPageError(
                f"action {type(action).__name__} failed on {url}: {_first_line(e)}"
            ) from e
        if action.wait_for is not None:
            self._wait(action.wait_for, timeout, url)

    def _wait_element(self, condition: Any, selector: str, timeout: float, url: str) -> Any:
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=_POLL).until(condition)
        except TimeoutException as e:
            raise BrowserWaitTimeoutError(
                f"no element {selector!r} to act on appeared on {url} within {timeout:g} s"
            ) from e

    def _settle(self, quiet: float) -> bool:
        """Wait until no request has been in flight for ``quiet`` seconds (Chromium).

        ``driver.get`` returns at the load event, but pages commonly start
        requests from their load handlers (the tinysite's home page fetches the
        block with pages 5 and 6 that way) and write the answers into the DOM.
        False when the network is still busy after ``SELENIUM_SETTLE_TIMEOUT``
        (long polling, streams): the DOM is read as it is then.
        """
        network_quiet = _NetworkQuiet(self._performance_events, quiet)
        try:
            WebDriverWait(self.driver, self.config.settle_timeout, poll_frequency=0.05).until(
                network_quiet
            )
        except TimeoutException:
            return False
        return True

    # -- what the browser saw ------------------------------------------------

    def _performance_events(self) -> list[dict[str, Any]]:
        """The DevTools events of this render so far (the log is read once, kept here)."""
        for entry in self.driver.get_log("performance"):
            try:
                self._events.append(json.loads(entry["message"])["message"])
            except (KeyError, TypeError, ValueError):
                continue
        return self._events

    def _document_sent_time(self) -> float | None:
        """Wall-clock time the first document request of this render left the browser."""
        try:
            events = self._performance_events()
        except Exception:  # a dead browser: the caller's own error says so
            return None
        for message in events:
            params = message.get("params", {})
            if message.get("method") == "Network.requestWillBeSent" and (
                params.get("type") == "Document"
            ):
                wall_time = params.get("wallTime")
                return float(wall_time) if isinstance(wall_time, (int, float)) else None
        return None

    def _document_body(self, request_id: str | None) -> str | None:
        """The main document as received, before any script ran (for script-link discovery)."""
        if request_id is None:
            return None
        try:
            body = self.driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": request_id})
        except WebDriverException:
            return None  # evicted from the browser's buffer, or not text
        if body.get("base64Encoded"):
            return None
        text = body.get("body")
        return text if isinstance(text, str) else None

    def _document_response(
        self, final_url: str
    ) -> tuple[int, list[tuple[str, str]], bool, str | None]:
        """Status, headers and DevTools request id of the main document (performance log)."""
        driver = self.driver
        try:
            frame_id = driver.execute_cdp_cmd("Page.getFrameTree", {})["frameTree"]["frame"]["id"]
        except (WebDriverException, KeyError, TypeError):
            frame_id = None
        wanted = urldefrag(final_url)[0]
        found: dict[str, Any] | None = None
        request_id: str | None = None
        for message in self._performance_events():
            if message.get("method") != "Network.responseReceived":
                continue
            params = message.get("params", {})
            if params.get("type") != "Document":
                continue
            response = params.get("response", {})
            if frame_id is not None and params.get("frameId") != frame_id:
                continue
            if frame_id is None and urldefrag(response.get("url", ""))[0] != wanted:
                continue
            found = response
            request_id = params.get("requestId")
        if found is None:
            return 200, [], False, None
        headers: list[tuple[str, str]] = []
        for name, value in (found.get("headers") or {}).items():
            if name.lower() in _DROPPED_HEADERS:
                continue
            headers.extend((name, line) for line in str(value).split("\n"))
        return int(found.get("status", 200)), headers, True, request_id

    def _document_status_js(self) -> tuple[int, list[tuple[str, str]], bool]:
        """Without DevTools: the Navigation Timing API's status where the browser has it."""
        try:
            status = self.driver.execute_script(
                "const e = performance.getEntriesByType('navigation')[0];"
                "return e && e.responseStatus ? e.responseStatus : null;"
            )
        except JavascriptException:
            status = None
        if isinstance(status, int) and status > 0:
            return status, [], False
        return 200, [], False

    def _browser_cookies(self, url: str, final_url: str) -> list[dict[str, Any]]:
        """The cookies the browser holds for the page's site, as WebDriver cookie dicts."""
        assert self._handle is not None
        if not self._handle.cdp:
            return self.driver.get_cookies()
        raw = self.driver.execute_cdp_cmd("Network.getCookies", {"urls": [url, final_url]})
        cookies = []
        for c in raw.get("cookies", []):
            cookie = {
                "name": c["name"],
                "value": c["value"],
                "domain": c.get("domain", ""),
                "path": c.get("path", "/"),
                "secure": bool(c.get("secure")),
                "httpOnly": bool(c.get("httpOnly")),
            }
            if not c.get("session") and c.get("expires", -1) > 0:
                cookie["expiry"] = int(c["expires"])
            if c.get("sameSite"):
                cookie["sameSite"] = c["sameSite"]
            cookies.append(cookie)
        return cookies

    def _cookie_names(self, url: str) -> list[str]:
        return [c["name"] for c in self._browser_cookies(url, url)]


class _NetworkQuiet:
    """A WebDriverWait condition: no request in flight for ``quiet`` seconds."""

    def __init__(self, events: Callable[[], list[dict[str, Any]]], quiet: float) -> None:
        self._events = events
        self._quiet = quiet
        self._quiet_since: float | None = None
        self._in_flight: set[str] = set()
        self._seen = 0  # events of the render already counted

    def __call__(self, driver: Any) -> bool:
        events = self._events()
        for message in events[self._seen :]:
            method = message.get("method")
            request_id = message.get("params", {}).get("requestId")
            if method == "Network.requestWillBeSent":
                self._in_flight.add(request_id)
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self._in_flight.discard(request_id)
        self._seen = len(events)
        now = time.monotonic()
        if self._in_flight:
            self._quiet_since = None
            return False
        if self._quiet_since is None:
            self._quiet_since = now
        return now - self._quiet_since >= self._quiet


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__


def _describe(condition: WaitCondition) -> str:
    return (
        repr(condition)
        if isinstance(condition, str)
        else getattr(condition, "__name__", type(condition).__name__)
    )
