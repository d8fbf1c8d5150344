"""Links in response headers: ``Link`` (RFC 8288), ``Refresh`` and ``Content-Location``.

* ``Link: </page/2>; rel="next", </style.css>; rel=stylesheet``: every
  link-value whose ``rel`` is navigational (:mod:`crawler.discovery.rels`)
  and whose context is the response itself (no ``anchor`` parameter naming
  another resource) -> ``header``, ``text`` ``"Link rel=next"``;
* ``Refresh: 5; url=/next``: the page a browser goes to after the delay ->
  ``header``, ``text`` ``"Refresh"`` (Scrapy's ``MetaRefreshMiddleware``
  handles the ``<meta http-equiv=refresh>`` tag, not this header);
* ``Content-Location: /doc.en.html``: the URL of the representation served,
  when it is not the response's own -> ``header``, ``text``
  ``"Content-Location"``.

Relative URLs are resolved against the response's URL; every header may
repeat.  A value that cannot be read is skipped.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from w3lib.url import safe_url_string

from crawler.discovery.rels import navigational_rel
from crawler.items import FoundVia, Link

if TYPE_CHECKING:
    from scrapy.http import Response

    from crawler.discovery.screen import UrlScreen

_TARGET = re.compile(r"\s*<([^>]*)>")
_PARAM = re.compile(
    r"""\s*;\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?"""
)
_ESCAPE = re.compile(r"\\(.)")
_SEPARATOR = re.compile(r"\s*,")
_REFRESH = re.compile(r"^\s*[\d.]*\s*[;,]\s*(?:url\s*=\s*)?(.+?)\s*$", re.IGNORECASE | re.DOTALL)


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """The link-values of one ``Link`` header: ``(target, params)`` pairs, the
    target as written (not resolved), parameter names lower-cased, a quoted
    value unquoted, only the first occurrence of a parameter kept (RFC 8288
    3.3 for ``rel``).  What cannot be read up to the next comma is skipped."""
    links: list[tuple[str, dict[str, str]]] = []
    pos = 0
    while True:
        target = _TARGET.match(value, pos)
        if target is None:
            comma = value.find(",", pos)
            if comma < 0:
                return links
            pos = comma + 1
            continue
        pos = target.end()
        params: dict[str, str] = {}
        while (param := _PARAM.match(value, pos)) is not None:
            raw = param.group(2) or ""
            if raw.startswith('"'):
                raw = _ESCAPE.sub(r"\1", raw[1:-1])
            params.setdefault(param.group(1).lower(), raw)
            pos = param.end()
        links.append((target.group(1).strip(), params))
        separator = _SEPARATOR.match(value, pos)
        if separator is None:
            comma = value.find(",", pos)
            if comma < 0:
                return links
            pos = comma + 1
        else:
            pos = separator.end()


def refresh_target(value: str) -> str | None:
    """The URL of a ``Refresh`` value (``5; url=/next``, ``0;URL='/x'``), as
    written; ``None`` when it only reloads the page (``30``)."""
    match = _REFRESH.match(value)
    if match is None:
        return None
    target = match.group(1)
    if len(target) >= 2 and target[0] == target[-1] and target[0] in "'\"":
        target = target[1:-1].strip()
    return target or None


def header_links(response: Response, screen: UrlScreen) -> list[Link]:
    """The links the headers of ``response`` give, once per URL (see the module)."""
    base = response.url
    found: dict[str, Link] = {}

    def add(target: str, text: str) -> None:
        url = screen(safe_url_string(urljoin(base, target.strip())))
        if url and url != base and url not in found:
            found[url] = Link(url, FoundVia.HEADER, text)

    for value in _values(response, b"Link"):
        for target, params in parse_link_header(value):
            rel = navigational_rel(params.get("rel"))
            anchor = params.get("anchor")
            if rel is None or (anchor and urljoin(base, anchor) != base):
                continue
            add(target, f"Link rel={rel}")
    for value in _values(response, b"Refresh"):
        target = refresh_target(value)
        if target:
            add(target, "Refresh")
    for value in _values(response, b"Content-Location"):
        add(value, "Content-Location")
    return list(found.values())


def _values(response: Response, name: bytes) -> list[str]:
    return [v.decode("latin-1") for v in response.headers.getlist(name) if v.strip()]
