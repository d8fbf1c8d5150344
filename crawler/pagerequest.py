"""``PageRequest``: Scrapy's ``Request`` for followed pages, its URL made safe once per URL.

``Request.__init__`` runs ``w3lib.url.safe_url_string`` on every URL (about
10 microseconds): a site spider makes a request for each link of each page,
the same URLs again and again (a site's menu on every page), and the
duplicate filter then drops all but the first.  :class:`PageRequest` keeps the
safe form of the last :data:`CACHE_SIZE` (URL, encoding) pairs; everything else
(a ``verbatim_url`` request, ``replace()``, serialisation for a job directory
with ``_class`` naming this class) is Scrapy's.
"""

from __future__ import annotations

from typing import ClassVar

from scrapy import Request

from crawler.utils.lru import Lru

#: (URL, encoding) pairs remembered, for every PageRequest of the process (about 2.5 MB).
CACHE_SIZE = 10_000


class PageRequest(Request):
    """See the module docstring."""

    _safe_urls: ClassVar[Lru[tuple[str, str], str]] = Lru(CACHE_SIZE)

    def _set_url(self, url: str) -> None:
        if not isinstance(url, str) or self._url_is_verbatim():
            super()._set_url(url)  # Scrapy's TypeError, or the URL as it is
            return
        key = (url, self.encoding)
        safe = self._safe_urls.get(key)
        if safe is None:
            super()._set_url(url)  # raises ValueError for a URL without a scheme
            self._safe_urls.put(key, self._url)
        else:
            self._url = safe

    @classmethod
    def known_safe_url(cls, url: str, encoding: str = "utf-8") -> str | None:
        """The URL a ``PageRequest(url)`` with this ``encoding`` (Scrapy's default)
        gets, if one was made lately (remembered); ``None`` otherwise."""
        return cls._safe_urls.get((url, encoding))
