"""``IncrementalMiddleware`` by itself: which requests become conditional, what a
304 or the same digest becomes, a redirect, a render asked over HTTP first.
(Whole crawls: ``tests/test_crawl_incremental.py``.)"""

from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.browser.rendered import META_KEY as PLAN_KEY
from crawler.browser.rendered import RenderPlan
from crawler.downloadermiddlewares.incremental import META_KEY, IncrementalMiddleware
from crawler.extensions.closespider import NOT_A_PAGE
from crawler.incremental import (
    PreviousPage,
    PreviousRun,
    UnchangedResponse,
    body_digest,
    is_unchanged,
)

BODY = b"<html><head><title>A</title></head><body><a href='/b'>b</a></body></html>"
URL = "http://x/a"


def middleware(**settings: object) -> IncrementalMiddleware:
    crawler = get_crawler(
        Spider, {"ADDONS": {CrawlerAddon: 0}, "CRAWLER_INCREMENTAL": True, **settings}
    )
    crawler.stats.open_spider()
    mw = IncrementalMiddleware.from_crawler(crawler)
    page = PreviousPage(
        URL,
        URL,
        200,
        "text/html",
        "A",
        '"v1"',
        "Sun, 01 Nov 2026 00:00:00 GMT",
        body_digest(BODY),
        (("http://x/b", "link", "b"),),
    )
    bare = PreviousPage("http://x/c", "http://x/c", 200, "text/html", "C", None, None, "0" * 64)
    mw.previous = PreviousRun(1, {URL: page, bare.url: bare})
    return mw


def test_off_unless_asked_for_and_needs_the_store() -> None:
    with pytest.raises(NotConfigured):
        IncrementalMiddleware.from_crawler(get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}}))
    with pytest.raises(NotConfigured, match="needs the store"):
        middleware(CRAWLER_STORE_ENABLED=False)


def test_a_known_page_is_asked_with_its_validators() -> None:
    mw = middleware()
    request = Request(URL)
    assert mw.process_request(request) is None
    assert request.headers[b"If-None-Match"] == b'"v1"'
    assert request.headers[b"If-Modified-Since"] == b"Sun, 01 Nov 2026 00:00:00 GMT"
    bare = Request("http://x/c")
    mw.process_request(bare)
    assert b"If-None-Match" not in bare.headers and META_KEY in bare.meta  # digest only
    for other in (
        Request("http://x/new"),
        Request(URL, method="POST"),
        Request(URL, callback=NO_CALLBACK),
        Request(URL, meta={NOT_A_PAGE: True}),
        Request(URL, meta={"dont_incremental": True}),
        Request(URL, meta={"browser": True}),  # the spider's own render
    ):
        mw.process_request(other)
        assert b"If-None-Match" not in other.headers and META_KEY not in other.meta
    assert mw.crawler.stats.get_value("incremental/checked") == 2


@pytest.mark.parametrize(("status", "body", "not_modified"), [(304, b"", True), (200, BODY, False)])
def test_a_304_or_the_same_body_is_unchanged(status: int, body: bytes, not_modified: bool) -> None:
    mw = middleware()
    request = Request(URL)
    mw.process_request(request)
    response = mw.process_response(
        request, HtmlResponse(URL, status=status, body=body, request=request)
    )
    assert is_unchanged(response) and isinstance(response, UnchangedResponse)
    assert response.body == b"" and "unchanged" in response.flags
    assert (response.not_modified, response.previous.title) == (not_modified, "A")
    assert not isinstance(response, HtmlResponse)  # nothing downstream parses it
    stat = "incremental/not_modified" if not_modified else "incremental/same_digest"
    assert mw.crawler.stats.get_value(stat) == 1


def test_a_changed_page_goes_on_as_it_came() -> None:
    mw = middleware()
    request = Request(URL)
    mw.process_request(request)
    response = HtmlResponse(URL, body=BODY + b"<!-- new -->", request=request)
    assert mw.process_response(request, response) is response
    assert mw.crawler.stats.get_value("incremental/changed") == 1
    unasked = Request(URL)  # not made conditional by this middleware: left alone
    plain = Response(URL, status=304, request=unasked)
    assert mw.process_response(unasked, plain) is plain


def test_a_render_is_asked_over_http_first_and_rendered_only_if_changed() -> None:
    mw = middleware()
    request = Request(URL, meta={"browser": True, PLAN_KEY: RenderPlan("always")})
    mw.process_request(request)
    assert request.meta["browser"] is False
    unchanged = mw.process_response(request, Response(URL, status=304, request=request))
    assert is_unchanged(unchanged)
    assert mw.crawler.stats.get_value("incremental/renders_skipped") == 1
    changed = mw.process_response(request, HtmlResponse(URL, body=b"<p>new</p>", request=request))
    assert isinstance(changed, Request) and changed.meta["browser"] is True
    assert changed.dont_filter and b"If-None-Match" not in changed.headers
    assert mw.process_request(changed) is None and changed.meta["browser"] is True
    assert changed.meta[PLAN_KEY] == RenderPlan("always")


def test_a_redirect_to_another_url_drops_the_conditions() -> None:
    mw = middleware()
    request = Request(URL, meta={"browser": True, PLAN_KEY: RenderPlan("always")})
    mw.process_request(request)
    redirected = request.replace(url="http://x/elsewhere")  # as RedirectMiddleware copies it
    mw.process_request(redirected)
    assert b"If-None-Match" not in redirected.headers and META_KEY not in redirected.meta
    assert redirected.meta["browser"] is True  # rendered, as it was to be
