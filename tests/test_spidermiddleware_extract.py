from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.browser.rendered import RenderedResponse
from crawler.browser.result import RenderResult
from crawler.extract.exceptions import SpecError
from crawler.extract.result import ExtractedItem
from crawler.spidermiddlewares.extract import ExtractMiddleware

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

SPECS = Path(__file__).parent / "specs"
PAYMENTS_PAGE = b"""<html><head><title>Payments of alice</title></head><body>
<p>Your Payments</p>
<ul>
  <li class="to">$20 to <b>bob</b> for: <i>lunch</i></li>
  <li class="from">$15 from <b>carol</b> for: <i>concert tickets</i></li>
</ul></body></html>"""
TITLE_SPEC = {"name": "title", "fields": {"title": "css:title"}}


def make_middleware(**settings: object) -> ExtractMiddleware:
    crawler = get_crawler(
        settings_dict={"ADDONS": {CrawlerAddon: 0}, "CRAWLER_EXTRACT_SPECS": [], **settings}
    )
    return ExtractMiddleware.from_crawler(crawler)


def response(
    url: str,
    body: bytes = PAYMENTS_PAGE,
    status: int = 200,
    meta: dict[str, Any] | None = None,
    rendered: bool = False,
) -> HtmlResponse:
    request = Request(url, meta=meta or {})
    if rendered:
        render = RenderResult(url=url, html=body.decode("utf-8"))
        return RenderedResponse(
            url, body=body, status=status, request=request, encoding="utf-8", render=render
        )
    return HtmlResponse(url, body=body, status=status, request=request, encoding="utf-8")


def output(
    middleware: ExtractMiddleware, resp: TextResponse, spider_output: list[Any]
) -> list[Any]:
    async def spider() -> AsyncIterator[Any]:
        for o in spider_output:
            yield o

    async def collect() -> list[Any]:
        return [o async for o in middleware.process_spider_output(resp, spider())]

    return asyncio.run(collect())


def test_items_follow_the_spider_output_on_matching_pages() -> None:
    middleware = make_middleware(CRAWLER_EXTRACT_SPECS=[str(SPECS / "payments.yaml"), TITLE_SPEC])
    follow = Request("http://127.0.0.1/pay/area/")
    out = output(middleware, response("http://127.0.0.1/pay/"), [follow, {"own": "item"}])
    assert out[:2] == [follow, {"own": "item"}]
    items = out[2:]
    assert all(isinstance(i, ExtractedItem) for i in items)
    assert [(i.spec_name, i.data) for i in items] == [
        ("payment", {"amount": 20, "counterparty": "bob", "memo": "lunch", "direction": "to"}),
        (
            "payment",
            {"amount": 15, "counterparty": "carol", "memo": "concert tickets", "direction": "from"},
        ),
        ("title", {"title": "Payments of alice"}),
    ]
    assert {i.url for i in items} == {"http://127.0.0.1/pay/"}
    # only the keyless spec applies to another URL
    other = output(middleware, response("http://127.0.0.1/pay/area/"), [])
    assert [i.spec_name for i in other] == ["title"]
    stats = middleware.crawler.stats
    assert stats.get_value("extract/pages") == 2
    assert stats.get_value("extract/items/payment") == 2
    assert stats.get_value("extract/items/title") == 2


def test_rendered_responses_are_extracted_alike() -> None:
    middleware = make_middleware(CRAWLER_EXTRACT_SPECS=[str(SPECS / "payments.yaml")])
    plain = output(middleware, response("http://127.0.0.1/pay/"), [])
    rendered = output(middleware, response("http://127.0.0.1/pay/", rendered=True), [])
    assert [i.data for i in rendered] == [i.data for i in plain]
    assert len(plain) == 2
    assert middleware.crawler.stats.get_value("extract/pages_rendered") == 1


@pytest.mark.parametrize("engine", ["bs4", "bs4-html.parser"])
def test_other_engines_give_the_same_items(engine: str) -> None:
    spec = [str(SPECS / "payments.yaml")]
    lxml = make_middleware(CRAWLER_EXTRACT_SPECS=spec)
    other = make_middleware(CRAWLER_EXTRACT_SPECS=spec, CRAWLER_EXTRACT_ENGINE=engine)
    page = response("http://127.0.0.1/pay/")
    assert [i.data for i in output(other, page, [])] == [i.data for i in output(lxml, page, [])]


def test_error_pages_non_html_and_unmatched_pages_give_nothing() -> None:
    middleware = make_middleware(CRAWLER_EXTRACT_SPECS=[str(SPECS / "payments.yaml")])
    assert output(middleware, response("http://127.0.0.1/pay/", status=404), []) == []
    text = TextResponse("http://127.0.0.1/pay/", body=PAYMENTS_PAGE, encoding="utf-8")
    assert output(middleware, text, ["x"]) == ["x"]
    assert output(middleware, response("http://127.0.0.1/elsewhere"), []) == []
    stats = middleware.crawler.stats
    assert stats.get_value("extract/pages_unmatched") == 1
    assert stats.get_value("extract/pages") is None


def test_a_spec_failing_on_a_page_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    broken = {"name": "broken", "item": "xpath://li/text()", "fields": {"t": {}}}
    middleware = make_middleware(CRAWLER_EXTRACT_SPECS=[broken, str(SPECS / "payments.yaml")])
    with caplog.at_level(logging.ERROR):
        out = output(middleware, response("http://127.0.0.1/pay/"), [])
    assert [i.spec_name for i in out] == ["payment", "payment"]  # the other spec still ran
    assert middleware.crawler.stats.get_value("extract/errors/broken") == 1
    # (the middleware's INFO line on which specs run may be captured too, depending
    # on the logging configuration earlier tests' crawlers left)
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == (
        "Extraction failed: http://127.0.0.1/pay/: spec 'broken': item selector "
        "xpath://li/text() matched _ElementUnicodeResult, not an element"
    )
    assert not record.exc_info


def test_configuration() -> None:
    with pytest.raises(NotConfigured) as off:  # the default: off, and silent in the log
        make_middleware()
    assert off.value.args == ()
    with pytest.raises(ValueError, match="CRAWLER_EXTRACT_ENGINE must be one of lxml, bs4"):
        make_middleware(CRAWLER_EXTRACT_SPECS=[TITLE_SPEC], CRAWLER_EXTRACT_ENGINE="html5lib")
    with pytest.raises(SpecError, match=r"nowhere\.yaml: cannot read spec file"):
        make_middleware(CRAWLER_EXTRACT_SPECS=["nowhere.yaml"])
    # a comma-separated string, as `-s CRAWLER_EXTRACT_SPECS=a.yaml,b.yaml` gives
    both = f"{SPECS / 'payments.yaml'},{SPECS / 'catalog.yaml'}"
    middleware = make_middleware(CRAWLER_EXTRACT_SPECS=both)
    assert [s.name for s in middleware.specs] == ["payment", "product"]
