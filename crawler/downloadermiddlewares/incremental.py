"""``CRAWLER_INCREMENTAL``: conditional GETs against the previous run (:mod:`crawler.incremental`).

Enable it between ``RenderModeMiddleware`` (585) and ``HttpCompressionMiddleware``
(590), e.g. at 588 (``crawler/settings.py``): on the way in it sees the render
mode's decision, on the way out it sees the decoded body (for the digest) before
the render mode decides (``auto``) to render a page.

For a GET request of a page the previous run recorded (:class:`~crawler.incremental.PreviousRun`):

* ``If-None-Match`` / ``If-Modified-Since`` are set from the stored ``ETag`` /
  ``Last-Modified``;
* a render ``CRAWLER_RENDER`` decided (``always``, or ``auto`` for a page type
  known to need the browser) is made a plain HTTP request first;
* a ``304``, or a ``200`` whose body has the previous digest, becomes an
  :class:`~crawler.incremental.UnchangedResponse` (not rendered, not parsed);
* anything else goes on as it came; a render turned into an HTTP check is
  requested again, rendered (a changed page costs one more request).

A request with ``meta["dont_incremental"] = True`` is left alone, as are
requests the spider asked the browser for itself (``meta["browser"]`` without
a render plan), POSTs, robots.txt and sitemap files.

No baseline (:class:`~crawler.incremental.NoBaseline`: no run finished cleanly,
or the latest one crawled with other options): one WARNING saying why, and every
page is fetched in full.

Stats: ``incremental/previous_run`` (its id), ``incremental/previous_pages``
(pages that can be asked about), ``incremental/checked`` (conditional
requests), ``incremental/not_modified`` (304s), ``incremental/same_digest``
(200s with the previous body), ``incremental/changed``,
``incremental/renders_skipped`` (renders not made: unchanged pages); the spider
counts the pages it recorded as unchanged in ``incremental/unchanged``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http.request import NO_CALLBACK

from crawler.browser.rendered import is_rendered, render_plan
from crawler.exceptions import StoreError
from crawler.extensions.closespider import NOT_A_PAGE
from crawler.incremental import (
    NoBaseline,
    PreviousRun,
    UnchangedResponse,
    body_digest,
    crawl_signature,
    is_unchanged,
)
from crawler.storage.sql import SqlStore

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from crawler.incremental import PreviousPage

logger = logging.getLogger(__name__)

META_KEY = "incremental"
CONDITIONAL_HEADERS = (b"If-None-Match", b"If-Modified-Since")


@dataclass(frozen=True)
class Check:
    """On a request this middleware made conditional (``meta["incremental"]``): for
    which URL (a redirect copies the meta to another URL), and what happens when the
    page changed: ``http`` goes on, ``render`` is requested again in the browser,
    ``done`` is that render (or its HTTP fallback), left alone."""

    url: str
    then: Literal["http", "render", "done"]


class IncrementalMiddleware:
    """Downloader middleware (at 588) that applies ``CRAWLER_INCREMENTAL``."""

    def __init__(self, crawler: Crawler, store_url: str, timeout: float) -> None:
        self.crawler = crawler
        self.store_url = store_url
        self.timeout = timeout
        self.previous: PreviousRun | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("CRAWLER_INCREMENTAL"):
            raise NotConfigured  # the default: silent
        if not settings.getbool("CRAWLER_STORE_ENABLED"):
            raise NotConfigured("CRAWLER_INCREMENTAL needs the store (CRAWLER_STORE_ENABLED)")
        middleware = cls(
            crawler, settings.get("CRAWLER_STORE_URL"), settings.getfloat("CRAWLER_STORE_TIMEOUT")
        )
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    async def spider_opened(self) -> None:
        """Load the previous run (after the store pipeline started this one)."""
        spider = self.crawler.spider
        assert spider is not None
        if not getattr(spider, "replays_unchanged", False):
            logger.warning(
                "CRAWLER_INCREMENTAL: the spider %s cannot replay unchanged pages "
                "(replays_unchanged); every page is fetched in full",
                spider.name,
                extra={"spider": spider},
            )
            return
        start_url = getattr(spider, "start_url", None)
        current = self.crawler.stats.get_value("store/run_id")
        signature = crawl_signature(self.crawler.settings, getattr(spider, "allowed_domains", None))
        try:
            self.previous = await asyncio.to_thread(
                self._load, spider.name, start_url, current, signature
            )
        except StoreError as e:
            logger.warning("%s; every page is fetched in full", e, extra={"spider": spider})
            return
        except NoBaseline as e:
            logger.log(
                e.level,
                "Incremental: %s; every page is fetched in full",
                e,
                extra={"spider": spider},
            )
            return
        if self.previous is None:
            logger.info(
                "No store yet: every page of %s is fetched in full",
                start_url,
                extra={"spider": spider},
            )
            return
        stats = self.crawler.stats
        stats.set_value("incremental/previous_run", self.previous.run_id)
        stats.set_value("incremental/previous_pages", len(self.previous.pages))
        logger.info(
            "Incremental: comparing with run %d (%d pages with validators or a digest)",
            self.previous.run_id,
            len(self.previous.pages),
            extra={"spider": spider},
        )

    def _load(
        self, spider: str, start_url: str | None, current: int | None, signature: dict[str, Any]
    ) -> PreviousRun | None:
        try:
            store = SqlStore.open(self.store_url, create=False, timeout=self.timeout)
        except StoreError:
            return None  # no store yet: nothing to compare with
        try:
            return PreviousRun.load(store, spider, start_url, current, signature)
        finally:
            store.close()

    def process_request(self, request: Request) -> None:
        check = request.meta.get(META_KEY)
        if isinstance(check, Check):
            if check.url == request.url:
                return  # a retry of a checked request, or its render
            # A redirect copied the check to another URL: undo it, then judge anew.
            del request.meta[META_KEY]
            for name in CONDITIONAL_HEADERS:
                request.headers.pop(name, None)
            if check.then == "render":
                request.meta["browser"] = True
        page = self._page(request)
        if page is None:
            return
        then: Literal["http", "render"] = "http"
        if request.meta.get("browser"):
            plan = render_plan(request)
            if plan is None or plan.failure is not None:
                return  # the spider's own render, or its fallback: left alone
            request.meta["browser"] = False  # over HTTP first
            then = "render"
        request.meta[META_KEY] = Check(request.url, then)
        if page.etag:
            request.headers[b"If-None-Match"] = page.etag
        if page.last_modified:
            request.headers[b"If-Modified-Since"] = page.last_modified
        self.crawler.stats.inc_value("incremental/checked")

    def _page(self, request: Request) -> PreviousPage | None:
        if (
            self.previous is None
            or request.method != "GET"
            or request.callback is NO_CALLBACK  # robots.txt
            or request.meta.get(NOT_A_PAGE)  # sitemaps
            or request.meta.get("dont_incremental")
        ):
            return None
        return self.previous.pages.get(request.url)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        check = request.meta.get(META_KEY)
        if (
            not isinstance(check, Check)
            or check.then == "done"
            or check.url != request.url
            or is_rendered(response)
            or is_unchanged(response)
            or self.previous is None
        ):
            return response
        page = self.previous.pages.get(request.url)
        if page is None:
            return response
        stats = self.crawler.stats
        if response.status == 304:
            stats.inc_value("incremental/not_modified")
            return self._unchanged(check, response, page, not_modified=True)
        if response.status == 200 and page.digest and body_digest(response.body) == page.digest:
            stats.inc_value("incremental/same_digest")
            return self._unchanged(check, response, page, not_modified=False)
        stats.inc_value("incremental/changed")
        if check.then != "render":
            return response
        headers = request.headers.copy()
        for name in CONDITIONAL_HEADERS:
            headers.pop(name, None)
        meta = {**request.meta, "browser": True, META_KEY: Check(request.url, "done")}
        return request.replace(headers=headers, meta=meta, dont_filter=True)

    def _unchanged(
        self, check: Check, response: Response, page: PreviousPage, not_modified: bool
    ) -> UnchangedResponse:
        if check.then == "render":
            self.crawler.stats.inc_value("incremental/renders_skipped")
        # A plain Response with no body: nothing downstream parses it.
        return UnchangedResponse(
            url=response.url,
            status=response.status,
            headers=response.headers,
            body=b"",
            flags=list(response.flags),
            request=response.request,
            certificate=response.certificate,
            ip_address=response.ip_address,
            protocol=response.protocol,
            previous=page,
            not_modified=not_modified,
        )
