"""Scrapy's ``LinkExtractor`` for ``<a href>`` and ``<area href>``, remembering where hrefs lead.

A site's pages link to the same URLs again and again (its menu, its footer,
the "related" lists), and Scrapy's extractor works each ``href`` out anew on
every page: ``urljoin`` with the base URL, ``process_value``,
``safe_url_string``, ``urljoin`` with the page's URL, then ``urlparse`` to
check the scheme: about 0.2 ms a link, as much as parsing the page.
:class:`AnchorExtractor` keeps the result for an ``href`` whose resolution
does not depend on the page's path, so a repeated link costs a lookup:

* an absolute ``http(s)://`` URL: depends on the base URL's scheme only;
* an absolute path (``/a/b``, not ``//host``): on the base URL's scheme and
  host (RFC 3986, section 5.2.2; ``urllib.parse.urljoin``);

and on the page URL's scheme and the page's encoding (``safe_url_string``),
which are part of the key.  Only bases with an http(s) scheme are cached, so
``process_value`` (a :class:`~crawler.discovery.screen.UrlScreen`, which
counts the non-http schemes it skips) sees every URL it would count; an
``href`` that fails (``ValueError``) is never cached and fails again as it
would.  Relative hrefs (``page.html``, ``../x``) go through Scrapy's steps
every time.  Everything else (text, ``nofollow``, order, duplicates) is
Scrapy's: ``tests/test_discovery_anchors.py`` holds the two to one answer.

The elements are found with ``iter("a", "area")`` rather than a walk over
every element: the same elements in the same order for the HTML parser's
trees (no namespaces), a third of the time.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from scrapy.link import Link
from scrapy.linkextractors import LinkExtractor
from scrapy.linkextractors.lxmlhtml import LxmlParserLinkExtractor
from scrapy.utils.misc import rel_has_nofollow
from w3lib.html import strip_html5_whitespace
from w3lib.url import safe_url_string

from crawler.utils.lru import Lru

if TYPE_CHECKING:
    from collections.abc import Callable

    from lxml.html import HtmlElement
    from scrapy import Selector

logger = logging.getLogger(__name__)

#: hrefs remembered per extractor: about 400 bytes each (4 MB).
CACHE_SIZE = 10_000
_TAGS = ("a", "area")
_CACHED_SCHEMES = ("http", "https")
# Plain strings: lxml's "smart" ones keep their element, and with it the whole
# document, alive as long as the link's text is.
_collect_string_content = etree.XPath("string()", smart_strings=False)
_MISSING = ""  # a cached href that process_value dropped


class _ParserLinkExtractor(LxmlParserLinkExtractor):
    """Scrapy's ``LxmlParserLinkExtractor._extract_links`` with the memo (see the module)."""

    def __init__(self, process: Callable[[str], str | None] | None, size: int) -> None:
        super().__init__(tag=_TAGS.__contains__, process=process, unique=True, canonicalized=True)
        # (base scheme, base host or "", page scheme, encoding, href) -> URL or _MISSING
        self.resolved: Lru[tuple[str, str, str, str, str], str] = Lru(size)

    def _iter_links(self, document: HtmlElement) -> Any:
        for el in document.iter(*_TAGS):
            value = el.get("href")
            if value is not None:
                yield el, "href", value

    def _extract_links(
        self, selector: Selector, response_url: str, response_encoding: str, base_url: str
    ) -> list[Link]:
        base = urlsplit(base_url)
        cacheable = base.scheme in _CACHED_SCHEMES
        page_scheme = urlsplit(response_url).scheme
        links: list[Link] = []
        for el, _, attr_val in self._iter_links(selector.root):
            href = strip_html5_whitespace(attr_val)
            key = None
            if cacheable:
                if href.startswith(("http://", "https://")):
                    key = (base.scheme, "", page_scheme, response_encoding, href)
                elif href.startswith("/") and not href.startswith("//"):
                    key = (base.scheme, base.netloc, page_scheme, response_encoding, href)
            url = self.resolved.get(key) if key is not None else None
            if url is None:
                url = self._resolve(href, base_url, response_url, response_encoding)
                if url is False:
                    continue  # an error: never cached
                if key is not None:
                    self.resolved.put(key, url or _MISSING)
            if not url:
                continue
            links.append(
                Link(
                    url,
                    _collect_string_content(el) or "",
                    nofollow=rel_has_nofollow(el.get("rel")),
                )
            )
        return self._deduplicate_if_needed(links)

    def _resolve(
        self, href: str, base_url: str, response_url: str, encoding: str
    ) -> str | bool | None:
        """Scrapy's steps for one stripped href: the URL, ``None`` when
        ``process_value`` drops it, ``False`` when it is bogus (``ValueError``)."""
        try:
            joined = urljoin(base_url, href)
        except ValueError:
            return False
        url = self.process_attr(joined)
        if url is None:
            return None
        try:
            url = safe_url_string(url, encoding=encoding)
        except ValueError:
            logger.debug("Skipping extraction of link with bad URL %r", url)
            return False
        return urljoin(response_url, url)


class AnchorExtractor(LinkExtractor):
    """``LinkExtractor(deny_extensions=[], process_value=..., unique=True)`` with the memo.

    ``process_value`` must be a pure function of the URL for http(s) URLs (a
    :class:`~crawler.discovery.screen.UrlScreen` is); ``cache_size`` hrefs are
    remembered.
    """

    def __init__(
        self, process_value: Callable[[str], str | None] | None, cache_size: int = CACHE_SIZE
    ) -> None:
        super().__init__(deny_extensions=[], process_value=process_value, unique=True)
        self.link_extractor = _ParserLinkExtractor(process_value, cache_size)
        self._allowed: Lru[str, bool] = Lru(cache_size)

    def _link_allowed(self, link: Link) -> bool:
        """Scrapy's check, by URL (without ``restrict_text`` it reads nothing else)."""
        if self.restrict_text:
            return super()._link_allowed(link)
        allowed = self._allowed.get(link.url)
        if allowed is None:
            allowed = super()._link_allowed(link)
            self._allowed.put(link.url, allowed)
        return allowed
