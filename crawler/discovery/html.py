"""Links in an HTML document as served: anchors, frames and navigational ``<link>``s.

:meth:`HtmlDiscovery.links` returns :class:`~crawler.items.Link` s, in document
order per kind, each URL once per kind:

* ``<a href>`` and ``<area href>`` -> ``link`` (the anchor text as ``text``),
  read by Scrapy's ``LinkExtractor`` as a ``CrawlSpider`` would, every file
  extension included (PDFs and images are recorded too; the extractor is
  :mod:`crawler.discovery.anchors`, Scrapy's remembering repeated hrefs).  lxml parses a
  ``<template>``'s content as ordinary children, so the links of a declarative
  shadow root (``<template shadowrootmode="open">``) are found here as well;
* ``<frame src>`` and ``<iframe src>`` -> ``frame``;
* ``<link rel=... href>`` whose ``rel`` is navigational
  (:mod:`crawler.discovery.rels`) -> ``rel``, the link type as ``text``.

URLs are resolved against the document's ``<base href>`` and screened by a
:class:`~crawler.discovery.screen.UrlScreen` (no fragment, http(s) only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin

from scrapy.utils.response import get_base_url
from w3lib.html import strip_html5_whitespace
from w3lib.url import safe_url_string

from crawler.discovery.anchors import AnchorExtractor
from crawler.discovery.rels import navigational_rel
from crawler.items import FoundVia, Link

if TYPE_CHECKING:
    from scrapy.http import HtmlResponse

    from crawler.discovery.screen import UrlScreen


_ELEMENTS = "//frame[@src] | //iframe[@src] | //link[@href and @rel]"


class HtmlDiscovery:
    def __init__(self, screen: UrlScreen) -> None:
        self.screen = screen
        self.anchors = AnchorExtractor(process_value=screen)

    def links(self, response: HtmlResponse) -> list[Link]:
        found = [
            Link(link.url, FoundVia.LINK, link.text or None)
            for link in self.anchors.extract_links(response)
        ]
        return found + self.element_links(response)

    def element_links(self, response: HtmlResponse) -> list[Link]:
        """Frames and ``<link>`` elements with a navigational ``rel``, once per URL
        and kind (one XPath query: a second LinkExtractor pass costs as much as
        the first)."""
        base: str | None = None
        found: dict[tuple[str, str], Link] = {}
        for element in response.xpath(_ELEMENTS):
            attributes = element.attrib
            if "src" in attributes:
                kind, value, text = FoundVia.FRAME, attributes["src"], None
            else:
                text = navigational_rel(attributes.get("rel"))
                if text is None:
                    continue
                kind, value = FoundVia.REL, attributes["href"]
            if base is None:
                base = get_base_url(response)
            href = strip_html5_whitespace(value)
            url = self.screen(safe_url_string(urljoin(base, href), response.encoding))
            if url and (url, kind) not in found:
                found[url, kind] = Link(url, kind, text)
        frames = [link for link in found.values() if link.found_via == FoundVia.FRAME]
        return frames + [link for link in found.values() if link.found_via == FoundVia.REL]
