"""Items the framework's spiders produce."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FoundVia(StrEnum):
    """How the crawl reached a URL."""

    START = "start"
    LINK = "link"
    FORM = "form"
    SCRIPT = "script"  # a link that only the rendered DOM had
    REDIRECT = "redirect"


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
