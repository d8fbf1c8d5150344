"""ScheduledUrls (crawler.scheduledurls): a link is dropped early only if the
duplicate filter certainly holds the fingerprint of the request it would become."""

from __future__ import annotations

import itertools

import pytest
from scrapy import FormRequest, Request, Spider
from scrapy.utils.test import get_crawler

from crawler.fingerprint import HashRouteFingerprinter
from crawler.items import FoundVia
from crawler.pagerequest import PageRequest
from crawler.scheduledurls import ScheduledUrls
from spiders.site import SiteSpider, _scheduled

URLS = (
    "http://x.test/a",
    "http://x.test/a#top",  # a fragment: the same page for the filter, another key here
    "http://x.test/a?x=1&y=2",
    "http://x.test/a?y=2&x=1",  # the same canonical URL, another key here
    "http://x.test/caf\u00e9 b",  # made safe by the request
    "http://x.test/caf%C3%A9%20b",
    "http://x.test/app#!/about",  # hash routes: fingerprinted with their fragment
    "http://x.test/app#!/contact",
    "http://x.test/app#/about",
)


def test_a_link_held_is_a_request_the_filter_drops() -> None:
    """For every pair of URLs and ways of finding them: after the site spider's
    request for one went through the filter, a link the spider drops early has
    that request's fingerprint (and the same URL is dropped)."""
    spider = SiteSpider(start_url="http://x.test/")
    fingerprinter = HashRouteFingerprinter()
    vias = (FoundVia.LINK, FoundVia.XHR)
    dropped = 0
    for (first, via1), (second, via2) in itertools.product(itertools.product(URLS, vias), repeat=2):
        scheduled = ScheduledUrls()
        request = spider._request(first, via1)
        scheduled.seen(request)
        if _scheduled(scheduled, second, via2):
            dropped += 1
            later = spider._request(second, via2)
            assert fingerprinter.fingerprint(later) == fingerprinter.fingerprint(request)
        elif (first, via1) == (second, via2) or (first == second and "#" not in first):
            pytest.fail(f"{second} ({via2}) was not held after {first} ({via1})")
    assert dropped >= len(URLS) * 2


def test_only_requests_whose_fingerprint_is_their_url_are_held() -> None:
    scheduled = ScheduledUrls()
    url = "http://x.test/p"
    scheduled.seen(FormRequest(url, formdata={"q": "1"}))  # POST with a body
    scheduled.seen(Request(url, method="GET", body=b"x"))
    scheduled.seen(Request(url, meta={"verbatim_url": True}))
    scheduled.seen(Request(url, method="HEAD"))
    assert not scheduled.holds(url)
    assert len(scheduled) == 0
    scheduled.seen(Request(url, meta={"hash_route": True}))
    assert scheduled.holds(url, hash_route=True)
    assert not scheduled.holds(url)  # fingerprinted without the fragment: another key


def test_bounded_least_recently_used_forgotten() -> None:
    scheduled = ScheduledUrls(size=2)
    for path in ("a", "b"):
        scheduled.seen(Request(f"http://x.test/{path}"))
    assert scheduled.holds("http://x.test/a")  # used: b is now the oldest
    scheduled.seen(Request("http://x.test/c"))
    assert len(scheduled) == 2
    assert scheduled.holds("http://x.test/a") and scheduled.holds("http://x.test/c")
    assert not scheduled.holds("http://x.test/b")
    with pytest.raises(ValueError, match="at least 1"):
        ScheduledUrls(size=0)


def test_a_url_not_made_safe_lately_is_not_held() -> None:
    scheduled = ScheduledUrls()
    url = "http://x.test/never built \u00e9"
    scheduled.seen(Request(url))  # a plain Request: PageRequest does not remember it
    assert PageRequest.known_safe_url(url) is None
    assert not _scheduled(scheduled, url, FoundVia.LINK)


@pytest.mark.parametrize(
    ("settings", "on"),
    [
        ({}, True),
        ({"REQUEST_FINGERPRINTER_CLASS": "crawler.fingerprint.HashRouteFingerprinter"}, True),
        ({"CRAWLER_DROP_SCHEDULED_LINKS": False}, False),
        # every duplicate must reach the filter to be logged
        ({"DUPEFILTER_DEBUG": True}, False),
        # an unknown recipe (this one adds a header): nothing can be predicted
        ({"REQUEST_FINGERPRINTER_CLASS": "tests.test_scheduledurls.HeaderFingerprinter"}, False),
    ],
)
def test_for_crawler(settings: dict[str, object], on: bool) -> None:
    crawler = get_crawler(Spider, {"CRAWLER_DROP_SCHEDULED_LINKS": True, **settings})
    scheduled = ScheduledUrls.for_crawler(crawler)
    assert (scheduled is not None) is on
    assert ScheduledUrls.for_crawler(crawler) is scheduled  # one per crawler


class HeaderFingerprinter(HashRouteFingerprinter):
    """A fingerprinter of another project: the URL and a header."""

    def fingerprint(self, request: Request) -> bytes:
        return super().fingerprint(request) + (request.headers.get("X-Tenant") or b"")
