"""Which discovered URLs are URLs to crawl: http(s), without their fragment."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urldefrag

from crawler.utils.url import FOLLOWED_SCHEMES

if TYPE_CHECKING:
    from collections.abc import Callable

SKIPPED_SCHEME_STAT = "crawler/links/skipped_scheme/{scheme}"


class UrlScreen:
    """``screen(url)``: the absolute ``url`` without its fragment, or ``None`` for
    a scheme the crawl does not follow (``mailto:``, ``javascript:``, ``tel:``...),
    counted as ``crawler/links/skipped_scheme/<scheme>`` by ``count(stat)``
    when given (e.g. ``lambda key: crawler.stats.inc_value(key)``).

    A fragment names a part of the same document, so ``page#top`` and a hash
    route ``page#!/about`` are ``page`` itself: over HTTP there is nothing else
    to fetch (Google's ``_escaped_fragment_`` scheme for ``#!`` is obsolete).
    Used as a ``LinkExtractor``'s ``process_value``.
    """

    def __init__(self, count: Callable[[str], object] | None = None) -> None:
        self.count = count

    def __call__(self, url: str) -> str | None:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme and scheme not in FOLLOWED_SCHEMES:
            if self.count is not None:
                self.count(SKIPPED_SCHEME_STAT.format(scheme=scheme[:20]))
            return None
        return urldefrag(url).url
