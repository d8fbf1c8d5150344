"""Scrapy's request fingerprinter, keeping the fragment of hash-route requests.

Scrapy's fingerprint drops URL fragments (``keep_fragments=False``): one URL
per document, which is what the crawl wants everywhere but in hash-routed
single-page apps, where ``app#!/about`` and ``app#!/contact`` are different
pages of one document.  A request with ``meta["hash_route"] = True`` (the
site spider sets it on the hash routes a render discovered, see
:mod:`crawler.browser.discovery`) is fingerprinted with its fragment
(``scrapy.utils.request.fingerprint(request, keep_fragments=True)``); every
other request exactly as Scrapy's default fingerprinter does, so the duplicate
filter and the HTTP cache see no change for them.

Fingerprints of requests without a body are kept per (method, URL) in a
bounded map (:data:`URL_CACHE_SIZE` entries, least recently used dropped): a
crawl requests each URL once for every page that links to it (a site's menu:
every page), and the duplicate filter fingerprints each of those requests; the
fingerprint is the same (it depends on the method, the URL, the body and
``meta["verbatim_url"]`` only), ``canonicalize_url`` and SHA-1 run once.

Enabled in ``crawler.settings`` (``REQUEST_FINGERPRINTER_CLASS``).  A project
that uses the add-on only keeps Scrapy's fingerprinter: its hash-route requests
are then duplicates of their app's page and filtered out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.utils.request import RequestFingerprinter, fingerprint

from crawler.utils.lru import Lru

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

#: ``Request.meta`` key: fingerprint this request with its URL's fragment.
HASH_ROUTE_META_KEY = "hash_route"


#: Fingerprints kept by URL: about 350 bytes each with key and order (3.5 MB).
URL_CACHE_SIZE = 10_000


class HashRouteFingerprinter(RequestFingerprinter):
    def __init__(self, crawler: Crawler | None = None) -> None:
        super().__init__(crawler)
        # (method, url, keep_fragments, verbatim_url) -> fingerprint, oldest use first
        self._by_url: Lru[tuple[str, str, bool, bool], bytes] = Lru(URL_CACHE_SIZE)

    def fingerprint(self, request: Request) -> bytes:
        meta = request.meta
        keep_fragments = bool(meta.get(HASH_ROUTE_META_KEY))
        if request.body:
            return fingerprint(request, keep_fragments=keep_fragments)
        key = (request.method, request.url, keep_fragments, bool(meta.get("verbatim_url")))
        found = self._by_url.get(key)
        if found is None:
            found = fingerprint(request, keep_fragments=keep_fragments)
            self._by_url.put(key, found)
        return found
