"""Requests that submit forms: over HTTP, and clicked in real Chromium."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import lxml.html
import pytest
import requests
from scrapy import FormRequest
from scrapy.http import HtmlResponse

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.request import BrowserRequest, Click, Fill
from crawler.browser.session import BrowserSession, RenderSpec
from crawler.exceptions import BrowserWaitTimeoutError
from crawler.forms.discovery import discover_forms
from crawler.forms.model import HtmlForm
from crawler.forms.submission import (
    META_KEY,
    FormSubmission,
    browser_blocker,
    browser_request,
    field_xpath,
    form_xpath,
    http_request,
    mark_page,
    page_left,
    submit_xpath,
)
from fixtures.tinysite import forms as area
from tests.browser.conftest import browser_root, browser_settings, needs_chromium

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fixtures.tinysite.server import TinySite

__all__ = ["browser_root"]  # a fixture, used by the browser tests below

PAGE = "http://example.com/shop/page.html"


def forms_of(body: str, encoding: str = "utf-8", url: str = PAGE) -> list[HtmlForm]:
    html = f"<html><head></head><body>{body}</body></html>".encode(encoding)
    return discover_forms(HtmlResponse(url, body=html, encoding=encoding))


def test_selectors_pick_the_form_its_submit_control_and_its_fields() -> None:
    body = (
        '<form id="same"><input name="q"><button>One</button></form>'
        '<div id="same"></div>'
        '<form id="it\'s"><input name="q">'
        '<button type="button">Not me</button><button disabled>Nor me</button>'
        '<input type="submit" value="Me">'
        '<textarea name="t"></textarea><input name="t"></form>'
    )
    first, second = forms_of(body)
    assert form_xpath(first) == "(//form)[1]"  # its id is not unique
    assert form_xpath(second) == '//form[@id = "it\'s"]'
    root = lxml.html.fromstring(body)
    [button] = root.xpath(submit_xpath(first))
    assert button.text == "One"
    [submit] = root.xpath(submit_xpath(second))
    assert submit.get("value") == "Me"
    [field] = root.xpath(field_xpath(second, "t"))
    assert field.tag == "textarea"


def test_get_submission_replaces_the_action_query() -> None:
    [form] = forms_of(
        '<form action="/find?stale=1#x"><input type="hidden" name="k" value="v">'
        '<input name="q" value="lamp"><input type="submit" name="go" value="Go"></form>'
    )
    request = http_request(form, {"q": "ships & co"}, "utf-8", meta={"found_via": "form"})
    assert isinstance(request, FormRequest)
    assert request.method == "GET"
    assert request.url == "http://example.com/find?k=v&q=ships+%26+co&go=Go"
    assert request.meta[META_KEY] == FormSubmission(PAGE, form.action, "GET", in_browser=False)
    assert request.meta["found_via"] == "form"
    [empty] = forms_of('<form action="/out?stale=1"><button>Go</button></form>')
    assert http_request(empty, {}, "utf-8").url == "http://example.com/out"


def test_post_submission_keeps_the_hidden_token_and_the_page_encoding() -> None:
    [form] = forms_of(
        '<form method="post" action="/comment"><input type="hidden" name="csrf" value="t0k">'
        '<textarea name="text">Caf\xe9</textarea></form>',
        encoding="cp1252",
    )
    request = http_request(form, {"text": "Caf\xe9 \u2603"}, "cp1252")
    assert (request.method, request.url) == ("POST", "http://example.com/comment")
    assert request.headers[b"Content-Type"] == b"application/x-www-form-urlencoded"
    # cp1252 has é but no snowman: browsers send a character reference for it
    assert parse_qsl(request.body.decode("ascii"), encoding="cp1252") == [
        ("csrf", "t0k"),
        ("text", "Caf\xe9 &#9731;"),
    ]
    [bare] = forms_of('<form method="post" action="/ping"></form>')
    assert http_request(bare, {}, "utf-8").headers[b"Content-Type"] == (
        b"application/x-www-form-urlencoded"
    )


@pytest.mark.parametrize(
    ("body", "values", "blocker"),
    [
        ('<form><input name="q"><button>Go</button></form>', {"q": "x"}, None),
        ('<form><textarea name="t"></textarea><button>Go</button></form>', {"t": "x"}, None),
        ('<form><input name="q"></form>', {}, "no_submit_control"),
        ('<form target="_blank"><button>Go</button></form>', {}, "other_window"),
        ('<form target="_self"><button>Go</button></form>', {}, None),
        ('<form><button formtarget="results">Go</button></form>', {}, "other_window"),
        (
            '<form><input type="hidden" name="h"><button>Go</button></form>',
            {"h": "x"},
            "value_not_typeable",
        ),
        (
            '<form><select name="s"><option>a</option></select><button>Go</button></form>',
            {"s": "a"},
            "value_not_typeable",
        ),
        ('<form><input name="q"><button>Go</button></form>', {"other": "x"}, None),
        ('<form><input type="fancy" name="q"><button>Go</button></form>', {"q": "x"}, None),
        (
            '<form><input type="date" name="d"><button>Go</button></form>',
            {"d": "x"},
            "value_not_typeable",
        ),
    ],
)
def test_browser_blocker(body: str, values: dict[str, str], blocker: str | None) -> None:
    [form] = forms_of(body)
    assert browser_blocker(form, values) == blocker


def test_browser_request_types_the_changed_values_and_clicks() -> None:
    [form] = forms_of(
        '<form id="f" action="/find"><input name="q" value="lamp"><input name="n" value="1">'
        '<button name="go">Go</button></form>'
    )
    request = browser_request(form, {"q": "ships", "n": "1"}, meta={"found_via": "form"})
    assert isinstance(request, BrowserRequest)
    assert (request.url, request.method, request.dont_filter) == (PAGE, "GET", True)
    options = request.browser_options
    assert options.wait_for is mark_page
    assert options.actions == (
        Fill(field_xpath(form, "q"), "ships"),  # n already holds 1: nothing to type
        Click(submit_xpath(form), wait_for=page_left),
    )
    assert request.meta[META_KEY] == FormSubmission(PAGE, form.action, "GET", in_browser=True)
    assert request.meta["dont_retry"] is True
    assert request.meta["found_via"] == "form"


# -- in Chromium ---------------------------------------------------------------------


@pytest.fixture
def session(browser_root: str) -> Iterator[BrowserSession]:
    settings = browser_settings(browser_root, SELENIUM_WAIT_TIMEOUT=2)
    session = BrowserSession(BrowserConfig.from_settings(framework_settings(settings)), 1).start()
    yield session
    session.quit()


def page_forms(site: TinySite, path: str) -> dict[str | None, HtmlForm]:
    url = site.url(path)
    response = HtmlResponse(url, body=requests.get(url, timeout=10).content, encoding="utf-8")
    return {form.element_id: form for form in discover_forms(response)}


def click(session: BrowserSession, form: HtmlForm, values: dict[str, str]) -> tuple[str, str]:
    request = browser_request(form, values)
    result = session.render(RenderSpec(url=request.url, options=request.browser_options))
    parts = urlsplit(result.url)
    return parts.path + (f"?{parts.query}" if parts.query else ""), result.html


@needs_chromium
def test_clicking_submits_navigating_scripted_and_in_place_forms(
    session: BrowserSession, tinysite: TinySite
) -> None:
    on_index = page_forms(tinysite, area.INDEX_PATH)
    # a plain form: the browser goes to its action with the defaults
    assert click(session, on_index["filter"], {})[0] == area.FILTER_URL
    # the script-driven form: its handler navigates, with the typed value
    target, html = click(session, on_index[area.JS_FORM_ID], {"q": "ships"})
    assert target == f"{area.JS_RESULT_PATH}?q=ships"
    assert area.AFTER_JS_PATH in html
    # a handler that replaces the body without navigating: the new DOM is the result
    inline = page_forms(tinysite, area.INLINE_PATH)
    target, html = click(session, inline["replace"], {})
    assert target == area.INLINE_PATH
    assert area.INLINE_TEXT in html
    # a handler that does nothing: the wait fails rather than taking the form page
    with pytest.raises(BrowserWaitTimeoutError, match="page_left"):
        click(session, inline["inert"], {})
