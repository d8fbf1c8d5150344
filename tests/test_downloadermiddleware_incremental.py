"""``IncrementalMiddleware`` by itself: which requests become conditional, what a
304 or the same digest becomes, a redirect, a render asked over HTTP first.
(Whole crawls: ``tests/test_crawl_incremental.py``.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from crawler.extract.result import ExtractedItem
from crawler.incremental import (
    SIGNATURE_KEY,
    NoBaseline,
    OptionsChanged,
    PreviousPage,
    PreviousRun,
    UnchangedResponse,
    body_digest,
    crawl_signature,
    is_unchanged,
)
from crawler.spidermiddlewares.extract import ExtractMiddleware
from crawler.storage.rows import item_row
from crawler.storage.sql import SqlStore
from tests.crawltools import REPO_ROOT
from tests.test_storage_sql import vpage

if TYPE_CHECKING:
    from pathlib import Path

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


SPEC = str(REPO_ROOT / "tests" / "specs" / "catalog.yaml")


def signature(**settings: object) -> dict[str, Any]:
    crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, **settings})
    return crawl_signature(crawler.settings, ["x"])


def test_a_run_is_a_baseline_only_with_the_same_options(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 's.db'}")
    try:
        run = store.start_run("site", "http://x/", {SIGNATURE_KEY: signature()})
        store.write_pages(run, [vpage(URL, digest="d" * 64)])
        row = {"spec": "product", "key": '["1"]', "data": {"sku": "1"}, "url": URL}
        store.write_items(run, [row])
        store.finish_run(run, "finished", {"outcome/status": "succeeded"})
        assert PreviousRun.load(store, "site", "http://x", None, signature()).run_id == run
        for changed, named in [
            ({"CRAWLER_RENDER": "auto"}, "CRAWLER_RENDER"),
            ({"CRAWLER_FORMS": "none"}, "CRAWLER_FORMS"),
            ({"CRAWLER_FORM_VALUES": {"q": "x"}}, "CRAWLER_FORM_VALUES"),
            ({"CRAWLER_EXPLORE": "none"}, "CRAWLER_EXPLORE"),
            ({"DEPTH_LIMIT": 2}, "DEPTH_LIMIT"),
            ({"CRAWLER_EXTRACT_SPECS": [SPEC]}, "extract"),
        ]:
            with pytest.raises(OptionsChanged, match=rf"other options \({named}\)"):
                PreviousRun.load(store, "site", "http://x/", None, signature(**changed))
        with_spec = signature(CRAWLER_EXTRACT_SPECS=[SPEC])
        assert "q" not in str(signature(CRAWLER_FORM_VALUES={"q": "secret"}))  # a digest
        older = store.start_run("site", "http://x/", {})  # no signature recorded
        store.finish_run(older, "finished", {})
        with pytest.raises(OptionsChanged, match="did not record"):
            PreviousRun.load(store, "site", "http://x/", None, signature())
        run = store.start_run("site", "http://x/", {SIGNATURE_KEY: with_spec})
        store.write_pages(run, [vpage(URL, digest="d" * 64)])
        store.finish_run(run, "finished", {"outcome/status": "succeeded"})
        previous = PreviousRun.load(store, "site", "http://x/", None, with_spec)
        assert previous.pages[URL].items == ()  # written by run 1 only: stale
        store.write_items(run, [{**row, "data": {"sku": "1", "n": 2}}])
        previous = PreviousRun.load(store, "site", "http://x/", None, with_spec)
        assert previous.pages[URL].items == (("product", {"sku": "1", "n": 2}),)
        with pytest.raises(NoBaseline, match="finished cleanly"):
            PreviousRun.load(store, "other", "http://x/", None, with_spec)
    finally:
        store.close()


def test_the_items_of_an_unchanged_page_are_carried_with_their_keys() -> None:
    crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, "CRAWLER_EXTRACT_SPECS": [SPEC]})
    crawler.stats.open_spider()
    extract = ExtractMiddleware.from_crawler(crawler)
    data = {"sku": "A-1", "name": "A", "price": 1.5, "stock": 2, "features": ["x"]}
    page = PreviousPage(
        URL, URL, 200, "text/html", "A", None, None, "d" * 64,
        items=(("product", data), ("gone", {"a": 1})),
    )  # fmt: skip
    response = UnchangedResponse(URL, previous=page, not_modified=True)
    [carried] = extract.carried(response)
    assert isinstance(carried, ExtractedItem) and carried.ok
    assert item_row(carried).as_dict() == {
        "spec": "product", "key": '["A-1"]', "data": data, "url": URL
    }  # fmt: skip
    assert crawler.stats.get_value("incremental/items_carried") == 1
