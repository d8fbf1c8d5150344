"""``CRAWLER_RENDER``: which requests the browser renders, for any spider.

* ``never``: none (requests may still ask with ``meta["browser"]``);
* ``always``: every GET request, except URLs whose extension says they are
  not HTML (``.pdf``, ``.jpg``... from Scrapy's ``IGNORED_EXTENSIONS``);
* ``auto``: every page is fetched over HTTP first; an HTML page that
  :class:`AdaptiveRenderPolicy` says needs the browser is requested again,
  rendered, with the raw HTML kept in ``meta["raw_body"]`` so the spider can
  tell links written by scripts from links in the HTML.  The policy learns
  from each render whether its page type's scripts add links.

A request with ``meta["browser"] = False`` is never rendered.

The ``auto`` policy: pages are grouped by URL pattern (digits and query values
generalised, so ``/item/17.html?p=2`` and ``/item/903.html?p=9`` are one page
type). A page without any ``<script>`` is never rendered. A page type is
sampled (rendered) until ``sample_size`` renders have shown whether its
scripts add links; a type that has shown a script-made link even once is
always rendered from then on, so no page of it loses links; a type whose
samples never differed is rendered again only every ``resample_every`` pages,
in case its scripts add links on some pages only.
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

from crawler.settingscheck import check_types, setting_choices

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

RENDER_MODES = setting_choices("CRAWLER_RENDER")  # never, auto, always
_NOT_HTML = {f".{e}" for e in IGNORED_EXTENSIONS}
_DIGITS = re.compile(r"\d+")
_SCRIPT_TAG = re.compile(rb"<script\b", re.IGNORECASE)


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
    seen_since_sample: int = 0  # pages of the type skipped since the last render

    @property
    def needs_rendering(self) -> bool:
        return self.with_script_links > 0


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

    def learn(self, url: str, script_links: int) -> None:
        """Record what rendering a page of this type showed."""
        stats = self.patterns.setdefault(url_pattern(url), PatternStats())
        stats.samples += 1
        if script_links:
            stats.with_script_links += 1


def looks_like_html(url: str) -> bool:
    return not url_has_any_extension(url, _NOT_HTML)


def link_set(response: HtmlResponse, extractor: LinkExtractor) -> set[str]:
    return {urldefrag(link.url).url for link in extractor.extract_links(response)}


def raw_response(response: Response, request: Request | None = None) -> HtmlResponse | None:
    """The page as the server sent it, kept in ``meta["raw_body"]`` by a render."""
    request = request or response.request
    body = request.meta.get("raw_body") if request is not None else None
    if body is None:
        return None
    return HtmlResponse(
        url=response.url, body=body, encoding=request.meta.get("raw_encoding"), request=request
    )


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


class RenderModeMiddleware:
    """Downloader middleware, before ``SeleniumMiddleware``, that applies ``CRAWLER_RENDER``."""

    def __init__(self, crawler: Crawler, config: RenderModeConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.policy = AdaptiveRenderPolicy(config.sample_size, config.resample_every)
        self.links = LinkExtractor(deny_extensions=[])

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = RenderModeConfig.from_settings(crawler.settings)
        if config.mode == "never":
            raise NotConfigured  # the default: silent (only meta["browser"] requests render)
        if not crawler.settings.getbool("SELENIUM_ENABLED"):
            raise NotConfigured(f"CRAWLER_RENDER={config.mode} but SELENIUM_ENABLED is False")
        return cls(crawler, config)

    def process_request(self, request: Request) -> None:
        if (
            self.config.mode == "always"
            and "browser" not in request.meta
            and request.method == "GET"
            and request.callback is not NO_CALLBACK  # robots.txt, media downloads
            and looks_like_html(request.url)
        ):
            request.meta["browser"] = True

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if self.config.mode != "auto":
            return response
        if request.meta.get("rendered"):
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
        return request.replace(
            url=response.url,
            dont_filter=True,  # the same URL again, this time in the browser
            meta={
                **request.meta,
                "browser": True,
                "raw_body": response.body,
                "raw_encoding": response.encoding,
            },
        )

    def _learn(self, request: Request, response: Response) -> None:
        raw = raw_response(response, request)
        if raw is None or not isinstance(response, HtmlResponse):
            return
        added = link_set(response, self.links) - link_set(raw, self.links)
        self.policy.learn(response.url, len(added))
        if added:
            self.crawler.stats.inc_value("render/auto/pages_with_script_links")
