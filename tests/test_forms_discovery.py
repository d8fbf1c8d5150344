"""Form discovery and classification on HTML snippets (and on the tinysite's pages)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from scrapy import FormRequest
from scrapy.http import HtmlResponse

from crawler.forms.classify import FormKind, classify
from crawler.forms.discovery import discover_forms
from crawler.forms.model import HtmlForm
from fixtures.tinysite import forms as forms_area

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

PAGE = "http://example.com/dir/page.html?x=1"
LOGOUT = r"log ?out|sign ?out"


def page(body: str, url: str = PAGE, head: str = "") -> HtmlResponse:
    html = f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"
    return HtmlResponse(url, body=html.encode("utf-8"), encoding="utf-8")


def only_form(body: str, **kwargs: str) -> HtmlForm:
    [form] = discover_forms(page(body, **kwargs))
    return form


@pytest.mark.parametrize(
    ("form_tag", "head", "action"),
    [
        ('<form action="results">', "", "http://example.com/dir/results"),
        ('<form action="/search?old=1#top">', "", "http://example.com/search?old=1"),
        ('<form action="  /padded  ">', "", "http://example.com/padded"),
        ("<form>", "", PAGE),
        ('<form action="">', "", PAGE),
        (
            '<form action="x">',
            '<base href="http://other.example/base/">',
            "http://other.example/base/x",
        ),
        ("<form>", '<base href="http://other.example/base/">', PAGE),  # the document, not <base>
        ('<form action="http://else.example/go">', "", "http://else.example/go"),
    ],
)
def test_action_is_resolved_like_a_browser(form_tag: str, head: str, action: str) -> None:
    assert only_form(f"{form_tag}<input name=a></form>", head=head).action == action


@pytest.mark.parametrize(
    ("form_tag", "submit", "method", "action"),
    [
        ("<form>", "", "GET", PAGE),
        ('<form method="POST">', "", "POST", PAGE),
        ('<form method=" PoSt ">', "", "POST", PAGE),
        ('<form method="put">', "", "GET", PAGE),  # unknown methods are GET, as in browsers
        ('<form method="dialog">', "", "DIALOG", PAGE),
        (
            '<form method="get" action="/a">',
            '<button formmethod="post" formaction="/b">Go</button>',
            "POST",
            "http://example.com/b",
        ),
    ],
)
def test_method_and_the_submitters_overrides(
    form_tag: str, submit: str, method: str, action: str
) -> None:
    form = only_form(f"{form_tag}<input name=a>{submit}</form>")
    assert (form.method, form.action) == (method, action)


def test_entries_are_what_a_browser_submits() -> None:
    form = only_form(
        """<form action="/s">
        <input type="hidden" name="token" value="t0k">
        <input name="plain" value="default">
        <input type="text" name="empty">
        <input type="search" name="query" value="lamp">
        <input type="checkbox" name="box" checked>
        <input type="checkbox" name="box2" value="yes" checked>
        <input type="checkbox" name="unchecked" value="no">
        <input type="radio" name="size" value="s">
        <input type="radio" name="size" value="m" checked>
        <select name="colour"><option>red</option><option value="g" selected>Green</option></select>
        <select name="first"><option disabled>--</option><option> Blue
          sky </option><option>red</option></select>
        <select name="many" multiple><option selected>a</option><option>b</option>
          <option selected>c</option></select>
        <select name="box" size="3"><option>x</option></select>
        <textarea name="note">
Hello
there</textarea>
        <input name="off" value="1" disabled>
        <fieldset disabled><input name="fenced" value="1"></fieldset>
        <input value="no name">
        <input type="file" name="upload">
        <input type="reset" name="reset" value="Reset">
        <button type="button" name="helper" value="h">Help</button>
        <input type="submit" name="go" value="Search">
        <input type="submit" name="other" value="Other">
        </form>"""
    )
    assert form.entries == (
        ("token", "t0k"),
        ("plain", "default"),
        ("empty", ""),
        ("query", "lamp"),
        ("box", "on"),
        ("box2", "yes"),
        ("size", "m"),
        ("colour", "g"),
        ("first", "Blue sky"),
        ("many", "a"),
        ("many", "c"),
        ("note", "Hello\nthere"),
        ("upload", ""),
        ("go", "Search"),  # the first submit control is the one clicked
    )
    assert form.submit is not None
    assert (form.submit.name, form.submit.text) == ("go", "Search")
    assert "unchecked" in form.field_names  # a field of the form, even without an entry
    assert {"go", "other", "helper", "reset"}.isdisjoint(form.field_names)
    assert form.control_type("note") == "textarea"
    assert form.control_type("query") == "search"
    assert form.control_type("plain") == form.control_type("empty") == "text"
    assert form.control_type("nothing") is None


@pytest.mark.parametrize(
    ("select", "entries"),
    [
        ("<optgroup disabled><option>a</option></optgroup><option>b</option>", [("s", "b")]),
        ("<option selected disabled>a</option><option>b</option>", []),
        ("<option selected>a</option><option selected>b</option>", [("s", "b")]),
        ("", []),
    ],
)
def test_select_defaults(select: str, entries: list[tuple[str, str]]) -> None:
    form = only_form(f'<form><select name="s">{select}</select></form>')
    assert list(form.entries) == entries


def test_datalist_options_and_inputs_are_not_submitted() -> None:
    form = only_form(
        '<form><input name="q" list="l" value="v"><datalist id="l"><option>x</option>'
        '<input name="hidden-in-list" value="1"></datalist></form>'
    )
    assert form.entries == (("q", "v"),)


@pytest.mark.parametrize(
    ("controls", "name", "text", "entries"),
    [
        ('<input type="submit">', "", "Submit", ()),
        ('<input type="submit" value="Search">', "", "Search", ()),
        ('<button name="b" value="1"> Find <b>it</b> </button>', "b", "Find it", (("b", "1"),)),
        ('<input type="image" name="map" alt="Go">', "map", "Go", (("map.x", "0"), ("map.y", "0"))),
        ('<input type="image" alt="Go">', "", "Go", (("x", "0"), ("y", "0"))),
        ('<button disabled>No</button><button type="SUBMIT">Yes</button>', "", "Yes", ()),
    ],
)
def test_submit_control(
    controls: str, name: str, text: str, entries: tuple[tuple[str, str], ...]
) -> None:
    form = only_form(f'<form><input type="hidden" name="h" value="v">{controls}</form>')
    assert form.submit is not None
    assert (form.submit.name, form.submit.text) == (name, text)
    assert form.entries == (("h", "v"), *entries)


def test_form_without_submit_control() -> None:
    form = only_form('<form><input name="q"><button type="button">x</button></form>')
    assert form.submit is None
    assert form.entries == (("q", ""),)


def test_forms_are_numbered_and_ids_kept_only_when_unique() -> None:
    found = discover_forms(
        page(
            '<form id="a"></form><form></form><form id="dup"></form>'
            '<div id="dup"></div><form id="b"><input type="password" name="p"></form>'
        )
    )
    assert [(f.index, f.element_id, f.has_password) for f in found] == [
        (0, "a", False),
        (1, None, False),
        (2, None, False),
        (3, "b", True),
    ]


def test_no_forms_and_non_html() -> None:
    assert discover_forms(page("<p>nothing</p>")) == []


def test_supplied_values_replace_defaults() -> None:
    form = only_form(
        '<form><input name="q" value="d"><input type="checkbox" name="c" value="1" checked>'
        '<input type="checkbox" name="c" value="2" checked>'
        '<input type="checkbox" name="later" value="x"><input type="submit" name="s" value="S">'
        "</form>"
    )
    values = {"q": "ships", "c": "9", "later": "on", "unknown": "z"}
    assert form.applicable(values) == {"q": "ships", "c": "9", "later": "on"}
    # one entry per supplied name, where the first control of that name is (tree order)
    assert form.data(values) == (("q", "ships"), ("c", "9"), ("later", "on"), ("s", "S"))
    assert form.data({}) == form.entries


# -- classification ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ('<form action="/search"><input name="q"></form>', FormKind.GET),
        (
            '<form method="post" action="/comment"><textarea name="t"></textarea></form>',
            FormKind.POST,
        ),
        (
            '<form method="post"><input name="u"><input type="password" name="p"></form>',
            FormKind.LOGIN,
        ),
        # a password field wins over everything else
        ('<form action="/logout"><input type="password" name="p"></form>', FormKind.LOGIN),
        ('<form action="/account/log-out"><button>Bye</button></form>', FormKind.LOGOUT),
        ('<form method="post" action="/session"><button>Sign out</button></form>', FormKind.LOGOUT),
        (
            '<form method="post" action="/s"><input type="submit" value="Log Out"></form>',
            FormKind.LOGOUT,
        ),
        ('<form method="dialog"><button>Close</button></form>', FormKind.DIALOG),
        ('<form action="/blog/logging-outdoors"><button>Read</button></form>', FormKind.GET),
    ],
)
def test_classify(body: str, kind: FormKind) -> None:
    assert classify(only_form(body), LOGOUT) is kind


def test_classify_without_a_logout_pattern() -> None:
    form = only_form('<form action="/logout"><button>Log out</button></form>')
    assert classify(form, None) is FormKind.GET


# -- against the tinysite, and against what Scrapy's from_response would send -------------


@pytest.fixture(scope="module")
def area_pages(tinysite: TinySite) -> list[HtmlResponse]:
    pages = []
    for path in ("/", forms_area.INDEX_PATH, forms_area.FILTER_URL):
        url = tinysite.url(path)
        response = requests.get(url, timeout=10)
        pages.append(HtmlResponse(url, body=response.content, encoding="utf-8"))
    return pages


def test_fixture_forms_are_classified(area_pages: list[HtmlResponse]) -> None:
    classic, area, results = area_pages
    [search] = discover_forms(classic)
    assert (search.method, urlsplit(search.action).path, search.entries) == (
        "GET",
        "/search.html",
        (("q", "A"),),
    )
    kinds = [(f.element_id, classify(f, LOGOUT)) for f in discover_forms(area)]
    assert kinds == [
        ("filter", FormKind.GET),
        ("feedback", FormKind.POST),
        ("login", FormKind.LOGIN),
        ("signout", FormKind.LOGOUT),
        (forms_area.JS_FORM_ID, FormKind.GET),
    ]
    [refine] = discover_forms(results)
    [index_filter] = discover_forms(area)[:1]
    assert (refine.action, refine.entries) == (index_filter.action, index_filter.entries)


def _from_response(response: HtmlResponse, number: int) -> tuple[str, str, list[tuple[str, str]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in Scrapy 2.19 in favour of form2request
        request = FormRequest.from_response(response, formnumber=number)
    if request.method == "POST":
        return request.method, request.url, parse_qsl(request.body.decode(), True)
    parts = urlsplit(request.url)
    return request.method, parts._replace(query="").geturl(), parse_qsl(parts.query, True)


def test_entries_match_what_from_response_sends(area_pages: list[HtmlResponse]) -> None:
    """Same hidden fields (the CSRF token), defaults and submitter as Scrapy's helper."""
    compared = 0
    for response in area_pages:
        for form in discover_forms(response):
            assert _from_response(response, form.index) == (
                form.method,
                form.action,
                list(form.entries),
            )
            compared += 1
    assert compared == 7
