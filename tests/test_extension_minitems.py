"""``MinItems``: a crawl with fewer than ``CRAWLER_MIN_ITEMS`` items ends as ``no_items``."""

from __future__ import annotations

import logging

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.exceptions import ConfigError
from crawler.extensions.minitems import MinItems
from crawler.runner import CrawlOutcome
from crawler.settingscheck import check_settings

LOGIN_PAGE = (
    b"<html><head><title>Please log in</title></head><body><form method=post>"
    b"<input name=username><input name=password type=password></form></body></html>"
)


def make(**settings: object) -> MinItems:
    return MinItems.from_crawler(get_crawler(Spider, settings_dict=settings))


def html(url: str, body: bytes = b"<title>A page</title>", status: int = 200) -> HtmlResponse:
    return HtmlResponse(url, body=body, status=status, encoding="utf-8")


def logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The extension's own records: ``get_crawler``'s INFO lines are captured too
    when an earlier test in the same process left the root logger at INFO."""
    return [r for r in caplog.records if r.name == "crawler.extensions.minitems"]


def idle_reason(extension: MinItems) -> str | None:
    try:
        extension.spider_idle()
    except CloseSpider as e:
        return e.reason
    return None


def test_off_by_default_and_at_zero() -> None:
    with pytest.raises(NotConfigured):
        make()
    with pytest.raises(NotConfigured):
        make(CRAWLER_MIN_ITEMS="0")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "CRAWLER_MIN_ITEMS must be a whole number >= 0, not -1"),
        ("some", "CRAWLER_MIN_ITEMS must be a whole number >= 0, not 'some'"),
    ],
)
def test_a_bad_value_is_a_config_error(value: object, message: str) -> None:
    """The settings check every crawl runs refuses it (the extension reads it plainly)."""
    with pytest.raises(ConfigError) as error:
        check_settings(Settings({"CRAWLER_MIN_ITEMS": value}))
    assert str(error.value) == message


def test_no_items_closes_with_no_items_and_says_which_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    extension = make(CRAWLER_MIN_ITEMS=1)
    # robots.txt and the login's own requests are not the spider's pages
    robots = Request("http://h/robots.txt", callback=NO_CALLBACK)
    extension.response_received(html("http://h/robots.txt"), robots)
    extension.response_received(html("http://h/login", LOGIN_PAGE), Request("http://h/login"))
    with caplog.at_level(logging.ERROR):
        assert idle_reason(extension) == "no_items"
        assert idle_reason(extension) == "no_items"  # idle again: closed again, not logged again
    [record] = logged(caplog)
    assert record.getMessage() == (
        "The crawl yielded 0 items, fewer than CRAWLER_MIN_ITEMS=1: it got 1 page: "
        "http://h/login (HTTP 200, 'Please log in', asks for a password: did the login work?)"
    )
    assert CrawlOutcome("no_items", {}).exit_code == 1


def test_too_few_items_and_many_pages(caplog: pytest.LogCaptureFixture) -> None:
    extension = make(CRAWLER_MIN_ITEMS=3)
    for n in range(5):
        url = f"http://h/{n}"
        extension.response_received(html(url, status=404 if n else 200), Request(url))
    extension.response_received(Response("http://h/x.pdf"), Request("http://h/x.pdf"))
    extension.crawler.stats.set_value("item_scraped_count", 2)
    with caplog.at_level(logging.ERROR):
        assert idle_reason(extension) == "too_few_items"
    assert logged(caplog)[0].getMessage() == (
        "The crawl yielded 2 items, fewer than CRAWLER_MIN_ITEMS=3: it got 6 pages, the first 3: "
        "http://h/0 (HTTP 200, 'A page'); http://h/1 (HTTP 404, 'A page'); "
        "http://h/2 (HTTP 404, 'A page')"
    )


def test_no_page_at_all(caplog: pytest.LogCaptureFixture) -> None:
    extension = make(CRAWLER_MIN_ITEMS=1)
    with caplog.at_level(logging.ERROR):
        assert idle_reason(extension) == "no_items"
    assert logged(caplog)[0].getMessage().endswith(": it got no page (see the errors above)")


def test_enough_items_let_the_crawl_finish(caplog: pytest.LogCaptureFixture) -> None:
    extension = make(CRAWLER_MIN_ITEMS=2)
    extension.crawler.stats.set_value("item_scraped_count", 2)
    assert idle_reason(extension) is None
    assert logged(caplog) == []
