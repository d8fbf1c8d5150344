"""Requests that submit forms: over HTTP, and clicked in real Chromium."""

from __future__ import annotations

import json
from dataclasses import replace
from email import message_from_bytes
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from scrapy import FormRequest
from scrapy.http import HtmlResponse

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.request import BrowserOptions, BrowserRequest, Choose, Click, Fill
from crawler.browser.session import BrowserSession, RenderSpec
from crawler.exceptions import BrowserWaitTimeoutError
from crawler.forms.discovery import discover_forms
from crawler.forms.live import SCRIPT_PREFIX, control_script, live_forms
from crawler.forms.model import HtmlForm
from crawler.forms.submission import (
    META_KEY,
    FormSubmission,
    browser_blocker,
    browser_request,
    http_request,
    mark_page,
    page_left,
)
from fixtures.tinysite import forms as area
from fixtures.tinysite.server import TinySite
from tests.browser.conftest import browser_root, browser_settings, needs_chromium
from tests.formpages import ECHO_PATH, FormPages

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.forms.model import FormControl

__all__ = ["browser_root"]  # a fixture, used by the browser tests below

PAGE = "http://example.com/shop/page.html"


def forms_of(body: str, encoding: str = "utf-8", url: str = PAGE) -> list[HtmlForm]:
    html = f"<html><head></head><body>{body}</body></html>".encode(encoding)
    return discover_forms(HtmlResponse(url, body=html, encoding=encoding))


def submitted(form: HtmlForm, values: dict[str, str], variant: str = "default") -> FormSubmission:
    """The meta of the default submission of ``form`` with ``values``, made over HTTP."""
    how = form.submission()
    return FormSubmission(
        PAGE,
        how.action,
        how.method,
        in_browser=False,
        enctype=how.enctype,
        shape=form.identity(),
        entries=form.entries_for(None, values),
        variant=variant,
    )


def test_get_submission_replaces_the_action_query() -> None:
    [form] = forms_of(
        '<form action="/find?stale=1#x"><input type="hidden" name="k" value="v">'
        '<input name="q" value="lamp"><input type="submit" name="go" value="Go"></form>'
    )
    request = http_request(form, {"q": "ships & co"}, meta={"found_via": "form"})
    assert isinstance(request, FormRequest)
    assert request.method == "GET"
    assert request.url == "http://example.com/find?k=v&q=ships+%26+co&go=Go"
    assert request.meta[META_KEY] == submitted(form, {"q": "ships & co"})
    assert request.meta[META_KEY].entries == (("k", "v"), ("q", "ships & co"), ("go", "Go"))
    assert request.meta["found_via"] == "form"
    [empty] = forms_of('<form action="/out?stale=1"><button>Go</button></form>')
    assert http_request(empty, {}).url == "http://example.com/out"


def test_post_submission_keeps_the_hidden_token_and_the_page_encoding() -> None:
    [form] = forms_of(
        '<form method="post" action="/comment"><input type="hidden" name="csrf" value="t0k">'
        '<textarea name="text">Caf\xe9</textarea></form>',
        encoding="cp1252",
    )
    assert form.encoding == "cp1252"
    request = http_request(form, {"text": "Caf\xe9 \u2603"})
    assert (request.method, request.url) == ("POST", "http://example.com/comment")
    assert request.headers[b"Content-Type"] == b"application/x-www-form-urlencoded"
    # cp1252 has é (one byte, E9) but no snowman: browsers send a character reference
    assert request.body == b"csrf=t0k&text=Caf%E9+%26%239731%3B"
    assert parse_qsl(request.body.decode("ascii"), encoding="cp1252") == [
        ("csrf", "t0k"),
        ("text", "Caf\xe9 &#9731;"),
    ]
    [bare] = forms_of('<form method="post" action="/ping"></form>')
    assert http_request(bare, {}).headers[b"Content-Type"] == (b"application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    ("accept_charset", "query"),
    [
        ("iso-8859-2", "q=%B3%F3d%BC"),  # łódź in Latin-2
        ("bogus iso-8859-2 utf-8", "q=%B3%F3d%BC"),  # the first label that names an encoding
        ("utf-16", "q=%C5%82%C3%B3d%C5%BA"),  # UTF-16 submits as UTF-8
        ("", "q=%C5%82%C3%B3d%C5%BA"),  # the page's encoding
    ],
)
def test_accept_charset_picks_the_encoding(accept_charset: str, query: str) -> None:
    [form] = forms_of(
        f'<form action="/s" accept-charset="{accept_charset}"><input name="q"></form>'
    )
    assert urlsplit(http_request(form, {"q": "\u0142\xf3d\u017a"}).url).query == query


def test_the_submitter_chooses_action_method_and_encoding() -> None:
    [form] = forms_of(
        '<form action="/search"><input name="q" value="lamp">'
        '<button name="go" value="1">Search</button>'
        '<button name="save" value="2" formaction="/save#frag" formmethod="post"'
        ' formenctype="multipart/form-data">Save</button>'
        '<button formmethod="POST" formenctype="text/plain" formaction="/note">Note</button>'
        '<input type="image" name="map" formmethod="bogus" formaction="/map"></form>'
    )
    go, save, note, image = form.submitters
    default = http_request(form, {})
    assert (default.method, default.url) == ("GET", "http://example.com/search?q=lamp&go=1")
    posted = http_request(form, {"q": "desk"}, submitter=save, variant="submitter: Save")
    assert (posted.method, posted.url) == ("POST", "http://example.com/save")
    assert posted.meta[META_KEY].variant == "submitter: Save"
    assert posted.meta[META_KEY].enctype == "multipart/form-data"
    assert parts_of(posted.headers[b"Content-Type"], posted.body) == [
        ("q", None, None, b"desk"),
        ("save", None, None, b"2"),
    ]
    plain = http_request(form, {}, submitter=note)
    assert (plain.method, plain.url, plain.body) == (
        "POST",
        "http://example.com/note",
        b"q=lamp\r\n",
    )
    assert plain.headers[b"Content-Type"] == b"text/plain"
    # an invalid formmethod is GET; an image button sends the click's coordinates
    clicked = http_request(form, {}, submitter=image)
    assert clicked.url == "http://example.com/map?q=lamp&map.x=0&map.y=0"
    assert go.name == "go"


@pytest.mark.parametrize(
    ("body", "values", "blocker"),
    [
        ('<form><input name="q"><button>Go</button></form>', {"q": "x"}, None),
        ('<form><textarea name="t"></textarea><button>Go</button></form>', {"t": "x"}, None),
        ('<form><input name="q"></form>', {}, "no_submit_control"),
        ('<form target="_blank"><button>Go</button></form>', {}, "other_window"),
        ('<form target="_self"><button>Go</button></form>', {}, None),
        ('<form><button formtarget="results">Go</button></form>', {}, "other_window"),
        ('<form target="x"><button formtarget="_self">Go</button></form>', {}, None),
        (
            '<form><input type="hidden" name="h"><button>Go</button></form>',
            {"h": "x"},
            "value_not_typeable",
        ),
        (
            '<form><input type="file" name="f"><button>Go</button></form>',
            {"f": "x"},
            "value_not_typeable",
        ),
        # a user chooses among a select's enabled options, a radio group's or a checkbox's values
        (
            '<form><select name="s"><option>a</option></select><button>Go</button></form>',
            {"s": "a"},
            None,
        ),
        (
            '<form><select name="s"><option>a</option><option disabled>b</option></select>'
            "<button>Go</button></form>",
            {"s": "b"},
            "value_not_typeable",
        ),
        (
            '<form><input type="radio" name="r" value="1"><input type="radio" name="r" value="2">'
            "<button>Go</button></form>",
            {"r": "2"},
            None,
        ),
        (
            '<form><input type="radio" name="r" value="1"><button>Go</button></form>',
            {"r": "3"},
            "value_not_typeable",
        ),
        ('<form><input type="checkbox" name="c"><button>Go</button></form>', {"c": "on"}, None),
        (
            '<form><input type="checkbox" name="c" value="y"><button>Go</button></form>',
            {"c": "n"},
            "value_not_typeable",
        ),
        ('<form><input name="q"><button>Go</button></form>', {"other": "x"}, None),
        ('<form><input type="fancy" name="q"><button>Go</button></form>', {"q": "x"}, None),
        # date-like inputs are set by script, with a value the input holds
        ('<form><input type="date" name="d"><button>Go</button></form>', {"d": "2024-05-01"}, None),
        ('<form><input type="range" name="r"><button>Go</button></form>', {"r": "30"}, None),
        (
            '<form><input type="date" name="d"><button>Go</button></form>',
            {"d": "soon"},
            "value_not_typeable",
        ),
        (
            '<form><input type="number" name="n"><button>Go</button></form>',
            {"n": "ten"},
            "value_not_typeable",
        ),
    ],
)
def test_browser_blocker(body: str, values: dict[str, str], blocker: str | None) -> None:
    [form] = forms_of(body)
    assert browser_blocker(form, values) == blocker


def test_browser_request_types_the_changed_values_chooses_and_clicks() -> None:
    [form] = forms_of(
        '<form id="f" action="/find"><input name="q" value="lamp"><input name="n" value="1">'
        '<select name="s"><option>a</option><option>b</option></select>'
        '<input type="checkbox" name="c" value="yes" checked>'
        '<input type="date" name="d"><button name="go">Go</button>'
        '<button name="other" formaction="/other">Other</button></form>'
    )
    q, _, s, _, d, go, other = form.controls
    values = {"q": "ships", "n": "1", "s": "b", "c": "yes", "d": "2024-05-01"}
    request = browser_request(form, values, other, "submitter: Other", meta={"found_via": "form"})
    assert isinstance(request, BrowserRequest)
    assert (request.url, request.method, request.dont_filter) == (PAGE, "GET", True)
    options = request.browser_options
    assert options.wait_for is mark_page
    assert options.actions == (
        Fill(control_script(form, q), "ships"),  # n already holds 1: nothing to type
        Choose(control_script(form, s), "b"),
        # c is checked with that value already: nothing to choose
        Fill(control_script(form, d), "2024-05-01"),
        Click(control_script(form, other), wait_for=page_left),
    )
    assert all(a.selector.startswith(SCRIPT_PREFIX) for a in options.actions)
    meta = request.meta[META_KEY]
    assert (meta.action, meta.method, meta.in_browser, meta.variant) == (
        "http://example.com/other",
        "GET",
        True,
        "submitter: Other",
    )
    assert meta.entries == form.entries_for(other, values)
    assert request.meta["dont_retry"] is True
    assert request.meta["found_via"] == "form"
    assert go.name == "go"


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


# -- the browser finds and submits what the model says ---------------------------------

LOCATED = (
    '<form id="same"><input name="q" data-k="same-q"><button data-k="same-go">One</button></form>'
    '<div id="same"></div>'
    '<form id="it\'s"><input name="q" data-k="q">'
    '<datalist id="dl"><input name="in-list" data-k="in-list"></datalist>'
    '<textarea name="t" data-k="t"></textarea><input type="image" name="map" data-k="map">'
    '<input name="t" data-k="t2"><input name="elsewhere" form="same" data-k="elsewhere"></form>'
    '<input name="outside" form="it\'s" data-k="outside">'
    '<table><form id="table"><tr><td><input name="cell" data-k="cell"></td>'
    '<td><button data-k="cell-go">Go</button></td></tr></form></table>'
)

# Forms submitted to the echo page, with the values and the submitter (by its
# text) to click: what the browser sends must be what http_request sends.
SUBMITTED: dict[str, tuple[str, str, dict[str, str], str | None]] = {
    "get-choices": (
        "utf-8",
        f'<form action="{ECHO_PATH}?stale=1"><input name="q" value="lamp">'
        '<select name="colour"><option>red</option><option selected>green</option>'
        "<option>blue</option></select>"
        '<select name="sizes" multiple><option selected>s</option><option>m</option></select>'
        '<input type="radio" name="r" value="1" checked><input type="radio" name="r" value="2">'
        '<input type="checkbox" name="c" value="yes"><input type="date" name="d">'
        '<input type="hidden" name="token" value="t0k"><input type="submit" name="go" value="Go">'
        f'<button name="alt" value="a" formaction="{ECHO_PATH}?other=1">Alt</button></form>',
        {
            "q": "ships & co",
            "colour": "blue",
            "sizes": "m",
            "r": "2",
            "c": "yes",
            "d": "2024-05-01",
        },
        "Alt",
    ),
    "post-cp1252": (
        "windows-1252",
        f'<form method="post" action="{ECHO_PATH}"><input type="hidden" name="_charset_">'
        '<input name="text" value="Caf\xe9"><textarea name="note">one\ntwo</textarea>'
        "<button>Send</button></form>",
        {"text": "Caf\xe9 \u2603"},
        None,
    ),
    "accept-charset": (
        "utf-8",
        f'<form method="post" accept-charset="bogus ISO-8859-2" action="{ECHO_PATH}">'
        '<input type="hidden" name="_charset_"><input name="city"><button>Send</button></form>',
        {"city": "\u0141\xf3d\u017a \u2603"},
        None,
    ),
    "multipart": (
        "utf-8",
        f'<form method="post" enctype="multipart/form-data" action="{ECHO_PATH}">'
        '<input name="title" value="R\xe9sum\xe9"><textarea name="body">a\nb</textarea>'
        '<input type="file" name="upload"><input type="checkbox" name="c" checked>'
        '<button name="send" value="1">Send</button></form>',
        {"title": "New \u2603"},
        None,
    ),
    "text-plain": (
        "utf-8",
        f'<form method="post" enctype="text/plain" action="{ECHO_PATH}"><input name="a" value="1">'
        '<textarea name="b">x\ny</textarea><button>Send</button></form>',
        {},
        None,
    ),
    "table": (
        "utf-8",
        f'<table><form action="{ECHO_PATH}"><tr><td><input name="cell" value="1"></td>'
        '<td><select name="s"><option>a</option><option>b</option></select></td>'
        '<td><button name="go" value="g">Go</button></td></tr></form></table>',
        {"cell": "typed", "s": "b"},
        None,
    ),
}


@pytest.fixture(scope="module")
def form_site() -> Iterator[tuple[FormPages, TinySite]]:
    pages = FormPages()
    pages.add("located", LOCATED)
    for name, (charset, body, _, _) in SUBMITTED.items():
        pages.add(name, body, charset=charset)
    with TinySite(apps=[pages]) as server:
        yield pages, server


def rendered_forms(session: BrowserSession, url: str) -> list[HtmlForm]:
    result = session.render(RenderSpec(url=url, options=BrowserOptions()))
    return live_forms(result.live_forms, result.url)


def _found(script: str) -> str:
    body = script.removeprefix(SCRIPT_PREFIX)
    return f"(function () {{ {body} }})()"


@needs_chromium
def test_control_scripts_find_each_control_the_live_read_gave(
    session: BrowserSession, form_site: tuple[FormPages, TinySite]
) -> None:
    _, site = form_site
    url = site.url("/formpages/located")
    forms = rendered_forms(session, url)
    controls = [(form, control) for form in forms for control in form.controls]
    # the last control again under another name: a page that changed since the read
    changed = replace(controls[-1][1], name="renamed")
    scripts = [control_script(form, control) for form, control in controls]
    scripts.append(control_script(forms[-1], changed))
    found = "[" + ", ".join(_found(s) for s in scripts) + "]"
    script = f"return JSON.stringify({found}.map((el) => el && el.getAttribute('data-k')));"
    result = session.render(RenderSpec(url=url, options=BrowserOptions(script=script)))
    assert json.loads(result.script_result) == [
        "same-q",
        "same-go",
        "elsewhere",  # form= joins it to the first form, though it sits in the second
        "q",
        "t",
        "map",
        "t2",
        "outside",
        "cell",  # the table foster-parented the form: the parser still joined these
        "cell-go",
        None,
    ]
    assert [f.element_id for f in forms] == [None, "it's", "table"]  # "same" is not unique


def parts_of(content_type: bytes, body: bytes) -> list[tuple[Any, ...]]:
    """A multipart body as (name, filename, content type, payload bytes) per part."""
    message = message_from_bytes(b"Content-Type: " + content_type + b"\r\n\r\n" + body)
    return [
        (
            part.get_param("name", header="content-disposition"),
            part.get_param("filename", header="content-disposition"),
            part.get("Content-Type"),
            part.get_payload(decode=True),
        )
        for part in message.get_payload()
    ]


def sent(
    method: str, url: str, content_type: bytes, body: bytes
) -> tuple[str, str, list[tuple[str, str]], Any]:
    """A request as the server reads it: method, path, query pairs and body
    (pairs, parts or bytes), bytes kept as Latin-1 so encodings are compared."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True, encoding="latin-1")
    if content_type.startswith(b"multipart/form-data"):
        content: Any = parts_of(content_type, body)
    elif content_type.startswith(b"application/x-www-form-urlencoded"):
        content = parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="latin-1")
    else:
        content = body
    return method, parts.path, query, content


@needs_chromium
@pytest.mark.parametrize("name", list(SUBMITTED))
def test_clicking_sends_what_the_http_request_sends(
    name: str, session: BrowserSession, form_site: tuple[FormPages, TinySite]
) -> None:
    pages, site = form_site
    _, _, values, text = SUBMITTED[name]
    [form] = rendered_forms(session, site.url(f"/formpages/{name}"))
    submitter: FormControl | None = next((s for s in form.submitters if s.text == text), None)
    assert browser_blocker(form, values, submitter) is None
    request = browser_request(form, values, submitter)
    assert [type(a) for a in request.browser_options.actions if not isinstance(a, Click)] == [
        Choose if form.control_type(n) in ("select", "radio", "checkbox") else Fill
        for n in values
        if dict(form.entries).get(n) != values[n] or form.control_type(n) == "checkbox"
    ]
    before = len(pages.received)
    session.render(RenderSpec(url=request.url, options=request.browser_options))
    assert len(pages.received) == before + 1
    received = pages.received[-1]
    [target] = [r.target for r in site.requests_seen if r.target.startswith(ECHO_PATH)][-1:]
    browser = sent(
        received.method,
        site.url(target),
        (received.headers.get("Content-Type") or "").encode(),
        received.body,
    )
    over_http = http_request(form, values, submitter)
    assert browser == sent(
        over_http.method,
        over_http.url,
        over_http.headers.get(b"Content-Type") or b"",
        over_http.body,
    )


@pytest.mark.parametrize(
    ("body", "values", "blocker"),
    [
        ('<form><input name="q" required><button>Go</button></form>', {}, "required_empty"),
        ('<form><input name="q" required><button>Go</button></form>', {"q": "x"}, None),
        ('<form novalidate><input name="q" required><button>Go</button></form>', {}, None),
        (
            '<form><input name="q" required><button formnovalidate>Go</button></form>',
            {},
            None,
        ),
        (
            '<form><input type="checkbox" name="ok" required><button>Go</button></form>',
            {},
            "required_empty",
        ),
        (
            '<form><input type="radio" name="r" value="a" required>'
            '<input type="radio" name="r" value="b" checked><button>Go</button></form>',
            {},
            None,
        ),
        (
            '<form><select name="s" required><option value="">Pick</option>'
            "<option>a</option></select><button>Go</button></form>",
            {},
            "required_empty",
        ),
        ('<form><input type="hidden" name="h" required><button>Go</button></form>', {}, None),
    ],
)
def test_a_click_the_browser_would_refuse_goes_over_http(
    body: str, values: dict[str, str], blocker: str | None
) -> None:
    """Constraint validation stops a click on a form with an empty required field:
    no navigation would come, so the submission is made over HTTP."""
    [form] = forms_of(body)
    assert browser_blocker(form, values) == blocker
