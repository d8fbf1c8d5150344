"""What a render asks for (:class:`RenderSpec`) and what it gives back (:class:`RenderResult`).

Plain data, shared by the session (which fills a result in a worker thread),
the pool and the Selenium middleware (which turns it into a response).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.browser.explore import Exploration
    from crawler.browser.request import BrowserOptions
    from crawler.items import Link


@dataclass(frozen=True)
class RenderSpec:
    url: str
    options: BrowserOptions
    cookies: tuple[tuple[str, str], ...] = ()  # the request's Cookie header, parsed
    user_agent: str | None = None
    explore: Exploration | None = None  # events and scrolling (CRAWLER_EXPLORE); None: off
    # Bytes of the main document (as sent, before decoding); 0: no limit.
    # DOWNLOAD_MAXSIZE / meta "download_maxsize", DOWNLOAD_WARNSIZE / "download_warnsize".
    maxsize: int = 0
    warnsize: int = 0


@dataclass(frozen=True)
class Dialog:
    """A JavaScript dialog the page opened (``alert``, ``confirm``, ``prompt``,
    ``beforeunload``) and what the render answered (``accepted``)."""

    type: str
    message: str
    accepted: bool


@dataclass
class RenderResult:
    """One rendered page.

    ``html`` is the live document serialised after the render (UTF-8 text);
    ``raw_html`` the main document as the server sent it (Chromium only,
    ``None`` when the browser no longer holds it).  ``discovered`` lists the
    URLs the render found in the live page (links of the DOM, its open shadow
    roots and same-origin frames, frame documents: ``script``/``frame``), the
    requests the page made (``xhr``, ``frame``, ``script`` navigations; see
    :mod:`crawler.browser.discovery`) and what events, timers and scrolling
    revealed, each a :class:`~crawler.items.Link` with its ``found_via``.  ``notes`` are
    short human-readable remarks about how the render went (e.g. the page load
    was stopped after the timeout and the DOM read as it was).

    ``not_rendered`` says why the browser did not show the document (``"download"``:
    Chrome turned the navigation into a download; ``"non_html"``: a PDF, image,
    JSON... document): then ``html`` is empty and the request must be fetched
    over HTTP to be recorded as itself.  ``windows_closed`` counts the windows
    and tabs the page opened, closed after the render.
    """

    url: str  # the browser's final URL
    html: str
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    status_known: bool = False
    content_type: str | None = None  # the main document's Content-Type as served
    cookies: list[dict[str, Any]] = field(default_factory=list)  # new or changed cookies
    deleted_cookies: list[str] = field(default_factory=list)  # names the render removed
    script_result: Any = None
    screenshot: bytes | None = None
    elapsed: float = 0.0  # seconds, navigation to result
    session_id: int = 0
    raw_html: str | None = None
    settled: bool | None = None  # the network went quiet; None: not waited for
    discovered: list[Link] = field(default_factory=list)
    # The live document's forms (js/live_forms.js; crawler.forms.live reads them).
    live_forms: dict[str, Any] | None = None
    dialogs: list[Dialog] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)  # stats keys -> counts (explore/...)
    not_rendered: str | None = None
    windows_closed: int = 0
    load_stopped: bool = False  # the load event never came: loading stopped, DOM read as it was
