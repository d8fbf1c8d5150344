"""What Chromium's DevTools tell about a render: network events, the main document.

WebDriver does not expose the main document's status and headers, nor when the
network went quiet; Chromium's performance log (``goog:loggingPrefs``
``{"performance": "ALL"}``, DevTools ``Network.*`` events) and DevTools
commands (``driver.execute_cdp_cmd``) do.  See the Chrome DevTools Protocol,
https://chromedevtools.github.io/devtools-protocol/tot/Network/.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag

from selenium.common.exceptions import JavascriptException, WebDriverException

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

# Response headers that describe the bytes on the wire, not the DOM we return.
_DROPPED_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "set-cookie"}


class PerformanceLog:
    """The DevTools events of the current render, read from the performance log once.

    ``reset()`` before a navigation starts a new render: events logged before
    it (the late requests of earlier pages) are dropped when next read, without
    a round trip to the driver now.  ``events()`` returns every event of this
    render so far (dicts with ``method`` and ``params``, plus ``wall``: the
    wall-clock time in seconds the driver logged it), oldest first.
    """

    def __init__(self, driver: WebDriver) -> None:
        self._driver = driver
        self._events: list[dict[str, Any]] = []
        self._since = 0.0  # ms since the epoch, as the log's timestamps

    def reset(self) -> None:
        self._since = time.time() * 1000
        self._events = []

    def events(self) -> list[dict[str, Any]]:
        for entry in self._driver.get_log("performance"):
            try:
                stamp = float(entry.get("timestamp") or 0)
                if stamp < self._since:
                    continue
                message = json.loads(entry["message"])["message"]
                message["wall"] = stamp / 1000
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            self._events.append(message)
        return self._events

    def seen(self) -> list[dict[str, Any]]:
        """The events already read (no round trip)."""
        return self._events

    def document_sent_time(self) -> float | None:
        """Wall-clock time (s since the epoch) the first document request left the browser."""
        try:
            events = self.events()
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

    def document_response(
        self, final_url: str, frame_id: str | None = None, read: bool = True
    ) -> tuple[int, list[tuple[str, str]], bool, str | None]:
        """``(status, headers, known, request_id)`` of the main frame's last document.

        ``frame_id`` is the main frame's id (Chromium uses the window handle);
        None asks the browser (``Page.getFrameTree``).  ``read=False`` judges by
        the events already read.  ``known`` is False (and the status 200) when
        the log holds no response for it.  Headers of the wire encoding are
        dropped: the body we return is the DOM, not those bytes.
        """
        if frame_id is None:
            try:
                tree = self._driver.execute_cdp_cmd("Page.getFrameTree", {})
                frame_id = tree["frameTree"]["frame"]["id"]
            except (WebDriverException, KeyError, TypeError):
                frame_id = None
        wanted = urldefrag(final_url)[0]
        found: dict[str, Any] | None = None
        request_id: str | None = None
        for message in self.events() if read else self._events:
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

    def response_body(self, request_id: str | None) -> str | None:
        """A response's body as text, from the browser's buffer (None: evicted or binary)."""
        if request_id is None:
            return None
        try:
            body = self._driver.execute_cdp_cmd(
                "Network.getResponseBody", {"requestId": request_id}
            )
        except WebDriverException:
            return None
        if body.get("base64Encoded"):
            return None
        text = body.get("body")
        return text if isinstance(text, str) else None


class NetworkQuiet:
    """A ``WebDriverWait`` condition: no request in flight for ``quiet`` seconds.

    The quiet time counts from when the log says the last request ended (its
    event's wall time), not from when a poll first noticed it: a page whose
    requests ended before ``driver.get`` returned has been quiet that long
    already.  :meth:`remaining` says how long to wait before asking again.
    """

    def __init__(self, log: PerformanceLog, quiet: float) -> None:
        self._log = log
        self._quiet = quiet
        self._quiet_since: float | None = None  # wall-clock seconds
        self._in_flight: set[str] = set()
        self._seen = 0  # events of the render already counted

    def __call__(self, driver: Any) -> bool:
        return self.remaining() <= 0

    def remaining(self, read: bool = True) -> float:
        """Seconds of quiet still needed; ``quiet`` while busy.  ``read=False``
        judges by the events already read (no round trip to the driver)."""
        events = self._log.events() if read else self._log.seen()
        for message in events[self._seen :]:
            method = message.get("method")
            request_id = message.get("params", {}).get("requestId")
            if method == "Network.requestWillBeSent":
                self._in_flight.add(request_id)
                self._quiet_since = None
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self._in_flight.discard(request_id)
                if not self._in_flight:
                    self._quiet_since = float(message.get("wall") or time.time())
        self._seen = len(events)
        if self._in_flight:
            self._quiet_since = None
            return self._quiet
        now = time.time()
        if self._quiet_since is None:
            self._quiet_since = now
        return self._quiet - (now - self._quiet_since)


def document_status_js(driver: WebDriver) -> tuple[int, list[tuple[str, str]], bool]:
    """Without DevTools: the Navigation Timing API's status where the browser has it."""
    try:
        status = driver.execute_script(
            "const e = performance.getEntriesByType('navigation')[0];"
            "return e && e.responseStatus ? e.responseStatus : null;"
        )
    except JavascriptException:
        status = None
    if isinstance(status, int) and status > 0:
        return status, [], False
    return 200, [], False
