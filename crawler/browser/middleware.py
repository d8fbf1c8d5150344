"""``SeleniumMiddleware``: render the requests that ask for it in a browser pool.

Enable it after Scrapy's CookiesMiddleware (700), e.g. at 950, so that the
``Cookie`` header the jar put on the request is what the browser gets, and the
``Set-Cookie`` headers of the rendered response (the cookies the page created
or changed) go back into the jar on the way out.  Requests without
``meta["browser"]`` are not touched.  No WebDriver call ever happens on the
reactor thread: renders run in the pool's worker threads.  A render's answer
is a :class:`~crawler.browser.rendered.RenderedResponse` (flag ``"rendered"``)
carrying the :class:`~crawler.browser.result.RenderResult`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.browser.config import BrowserConfig
from crawler.browser.cookies import (
    domain_matches,
    expire_cookie_headers,
    parse_cookie_header,
    set_cookie_header,
)
from crawler.browser.explore import Exploration
from crawler.browser.politeness import RenderThrottle
from crawler.browser.pool import BrowserPool
from crawler.browser.rendered import RenderedResponse, render_plan
from crawler.browser.request import browser_options
from crawler.browser.result import RenderSpec
from crawler.exceptions import (
    BrowserCrashedError,
    BrowserError,
    BrowserNetError,
    BrowserNodesDownError,
    BrowserNotFoundError,
    BrowserPageError,
    BrowserPageLoadTimeoutError,
    BrowserPermanentNetError,
    BrowserPoolClosedError,
    BrowserResponseTooLargeError,
    BrowserStartError,
    BrowserWaitTimeoutError,
)
from crawler.extensions.sharedpoliteness import SharedPoliteness
from crawler.outcome import NODES_DOWN_ERROR_STAT
from crawler.redaction import redact_text

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

    from crawler.browser.result import RenderResult

logger = logging.getLogger(__name__)

_FAILURE_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (BrowserNotFoundError, "browser_not_found"),
    (BrowserPoolClosedError, "pool_closed"),
    (BrowserNodesDownError, "nodes_down"),
    (BrowserStartError, "start_failed"),
    (BrowserCrashedError, "crashed"),
    (BrowserPageLoadTimeoutError, "page_load_timeout"),
    (BrowserNetError, "net_error"),
    (BrowserPermanentNetError, "net_error"),
    (BrowserResponseTooLargeError, "too_large"),
    (BrowserWaitTimeoutError, "wait_timeout"),
    (BrowserPageError, "page_error"),
    (BrowserError, "error"),
)


class SeleniumMiddleware:
    def __init__(self, crawler: Crawler, config: BrowserConfig, reactor: Any = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.crawler = crawler
        self.config = config
        self.stats = crawler.stats
        self.pool = BrowserPool(config, reactor, on_event=self._count, stopping=self._stopping)
        self.throttle = RenderThrottle(crawler, max_renders=config.pool_size)
        # Events and scrolling of rendered pages (CRAWLER_EXPLORE); None: off.
        self.exploration = Exploration.from_settings(crawler.settings)
        self._told_no_browser = False
        self._told_nodes_down = False  # until a render succeeds again
        # Scrapy's response size limits apply to the rendered main document too.
        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.warnsize = crawler.settings.getint("DOWNLOAD_WARNSIZE")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("SELENIUM_ENABLED"):
            raise NotConfigured("SELENIUM_ENABLED is False: requests are not rendered")
        middleware = cls(crawler, BrowserConfig.from_settings(crawler.settings))
        middleware.pool.install()
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def spider_closed(self) -> None:
        self.throttle.close()
        await maybe_deferred_to_future(self.pool.close())

    def _stopping(self) -> bool:
        """The engine is stopping (Ctrl-C): queued renders must not start browsers."""
        engine = self.crawler.engine
        return engine is not None and not engine.running

    def _count(self, name: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"selenium/{name}")

    async def process_request(self, request: Request) -> RenderedResponse | Request | None:
        options = browser_options(request)
        if options is None:
            return None
        if request.method != "GET":
            self._count("render_failures/unsupported_method")
            raise BrowserPageError(
                f"only GET requests can be rendered, not {request.method} {request.url}; "
                "drop meta['browser'] to download it over HTTP"
            )
        user_agent = request.headers.get("User-Agent")
        spec = RenderSpec(
            url=request.url,
            options=options,
            cookies=parse_cookie_header(request.headers.get("Cookie")),
            user_agent=user_agent.decode("latin-1") if user_agent else self.config.user_agent,
            explore=self.exploration,
            maxsize=int(request.meta.get("download_maxsize", self.maxsize) or 0),
            warnsize=int(request.meta.get("download_warnsize", self.warnsize) or 0),
        )
        if self.pool.closing:
            raise BrowserPoolClosedError(f"browser pool closed; not rendering {request.url}")
        ticket = await self.throttle.acquire(request) if self.config.politeness else None
        shared = SharedPoliteness.of(self.crawler) if ticket is not None else None
        lease = None
        try:
            if shared is not None and ticket is not None:
                # Every worker's renders and downloads of the slot (a shared frontier):
                # a place now, the delay when the browser navigates.
                lease = await shared.acquire(ticket.key, self.throttle.slot(ticket), delay=False)
                ticket = replace(ticket, turn=shared.navigation_turn)
            if self.pool.closing:
                raise BrowserPoolClosedError(f"browser pool closed; not rendering {request.url}")
            result = await maybe_deferred_to_future(self.pool.render(spec, ticket))
        except Exception as e:
            error = self._download_error(e, request)
            self._count(f"render_failures/{self._reason(error)}")
            net_error = getattr(error, "net_error", None)
            if net_error:
                self._count(f"net_errors/{net_error.removeprefix('net::')}")
            self._log_failure(request, error)
            if error is e:
                raise
            raise error from e
        finally:
            self.throttle.release(ticket)
            if shared is not None:
                await shared.release(lease)
        if result.not_rendered is not None:
            return self._not_rendered(request, result)
        self._count("renders")
        self._told_nodes_down = False
        for key, count in result.counters.items():  # explore/fired, ...
            if self.stats is not None:
                self.stats.inc_value(key, count)
        if result.settled is False:
            self._count("settle_timeouts")
        self._record_render_events(request, result)
        response = self._response(request, result)
        if ticket is not None:
            self._feed_autothrottle(request, response)
        return response

    def _not_rendered(self, request: Request, result: RenderResult) -> Request:
        """The browser did not show the document (a download, a PDF, JSON...): the
        request goes back to Scrapy's HTTP download, to be recorded as itself."""
        self._count(f"not_rendered/{result.not_rendered}")
        logger.debug(
            "Not rendering %s (%s, %s): fetching it over HTTP",
            request.url,
            result.not_rendered,
            result.content_type or "no document",
            extra={"spider": self.crawler.spider},
        )
        return request.replace(meta={**request.meta, "browser": False}, dont_filter=True)

    def _record_render_events(self, request: Request, result: RenderResult) -> None:
        """Stats for what the render met (dialogs, a stopped load, windows); its notes
        reach the page record through ``RenderedResponse.render.notes``."""
        for dialog in result.dialogs:
            self._count(f"dialogs/{dialog.type}")
        if result.load_stopped:
            self._count("page_loads_stopped")
        if result.windows_closed and self.stats is not None:
            self.stats.inc_value("selenium/windows_closed", result.windows_closed)

    def _log_failure(self, request: Request, error: Exception) -> None:
        extra = {"spider": self.crawler.spider}
        if isinstance(error, BrowserNodesDownError):
            if self.stats is not None:  # the verdict's reason (crawler.outcome)
                self.stats.set_value(NODES_DOWN_ERROR_STAT, redact_text(str(error)))
            if not self._told_nodes_down:  # every render fails so until a node is back
                self._told_nodes_down = True
                logger.error("Cannot render pages: %s", error, extra=extra)
            else:
                logger.debug("Not rendering %s: %s", request.url, error, extra=extra)
        elif not isinstance(error, BrowserNotFoundError):
            logger.warning("Rendering %s failed: %s", request.url, error, extra=extra)
        elif not self._told_no_browser:  # every later render fails the same way
            self._told_no_browser = True
            logger.error("Cannot render pages: %s", error, extra=extra)
        else:
            logger.debug("Not rendering %s: %s", request.url, error, extra=extra)

    def _download_error(self, exc: Exception, request: Request) -> Exception:
        if isinstance(exc, tuple(cls for cls, _ in _FAILURE_REASONS)):
            return exc
        if self.pool.closing:
            return BrowserPoolClosedError(f"browser pool closed while rendering {request.url}")
        return BrowserError(f"rendering {request.url} failed: {type(exc).__name__}: {exc}")

    @staticmethod
    def _reason(exc: Exception) -> str:
        for cls, reason in _FAILURE_REASONS:
            if isinstance(exc, cls):
                return reason
        return "error"

    def _response(self, request: Request, result: RenderResult) -> RenderedResponse:
        headers = Headers()
        for name, value in result.headers:
            headers.appendlist(name, value)
        # The body is the DOM, serialised as UTF-8 HTML, whatever the server sent.
        document_type = headers.get("Content-Type")
        headers["Content-Type"] = "text/html; charset=utf-8"
        host = urlsplit(request.url).hostname or ""
        for cookie in result.cookies:
            # The jar files cookies under the request's host: only those it can take.
            if domain_matches(host, cookie.get("domain") or host):
                headers.appendlist("Set-Cookie", set_cookie_header(cookie))
        for name in result.deleted_cookies:
            # The page (its script or its server) deleted a cookie of the jar.
            for value in expire_cookie_headers(name, request.url):
                headers.appendlist("Set-Cookie", value)
        request.meta["download_latency"] = result.elapsed
        plan = render_plan(request)
        if plan is not None and plan.raw_body is not None:
            raw, raw_encoding = plan.raw_body, plan.raw_encoding  # the HTTP fetch's body
        elif result.raw_html is not None:
            raw, raw_encoding = result.raw_html.encode("utf-8"), "utf-8"
        else:
            raw, raw_encoding = None, None
        return RenderedResponse(
            url=result.url,
            status=result.status,
            headers=headers,
            body=result.html.encode("utf-8"),
            encoding="utf-8",
            request=request,
            render=result,
            raw=raw,
            raw_encoding=raw_encoding,
            document_content_type=result.content_type
            or (document_type.decode("latin-1") if document_type else None),
        )

    def _feed_autothrottle(self, request: Request, response: RenderedResponse) -> None:
        """AutoThrottle learns from ``response_downloaded``; renders skip the downloader."""
        self.crawler.signals.send_catch_log(
            signal=signals.response_downloaded,
            response=response,
            request=request,
            spider=self.crawler.spider,
        )
