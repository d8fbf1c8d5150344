"""HashRouteFingerprinter (crawler.fingerprint): Scrapy's fingerprints, remembered by URL."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.utils.request import fingerprint

from crawler.fingerprint import HASH_ROUTE_META_KEY, HashRouteFingerprinter

URLS = (
    "http://x.test/a?b=2&a=1",
    "http://x.test/a?a=1&b=2",  # the same canonical URL: the same fingerprint
    "http://x.test/a#part",
    "http://x.test/app#!/about",
    "http://x.test/caf%C3%A9",
)


def requests() -> list[Request]:
    made = []
    for url in URLS:
        made.append(Request(url))
        made.append(Request(url, method="HEAD"))
        made.append(Request(url, method="POST", body=b"x=1"))
        made.append(Request(url, method="POST", body=b"x=2"))
        made.append(Request(url, meta={HASH_ROUTE_META_KEY: True}))
        made.append(Request(url, meta={"verbatim_url": True}))
    return made


def expected(request: Request) -> bytes:
    return fingerprint(request, keep_fragments=bool(request.meta.get(HASH_ROUTE_META_KEY)))


def test_fingerprints_are_scrapys_first_and_from_the_memo() -> None:
    fingerprinter = HashRouteFingerprinter()
    for _ in range(2):  # the second time from the memo (new Request objects)
        for request in requests():
            assert fingerprinter.fingerprint(request) == expected(request), request
    assert fingerprinter.fingerprint(Request(URLS[0])) == fingerprinter.fingerprint(
        Request(URLS[1])
    )
    hash_route = Request(URLS[3], meta={HASH_ROUTE_META_KEY: True})
    assert fingerprinter.fingerprint(hash_route) != fingerprinter.fingerprint(Request(URLS[3]))


def test_memo_holds_at_most_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crawler.fingerprint.URL_CACHE_SIZE", 4)
    fingerprinter = HashRouteFingerprinter()
    for n in range(10):
        request = Request(f"http://x.test/{n}")
        assert fingerprinter.fingerprint(request) == expected(request)
    assert len(fingerprinter._by_url) == 4
