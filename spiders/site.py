"""The generic site spider: every page reachable from a start URL, recorded.

``scrapy crawl site -a start_url=URL [-a allow_domains=a.com,b.org]
[-a max_depth=N] [-a max_pages=N] [-a render=never|auto|always]
[-a forms=none|get|all] [-a form_values=q=ships,colour=red] [-a submit_forms=REGEX]
[-a explore=none|safe]``;
``crawler crawl`` runs it with options.  Forms are discovered on every HTML
page and submitted as ``crawler.forms`` decides (``CRAWLER_FORMS`` and friends);
links that log out are never followed.  Rendered pages are explored as
``crawler.browser.explore`` decides (``CRAWLER_EXPLORE``): what their timers,
scrolling and events revealed comes in ``response.render.discovered`` (a
:class:`~crawler.browser.rendered.RenderedResponse`) and is followed with its
``found_via`` (``timer``, ``scroll``, ``event``).

Links come from :mod:`crawler.discovery` in every render mode (anchors,
frames, ``<link rel>``, ``Link``/``Refresh``/``Content-Location`` headers);
with ``CRAWLER_SITEMAPS`` the start host's ``robots.txt`` ``Sitemap:`` lines
and ``/sitemap.xml`` add the pages they list (``found_via`` ``sitemap``).
Every URL a page led to, followed or not, is one
:class:`~crawler.items.PageLinks` item per page (the store's ``links`` table).
With ``CRAWLER_INCREMENTAL`` (:mod:`crawler.incremental`), a page unchanged
since the baseline run is recorded from that run's record and its stored
links are followed; it is not parsed (its stored items are carried by the
extract middleware).
Traps are bounded (:mod:`crawler.traps`): links lose their session ids, and
a link that is a trap is recorded with the reason and not requested; the
crawl is breadth-first (``custom_settings``).
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse

from crawler import default_settings
from crawler.browser.discovery import is_hash_route
from crawler.browser.rendered import META_KEY as RENDER_PLAN_KEY
from crawler.browser.rendered import (
    RenderedResponse,
    is_rendered,
    raw_response,
    render_plan,
)
from crawler.discovery.page import PageDiscovery
from crawler.discovery.sitemaps import (
    SITEMAP_INDEX,
    InvalidSitemap,
    SitemapReader,
    robots_sitemaps,
)
from crawler.exceptions import (
    BrowserError,
    BrowserNetError,
    BrowserNotFoundError,
    BrowserPageError,
    BrowserPermanentNetError,
    BrowserPoolClosedError,
    BrowserResponseTooLargeError,
    BrowserTimeoutError,
    ConfigError,
)
from crawler.extensions.closespider import NOT_A_PAGE
from crawler.fingerprint import HASH_ROUTE_META_KEY
from crawler.forms.policy import parse_form_values
from crawler.forms.submission import META_KEY as FORM_META_KEY
from crawler.forms.submitter import FormSubmitter
from crawler.incremental import UnchangedResponse, body_digest, kept_last_modified
from crawler.items import FoundVia, Link, PageLinks, PageRecord
from crawler.journal import RequestJournal
from crawler.linkcheck import unfetchable
from crawler.pagerequest import PageRequest
from crawler.redaction import redact_url
from crawler.scheduledurls import ScheduledUrls
from crawler.settingscheck import check_argument
from crawler.traps import TrapGuard
from crawler.utils.url import check_url

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure


def _count(name: str, setting: str, value: Any) -> int | None:
    """The spider argument ``name`` as the whole number ``setting`` takes; None if not given."""
    if value in (None, ""):
        return None
    check_argument(name, setting, value)
    if int(value) == 0:
        # Scrapy reads 0 as "no limit": a user asking for 0 pages or hops wants the
        # opposite, and on a site with a trap would get a crawl that never ends.
        raise ConfigError(
            f"{name} must be 1 or more, not 0 (0 would mean no limit to {setting}); "
            "leave it out for no limit"
        )
    return int(value)


def _as_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def _domains(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Host names to follow besides the start URL's; a URL or a host with a port is a
    :class:`ConfigError` (Scrapy's offsite filter would ignore it with a warning)."""
    domains = _as_list(value)
    for domain in domains:
        if not domain or any(c in domain for c in "/:@?# \t"):
            raise ConfigError(f"allow_domains takes host names such as example.org, not {domain!r}")
    return [domain.lower().rstrip(".") for domain in domains]


# Arguments others pass besides the user's: Scrapy's ``Spider.__init__`` name,
# Scrapyd's job id (https://scrapyd.readthedocs.io/en/stable/api.html#schedule-json)
_PASSED_BY_OTHERS = frozenset({"name", "_job"})


def _refuse_unknown(kwargs: dict[str, Any]) -> None:
    """A :class:`ConfigError` for an argument (``-a NAME=VALUE``) the site spider does
    not take, listing those it takes (and the closest one): a misspelt
    ``max_deph=1`` would otherwise be ignored and the crawl go on unlimited."""
    unknown = [name for name in kwargs if name not in _PASSED_BY_OTHERS]
    if not unknown:
        return
    taken = [
        p.name
        for p in inspect.signature(SiteSpider.__init__).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self"
    ]
    hints = []
    for name in unknown:
        setting = f"CRAWLER_{name.upper()}"
        close = difflib.get_close_matches(name, taken, n=1, cutoff=0.6)
        if hasattr(default_settings, setting):  # min_pages: a setting, not an argument
            hints.append(f"{name} (a setting: -s {setting}=...)")
        elif close:
            hints.append(f"{name} (did you mean {close[0]}?)")
        else:
            hints.append(name)
    raise ConfigError(
        f"the site spider does not take the argument(s) {', '.join(hints)} (-a); "
        f"it takes: {', '.join(taken)}"
    )


class SiteSpider(Spider):
    name = "site"
    # Incremental re-crawls (crawler.incremental): an unchanged page is recorded
    # from the previous run and its stored links followed (parse).
    replays_unchanged = True
    custom_settings = {
        # 404s and 500s are pages to record, not errors for HttpErrorMiddleware to drop.
        "HTTPERROR_ALLOW_ALL": True,
        # Breadth-first, as Scrapy's FAQ "Does Scrapy crawl in breadth-first or
        # depth-first order?" sets it: a trap deep down (a calendar) cannot spend
        # a --max-pages budget before the site's other pages one hop away are reached.
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
    }

    def __init__(
        self,
        start_url: str | None = None,
        allow_domains: str | list[str] | None = None,
        max_depth: int | str | None = None,
        max_pages: int | str | None = None,
        render: str | None = None,
        forms: str | None = None,
        form_values: str | list[str] | dict[str, str] | None = None,
        submit_forms: str | None = None,
        explore: str | None = None,
        **kwargs: Any,
    ) -> None:
        _refuse_unknown(kwargs)
        super().__init__(**kwargs)
        # Only parsing and checking here: `scrapy crawl` and `crawler crawl` build the
        # spider once more before the crawl to check the arguments
        # (crawler.settingscheck.check_settings), so a bad one is an error before
        # Scrapy logs anything.  The settings they stand for: apply_arguments.
        if not start_url:
            raise ConfigError("the site spider needs a start URL: -a start_url=https://...")
        parts = urlsplit(check_url(start_url, "start URL"))
        for name, setting, value in (
            ("render", "CRAWLER_RENDER", render),
            ("forms", "CRAWLER_FORMS", forms),
            ("submit_forms", "CRAWLER_SUBMIT_FORMS", submit_forms),
            ("explore", "CRAWLER_EXPLORE", explore),
        ):
            check_argument(name, setting, value)
        self.start_url = start_url
        self.allowed_domains = [parts.hostname, *_domains(allow_domains)]
        self.max_depth = _count("max_depth", "DEPTH_LIMIT", max_depth)
        self.max_pages = _count("max_pages", "CLOSESPIDER_PAGECOUNT", max_pages)
        self.render = render or None
        self.forms = forms or None
        self.form_values = parse_form_values(form_values, "form_values") if form_values else None
        self.submit_forms = submit_forms or None
        self.explore = explore or None
        self.form_submitter: FormSubmitter | None = None
        self.traps: TrapGuard | None = None
        self._refused_kinds: set[str] = set()  # kinds of unfetchable links logged once
        self.discovery = PageDiscovery()
        self.sitemaps = True  # CRAWLER_SITEMAPS
        self.sitemap_reader = SitemapReader()
        self._sitemaps_requested = False
        # One bound method for every request: each ``self.parse`` read makes a new
        # 64-byte object, and a breadth-first frontier holds a page's requests for
        # long (bench/RESULTS.md, memory).
        self._callback = self.parse
        self._errback = self.on_error
        self.scheduled: ScheduledUrls | None = None  # CRAWLER_DROP_SCHEDULED_LINKS
        self._depth_limit = 0  # DEPTH_LIMIT; 0: none
        self._depth_counts = False  # DEPTH_STATS_VERBOSE

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.apply_arguments(settings)
        spider.render = settings.get("CRAWLER_RENDER")
        spider.forms = settings.get("CRAWLER_FORMS")
        spider.explore = settings.get("CRAWLER_EXPLORE")
        spider.form_submitter = FormSubmitter.from_crawler(crawler)  # FormConfigError
        spider.traps = TrapGuard.from_crawler(crawler)  # TrapConfigError
        spider.discovery = PageDiscovery(spider._count)
        spider.sitemaps = settings.getbool("CRAWLER_SITEMAPS")
        spider.sitemap_reader = SitemapReader.from_settings(settings)
        spider.scheduled = ScheduledUrls.for_crawler(crawler)
        spider._depth_limit = settings.getint("DEPTH_LIMIT")
        spider._depth_counts = settings.getbool("DEPTH_STATS_VERBOSE")
        return spider

    def apply_arguments(self, settings: BaseSettings) -> None:
        """Make the arguments the settings of the components that implement them:
        Scrapy's ``DEPTH_LIMIT`` and ``CLOSESPIDER_PAGECOUNT``, our ``CRAWLER_RENDER``
        and ``CRAWLER_FORM*`` (settings are not frozen until the spider exists)."""
        arguments = {
            "CRAWLER_RENDER": self.render,
            "CRAWLER_FORMS": self.forms,
            "CRAWLER_FORM_VALUES": self.form_values,
            "CRAWLER_SUBMIT_FORMS": self.submit_forms,
            "CRAWLER_EXPLORE": self.explore,
            "DEPTH_LIMIT": self.max_depth,
            "CLOSESPIDER_PAGECOUNT": self.max_pages,
        }
        for name, value in arguments.items():
            if value is not None:
                settings.set(name, value, priority="spider")

    @property
    def run_arguments(self) -> dict[str, Any]:
        """What this crawl was asked to do, for the store's runs table."""
        return {
            "start_url": self.start_url,
            "allowed_domains": self.allowed_domains,
            "max_depth": self.max_depth,
            "max_pages": self.max_pages,
            "render": self.render,
            "forms": self.forms,
            "form_values": self.form_values,
            "submit_forms": self.submit_forms,
            "explore": self.explore,
        }

    async def start(self) -> AsyncIterator[Request]:
        yield self._request(self.start_url, FoundVia.START)

    def _request(self, url: str, found_via: str) -> Request:
        meta: dict[str, Any] = {"found_via": found_via}
        if found_via == FoundVia.XHR:
            meta["browser"] = False  # data the page loaded: its bytes are the same over HTTP
        elif _hash_route(url, found_via):
            # A route of a hash-routed app: only a render shows it, and its
            # fingerprint keeps the fragment (crawler.fingerprint).
            meta.update({"browser": True, HASH_ROUTE_META_KEY: True})
        # Scrapy's Request, its URL made safe once per URL (crawler.pagerequest)
        return PageRequest(url, callback=self._callback, errback=self._errback, meta=meta)

    def parse(
        self, response: Response, error: str | None = None
    ) -> Iterator[PageRecord | PageLinks | Request]:
        if isinstance(response, UnchangedResponse):
            yield from self._unchanged(response)
            return
        plan = render_plan(response.request)
        if error is None and plan is not None and plan.failure is not None:
            error = f"render failed: {plan.failure}"  # the HTTP fallback of a failed render
        yield from self._redirect_hops(response)
        submission = response.meta.get(FORM_META_KEY)
        if (
            submission is not None
            and submission.in_browser
            and submission.method != "POST"  # a POST to the page's own URL is a new page
            and response.url == submission.page_url
        ):
            # Clicked in the browser, the form changed its page in place: the
            # page keeps its own record; what the form added is crawled on.
            self.crawler.stats.inc_value("forms/results_in_place")
        else:
            yield self._record(response, error)
            if submission is not None and submission.in_browser:
                # Where a form clicked in the browser led is known only now.
                link = Link(response.url, FoundVia.FORM, submission.method)
                yield PageLinks(source=submission.page_url, links=[link])
        if response.meta.get("found_via") == FoundVia.START:
            yield from self._sitemap_requests()
        html = _is_html(response)
        if not html:
            self.crawler.stats.inc_value("crawler/pages/not_parsed")
        if response.status >= 400:
            return  # an error page's links are the site's navigation, already known
        browser = list(response.render.discovered) if isinstance(response, RenderedResponse) else []
        served = raw_response(response) if html else None
        page = self.discovery.links(response, html=html, served=served)
        # The HTML as served first (link), then what the browser found (timers,
        # scrolling, events; the live DOM, its shadow roots and frames, the page's
        # requests: crawler.browser.discovery), then the rest of the page's links.
        served_links = [link for link in page if link.found_via == FoundVia.LINK] if browser else []
        links = served_links + browser + page
        yield from self._follow(response, links)
        forms = self.form_submitter
        if html and forms is not None:
            # The URLs forms lead to are discoveries too (links table, text: the
            # method); a form clicked in the browser is requested as its page's URL.
            submitted: list[Link] = []
            for request in forms.requests(
                response,
                callback=self._callback,
                errback=self._errback,
                meta={"found_via": FoundVia.FORM},
            ):
                submission = request.meta.get(FORM_META_KEY)
                if submission is None or not submission.in_browser:
                    submitted.append(Link(request.url, FoundVia.FORM, request.method))
                yield request
            if submitted:
                yield PageLinks(source=_record_url(response), links=submitted)

    def _unchanged(self, response: UnchangedResponse) -> Iterator[PageRecord | PageLinks | Request]:
        """A page unchanged since the previous run (:mod:`crawler.incremental`): not
        parsed; recorded with the previous status, content type and title, and the
        previous run's links of the page followed as if found on it now."""
        self.crawler.stats.inc_value("incremental/unchanged")
        yield from self._redirect_hops(response)
        yield self._record(response)
        if response.meta.get("found_via") == FoundVia.START:
            yield from self._sitemap_requests()
        yield from self._follow(response, response.previous.links)

    def _count(self, stat: str) -> None:
        self.crawler.stats.inc_value(stat)

    def _follow(
        self,
        response: Response,
        links: Iterable[Link],
        request: Callable[[str, FoundVia], Request] | None = None,
    ) -> Iterator[PageLinks | Request]:
        """Where a page's discovered links become requests and its ``PageLinks`` item.

        Every link is recorded once per (URL, ``found_via``), without its session
        ids; each URL is requested once, with the ``found_via`` it was first found
        with, unless it is the page itself (``crawler/links/self``), logs out
        (``crawler/links/skipped_logout``) or is a trap (:mod:`crawler.traps`:
        recorded with the reason in ``Link.refused``, counted in ``crawler/traps/*``)
        or cannot be fetched as written (:mod:`crawler.linkcheck`: a user name or
        password in it, a URL that does not parse; recorded with its password
        masked and the reason, counted in ``crawler/links/refused/*``).
        Offsite, robots.txt-disallowed, too deep and already seen URLs are
        requested and dropped by Scrapy's middlewares and duplicate filter, which
        count them (``offsite/filtered``, ``robotstxt/forbidden``,
        ``dupefilter/filtered``...); they stay in the ``links`` table.  A page
        URL whose request certainly went through the duplicate filter already
        (:class:`~crawler.scheduledurls.ScheduledUrls`) is dropped here, before
        its request is built (:meth:`_scheduled`).
        ``request`` builds the requests (default: pages, parsed by :meth:`parse`).
        """
        make_request = request or self._request
        scheduled = self.scheduled if request is None else None
        depth = response.meta.get("depth", 0) + 1  # Scrapy's DepthMiddleware's
        if self._depth_limit and depth > self._depth_limit:
            scheduled = None  # too deep: Scrapy's DepthMiddleware drops and counts them
        dropped = 0
        followed: dict[str, int] = {}  # found_via -> links followed, counted at the end
        stats = self.crawler.stats
        forms = self.form_submitter
        traps = self.traps
        recorded: dict[tuple[str, str], Link] = {}
        requested: set[str] = {response.url}
        urls: set[str] = set()
        try:
            for link in links:
                if traps is not None:
                    url = traps.clean(link.url)
                    if url != link.url:
                        link = replace(link, url=url)
                key = (link.url, str(link.found_via))
                if key in recorded:
                    continue
                if link.found_via == FoundVia.SCRIPT and link.url in urls:
                    # ``script`` is "only the live page has it": a URL the served HTML,
                    # a timer or scrolling already gave is not a discovery of its own.
                    continue
                recorded[key] = link
                urls.add(link.url)
                if link.url in requested:
                    if link.url == response.url:
                        stats.inc_value("crawler/links/self")
                    continue
                if forms is not None and forms.policy.is_logout(link.url, link.text or ""):
                    stats.inc_value("crawler/links/skipped_logout")
                    continue
                unusable = unfetchable(link.url)
                if unusable is not None:
                    shown = redact_url(link.url)
                    recorded[key] = replace(link, url=shown, refused=unusable.reason)
                    self._refused_link(response, shown, unusable.kind, unusable.reason)
                    continue
                refused = traps.refusal(link.url) if traps is not None else None
                if refused is not None:
                    recorded[key] = replace(link, refused=refused)
                    continue
                requested.add(link.url)
                followed[link.found_via] = followed.get(link.found_via, 0) + 1
                if scheduled is not None and _scheduled(scheduled, link.url, link.found_via):
                    dropped += 1
                    continue
                yield make_request(link.url, FoundVia(link.found_via))
        finally:  # also when the output is not consumed to the end
            for found_via, count in followed.items():
                stats.inc_value(f"crawler/links/found_via/{found_via}", count)
            if dropped:
                self._count_scheduled(dropped, depth)
        if recorded:
            yield PageLinks(source=_record_url(response), links=list(recorded.values()))

    def _count_scheduled(self, dropped: int, depth: int) -> None:
        """Count ``dropped`` links at ``depth`` as Scrapy would have counted their
        requests (``request_depth_max``, ``request_depth_count/N`` of its
        DepthMiddleware, ``dupefilter/filtered`` of the duplicate filter), and in
        ``crawler/links/already_scheduled``: the stats of a crawl are the same
        with and without ``CRAWLER_DROP_SCHEDULED_LINKS``."""
        stats = self.crawler.stats
        stats.inc_value("crawler/links/already_scheduled", dropped)
        stats.inc_value("dupefilter/filtered", dropped)
        stats.max_value("request_depth_max", depth)
        if self._depth_counts:
            stats.inc_value(f"request_depth_count/{depth}", dropped)

    def _refused_link(self, response: Response, url: str, kind: str, reason: str) -> None:
        """Count a link :func:`crawler.linkcheck.unfetchable` refused, and log it on
        one line (a warning the first time of each kind; ``url`` already masked)."""
        self.crawler.stats.inc_value(f"crawler/links/refused/{kind}")
        first = kind not in self._refused_kinds
        self._refused_kinds.add(kind)
        self.logger.log(
            logging.WARNING if first else logging.DEBUG,
            "Not following %s (linked from %s): %s (each such link is counted in "
            "crawler/links/refused/%s)",
            url[:300],
            redact_url(response.url)[:300],
            reason,
            kind,
        )

    def _sitemap_requests(self) -> Iterator[Request]:
        """Once per crawl, with the start page: the start host's ``robots.txt`` (for
        its ``Sitemap:`` lines; robots.txt rules are Scrapy's middleware's business)
        and ``/sitemap.xml``.  Neither is a page record."""
        if not self.sitemaps or self._sitemaps_requested:
            return
        self._sitemaps_requested = True
        parts = urlsplit(self.start_url)
        root = f"{parts.scheme}://{parts.netloc}"
        robots = {
            NOT_A_PAGE: True,
            "browser": False,
            "dont_obey_robotstxt": True,
            "depth_reset": True,
            "sitemap_file": "robots",
        }
        yield Request(
            f"{root}/robots.txt",
            callback=self.parse_sitemap,
            errback=self.on_sitemap_error,
            meta=robots,
            dont_filter=True,  # the robots.txt middleware's own fetch is not this one
        )
        yield self._sitemap_request(f"{root}/sitemap.xml", FoundVia.SITEMAP)

    def _sitemap_request(self, url: str, found_via: FoundVia) -> Request:
        return Request(
            url,
            callback=self.parse_sitemap,
            errback=self.on_sitemap_error,
            # depth 0 (Scrapy's depth_reset): what a sitemap lists is at depth 1
            meta={
                NOT_A_PAGE: True,
                "browser": False,
                "depth_reset": True,
                "sitemap_file": "sitemap",
                "found_via": found_via,
            },
        )

    def parse_sitemap(self, response: Response) -> Iterator[PageLinks | Request]:
        """A ``robots.txt``, sitemap or sitemap index: the sitemaps or pages it lists,
        with ``found_via`` ``sitemap``.  Counted in ``crawler/sitemaps/*``, not
        recorded as a page.  A sitemap file is no hop (each is at depth 0): what
        it lists is at depth 1, whatever the chain of files that led there."""
        stats = self.crawler.stats
        robots = response.meta.get("sitemap_file") == "robots"
        stats.inc_value("crawler/sitemaps/robots_txt" if robots else "crawler/sitemaps/files")
        if response.status != 200:
            stats.inc_value(f"crawler/sitemaps/status/{response.status}")
            return
        if robots:
            urls, kind = robots_sitemaps(response), SITEMAP_INDEX
        else:
            try:
                sitemap = self.sitemap_reader.read(response)
            except InvalidSitemap as e:
                stats.inc_value("crawler/sitemaps/invalid")
                self.logger.warning("Ignoring %s: not a sitemap (%s)", response.url, e)
                return
            urls, kind = sitemap.urls, sitemap.kind
        text = "robots.txt" if robots else kind
        links = [Link(url, FoundVia.SITEMAP, text) for url in urls]
        if kind == SITEMAP_INDEX:
            stats.inc_value("crawler/sitemaps/listed_sitemaps", len(links))
            yield from self._follow(response, links, request=self._sitemap_request)
        else:
            stats.inc_value("crawler/sitemaps/listed_pages", len(links))
            yield from self._follow(response, links)

    def on_sitemap_error(self, failure: Failure) -> None:
        """A robots.txt or sitemap without a response: counted, not a page record."""
        error = failure.value
        if failure.check(IgnoreRequest):
            self.crawler.stats.inc_value("crawler/sitemaps/ignored")
            return
        self.crawler.stats.inc_value(f"crawler/sitemaps/errors/{type(error).__name__}")
        request: Request = failure.request  # type: ignore[attr-defined]
        self.logger.warning("Could not fetch %s: %s", request.url, error)

    def on_error(self, failure: Failure) -> Iterator[PageRecord | PageLinks | Request]:
        """A request that got no response: record it with the error, do not lose it.

        A render the crawl's own shutdown cancelled (the browser pool closing after
        Ctrl-C) is no page error: not recorded, so a resumed crawl (job directory)
        renders it.  Records are tied to their request for the request journal:
        errback output does not pass the journal's spider middleware."""
        request: Request = failure.request  # type: ignore[attr-defined]
        error = failure.value
        if failure.check(BrowserPoolClosedError):
            self.crawler.stats.inc_value("crawler/interrupted")
            return
        journal = RequestJournal.for_crawler(self.crawler)
        for output in self._on_error(failure, request, error):
            if journal is not None and isinstance(output, PageRecord):
                journal.expect(output, self.crawler.request_fingerprinter.fingerprint(request))
            yield output

    def _on_error(
        self, failure: Failure, request: Request, error: BaseException
    ) -> Iterator[PageRecord | PageLinks | Request]:
        fallback = self._render_fallback(request, failure)
        if fallback is not None:
            yield fallback
            return
        loop = _redirect_loop(request, error)
        ignored = (
            failure.check(IgnoreRequest)
            and not failure.check(BrowserPageError)
            and not _too_large(error)
            and loop is None
        )
        submission = request.meta.get(FORM_META_KEY)
        if submission is not None:
            if not ignored:
                self.crawler.stats.inc_value(f"forms/failed/{type(error).__name__}")
                self.logger.warning(
                    "Submitting a form of %s (%s %s) failed: %s",
                    submission.page_url,
                    submission.method,
                    submission.action,
                    error,
                )
            if submission.in_browser:
                return  # its URL is the form's page, which has its own record
        if ignored:
            return  # robots.txt, offsite: decided on purpose and counted by Scrapy
        if loop is not None:
            self.crawler.stats.inc_value("crawler/page_errors/redirect_loop")
            self.logger.warning("No page at %s: %s", loop[0], loop[1])
            yield _no_response_record(request, loop[0], loop[1])
            return
        self.crawler.stats.inc_value(f"crawler/page_errors/{type(error).__name__}")
        self.logger.warning("No response from %s: %s", request.url, error)
        yield _no_response_record(request, request.url, f"{type(error).__name__}: {error}")

    def _render_fallback(self, request: Request, failure: Failure) -> Request | None:
        """A render that ``CRAWLER_RENDER`` chose failed for good: keep the page and its
        links, as HTML.  The page is requested again with ``meta["browser"] = False`` and
        the render's error in its plan; the render-mode middleware answers it from the
        HTML it already fetched (``auto``), or it is downloaded over HTTP (``always``, a
        type rendered before download).  ``None``: not such a failure (a spider's own
        render, the crawl shutting down, an HTTP error, the fallback itself failing)."""
        plan = render_plan(request)
        error = failure.value
        if (
            plan is None
            or plan.failure is not None
            or not request.meta.get("browser")
            or not isinstance(error, _RENDER_FAILURES)
            # The document itself could not be had (a redirect loop, a refused
            # connection, too large): over HTTP it would fail the same way, unless
            # the HTTP fetch already holds it (auto).
            or (isinstance(error, _DOCUMENT_FAILURES) and plan.raw_body is None)
        ):
            return None
        self.crawler.stats.inc_value("crawler/render_fallbacks")
        self.logger.warning("Rendering %s failed (%s); using its HTML", request.url, error)
        failed = replace(plan, failure=f"{type(error).__name__}: {error}")
        meta = {**request.meta, "browser": False, RENDER_PLAN_KEY: failed}
        meta.pop("retry_times", None)  # the HTTP fetch has retries of its own
        return request.replace(meta=meta, dont_filter=True)

    def _record(self, response: Response, error: str | None = None) -> PageRecord:
        meta = response.meta
        redirected_from = meta.get("redirect_urls")
        rendered = is_rendered(response)
        title = None
        if _is_html(response):
            title = " ".join((response.xpath("//title//text()").get() or "").split()) or None
        content_type = _header(response.headers, b"Content-Type")
        notes = None
        status = response.status
        served: bytes | None = response.body
        if isinstance(response, RenderedResponse):
            content_type = response.document_content_type or content_type
            notes = "; ".join(response.render.notes) or None
            served = response.raw
        # What a later incremental run compares with (crawler.incremental).
        etag = _header(response.headers, b"ETag")
        served_last_modified = _header(response.headers, b"Last-Modified")
        last_modified = kept_last_modified(served_last_modified)
        if last_modified != served_last_modified:  # no HTTP-date: not kept, counted
            self._count("crawler/last_modified_ignored")
        unchanged = isinstance(response, UnchangedResponse)
        if isinstance(response, UnchangedResponse):  # no body: the previous run's record
            previous = response.previous
            status, content_type, title = previous.status, previous.content_type, previous.title
            etag = etag or previous.etag
            last_modified = last_modified or previous.last_modified
            digest = previous.digest
        else:
            digest = body_digest(served) if status == 200 and served is not None else None
        return PageRecord(
            url=_record_url(response),
            final_url=response.url,
            status=status,
            content_type=content_type,
            title=title,
            depth=meta.get("depth", 0),
            found_via=FoundVia.REDIRECT if redirected_from else meta.get("found_via", "link"),
            referer=redirected_from[-1]
            if redirected_from
            else _header(response.request.headers, b"Referer"),
            rendered=rendered,
            fetched_at=_now(),
            error=error,
            notes=notes,
            etag=etag,
            last_modified=last_modified,
            digest=digest,
            unchanged=unchanged,
            latency=_latency(meta),
        )

    def _redirect_hops(self, response: Response) -> Iterator[PageRecord]:
        """One record per URL that redirected on the way to this response."""
        meta = response.meta
        hops = meta.get("redirect_urls") or []
        reasons = meta.get("redirect_reasons") or [None] * len(hops)
        for url, reason in zip(hops, reasons, strict=False):
            yield PageRecord(
                url=url,
                final_url=response.url,
                status=reason if isinstance(reason, int) else None,
                content_type=None,
                title=None,
                depth=meta.get("depth", 0),
                found_via=meta.get("found_via", FoundVia.LINK),
                referer=None,
                rendered=False,
                fetched_at=_now(),
            )


# Renders that failed for good in the browser (after retries): the page itself
# may be fine over HTTP.  Not BrowserPoolClosedError: the crawl is stopping.
_RENDER_FAILURES = (BrowserError, BrowserTimeoutError, BrowserPageError, BrowserNotFoundError)
_DOCUMENT_FAILURES = (BrowserNetError, BrowserPermanentNetError, BrowserResponseTooLargeError)


def _hash_route(url: str, found_via: str) -> bool:
    """Whether the site spider's request for ``url`` is a hash route
    (``meta["hash_route"]``, fingerprinted with the fragment)."""
    return found_via != FoundVia.XHR and is_hash_route(url)


def _scheduled(scheduled: ScheduledUrls, url: str, found_via: str) -> bool:
    """Whether the request :meth:`SiteSpider._request` would build for ``url`` is
    certainly a duplicate (:class:`~crawler.scheduledurls.ScheduledUrls`); its URL
    made safe as :class:`~crawler.pagerequest.PageRequest` makes it (``False``
    when that one is not remembered)."""
    safe = PageRequest.known_safe_url(url)
    return safe is not None and scheduled.holds(safe, _hash_route(url, found_via))


def _is_html(response: Response) -> bool:
    """HTML to parse: a rendered page only if the server sent HTML (not a PDF viewer)."""
    if not isinstance(response, HtmlResponse):
        return False
    if isinstance(response, RenderedResponse):
        served = response.document_content_type or "text/html"
        return served.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")
    return True


def _header(headers: Any, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value else None


def _latency(meta: dict[str, Any]) -> float | None:
    """Seconds the response took: Scrapy's ``download_latency`` (set by its HTTP
    handlers when the headers arrive), which the browser middleware sets to the
    render's duration for a rendered page; None if neither did."""
    value = meta.get("download_latency")
    return float(value) if isinstance(value, int | float) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _too_large(error: BaseException) -> bool:
    """An ``IgnoreRequest`` of Scrapy's ``HttpCompressionMiddleware``: the body grew past
    ``DOWNLOAD_MAXSIZE`` while decompressed (a gzip bomb).  Not a decision about the
    URL, as robots.txt or offsite are: the page is recorded with the error."""
    return type(error.__cause__).__name__ == "_DecompressionMaxSizeExceeded"


def _redirect_loop(request: Request, error: BaseException) -> tuple[str, str] | None:
    """``(first URL, error text)`` when Scrapy's redirect middlewares (HTTP 3xx and
    ``<meta http-equiv=refresh>``) gave up on a chain at ``REDIRECT_MAX_TIMES``:
    a redirect loop, recorded under the URL that started it, rather than dropped
    as a deliberate ``IgnoreRequest`` (robots.txt, offsite) is."""
    if not isinstance(error, IgnoreRequest) or str(error) != "max redirections reached":
        return None
    hops = request.meta.get("redirect_urls") or []
    first = hops[0] if hops else request.url
    distinct = len({*hops, request.url})
    return first, (
        f"redirect loop: max redirections reached after {len(hops)} redirects "
        f"through {distinct} URLs (REDIRECT_MAX_TIMES)"
    )


def _record_url(response: Response) -> str:
    """The URL a response is recorded (and its links sourced) under.

    The URL requested, or where a redirect or a form clicked in the browser
    led.  Many POSTs share one URL (a postback, a pager, a search's variants),
    and the URL alone is the GET page: a page a POST form led to (not
    redirected) is recorded under its URL with ``#post-`` and 12 hex digits of
    what was sent, so no result replaces another or the page itself.
    """
    meta = response.meta
    redirected = bool(meta.get("redirect_urls"))
    submission = meta.get(FORM_META_KEY)
    clicked = submission is not None and submission.in_browser
    url = response.url if redirected or clicked else response.request.url
    if submission is not None and submission.method == "POST" and not redirected:
        sent = repr((submission.action, submission.enctype, submission.entries)).encode()
        url = f"{urldefrag(url).url}#post-{hashlib.sha1(sent).hexdigest()[:12]}"
    return url


def _no_response_record(request: Request, url: str, error: str) -> PageRecord:
    """The record of a request that got no page: recorded under ``url`` with ``error``."""
    return PageRecord(
        url=url,
        final_url=request.url,
        status=None,
        content_type=None,
        title=None,
        depth=request.meta.get("depth", 0),
        found_via=request.meta.get("found_via", FoundVia.LINK),
        referer=_header(request.headers, b"Referer"),
        fetched_at=_now(),
        rendered=False,
        error=error,
    )
