from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, TextResponse
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.browser.rendermode import RenderModeMiddleware
from crawler.exceptions import ConfigError

SCRIPTED = b"<html><body><a href='/a'>a</a><script>document.write('<a href=/b>b</a>')</script>"
PLAIN = b"<html><body><a href='/a'>a</a></body></html>"


def middleware(mode: str, **settings: object) -> RenderModeMiddleware:
    crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, "CRAWLER_RENDER": mode, **settings})
    crawler.stats.open_spider()
    return RenderModeMiddleware.from_crawler(crawler)


def html(url: str, body: bytes, status: int = 200) -> HtmlResponse:
    return HtmlResponse(url, body=body, status=status, encoding="utf-8")


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
        mw.process_request(request)
    assert page.meta["browser"] is True
    assert "browser" not in pdf.meta and "browser" not in post.meta
    assert "browser" not in robots.meta
    assert opted_out.meta["browser"] is False


def test_auto_asks_for_a_render_of_a_scripted_page_with_its_raw_html() -> None:
    mw = middleware("auto")
    request = Request("http://h/item/1", meta={"found_via": "link", "depth": 2})
    result = mw.process_response(request, html("http://h/item/1", SCRIPTED))
    assert isinstance(result, Request)
    assert result.dont_filter
    assert result.meta["browser"] is True
    assert result.meta["raw_body"] == SCRIPTED
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
        url = f"http://h/item/{n}"
        render = mw.process_response(Request(url), html(url, PLAIN + b"<script></script>"))
        assert isinstance(render, Request)
        render.meta["rendered"] = True
        mw.process_response(render, html(url, PLAIN))
    url = "http://h/item/3"
    response = html(url, PLAIN + b"<script></script>")
    assert mw.process_response(Request(url), response) is response
    assert mw.crawler.stats.get_value("render/auto/not_rendered") == 1


def test_auto_keeps_rendering_a_type_once_its_scripts_added_links() -> None:
    mw = middleware("auto", CRAWLER_RENDER_SAMPLE_SIZE=1)
    render = mw.process_response(Request("http://h/item/1"), html("http://h/item/1", SCRIPTED))
    assert isinstance(render, Request)
    render.meta["rendered"] = True
    rendered_dom = b"<html><body><a href='/a'>a</a><a href='/b'>b</a></body></html>"
    mw.process_response(render, html("http://h/item/1", rendered_dom))
    assert mw.crawler.stats.get_value("render/auto/pages_with_script_links") == 1
    for n in range(2, 30):
        url = f"http://h/item/{n}"
        assert isinstance(mw.process_response(Request(url), html(url, SCRIPTED)), Request)
