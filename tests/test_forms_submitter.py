"""``FormSubmitter``: the forms of a crawl, decided, deduplicated and counted."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.addon import CrawlerAddon
from crawler.browser.rendered import RenderedResponse
from crawler.browser.request import BrowserRequest, Choose
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


HIDDEN = (
    '<form action="/state"><input type="hidden" name="state" value="1"><button>Next</button></form>'
)


class Submitter:
    """A FormSubmitter built from settings the way a crawl builds it, and its stats."""

    def __init__(self, **settings: Any) -> None:
        self.crawler = get_crawler(Spider, {"ADDONS": {CrawlerAddon: 0}, **settings})
        self.submitter = FormSubmitter.from_crawler(self.crawler)

    def submit(
        self,
        body: str,
        path: str = "/",
        depth: int = 0,
        rendered: bool = False,
        meta: dict[str, Any] | None = None,
        title: str = "",
    ) -> list[Request]:
        url = SITE + path
        request = Request(url, meta={**(meta or {}), "depth": depth})
        html = f"<html><head><title>{title}</title></head><body>{body}</body></html>"
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
        (HIDDEN, {"state": "2"}, "value_not_typeable"),
        (PICKER, {"colour": "purple"}, "value_not_typeable"),  # not one of its options
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


def test_a_choice_is_made_in_the_browser() -> None:
    s = Submitter(CRAWLER_FORM_VALUES={"colour": "blue"}, CRAWLER_FORM_VARIANTS=0)
    [request] = s.submit(PICKER, rendered=True)
    assert isinstance(request, BrowserRequest)
    [choose, _] = request.browser_options.actions
    assert isinstance(choose, Choose)
    assert choose.value == "blue"


# -- variants -------------------------------------------------------------------------

COLOURS = (
    '<form action="/pick"><select name="colour"><option>red</option><option>blue</option>'
    "<option>green</option><option>white</option></select><button>Pick</button></form>"
)


def test_variants_are_bounded_per_form_shape() -> None:
    s = Submitter(CRAWLER_FORM_VARIANTS=2)
    requests = s.submit(COLOURS, "/a")
    assert [r.url for r in requests] == [
        f"{SITE}/pick?colour=red",
        f"{SITE}/pick?colour=blue",
        f"{SITE}/pick?colour=green",
    ]
    assert [r.meta[META_KEY].variant for r in requests] == [
        "default",
        "colour=blue",
        "colour=green",
    ]
    assert s.stats()["forms/variants/submitted"] == 2
    assert s.stats()["forms/skipped/variant_budget"] == 1
    # the same form on another page: what was made is a duplicate, the rest is over budget
    assert s.submit(COLOURS, "/b") == []
    assert s.stats()["forms/skipped/duplicate"] == 3
    assert s.stats()["forms/skipped/variant_budget"] == 2


def test_a_post_submitter_of_a_get_form_follows_the_policy() -> None:
    body = (
        '<form action="/s"><input name="q" value="x"><button>Find</button>'
        '<button formmethod="post" formaction="/save">Save</button></form>'
    )
    s = Submitter()
    [find] = s.submit(body)
    assert (find.method, find.url) == ("GET", f"{SITE}/s?q=x")
    assert s.stats()["forms/skipped/policy"] == 1
    everything = Submitter(CRAWLER_FORMS="all")
    find, save = everything.submit(body)
    assert (save.method, save.url, save.body) == ("POST", f"{SITE}/save", b"q=x")
    assert save.meta[META_KEY].variant == "submitter: Save"


def test_dangerous_submitters_are_never_clicked() -> None:
    s = Submitter()
    assert (
        s.submit('<form action="/items"><input name="id" value="3"><button>Delete</button></form>')
        == []
    )
    assert s.stats()["forms/skipped/dangerous"] == 1
    [go] = s.submit(
        '<form action="/list"><input name="id" value="3"><button>Go</button>'
        '<button name="act" value="x">Remove all</button></form>'
    )
    assert go.url == f"{SITE}/list?id=3"
    assert s.stats()["forms/skipped/dangerous"] == 2  # and the "Remove all" button


# -- identity: volatile fields, and forms that lead nowhere new --------------------------

VIEWSTATE = (
    '<form method="post" action="/search.aspx"><input type="hidden" name="__VIEWSTATE"'
    ' value="{}"><input name="q" value="lamp"><input type="submit" name="go" value="Search">'
    "</form>"
)


def test_a_fresh_viewstate_does_not_make_a_form_new() -> None:
    s = Submitter(CRAWLER_FORMS="all", CRAWLER_FORM_VARIANTS=0)
    [first] = s.submit(VIEWSTATE.format("dDwtMTA4"), "/search.aspx")
    assert first.body == b"__VIEWSTATE=dDwtMTA4&q=lamp&go=Search"
    assert s.submit(VIEWSTATE.format("cXk5NzEy"), "/search.aspx") == []
    assert s.submit(VIEWSTATE.format("b2ZmMTIz"), "/other.aspx", title="Other") == []
    assert s.stats()["forms/skipped/duplicate"] == 2
    assert s.stats()["forms/submitted/post"] == 1


def test_hidden_values_that_change_between_copies_of_a_page_are_learned() -> None:
    s = Submitter(CRAWLER_FORM_VARIANTS=0)
    [first] = s.submit(HIDDEN, "/wizard", title="Step")
    assert first.url == f"{SITE}/state?state=1"
    # its result is a copy of its own page with another state: "state" is volatile,
    # and the copy's form is no new form
    again = HIDDEN.replace('value="1"', 'value="2"')
    assert s.submit(again, "/state?state=1", title="Step", meta=first.meta) == []
    assert s.stats()["forms/volatile_learned"] == 1
    assert s.stats()["forms/skipped/duplicate"] == 1


def test_hidden_state_on_different_pages_keeps_forms_apart() -> None:
    """A multi-step form: each step's page holds the next form with the state of the
    previous one; different pages teach nothing, so every step is submitted."""
    s = Submitter(CRAWLER_FORM_VARIANTS=0)
    [one] = s.submit(HIDDEN, "/wizard", title="Step 1")
    [two] = s.submit(
        HIDDEN.replace('value="1"', 'value="2"'), "/state", title="Step 2", meta=one.meta
    )
    [three] = s.submit(
        HIDDEN.replace('value="1"', 'value="3"'), "/state", title="Step 3", meta=two.meta
    )
    assert [r.url for r in (one, two, three)] == [f"{SITE}/state?state={n}" for n in (1, 2, 3)]
    assert "forms/volatile_learned" not in s.stats()
    assert "forms/results_not_new" not in s.stats()


def test_a_form_that_leads_to_no_new_page_is_given_up() -> None:
    s = Submitter(CRAWLER_FORM_MAX_REPEATS=2, CRAWLER_FORM_VARIANTS=0)
    [lamp] = s.submit(SEARCH, "/a")
    # its result is the same page again (a search that shows its form and nothing else)
    assert s.submit(SEARCH, "/search?q=lamp", meta=lamp.meta) == []
    assert s.stats()["forms/results_not_new"] == 1
    [desk] = s.submit(SEARCH.replace("lamp", "desk"), "/b")
    assert "forms/exhausted" not in s.stats()
    assert s.submit(SEARCH.replace("lamp", "desk"), "/search?q=desk", meta=desk.meta) == []
    assert s.stats()["forms/results_not_new"] == 2
    assert s.stats()["forms/exhausted"] == 1
    assert s.stats()["forms/skipped/repeats"] == 1  # the form on that result page
    # other values, same form: not submitted any more
    assert s.submit(SEARCH.replace("lamp", "chair"), "/c") == []
    assert s.stats()["forms/skipped/repeats"] == 2


def test_a_form_whose_action_is_dangerous_is_never_submitted() -> None:
    s = Submitter()
    assert (
        s.submit(
            '<form action="/items/delete"><input name="id" value="3"><button>Go</button></form>'
        )
        == []
    )
    assert s.submit('<form action="/newsletter/unsubscribe"><button>OK</button></form>') == []
    assert s.stats()["forms/skipped/dangerous"] == 2
    [search] = s.submit('<form action="/orders-search"><input name="q"><button>Go</button></form>')
    assert search.url == f"{SITE}/orders-search?q="  # "orders-search" is no order
