"""Links a crawl cannot fetch as written: refused before they become requests.

A page can link to a URL that Scrapy's downloader cannot use: one with a user
name or password in it (``http://bob:pw@host/``: Scrapy sends no credentials
from a URL, and Twisted takes ``bob:pw@host`` for the host name, so every
component that touches the request fails with ``ValueError: invalid
hostname: bob:pw@host`` — Scrapy's robots.txt middleware logs that as an
ERROR with a traceback, password included), or one that does not parse
(``http://h:99999/``, ``http://[::1/``: :func:`urllib.parse.urlsplit` raises).
The site spider asks :func:`unfetchable` about every link it found; a refused
link is recorded in ``links.refused`` with its reason (the URL's password
masked), counted in ``crawler/links/refused/<kind>`` and logged on one line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from crawler.redaction import redact_text

#: The kinds of :func:`unfetchable`, the last part of their stats key.
USERINFO = "userinfo"
BAD_URL = "bad_url"


class LinkRefusal(NamedTuple):
    kind: str  # USERINFO | BAD_URL
    reason: str  # "<kind>: ..." as stored with the link (links.refused)


#: URLs whose answer is remembered (a site's menu links are asked about on every
#: page): a pure function of a string, about 200 bytes an entry (2 MB).
CACHE_SIZE = 10_000


@lru_cache(maxsize=CACHE_SIZE)
def unfetchable(url: str) -> LinkRefusal | None:
    """Why ``url`` (absolute, as a link extractor made it) cannot be fetched as
    written, or ``None``.  The reason holds no part of the URL's user information.
    Remembered for the last :data:`CACHE_SIZE` URLs."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as error:
        return LinkRefusal(BAD_URL, f"{BAD_URL}: {redact_text(str(error))}")
    if "@" in parts.netloc:
        return LinkRefusal(
            USERINFO,
            f"{USERINFO}: the URL holds a user name or password, which Scrapy does not "
            "send (log in with --login LOGIN_URL --username USER, or set HTTPAUTH_USER)",
        )
    if parts.scheme.lower() in ("http", "https") and not parts.hostname:
        return LinkRefusal(BAD_URL, f"{BAD_URL}: no host name")
    return None
