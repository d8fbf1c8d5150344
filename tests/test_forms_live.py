"""The live form read against Chromium's own entry list (``new FormData``), and
the served-HTML reader against both, on a corpus of form snippets.

For every form of every page and every enabled submit button of it (or none),
the entries the model computes from the live read
(:func:`crawler.forms.live.live_forms`) must be exactly what Chromium's
``new FormData(form, submitter)`` holds (HTML Standard, 4.10.21.4
Constructing the entry list): same names, values and order.  The model's
submission (action, method, encoding type, target) must match the
browser's IDL attributes of the form and submitter.  Where lxml builds the
same tree as the browser's parser, the served-HTML reader
(:func:`crawler.forms.discovery.discover_forms`) must agree too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.http import HtmlResponse

from crawler.addon import framework_settings
from crawler.browser.config import BrowserConfig
from crawler.browser.request import BrowserOptions
from crawler.browser.session import BrowserSession, RenderSpec
from crawler.forms.discovery import discover_forms
from crawler.forms.live import live_forms
from fixtures.tinysite.server import TinySite
from tests.browser.conftest import browser_settings, needs_chromium, processes_under
from tests.formpages import FormPages

if TYPE_CHECKING:
    from collections.abc import Iterator

    from crawler.forms.model import FormControl, HtmlForm

# What the browser says each form sends: for every form, for every enabled submit
# button associated with it in tree order (or null when there is none), the
# FormData entries (a File as its name) and the submission's action, method,
# encoding type and target as the form's and submitter's IDL attributes give them.
BROWSER_ANSWER = """
const base = document.querySelector("base[target]");
const isSubmit = (el) => (el.tagName === "BUTTON" && el.type === "submit") ||
  (el.tagName === "INPUT" && (el.type === "submit" || el.type === "image"));
const answer = [];
for (const form of document.querySelectorAll("form")) {
  const buttons = Array.from(document.querySelectorAll("input, button")).filter((el) =>
    el.form === form && !el.closest("datalist") && isSubmit(el) && !el.matches(":disabled"));
  answer.push((buttons.length ? buttons : [null]).map((s) => {
    const data = s === null ? new FormData(form) : new FormData(form, s);
    const entries = [];
    for (const [name, value] of data) {
      entries.push([name, typeof value === "string" ? value : value.name]);
    }
    const has = (name) => s !== null && s.hasAttribute(name);
    const formTarget = form.hasAttribute("target") ? form.target
      : (base ? base.getAttribute("target") : "");
    return {
      entries: entries,
      action: has("formaction") ? s.formAction : form.action,
      method: (has("formmethod") ? s.formMethod : form.method).toUpperCase(),
      enctype: has("formenctype") ? s.formEnctype : form.enctype,
      target: has("formtarget") ? s.formTarget : formTarget,
    };
  }));
}
return JSON.stringify(answer);
"""

# name: (head, body, lxml builds the browser's tree)
CORPUS: dict[str, tuple[str, str, bool]] = {
    "form-attribute": (
        "",
        '<form id="f1" action="/a"><input name="a" value="1"></form>'
        '<input name="b" value="2" form="f1">'
        '<form id="f2"><input name="c" value="3" form="f1"><input name="d" value="4">'
        '<button name="go" value="f2">Go</button></form>'
        '<button form="f1" name="outside" value="o">Outside</button>',
        True,
    ),
    "form-attribute-to-no-form": (
        "",
        '<div id="notaform"></div><form><input name="a" value="1">'
        '<input name="b" value="2" form="notaform"><input name="c" value="3" form="missing">'
        '<input name="e" value="5" form=""><button>Go</button></form>',
        True,
    ),
    "nested-form": (
        "",
        '<form id="outer"><input name="x" value="1"><form id="inner"><input name="y" value="2">'
        '</form><input name="z" value="3"></form>',
        False,  # the parser ignores the inner <form> tag; lxml closes the outer form
    ),
    "table": (
        "",
        '<table><form id="t" action="/t"><tr><td><input name="a" value="1"></td>'
        '<td><select name="s"><option>x</option><option selected>y</option></select></td>'
        '<td><button name="b" value="go">Go</button></td></tr></form></table>',
        False,  # the browser foster-parents the form: only its parser joins the controls
    ),
    "template-and-datalist": (
        "",
        '<form><input name="a" list="dl" value="1"><datalist id="dl"><option value="x">'
        "<option>y</option></datalist>"
        '<template><input name="t" value="3"><button name="tb">T</button></template>'
        "<button>Go</button></form>",
        True,
    ),
    "disabled-fieldsets": (
        "",
        '<form><fieldset disabled><legend><input name="first-legend" value="1">'
        '<button name="lb" value="l">In legend</button></legend>'
        '<legend><input name="second-legend" value="2"></legend>'
        '<input name="in-body" value="3"></fieldset>'
        '<fieldset disabled><fieldset><legend><input name="inner-legend" value="4"></legend>'
        "</fieldset></fieldset>"
        '<fieldset><legend><input name="enabled" value="5"></legend></fieldset>'
        '<input name="off" value="6" disabled><input type="checkbox" name="c" checked disabled>'
        "</form>",
        True,
    ),
    "submitters": (
        "",
        '<form action="/a" method="post"><input name="q" value="1">'
        '<button name="b0" value="v0" disabled>Off</button>'
        '<button name="b1" value="v1" formaction="/b?x=1" formmethod="bogus">One</button>'
        '<button name="b2" value="v2" formenctype="multipart/form-data" formtarget="_blank">'
        "Two</button>"
        '<input type="submit" name="s3" value="Three" formmethod="GET" formenctype="text/plain">'
        '<input type="submit" value="Four" formenctype="TEXT/PLAIN">'
        '<button type="button" name="nb" value="x">Not one</button>'
        '<input type="reset" name="r" value="Reset"></form>',
        True,
    ),
    "base-target": (
        '<base target="results">',
        '<form action="/a"><input name="q" value="1"><button>Go</button>'
        '<button formtarget="_self">Here</button></form>'
        '<form target="_top"><input name="q" value="2"><button>Go</button></form>',
        True,
    ),
    "image-buttons": (
        "",
        '<form id="named"><input name="a" value="1"><input type="image" name="map" alt="Map">'
        '<input type="image" name="other" alt="Other" formaction="/o"></form>'
        '<form id="nameless"><input name="a" value="2"><input type="image" alt="Go"></form>',
        True,
    ),
    "selects": (
        "",
        '<form><select name="multi" multiple><option selected>a</option><option>b</option>'
        '<option selected value="c">C</option></select>'
        '<select name="multi-none" multiple><option>a</option></select>'
        '<select name="first"><option disabled>x</option><option>y</option><option>z</option>'
        "</select>"
        '<select name="listbox" size="3"><option>a</option><option>b</option></select>'
        '<select name="two-selected"><option selected>a</option><option selected>b</option>'
        "</select>"
        '<select name="empty"></select>'
        '<select name="empty-value"><option value="" selected>Any</option><option>b</option>'
        "</select>"
        '<select name="text"><option>  spaced\n  out  </option></select>'
        '<select name="nbsp"><option>a&nbsp;b</option></select>'
        "<button>Go</button></form>",
        True,
    ),
    "optgroups": (
        "",
        '<form><select name="g1"><optgroup disabled><option>a</option></optgroup>'
        "<option>b</option></select>"
        '<select name="g2"><optgroup disabled><option selected>a</option></optgroup>'
        "<option>b</option></select>"
        '<select name="g3"><option selected disabled>a</option><option>b</option></select>'
        '<select name="g4" multiple><optgroup label="x"><option selected>a</option></optgroup>'
        '<optgroup label="y" disabled><option selected>b</option></optgroup></select>'
        "</form>",
        True,
    ),
    "charset": (
        "",
        '<form accept-charset="utf-8"><input type="hidden" name="_charset_">'
        '<input type="hidden" name="_CHARSET_" value="x"><input type="text" name="_charset_">'
        "</form>",
        True,
    ),
    "dirname": (
        "",
        '<form><input name="t" value="hello" dirname="t.dir">'
        '<input type="search" name="s" value="s" dirname="s.dir">'
        '<textarea name="ta" dirname="ta.dir">x</textarea>'
        '<input type="number" name="n" value="1" dirname="n.dir"></form>',
        True,
    ),
    "checkables": (
        "",
        '<form><input type="checkbox" name="c1" checked><input type="checkbox" name="c2">'
        '<input type="checkbox" name="c3" value="yes" checked>'
        '<input type="radio" name="r" value="a"><input type="radio" name="r" value="b" checked>'
        '<input type="radio" name="none" value="a"><input type="radio" name="r2" checked>'
        '<input type="radio" name="dup" value="1" checked><input type="radio" name="dup" value="2"'
        ' checked><input type="radio" name="dup" value="3"></form>',
        True,
    ),
    "textarea-and-hidden": (
        "",
        '<form method="post"><textarea name="n">\nfirst\r\nsecond\nthird</textarea>'
        '<textarea name="lead">\n\nkept</textarea>'
        '<input type="hidden" name="h" value="a&#10;b"><input name="t" value="a&#10;b&#13;c">'
        '<input type="password" name="p" value="pw"><input name="" value="nameless">'
        '<input value="no name"><input type="file" name="upload">'
        '<input type="file" name="more" multiple></form>',
        True,
    ),
    "sanitized-values": (
        "",
        '<form><input type="number" name="n1" value="abc"><input type="number" name="n2"'
        ' value="1e3"><input type="number" name="n3" value=".5"><input type="number" name="n4"'
        ' value="+1"><input type="number" name="n5" value=" 1">'
        '<input type="range" name="r1"><input type="range" name="r2" min="0" max="10" step="3">'
        '<input type="range" name="r3" value="150"><input type="range" name="r4" min="5"'
        ' max="1"><input type="range" name="r5" value="7.3" step="any">'
        '<input type="range" name="r6" min="0" max="10" step="4" value="10">'
        '<input type="range" name="r7" min="0" max="13"><input type="range" name="r8" min="0"'
        ' max="10" step="2"><input type="range" name="r9" min="0" max="1" step="0.5">'
        '<input type="color" name="c1" value="#ABCDEF"><input type="color" name="c2">'
        '<input type="date" name="d1" value="2024-02-29"><input type="date" name="d2"'
        ' value="2023-02-29"><input type="month" name="m1" value="2024-13">'
        '<input type="month" name="m2" value="2024-12"><input type="week" name="w1"'
        ' value="2020-W53"><input type="week" name="w2" value="2024-W53">'
        '<input type="time" name="t1" value="12:00:00.5"><input type="time" name="t2"'
        ' value="24:00"><input type="time" name="t3" value="12:00:00">'
        '<input type="datetime-local" name="dt1" value="2024-01-01 10:00">'
        '<input type="datetime-local" name="dt2" value="2024-01-01T10:00:00">'
        '<input type="datetime-local" name="dt3" value="2024-01-01T10:00:30.500">'
        '<input type="datetime-local" name="dt4" value="2024-01-01T10:00:00.000">'
        '<input type="email" name="e" value="  a@b.example  ">'
        '<input type="url" name="u" value=" http://x.example/ ">'
        '<input type="tel" name="tel" value="+1&#10;555"><input type="fancy" name="f" value="x">'
        "</form>",
        True,
    ),
    "types": (
        "",
        '<form><input TYPE="CHECKBOX" name="c" checked><input type=" text " name="t" value="x">'
        '<input type="datetime" name="old" value="x"><button type="bogus" name="b" value="1">B'
        '</button><input type="SUBMIT" name="s" value="S"><button type="reset" name="r">R</button>'
        "</form>",
        True,
    ),
    "css-colours": (
        "",
        '<form><input type="color" name="named" value="red"><input type="color" name="short"'
        ' value="#abc"></form>',
        False,  # the served reader knows only #rrggbb; Chromium takes any CSS colour
    ),
}

# Where Chromium departs from the HTML Standard (4.10.21.4 Constructing the entry
# list), the model follows the standard: an input inside a <datalist> is left out,
# and an empty dirname attribute adds nothing.  Chromium 156 adds both entries (to
# its real submissions too): this test says so, and fails when either side changes.
DEPARTURES = {
    "datalist-input": (
        '<form><input name="a" value="1"><datalist id="dl"><input name="in-list" value="2">'
        "</datalist><button>Go</button></form>",
        ("in-list", "2"),
    ),
    "empty-dirname": ('<form><input name="e" value="x" dirname=""></form>', ("", "ltr")),
}


@pytest.fixture(scope="module")
def pages() -> FormPages:
    pages = FormPages()
    for name, (head, body, _) in CORPUS.items():
        pages.add(name, body, head)
    for name, (body, _) in DEPARTURES.items():
        pages.add(name, body)
    return pages


@pytest.fixture(scope="module")
def site(pages: FormPages) -> Iterator[TinySite]:
    with TinySite(apps=[pages]) as server:
        yield server


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserSession]:
    """One browser for the module's pages; none of its processes left behind."""
    root = str(tmp_path_factory.mktemp("browsers"))
    settings = browser_settings(root)
    session = BrowserSession(BrowserConfig.from_settings(framework_settings(settings)), 1).start()
    yield session
    session.quit()
    assert processes_under(root) == [], "browser processes left behind"


def submitters(form: HtmlForm) -> list[FormControl | None]:
    return list(form.submitters) or [None]


def model_answer(form: HtmlForm) -> list[dict[str, Any]]:
    answer = []
    for submitter in submitters(form):
        how = form.submission(submitter)
        answer.append(
            {
                "entries": [list(entry) for entry in form.entries_for(submitter)],
                "action": how.action,
                "method": how.method,
                "enctype": how.enctype,
                "target": how.target,
            }
        )
    return answer


def browser_view(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The browser's answer for comparing: a GET submission is always URL-encoded,
    and the action has no fragment."""
    for one in raw:
        if one["method"] == "GET":
            one["enctype"] = "application/x-www-form-urlencoded"
        one["action"] = one["action"].split("#", 1)[0]
    return raw


@needs_chromium
@pytest.mark.parametrize("name", list(CORPUS))
def test_live_read_matches_the_browsers_form_data(
    name: str, pages: FormPages, site: TinySite, session: BrowserSession
) -> None:
    url = site.url(f"/formpages/{name}")
    browser, live = browser_and_model(session, url)
    assert browser, "the corpus page has forms"
    assert live == browser
    if CORPUS[name][2]:
        served = HtmlResponse(url, body=pages.page_bytes(name), encoding="utf-8")
        assert [model_answer(form) for form in discover_forms(served)] == browser


def browser_and_model(
    session: BrowserSession, url: str
) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]]:
    result = session.render(RenderSpec(url=url, options=BrowserOptions(script=BROWSER_ANSWER)))
    browser = [browser_view(form) for form in json.loads(result.script_result)]
    return browser, [model_answer(form) for form in live_forms(result.live_forms, result.url)]


@needs_chromium
@pytest.mark.parametrize("name", list(DEPARTURES))
def test_where_chromium_departs_from_the_standard(
    name: str, pages: FormPages, site: TinySite, session: BrowserSession
) -> None:
    url = site.url(f"/formpages/{name}")
    [[browser]], [[model]] = browser_and_model(session, url)
    extra = list(DEPARTURES[name][1])
    assert extra not in model["entries"]
    assert [e for e in browser["entries"] if e != extra] == model["entries"]
    assert extra in browser["entries"]
    served = HtmlResponse(url, body=pages.page_bytes(name), encoding="utf-8")
    assert [model_answer(form) for form in discover_forms(served)] == [[model]]
