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

Enabled in ``crawler.settings`` (``REQUEST_FINGERPRINTER_CLASS``).  A project
that uses the add-on only keeps Scrapy's fingerprinter: its hash-route requests
are then duplicates of their app's page and filtered out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.utils.request import RequestFingerprinter, fingerprint

if TYPE_CHECKING:
    from scrapy import Request

#: ``Request.meta`` key: fingerprint this request with its URL's fragment.
HASH_ROUTE_META_KEY = "hash_route"


class HashRouteFingerprinter(RequestFingerprinter):
    def fingerprint(self, request: Request) -> bytes:
        if request.meta.get(HASH_ROUTE_META_KEY):
            return fingerprint(request, keep_fragments=True)
        return super().fingerprint(request)
