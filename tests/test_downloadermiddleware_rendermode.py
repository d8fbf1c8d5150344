from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, TextResponse
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.browser.rendered import META_KEY, RenderedResponse, RenderPlan, render_plan
from crawler.browser.rendermode import RenderModeMiddleware
from crawler.browser.result import RenderResult
from crawler.exceptions import ConfigError

SCRIPTED = b"<html><body><a href='/a'>a</a><script>document.write('<a href=/b>b</a>')</script>"
PLAIN = b"<html><body><a href='/a'>a</a></body></html>"


def middleware(mode: str, **settings: object) -> RenderModeMiddleware:
    crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, "CRAWLER_RENDER": mode, **settings})
    crawler.stats.open_spider()
    return RenderModeMiddleware.from_crawler(crawler)


def html(url: str, body: bytes, status: int = 200, **kwargs: object) -> HtmlResponse:
    return HtmlResponse(url, body=body, status=status, encoding="utf-8", **kwargs)  # type: ignore[arg-type]


def rendered(request: Request, dom: bytes) -> RenderedResponse:
    """What SeleniumMiddleware answers: the DOM, and the raw HTML the plan carried
    (else what the browser kept of it, here the DOM without its scripts' work)."""
    plan = render_plan(request)
    raw = plan.raw_body if plan is not None and plan.raw_body is not None else None
    return RenderedResponse(
        request.url,
        body=dom,
        encoding="utf-8",
        request=request,
        render=RenderResult(url=request.url, html=dom.decode()),
        raw=raw,
        raw_encoding="utf-8",
    )


def render_after_fetch(mw: RenderModeMiddleware, url: str, raw: bytes, dom: bytes) -> None:
    """One page of ``auto``: fetched over HTTP, sent back for a render, rendered."""
    request = Request(url)
    assert mw.process_request(request) is None and "browser" not in request.meta
    render = mw.process_response(request, html(url, raw))
    assert isinstance(render, Request)
    assert mw.process_request(render) is None
    assert mw.process_response(render, rendered(render, dom)).url == url


def test_never_and_disabled_browser_are_not_configured() -> None:
    with pytest.raises(NotConfigured):
        middleware("never")
    with pytest.raises(NotConfigured, match="SELENIUM_ENABLED"):
        middleware("auto", SELENIUM_ENABLED=False)


def test_bad_mode_is_an_error() -> None:
    with pytest.raises(ConfigError, match="CRAWLER_RENDER must be one of"):
        middleware("sometimes")


def test_always_marks_html_get_requests_only() -> None:
    mw = middleware("always")
    page, pdf, post = (
        Request("http://h/p"),
        Request("http://h/r.pdf"),
        Request("http://h/f", method="POST"),
    )
    robots = Request("http://h/robots.txt", callback=NO_CALLBACK)
    opted_out = Request("http://h/q", meta={"browser": False})
    for request in (page, pdf, post, robots, opted_out):
        assert mw.process_request(request) is None
    assert page.meta["browser"] is True
    assert page.meta[META_KEY] == RenderPlan("always")
    assert mw.crawler.stats.get_value("render/always/rendered") == 1
    assert "browser" not in pdf.meta and "browser" not in post.meta
    assert "browser" not in robots.meta
    assert opted_out.meta["browser"] is False


def test_auto_asks_for_a_render_of_a_scripted_page_with_its_raw_html() -> None:
    mw = middleware("auto")
    request = Request("http://h/item/1", meta={"found_via": "link", "depth": 2})
    response = html("http://h/item/1", SCRIPTED, headers={"Set-Cookie": "a=1", "X-Fixture": "x"})
    result = mw.process_response(request, response)
    assert isinstance(result, Request)
    assert result.dont_filter
    assert result.meta["browser"] is True
    plan = render_plan(result)
    assert plan is not None
    assert (plan.decision, plan.raw_body, plan.raw_encoding) == ("auto", SCRIPTED, "utf-8")
    assert plan.raw_headers == ((b"X-Fixture", b"x"),)  # its cookies are in the jar already
    assert (result.meta["found_via"], result.meta["depth"]) == ("link", 2)
    assert mw.crawler.stats.get_value("render/auto/rendered") == 1


@pytest.mark.parametrize(
    ("request_", "response"),
    [
        (Request("http://h/a"), html("http://h/a", PLAIN)),
        (Request("http://h/a"), html("http://h/a", SCRIPTED, status=404)),
        (Request("http://h/a", meta={"browser": False}), html("http://h/a", SCRIPTED)),
        (Request("http://h/a"), TextResponse("http://h/a", body=SCRIPTED, encoding="utf-8")),
    ],
)
def test_auto_leaves_pages_that_need_no_browser(request_: Request, response: HtmlResponse) -> None:
    assert middleware("auto").process_response(request_, response) is response


def test_auto_learns_from_renders_and_stops_rendering_a_type_without_script_links() -> None:
    mw = middleware("auto", CRAWLER_RENDER_SAMPLE_SIZE=2, CRAWLER_RENDER_RESAMPLE_EVERY=100)
    for n in (1, 2):  # two samples whose scripts add nothing
        render_after_fetch(mw, f"http://h/item/{n}", PLAIN + b"<script></script>", PLAIN)
    url = "http://h/item/3"
    request = Request(url)
    assert mw.process_request(request) is None and "browser" not in request.meta
    response = html(url, PLAIN + b"<script></script>")
    assert mw.process_response(request, response) is response
    assert mw.crawler.stats.get_value("render/auto/not_rendered") == 1
    assert mw.crawler.stats.get_value("render/auto/types_needing_browser") is None


def test_a_type_known_to_need_the_browser_is_rendered_before_download() -> None:
    mw = middleware("auto", CRAWLER_RENDER_SAMPLE_SIZE=1)
    rendered_dom = b"<html><body><a href='/a'>a</a><a href='/b'>b</a></body></html>"
    render_after_fetch(mw, "http://h/item/1", SCRIPTED, rendered_dom)
    stats = mw.crawler.stats
    assert stats.get_value("render/auto/pages_with_script_links") == 1
    assert stats.get_value("render/auto/types_needing_browser") == 1
    for n in range(2, 30):
        request = Request(f"http://h/item/{n}")
        assert mw.process_request(request) is None
        assert request.meta["browser"] is True  # no HTTP fetch first
        assert render_plan(request) == RenderPlan("auto_known")
    assert stats.get_value("render/auto/rendered_before_download") == 28
    other = Request("http://h/about/1")
    mw.process_request(other)
    assert "browser" not in other.meta  # other types are still fetched first


def test_renders_a_spider_asked_for_teach_nothing() -> None:
    mw = middleware("auto", CRAWLER_RENDER_SAMPLE_SIZE=1)
    request = Request("http://h/item/1", meta={"browser": True})
    assert mw.process_request(request) is None and render_plan(request) is None
    dom = b"<html><body><a href='/a'>a</a><a href='/b'>b</a></body></html>"
    response = RenderedResponse(
        request.url,
        body=dom,
        encoding="utf-8",
        request=request,
        render=RenderResult(url=request.url, html=dom.decode()),
        raw=PLAIN,
    )
    assert mw.process_response(request, response) is response
    later = Request("http://h/item/2")
    mw.process_request(later)
    assert "browser" not in later.meta


PRICE_SPEC = {"name": "product", "url": "/product/", "fields": {"price": "css:#price"}}
EMPTY_PRICE = b"<html><body><span id='price'></span><script>fill()</script></body></html>"
FILLED_PRICE = b"<html><body><span id='price'>12</span><script>fill()</script></body></html>"


@pytest.mark.parametrize("specs", [[PRICE_SPEC], []])
def test_fields_the_render_filled_make_a_type_need_the_browser(specs: list[object]) -> None:
    mw = middleware("auto", CRAWLER_RENDER_SAMPLE_SIZE=1, CRAWLER_EXTRACT_SPECS=specs)
    render_after_fetch(mw, "http://h/product/1", EMPTY_PRICE, FILLED_PRICE)
    stats = mw.crawler.stats
    assert stats.get_value("render/auto/pages_with_script_links") is None  # no link added
    later = Request("http://h/product/2")
    mw.process_request(later)
    if specs:
        assert stats.get_value("render/auto/pages_with_script_fields") == 1
        assert later.meta["browser"] is True
    else:
        assert stats.get_value("render/auto/pages_with_script_fields") is None
        assert "browser" not in later.meta


def test_fields_filled_in_the_raw_html_already_teach_nothing() -> None:
    mw = middleware("auto", CRAWLER_RENDER_SAMPLE_SIZE=1, CRAWLER_EXTRACT_SPECS=[PRICE_SPEC])
    render_after_fetch(mw, "http://h/product/1", FILLED_PRICE, FILLED_PRICE)
    later = Request("http://h/product/2")
    mw.process_request(later)
    assert "browser" not in later.meta


@pytest.mark.parametrize("mode", ["auto", "always"])
def test_the_fallback_of_a_failed_render_is_answered_from_its_html(mode: str) -> None:
    mw = middleware(mode)
    plan = RenderPlan(
        "auto",
        raw_body=SCRIPTED,
        raw_encoding="utf-8",
        raw_headers=((b"Content-Type", b"text/html; charset=utf-8"),),
        failure="BrowserCrashedError: gone",
    )
    request = Request("http://h/item/1", meta={"browser": False, META_KEY: plan})
    answer = mw.process_request(request)
    assert isinstance(answer, HtmlResponse) and not isinstance(answer, RenderedResponse)
    assert (answer.url, answer.body, answer.headers[b"Content-Type"]) == (
        "http://h/item/1",
        SCRIPTED,
        b"text/html; charset=utf-8",
    )
    assert mw.process_response(request, answer) is answer  # not rendered again
    # Without the HTML (always; a type rendered before download): over HTTP.
    again = Request(
        "http://h/item/2", meta={"browser": False, META_KEY: RenderPlan(mode, failure="x")}
    )
    assert mw.process_request(again) is None
    assert again.meta["browser"] is False
    assert mw.crawler.stats.get_value("render/fallback/pages") == 2


def test_the_decisions_run_below_compression_and_redirects() -> None:
    """On the way out, middlewares run from high to low: below 590 and 600 the body is
    decoded and redirects followed; below 950 the requests are marked for the browser."""
    order = get_project_settings().getwithbase("DOWNLOADER_MIDDLEWARES")
    rendermode = order["crawler.browser.rendermode.RenderModeMiddleware"]
    compression = order["scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware"]
    redirect = order["scrapy.downloadermiddlewares.redirect.RedirectMiddleware"]
    selenium = order["crawler.browser.middleware.SeleniumMiddleware"]
    assert rendermode < compression < redirect < selenium
