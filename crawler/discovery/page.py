"""Everything a page served over HTTP leads to: its HTML's links and its headers' links.

:class:`PageDiscovery` is what the site spider asks, in every render mode, for
a page's :class:`~crawler.items.Link` s (see :mod:`crawler.discovery.html` and
:mod:`crawler.discovery.headers` for the kinds).  For a rendered page it reads
the rendered document and, when the render kept it, the HTML as served:

* an ``<a>``/``<area>`` link of the rendered document that the served HTML
  lacks was written by a script -> ``script``;
* a link of the served HTML that the rendered document lacks is kept with its
  kind: a declarative shadow root's links (``<template shadowrootmode>``)
  vanish from the serialised DOM once the browser attaches the shadow root,
  and a link a script removed is still a URL of the site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crawler.discovery.headers import header_links
from crawler.discovery.html import HtmlDiscovery
from crawler.discovery.screen import UrlScreen
from crawler.items import FoundVia, Link

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.http import HtmlResponse, Response


class PageDiscovery:
    def __init__(self, count: Callable[[str], object] | None = None) -> None:
        """``count(stat)`` counts a skipped link (see :class:`UrlScreen`)."""
        self.screen = UrlScreen(count)
        self.html = HtmlDiscovery(self.screen)
        # the served HTML of a rendered page: the same links, skipped schemes not counted twice
        self.served_html = HtmlDiscovery(UrlScreen())

    def links(
        self, response: Response, *, html: bool = True, served: HtmlResponse | None = None
    ) -> list[Link]:
        """The links of ``response``: its headers', and its document's when ``html``
        (then ``response`` is an ``HtmlResponse``); ``served`` is the HTML as the
        server sent it when ``response`` holds a rendered document."""
        found = header_links(response, self.screen)
        if not html:
            return found
        page = self.html.links(response)  # type: ignore[arg-type]
        if served is not None:
            raw = self.served_html.links(served)
            anchors = {link.url for link in raw if link.found_via == FoundVia.LINK}
            page = [
                Link(link.url, FoundVia.SCRIPT, link.text)
                if link.found_via == FoundVia.LINK and link.url not in anchors
                else link
                for link in page
            ]
            rendered = {link.url for link in page}
            page += [link for link in raw if link.url not in rendered]
        return page + found
