"""The one-off extraction spider: fetch a list of URLs and extract items from each.

``crawler extract`` runs it; from Scrapy it is::

    scrapy crawl extract -a url=https://example.org/a -a spec=product.yaml -O items.jsonl
    scrapy crawl extract -a urls="URL1 URL2" -a item=css:li.result \\
        -a field.title=css:h2 -a "field.links[]=css:a::attr(href)" -O items.csv

Arguments: ``url``, ``urls`` (separated by whitespace), ``from_file`` (one URL a
line; blank lines and ``#`` comments skipped), ``spec`` (spec files, comma
separated), ``item`` and ``field.NAME`` / ``field.NAME[]`` (an inline spec, see
:mod:`crawler.extract.inline`; from Python, ``fields=["NAME=SELECTOR", ...]``),
``spec_name`` (the inline spec's name), ``render`` (``never`` or ``always``).
The spider follows no links: the extraction middleware
(:mod:`pipelines.extract`) turns each page into items, with the specs added
to ``CRAWLER_EXTRACT_SPECS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.exceptions import UsageError
from scrapy.http import HtmlResponse
from scrapy.settings import SETTINGS_PRIORITIES

from crawler.extract.exceptions import SpecError
from crawler.extract.inline import DEFAULT_NAME, inline_spec
from crawler.extract.loader import load_specs

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

RENDER_MODES = ("never", "always")
FIELD_ARGUMENT = "field."


def read_url_file(path: str | Path) -> list[str]:
    """URLs from a file, one a line; blank lines and ``#`` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read URLs from {path}: {reason}") from None
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not an http(s) URL: {url!r}")
    return url


def spec_sources(
    spec_files: Sequence[str] = (),
    item: str | None = None,
    fields: Sequence[str] = (),
    name: str = DEFAULT_NAME,
) -> list[str | dict[str, Any]]:
    """What to add to ``CRAWLER_EXTRACT_SPECS``: the spec files (each loaded once, to
    check it) and the inline spec, if any; bad input is a :class:`UsageError`."""
    sources: list[str | dict[str, Any]] = []
    try:
        for path in spec_files:
            load_specs(path)
            sources.append(str(path))
        if fields or item:
            sources.append(inline_spec(fields, item, name))
    except SpecError as e:
        raise UsageError(str(e)) from None
    return sources


def _split(value: str | Sequence[str] | None, separator: str | None) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(separator) if v.strip()]
    return list(value)


class ExtractSpider(Spider):
    name = "extract"
    # An error page is reported, not dropped without a word by HttpErrorMiddleware.
    custom_settings = {"HTTPERROR_ALLOW_ALL": True}

    def __init__(
        self,
        url: str | None = None,
        urls: str | Sequence[str] | None = None,
        from_file: str | None = None,
        spec: str | Sequence[str] | None = None,
        item: str | None = None,
        fields: str | Sequence[str] | None = None,
        spec_name: str = DEFAULT_NAME,
        render: str = "never",
        **kwargs: Any,
    ) -> None:
        inline = _split(fields, "\n")  # from -a: one NAME=SELECTOR a line
        for key in [k for k in kwargs if k.startswith(FIELD_ARGUMENT)]:
            inline.append(f"{key[len(FIELD_ARGUMENT) :]}={kwargs.pop(key)}")
        super().__init__(**kwargs)
        found = _split(url, None) + _split(urls, None)
        if from_file:
            found += read_url_file(from_file)
        if not found:
            raise UsageError("the extract spider needs URLs: -a url=, -a urls= or -a from_file=")
        self.urls = [check_url(u) for u in found]
        self.start_url = self.urls[0]
        if render not in RENDER_MODES:
            raise UsageError(f"render must be one of {', '.join(RENDER_MODES)}, not {render!r}")
        self.render = render
        self.spec_sources = spec_sources(_split(spec, ","), item, inline, spec_name)
        self.done = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        name = "CRAWLER_EXTRACT_SPECS"
        configured = settings.getlist(name)
        if not configured and not spider.spec_sources:
            raise UsageError(
                "the extract spider needs a spec: -a spec=FILE, or -a field.NAME=SELECTOR"
            )
        # Above any priority the setting already has, or a -s value would hide ours.
        priority = max(settings.getpriority(name) or 0, SETTINGS_PRIORITIES["spider"])
        settings.set(name, [*configured, *spider.spec_sources], priority=priority)
        return spider

    @property
    def run_arguments(self) -> dict[str, Any]:
        """What this run was asked to do, for the store's runs table."""
        return {
            "urls": len(self.urls),
            "first_url": self.start_url,
            "specs": self.spec_sources,
            "render": self.render,
        }

    @property
    def progress(self) -> tuple[int, int]:
        """URLs done (fetched or failed) and in all, for :mod:`crawler.progress`."""
        return self.done, len(self.urls)

    async def start(self) -> AsyncIterator[Request]:
        meta = {"browser": True} if self.render == "always" else {}
        for url in self.urls:
            yield Request(url, callback=self.parse, errback=self.failed, meta=dict(meta))

    def parse(self, response: Response) -> None:
        self.done += 1
        if response.status >= 400:
            self._count_failure()
            self.logger.warning("%s: HTTP %d, nothing extracted", response.url, response.status)
        elif not isinstance(response, HtmlResponse):
            self.crawler.stats.inc_value("extract/urls_not_html")
            kind = response.headers.get(b"Content-Type", b"no content type").decode("latin-1")
            self.logger.warning("%s: not HTML (%s), nothing extracted", response.url, kind)

    def failed(self, failure: Failure) -> None:
        self.done += 1
        self._count_failure()
        request: Request = failure.request  # type: ignore[attr-defined]
        self.logger.warning("%s: no page: %s", request.url, failure.getErrorMessage())

    def _count_failure(self) -> None:
        self.crawler.stats.inc_value("extract/urls_failed")
