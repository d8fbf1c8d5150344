"""Logouts: recognising logout links and forms, and keeping a session crawl away from them.

:func:`looks_like_logout` tells whether a link (its URL path and query, and its
text) or a form action logs out; form discovery and the site spider use it
so a crawl never ends its own session.

:class:`LogoutGuardMiddleware` is on when the crawl logs in
(``CRAWLER_LOGIN_URL``) or starts from saved cookies (``CRAWLER_COOKIES_FILE``):
then a request whose URL looks like a logout (``CRAWLER_LOGOUT_PATTERN``,
default :data:`crawler.safety.LOGOUT_WORDS`, ``log ?out|sign ?out``, in the
path and query) is dropped with
``IgnoreRequest``, whichever spider or component made it, and counted in
``login/logout_blocked``.  The login's own requests (meta ``login_request``)
and requests with meta ``allow_logout`` pass.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.safety import matches

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


@lru_cache(maxsize=8192)
def looks_like_logout(url: str, text: str, pattern: str) -> bool:
    """Whether a link (its URL path and query, and its ``text``) or a form action logs
    out, by ``pattern`` (``CRAWLER_LOGOUT_PATTERN``, matched case-insensitively).

    The matcher is :func:`crawler.safety.matches`, the one exploration uses with
    the wider danger pattern (which always includes this one).  Kept for the
    last 8,192 (url, text, pattern): a site's menu links are asked about on
    every page (about 1 MB)."""
    return matches(pattern, (url,), (text,))


class LogoutGuardMiddleware:
    def __init__(self, crawler: Crawler, pattern: str) -> None:
        self.crawler = crawler
        self.pattern = pattern

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not (settings.get("CRAWLER_LOGIN_URL") or settings.get("CRAWLER_COOKIES_FILE")):
            raise NotConfigured  # no session to lose; off without a message (no warning)
        pattern = settings.get("CRAWLER_LOGOUT_PATTERN")
        if not pattern:
            raise NotConfigured("CRAWLER_LOGOUT_PATTERN is empty: logouts are not recognised")
        return cls(crawler, pattern)

    def process_request(self, request: Request) -> None:
        meta = request.meta
        if meta.get("login_request") or meta.get("allow_logout"):
            return
        if looks_like_logout(request.url, "", self.pattern):
            self.crawler.stats.inc_value("login/logout_blocked")
            logger.debug("Not requesting %s: it looks like a logout", request.url)
            raise IgnoreRequest(f"{request.url} looks like a logout; the crawl holds a session")
