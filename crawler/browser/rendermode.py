"""``CRAWLER_RENDER``: which requests the browser renders, for any spider.

* ``never``: none (requests may still ask with ``meta["browser"]``);
* ``always``: every GET request, except URLs whose extension says they are
  not HTML (``.pdf``, ``.jpg``... from Scrapy's ``IGNORED_EXTENSIONS``);
* ``auto``: a page of a type not yet known to need the browser is fetched over
  HTTP first; an HTML page that :class:`AdaptiveRenderPolicy` says may need
  the browser is requested again, rendered, with the HTTP body in its
  :class:`~crawler.browser.rendered.RenderPlan` so the spider can tell links
  written by scripts from links in the HTML.  A page type known to need the
  browser is rendered straight away (decided in ``process_request``: no HTTP
  fetch first, so such pages are not fetched twice).

A request with ``meta["browser"]`` already set (``True``, options, or
``False``: never rendered) is left as it is.  A request this middleware makes a
render carries a :class:`~crawler.browser.rendered.RenderPlan` under
``meta["render_plan"]``; the site spider falls back to plain HTTP when such a
render fails for good.

Enable it below ``HttpCompressionMiddleware`` (590) and ``RedirectMiddleware``
(600), e.g. at 585 (``crawler/settings.py``): on the way out it then sees the
decoded body of the final response of a redirect chain, and on the way in it
still marks requests before ``SeleniumMiddleware`` (950) sees them.

The ``auto`` policy: pages are grouped by URL pattern (digits and query values
generalised, so ``/item/17.html?p=2`` and ``/item/903.html?p=9`` are one page
type). A page without any ``<script>`` is never rendered. A page type is
sampled (rendered) until ``sample_size`` renders have shown whether its
scripts add anything: links the raw HTML lacks, or, when extraction specs are
on (``CRAWLER_EXTRACT_SPECS``), fields the render filled that the raw HTML
left empty.  A type that has shown an addition even once needs the browser
from then on, so no page of it loses links or fields; a type whose samples
never differed is rendered again only every ``resample_every`` pages, in case
its scripts add something on some pages only.

Stats: ``render/always/rendered``, ``render/auto/rendered`` (after an HTTP
fetch), ``render/auto/rendered_before_download`` (a type known to need the
browser), ``render/auto/not_rendered``, ``render/auto/pages_with_script_links``,
``render/auto/pages_with_script_fields``, ``render/auto/types_needing_browser``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urldefrag, urlsplit

from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.http.request import NO_CALLBACK
from scrapy.linkextractors import IGNORED_EXTENSIONS, LinkExtractor
from scrapy.utils.url import url_has_any_extension

from crawler.browser.rendered import (
    META_KEY,
    RenderedResponse,
    RenderPlan,
    is_rendered,
    kept_headers,
    raw_response,
    render_plan,
)
from crawler.extract.engines import get_engine
from crawler.extract.spec import matching_specs
from crawler.settingscheck import check_types, setting_choices
from crawler.spidermiddlewares.extract import ExtractConfig

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

    from crawler.extract.engine import Engine
    from crawler.extract.spec import ItemSpec

logger = logging.getLogger(__name__)

RENDER_MODES = setting_choices("CRAWLER_RENDER")  # never, auto, always
_NOT_HTML = {f".{e}" for e in IGNORED_EXTENSIONS}
_DIGITS = re.compile(r"\d+")
# A <script> element, or an inline event handler attribute in a tag (a page with
# <select onchange=...> or <button onclick=...> has scripts without a <script>).
_SCRIPT_TAG = re.compile(
    rb"<script\b|<[a-z][^>]*\son(?:click|dblclick|change|input|submit|mouse\w+|pointer\w+"
    rb"|key\w+|load|scroll|focus|blur)\s*=",
    re.IGNORECASE,
)


def url_pattern(url: str) -> str:
    """The page type of a URL: host, path with numbers generalised, query names."""
    parts = urlsplit(url)
    path = _DIGITS.sub("{n}", parts.path or "/")
    names = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)})
    query = "?" + "&".join(names) if names else ""
    return f"{parts.hostname}{path}{query}"


def has_scripts(body: bytes) -> bool:
    return _SCRIPT_TAG.search(body) is not None


@dataclass
class PatternStats:
    samples: int = 0  # renders whose result was learned
    with_script_links: int = 0  # of those, renders that found links the raw HTML lacked
    with_script_fields: int = 0  # ... that filled extracted fields the raw HTML left empty
    seen_since_sample: int = 0  # pages of the type skipped since the last render

    @property
    def needs_rendering(self) -> bool:
        return self.with_script_links > 0 or self.with_script_fields > 0


class AdaptiveRenderPolicy:
    def __init__(self, sample_size: int = 2, resample_every: int = 20) -> None:
        if sample_size < 1 or resample_every < 1:
            raise ValueError("sample_size and resample_every must be at least 1")
        self.sample_size = sample_size
        self.resample_every = resample_every
        self.patterns: dict[str, PatternStats] = {}

    def should_render(self, url: str, body: bytes) -> bool:
        if not has_scripts(body):
            return False
        stats = self.patterns.setdefault(url_pattern(url), PatternStats())
        if stats.needs_rendering or stats.samples < self.sample_size:
            return True
        stats.seen_since_sample += 1
        if stats.seen_since_sample >= self.resample_every:
            stats.seen_since_sample = 0
            return True
        return False

    def known_to_need(self, url: str) -> bool:
        """The page type of ``url`` has shown script-made links or fields: render it
        without fetching it over HTTP first."""
        stats = self.patterns.get(url_pattern(url))
        return stats is not None and stats.needs_rendering

    def learn(self, url: str, script_links: int, script_fields: int = 0) -> bool:
        """Record what rendering a page of this type showed: how many links and
        extracted fields the render added to the raw HTML.  True when the type
        needs the browser from now on and did not before."""
        stats = self.patterns.setdefault(url_pattern(url), PatternStats())
        before = stats.needs_rendering
        stats.samples += 1
        if script_links:
            stats.with_script_links += 1
        if script_fields:
            stats.with_script_fields += 1
        return stats.needs_rendering and not before


def looks_like_html(url: str) -> bool:
    return not url_has_any_extension(url, _NOT_HTML)


def link_set(response: HtmlResponse, extractor: LinkExtractor) -> set[str]:
    return {urldefrag(link.url).url for link in extractor.extract_links(response)}


@dataclass(frozen=True)
class RenderModeConfig:
    mode: str
    sample_size: int
    resample_every: int

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RenderModeConfig:
        """Raises :class:`~crawler.exceptions.ConfigError` for a bad ``CRAWLER_RENDER*``."""
        check_types(settings, "CRAWLER_RENDER")
        return cls(
            mode=settings.get("CRAWLER_RENDER"),
            sample_size=settings.getint("CRAWLER_RENDER_SAMPLE_SIZE"),
            resample_every=settings.getint("CRAWLER_RENDER_RESAMPLE_EVERY"),
        )


class FieldProbe:
    """Which extracted fields a page fills, with the crawl's extraction specs.

    A field is named ``spec.field``; it is filled on a page when some item of the
    spec has a value for it other than ``None``, ``""`` or an empty list.
    """

    def __init__(self, specs: Iterable[ItemSpec], engine: Engine) -> None:
        self.specs = tuple(specs)
        self.engine = engine

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> FieldProbe | None:
        """``None`` without ``CRAWLER_EXTRACT_SPECS``; the specs are checked before
        the crawl (a bad one never gets here)."""
        if not settings.getlist("CRAWLER_EXTRACT_SPECS"):
            return None
        config = ExtractConfig.from_settings(settings)
        return cls(config.specs, get_engine(config.engine))

    def filled(self, response: HtmlResponse) -> set[str]:
        specs = matching_specs(self.specs, response.url)
        if not specs:
            return set()
        page = self.engine.parse(response.text, response.url)
        found: set[str] = set()
        for spec in specs:
            try:
                items = self.engine.extract_page(spec, page)
            except Exception:  # the extraction middleware logs and counts it on this page
                continue
            for item in items:
                found.update(
                    f"{spec.name}.{name}"
                    for name, value in item.data.items()
                    if value not in (None, "", [])
                )
        return found

    def added(self, raw: HtmlResponse, rendered: HtmlResponse) -> set[str]:
        """Fields ``rendered`` fills that ``raw`` (the same page before scripts) does not."""
        return self.filled(rendered) - self.filled(raw)


class RenderModeMiddleware:
    """Downloader middleware (at 585) that applies ``CRAWLER_RENDER``."""

    def __init__(
        self, crawler: Crawler, config: RenderModeConfig, fields: FieldProbe | None = None
    ) -> None:
        self.crawler = crawler
        self.config = config
        self.policy = AdaptiveRenderPolicy(config.sample_size, config.resample_every)
        self.links = LinkExtractor(deny_extensions=[])
        self.fields = fields

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = RenderModeConfig.from_settings(crawler.settings)
        if config.mode == "never":
            raise NotConfigured  # the default: silent (only meta["browser"] requests render)
        if not crawler.settings.getbool("SELENIUM_ENABLED"):
            raise NotConfigured(f"CRAWLER_RENDER={config.mode} but SELENIUM_ENABLED is False")
        fields = FieldProbe.from_settings(crawler.settings) if config.mode == "auto" else None
        return cls(crawler, config, fields)

    def process_request(self, request: Request) -> HtmlResponse | None:
        plan = render_plan(request)
        if plan is not None and plan.failure is not None:
            # The spider's fallback for a render that failed for good: the HTML
            # fetched before the render, if any; else a plain download.
            self.crawler.stats.inc_value("render/fallback/pages")
            return plan.raw_html(request)
        if (
            "browser" in request.meta  # asked for, options given, or opted out
            or request.method != "GET"
            or request.callback is NO_CALLBACK  # robots.txt, media downloads
            or not looks_like_html(request.url)
        ):
            return None
        if self.config.mode == "always":
            decision, stat = "always", "render/always/rendered"
        elif self.policy.known_to_need(request.url):
            decision, stat = "auto_known", "render/auto/rendered_before_download"
        else:
            return None  # auto: fetched over HTTP; process_response decides
        request.meta["browser"] = True
        request.meta[META_KEY] = RenderPlan(decision)
        self.crawler.stats.inc_value(stat)
        return None

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if self.config.mode != "auto":
            return response
        if is_rendered(response):
            self._learn(request, response)
            return response
        if (
            request.meta.get("browser") is False
            or request.method != "GET"
            or request.callback is NO_CALLBACK
            or response.status != 200
            or not isinstance(response, HtmlResponse)
        ):
            return response
        stats = self.crawler.stats
        if not self.policy.should_render(response.url, response.body):
            stats.inc_value("render/auto/not_rendered")
            return response
        stats.inc_value("render/auto/rendered")
        plan = RenderPlan(
            "auto",
            raw_body=response.body,
            raw_encoding=response.encoding,
            raw_headers=kept_headers(response.headers),
        )
        return request.replace(
            url=response.url,
            dont_filter=True,  # the same URL again, this time in the browser
            meta={**request.meta, "browser": True, META_KEY: plan},
        )

    def _learn(self, request: Request, response: Response) -> None:
        """Learn from a render this middleware decided (not from a spider's own renders)."""
        plan = render_plan(request)
        raw = raw_response(response)
        if plan is None or plan.decision == "always" or raw is None:
            return
        if not isinstance(response, RenderedResponse):  # for the type checker: it is
            return
        stats = self.crawler.stats
        # What the render added: links of the rendered DOM, and what the live page,
        # its timers, scrolling and events led to, that the served HTML lacks.
        discovered = {urldefrag(link.url).url for link in response.render.discovered}
        added_links = (link_set(response, self.links) | discovered) - link_set(raw, self.links)
        added_fields = self.fields.added(raw, response) if self.fields is not None else set()
        if added_links:
            stats.inc_value("render/auto/pages_with_script_links")
        if added_fields:
            stats.inc_value("render/auto/pages_with_script_fields")
        if self.policy.learn(request.url, len(added_links), len(added_fields)):
            stats.inc_value("render/auto/types_needing_browser")
            logger.info(
                "Pages like %s need the browser (its scripts added %d links, fields: %s); "
                "rendering them without an HTTP fetch first",
                request.url,
                len(added_links),
                ", ".join(sorted(added_fields)) or "none",
                extra={"spider": self.crawler.spider},
            )
