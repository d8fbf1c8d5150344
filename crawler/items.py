"""Items the framework's spiders produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FoundVia(StrEnum):
    """How the crawl reached a URL (``pages.found_via``, ``links.found_via``)."""

    START = "start"
    LINK = "link"  # an <a>/<area> href in the HTML as served (light DOM, shadow roots)
    FORM = "form"
    SCRIPT = "script"  # a link that only the rendered (live) DOM had
    REDIRECT = "redirect"
    FRAME = "frame"  # the document of a <frame> or <iframe>
    REL = "rel"  # a <link rel=alternate|next|prev|...> element
    HEADER = "header"  # a Link, Refresh or Content-Location response header
    SITEMAP = "sitemap"  # a robots.txt Sitemap: line or a sitemap.xml entry
    XHR = "xhr"  # a URL the page's scripts requested (XHR/fetch) while it loaded
    EVENT = "event"  # reached by firing a click/hover/change handler
    TIMER = "timer"  # written into the page by a timer (setTimeout/setInterval)
    SCROLL = "scroll"  # loaded as the page was scrolled (infinite scroll)


@dataclass
class PageRecord:
    """One response (or failed request) seen by a crawl."""

    url: str  # the URL that was requested
    final_url: str  # where the response came from (after redirects)
    status: int | None  # None when no response arrived (see ``error``)
    content_type: str | None
    title: str | None
    depth: int
    found_via: str
    referer: str | None
    rendered: bool
    fetched_at: str  # ISO 8601, UTC
    error: str | None = None
    # How a render went, "; "-separated (dialogs answered, a load stopped, windows closed)
    notes: str | None = None
    # Validators of a 200 response (ETag, Last-Modified headers as sent) and the
    # sha256 (hex) of its body as served: what an incremental re-crawl compares with
    etag: str | None = None
    last_modified: str | None = None
    digest: str | None = None
    # Unchanged since the previous run (crawler.incremental): a 304, or the same
    # digest; status, title and links are the previous run's, the page not parsed
    unchanged: bool = False
    # Seconds: Scrapy's ``download_latency`` (request sent to headers received),
    # or the render's duration for a rendered page; None without a response
    latency: float | None = None


@dataclass(frozen=True)
class Link:
    """One URL a page led to: where it points, how it was found, and a hint.

    ``text`` is the anchor text, the header or ``rel`` name, or what was fired
    (``"click button#next"``); ``None`` when there is nothing to say.
    ``refused`` is why the crawl did not follow it (``"pattern_budget: ..."``,
    :mod:`crawler.traps`); ``None`` when it was requested.
    """

    url: str
    found_via: str
    text: str | None = None
    refused: str | None = None


@dataclass
class PageLinks:
    """Every URL discovered on one page (``source``), fetched or not: the ``links`` table.

    One item per page rather than per link keeps the item pipeline's cost per
    page flat.  Duplicates (same URL and ``found_via``) are dropped by the spider.
    """

    source: str  # the page's final URL
    links: list[Link] = field(default_factory=list)
