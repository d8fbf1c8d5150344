"""``robots.txt`` files read up to a size limit, the rest ignored (RFC 9309, 2.5 Limits).

RFC 9309 lets a crawler impose a parsing limit on ``robots.txt`` to protect
itself, of at least 500 KiB; the rules in the first 500 KiB hold, what comes
after is not read.  Without a limit Scrapy's ``RobotsTxtMiddleware`` reads a
``robots.txt`` like any page, up to ``DOWNLOAD_MAXSIZE``, and a 35 MB file
cost 685 MB of memory.

Every request for a ``/robots.txt`` (Scrapy's own fetch for its rules, the
site spider's fetch for the ``Sitemap:`` lines) and every redirect it leads to:

* is stopped once more than ``CRAWLER_ROBOTSTXT_MAXSIZE`` bytes arrived (Scrapy's
  ``bytes_received`` signal and ``StopDownload(fail=False)``): the response
  holds what arrived, at most one network read past the limit, whatever its
  ``Content-Length`` says;
* is cut to the limit at the end of its last whole line, so no rule is read
  half (``robotstxt/truncated`` counts them, one warning line names the URL);
* is decompressed up to the limit at most (the request's ``download_maxsize``,
  which ``HttpCompressionMiddleware`` obeys): a compressed ``robots.txt`` that
  inflates past the limit is dropped as Scrapy drops any such response, and
  Scrapy's middleware then reads no rules from it (every URL allowed).

Off with ``CRAWLER_ROBOTSTXT_MAXSIZE = 0`` (``DOWNLOAD_MAXSIZE`` applies then).
Sits below ``HttpCompressionMiddleware`` (590), so that on the way out it sees
the decoded body.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.utils.httpobj import urlparse_cached

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

#: ``Request.meta`` key: the size limit of a ``robots.txt`` request (bytes),
#: set by the middleware, kept by the redirects it leads to.
META_KEY = "robotstxt_maxsize"
_RECEIVED = "_robotstxt_received"


def whole_lines(body: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes of ``body`` up to the end of their last line
    (all of them when they hold no line break)."""
    head = body[:limit]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return head[: end + 1] if end >= 0 else head


class RobotsTxtSizeMiddleware:
    def __init__(self, crawler: Crawler, maxsize: int) -> None:
        self.crawler = crawler
        self.maxsize = maxsize

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        maxsize = crawler.settings.getint("CRAWLER_ROBOTSTXT_MAXSIZE")
        if maxsize <= 0:
            raise NotConfigured("CRAWLER_ROBOTSTXT_MAXSIZE is 0: robots.txt has no own limit")
        middleware = cls(crawler, maxsize)
        crawler.signals.connect(middleware.bytes_received, signal=signals.bytes_received)
        return middleware

    def process_request(self, request: Request) -> None:
        if META_KEY not in request.meta:
            if urlparse_cached(request).path != "/robots.txt":
                return
            request.meta[META_KEY] = self.maxsize
        # No size limit in the download handler: it would refuse a long
        # Content-Length outright, where the first bytes are wanted;
        # bytes_received stops the download instead.
        request.meta["download_maxsize"] = 0
        request.meta[_RECEIVED] = 0

    def bytes_received(self, data: bytes, request: Request) -> None:
        limit = request.meta.get(META_KEY)
        if limit is None:
            return
        # The handler has read its limit by now; decompression reads this one.
        request.meta["download_maxsize"] = limit
        received = request.meta[_RECEIVED] = request.meta.get(_RECEIVED, 0) + len(data)
        if received > limit:
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response) -> Response:
        limit = request.meta.get(META_KEY)
        if limit is None:
            return response
        # Stopped: more than the limit arrived (a compressed body may inflate to less).
        if len(response.body) <= limit and "download_stopped" not in response.flags:
            return response
        self.crawler.stats.inc_value("robotstxt/truncated")
        logger.warning(
            "%s is larger than %d bytes: only its first %d bytes are read (RFC 9309, 2.5)",
            response.url,
            limit,
            limit,
        )
        return response.replace(body=whole_lines(response.body, limit))
