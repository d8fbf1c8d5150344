"""``FormSubmitter``: the forms of a crawl, decided, deduplicated and counted."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.browser.rendered import RenderedResponse
from crawler.browser.request import BrowserRequest
from crawler.browser.result import RenderResult
from crawler.forms.submission import META_KEY
from crawler.forms.submitter import FormSubmitter

SITE = "http://example.com"
SEARCH = '<form action="/search"><input name="q" value="lamp"><button>Go</button></form>'
FEEDBACK = (
    '<form method="post" action="/feedback"><input type="hidden" name="csrf" value="t0k">'
    '<textarea name="text">Hi</textarea><button>Send</button></form>'
)
LOGIN = '<form method="post" action="/login"><input type="password" name="p"></form>'
SIGNOUT = '<form action="/signout"><button>Sign out</button></form>'
NO_BUTTON = '<form action="/filter"><input name="q" value="x"></form>'
PICKER = (
    '<form action="/pick"><select name="colour"><option>red</option><option>blue</option>'
    "</select><button>Pick</button></form>"
)


class Submitter:
    """A FormSubmitter built from settings the way a crawl builds it, and its stats."""

    def __init__(self, **settings: Any) -> None:
        self.crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, **settings})
        self.submitter = FormSubmitter.from_crawler(self.crawler)

    def submit(
        self, body: str, path: str = "/", depth: int = 0, rendered: bool = False
    ) -> list[Request]:
        url = SITE + path
        request = Request(url, meta={"depth": depth})
        html = f"<html><body>{body}</body></html>"
        response_class = HtmlResponse
        extra: dict[str, Any] = {}
        if rendered:
            response_class = RenderedResponse
            extra = {"render": RenderResult(url=url, html=html)}
        response = response_class(
            url, body=html.encode(), encoding="utf-8", request=request, **extra
        )
        return list(self.submitter.requests(response, meta={"found_via": "form"}))

    def stats(self, prefix: str = "forms/") -> dict[str, int]:
        stats = self.crawler.stats.get_stats()
        return {k: v for k, v in stats.items() if k.startswith(prefix)}


def test_get_mode_submits_get_forms_only() -> None:
    s = Submitter()
    [search] = s.submit(SEARCH + FEEDBACK + LOGIN + SIGNOUT)
    assert (search.method, search.url) == ("GET", f"{SITE}/search?q=lamp")
    assert search.meta["found_via"] == "form"
    assert s.stats() == {
        "forms/found/get": 1,
        "forms/found/post": 1,
        "forms/found/login": 1,
        "forms/found/logout": 1,
        "forms/submitted/get": 1,
        "forms/skipped/policy": 1,
        "forms/skipped/login": 1,
        "forms/skipped/logout": 1,
    }


def test_all_mode_posts_with_the_token() -> None:
    s = Submitter(CRAWLER_FORMS="all")
    search, feedback = s.submit(SEARCH + FEEDBACK + LOGIN + SIGNOUT)
    assert search.method == "GET"
    assert (feedback.method, feedback.url, feedback.body) == (
        "POST",
        f"{SITE}/feedback",
        b"csrf=t0k&text=Hi",
    )
    assert s.stats()["forms/submitted/post"] == 1
    assert s.stats()["forms/skipped/login"] == s.stats()["forms/skipped/logout"] == 1


def test_none_mode_submits_nothing_but_counts() -> None:
    s = Submitter(CRAWLER_FORMS="none")
    assert s.submit(SEARCH + FEEDBACK) == []
    assert s.stats() == {"forms/found/get": 1, "forms/found/post": 1, "forms/skipped/policy": 2}


def test_submit_pattern_lets_matching_posts_through_under_get() -> None:
    s = Submitter(CRAWLER_SUBMIT_FORMS=r"/feed")
    methods = [r.method for r in s.submit(SEARCH + FEEDBACK + LOGIN)]
    assert methods == ["GET", "POST"]


def test_supplied_values_are_used() -> None:
    s = Submitter(CRAWLER_FORM_VALUES={"q": "ships", "text": "Bye"}, CRAWLER_FORMS="all")
    search, feedback = s.submit(SEARCH + FEEDBACK)
    assert search.url == f"{SITE}/search?q=ships"
    assert feedback.body == b"csrf=t0k&text=Bye"


def test_a_form_offered_by_several_pages_is_submitted_once() -> None:
    s = Submitter()
    assert len(s.submit(SEARCH, "/a")) == 1
    assert s.submit(SEARCH, "/b") == []
    assert s.submit(SEARCH, "/a") == []
    # other values make another submission
    other = SEARCH.replace('value="lamp"', 'value="desk"')
    [desk] = s.submit(other, "/c")
    assert desk.url == f"{SITE}/search?q=desk"
    assert s.stats()["forms/skipped/duplicate"] == 2
    assert s.stats()["forms/submitted/get"] == 2


def test_a_page_at_the_depth_limit_submits_nothing_and_keeps_the_form() -> None:
    s = Submitter(DEPTH_LIMIT=2)
    assert s.submit(SEARCH, "/deep", depth=2) == []
    assert s.stats()["forms/skipped/depth"] == 1
    assert len(s.submit(SEARCH, "/shallow", depth=1)) == 1


def test_rendered_pages_submit_in_the_browser() -> None:
    s = Submitter(CRAWLER_FORM_VALUES={"q": "ships"})
    [search] = s.submit(SEARCH, "/page", rendered=True)
    assert isinstance(search, BrowserRequest)
    assert search.url == f"{SITE}/page"
    assert search.meta[META_KEY].in_browser
    assert s.stats()["forms/submitted_in_browser"] == 1


@pytest.mark.parametrize(
    ("body", "values", "reason"),
    [
        (NO_BUTTON, {}, "no_submit_control"),
        (PICKER, {"colour": "blue"}, "value_not_typeable"),
    ],
)
def test_forms_the_browser_cannot_click_go_over_http(
    body: str, values: dict[str, str], reason: str
) -> None:
    s = Submitter(CRAWLER_FORM_VALUES=values)
    [request] = s.submit(body, rendered=True)
    assert not isinstance(request, BrowserRequest)
    assert "browser" not in request.meta
    assert not request.meta[META_KEY].in_browser
    assert s.stats()[f"forms/browser_fallback/{reason}"] == 1


def test_without_selenium_rendered_pages_submit_over_http() -> None:
    s = Submitter(SELENIUM_ENABLED=False)
    [request] = s.submit(SEARCH, rendered=True)
    assert not isinstance(request, BrowserRequest)
