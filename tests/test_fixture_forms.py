"""The tinysite forms area, checked over real HTTP with requests and lxml."""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urljoin, urlsplit

import lxml.html
import pytest
import requests

from fixtures.tinysite import forms

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

LOGOUT_WORDS = re.compile(r"log ?out|sign ?out", re.IGNORECASE)


def index_doc(site: TinySite) -> lxml.html.HtmlElement:
    response = requests.get(site.url(forms.INDEX_PATH), timeout=10)
    assert response.status_code == 200
    return lxml.html.fromstring(response.text)


def form_by_id(site: TinySite, form_id: str) -> lxml.html.FormElement:
    [form] = index_doc(site).xpath(f"//form[@id='{form_id}']")
    return form


def _target(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def crawl(
    site: TinySite, get_forms: bool, post_forms: bool, follow_logout: bool = False
) -> set[str]:
    """A policy-following crawler over plain HTTP: the paths it fetched with status 200.

    Forms with a password field are never submitted, and logout links and
    forms are skipped unless ``follow_logout``.
    """
    start = ("GET", forms.INDEX_PATH, ())
    queue, seen, ok = deque([start]), {start}, set()
    while queue:
        method, target, data = queue.popleft()
        response = requests.request(method, site.url(target), data=list(data), timeout=10)
        if response.status_code != 200:
            continue
        ok.add(urlsplit(target).path)
        doc = lxml.html.fromstring(response.text, base_url=site.url(target))
        found = []
        for a in doc.xpath("//a[@href]"):
            if follow_logout or not LOGOUT_WORDS.search(a.text_content()):
                found.append(("GET", _target(urljoin(site.url(target), a.get("href"))), ()))
        for form in doc.forms:
            if form.xpath(".//input[@type='password']"):
                continue
            if not follow_logout and LOGOUT_WORDS.search(form.text_content()):
                continue
            action = _target(form.action)
            values = tuple(form.form_values())
            if form.method == "GET" and get_forms:
                found.append(("GET", f"{action}?{urlencode(values)}", ()))
            elif form.method == "POST" and post_forms:
                found.append(("POST", action, values))
        for request in found:
            if request not in seen:
                seen.add(request)
                queue.append(request)
    return ok


# --- the index and its forms ---------------------------------------------------------------


def test_index_has_one_form_of_each_kind(tinysite: TinySite) -> None:
    doc = index_doc(tinysite)
    assert [(f.get("id"), f.method, f.get("action")) for f in doc.forms] == [
        ("filter", "GET", forms.RESULTS_PATH),
        ("feedback", "POST", forms.FEEDBACK_PATH),
        ("login", "POST", forms.LOGIN_PATH),
        ("signout", "GET", forms.SIGNOUT_PATH),
        (forms.JS_FORM_ID, "GET", forms.NO_SCRIPT_PATH),
    ]
    assert set(doc.xpath("//a/@href")) == {forms.ABOUT_PATH, forms.LOGOUT_PATH}
    [logout] = doc.xpath(f"//a[@href='{forms.LOGOUT_PATH}']")
    assert logout.text_content() == "Log out"


def test_filter_form_submits_its_defaults(tinysite: TinySite) -> None:
    form = form_by_id(tinysite, "filter")
    [select] = form.xpath(".//select")
    assert select.get("name") == "colour"
    assert select.value_options == list(forms.FILTER_COLOURS)
    assert select.value == forms.FILTER_COLOUR != forms.FILTER_COLOURS[0]
    [text] = form.xpath(".//input[@type='text']")
    assert (text.name, text.value) == ("q", forms.FILTER_TEXT)
    assert f"{form.get('action')}?{urlencode(form.form_values())}" == forms.FILTER_URL


@pytest.mark.parametrize("target", [forms.FILTER_URL, forms.RESULTS_PATH + "?colour=red&q="])
def test_results_link_the_result_item(tinysite: TinySite, target: str) -> None:
    response = requests.get(tinysite.url(target), timeout=10)
    assert response.status_code == 200
    assert lxml.html.fromstring(response.text).xpath("//a/@href") == [forms.RESULT_ITEM_PATH]
    assert requests.get(tinysite.url(forms.RESULT_ITEM_PATH), timeout=10).status_code == 200


def test_results_repeat_the_filter_form_with_the_chosen_values(tinysite: TinySite) -> None:
    response = requests.get(tinysite.url(forms.FILTER_URL), timeout=10)
    [form] = lxml.html.fromstring(response.text).forms
    assert (form.get("id"), form.method) == ("filter", "GET")
    assert f"{form.get('action')}?{urlencode(form.form_values())}" == forms.FILTER_URL
    refined = requests.get(tinysite.url(forms.RESULTS_PATH + "?colour=blue&q=x%3Cy"), timeout=10)
    [form] = lxml.html.fromstring(refined.text).forms
    assert form.form_values() == [("colour", "blue"), ("q", "x<y")]


def test_feedback_form_keeps_a_hidden_token(tinysite: TinySite) -> None:
    form = form_by_id(tinysite, "feedback")
    assert form.get("method") == "post"
    [hidden] = form.xpath(".//input[@type='hidden']")
    assert (hidden.name, hidden.value) == ("csrf_token", forms.FEEDBACK_TOKEN)
    assert dict(form.form_values())["message"]


def test_feedback_get_is_405(tinysite: TinySite) -> None:
    response = requests.get(tinysite.url(forms.FEEDBACK_PATH), timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_feedback_post_thanks_and_links_on(tinysite: TinySite) -> None:
    data = form_by_id(tinysite, "feedback").form_values()
    response = requests.post(tinysite.url(forms.FEEDBACK_PATH), data=data, timeout=10)
    assert response.status_code == 200
    doc = lxml.html.fromstring(response.text)
    assert doc.findtext(".//h1") == "Thank you"
    assert doc.xpath("//a/@href") == [forms.AFTER_POST_PATH]
    assert requests.get(tinysite.url(forms.AFTER_POST_PATH), timeout=10).status_code == 200


@pytest.mark.parametrize("token", [None, "", "guessed"])
def test_feedback_post_without_its_token_is_403(tinysite: TinySite, token: str | None) -> None:
    data = {"message": "hello"} if token is None else {"message": "hi", "csrf_token": token}
    response = requests.post(tinysite.url(forms.FEEDBACK_PATH), data=data, timeout=10)
    assert response.status_code == 403


def test_login_form_has_a_password_field_and_its_posts_are_logged(tinysite: TinySite) -> None:
    form = form_by_id(tinysite, "login")
    assert form.xpath(".//input[@type='password']")
    assert requests.get(tinysite.url(forms.LOGIN_PATH), timeout=10).status_code == 405
    before = len(tinysite.requests_seen)
    data = {"username": "u", "password": "p"}
    response = requests.post(tinysite.url(forms.LOGIN_PATH), data=data, timeout=10)
    assert response.status_code == 200
    assert lxml.html.fromstring(response.text).xpath("//a/@href") == [forms.AFTER_LOGIN_PATH]
    posts = [r.target for r in tinysite.requests_seen[before:] if r.method == "POST"]
    assert posts == [forms.LOGIN_PATH]


def test_signout_form_and_logout_link_lead_to_their_pages(tinysite: TinySite) -> None:
    form = form_by_id(tinysite, "signout")
    assert form.text_content().strip() == "Sign out"
    assert form.form_values() == []
    signed_out = requests.get(tinysite.url(forms.SIGNOUT_PATH), timeout=10)
    assert lxml.html.fromstring(signed_out.text).xpath("//a/@href") == [forms.AFTER_SIGNOUT_PATH]
    assert requests.get(tinysite.url(forms.LOGOUT_PATH), timeout=10).status_code == 200


def test_js_form_navigates_by_script_and_hides_its_target(tinysite: TinySite) -> None:
    doc = index_doc(tinysite)
    [form] = doc.xpath(f"//form[@id='{forms.JS_FORM_ID}']")
    assert form.form_values() == [("q", forms.JS_DEFAULT)]
    assert f"{form.get('action')}?{urlencode(form.form_values())}" == forms.NO_SCRIPT_URL
    [script] = doc.xpath("//script")
    code = script.text
    assert f'getElementById("{forms.JS_FORM_ID}")' in code
    assert "preventDefault()" in code
    assert "location.href" in code
    assert "js-result.html" not in code  # no URL for a script scanner to find
    # What the handler builds, resolved against the index: JS_RESULT_URL.
    pieces = "".join(re.findall(r'"([^"]*)"', code.split("location.href =")[1].split(";")[0]))
    built = urljoin(tinysite.url(forms.INDEX_PATH), pieces + forms.JS_DEFAULT)
    assert _target(built) == forms.JS_RESULT_URL


def test_js_result_links_on_and_no_script_is_a_dead_end(tinysite: TinySite) -> None:
    result = requests.get(tinysite.url(forms.JS_RESULT_URL), timeout=10)
    assert result.status_code == 200
    assert lxml.html.fromstring(result.text).xpath("//a/@href") == [forms.AFTER_JS_PATH]
    fallback = requests.get(tinysite.url(forms.NO_SCRIPT_URL), timeout=10)
    assert fallback.status_code == 200
    assert lxml.html.fromstring(fallback.text).xpath("//a/@href") == []


# --- what each policy reaches --------------------------------------------------------------


@pytest.mark.parametrize(
    ("get_forms", "post_forms", "expected"),
    [
        (False, False, forms.NO_FORMS_PATHS),
        (True, False, forms.GET_FORMS_PATHS),
        (True, True, forms.ALL_FORMS_PATHS),
    ],
    ids=["none", "get", "all"],
)
def test_what_each_policy_reaches(
    tinysite: TinySite, get_forms: bool, post_forms: bool, expected: frozenset[str]
) -> None:
    before = len(tinysite.requests_seen)
    assert crawl(tinysite, get_forms, post_forms) == expected
    requested = {urlsplit(r.target).path for r in tinysite.requests_seen[before:]}
    assert not requested & forms.NEVER_PATHS
    assert not requested & forms.LOGOUT_PATHS
    posts = [r.target for r in tinysite.requests_seen[before:] if r.method == "POST"]
    assert posts == ([forms.FEEDBACK_PATH] if post_forms else [])


def test_following_logout_reaches_the_logout_pages_only(tinysite: TinySite) -> None:
    found = crawl(tinysite, get_forms=True, post_forms=True, follow_logout=True)
    assert found == forms.ALL_FORMS_PATHS | forms.LOGOUT_PATHS


def test_browser_sets_swap_the_fallback_for_the_script_target() -> None:
    http_get, browser_get = forms.GET_FORMS_PATHS, forms.BROWSER_GET_FORMS_PATHS
    assert browser_get - http_get == {forms.JS_RESULT_PATH, forms.AFTER_JS_PATH}
    assert http_get - browser_get == {forms.NO_SCRIPT_PATH}
    added_by_post = forms.BROWSER_ALL_FORMS_PATHS - browser_get
    assert added_by_post == {forms.FEEDBACK_PATH, forms.AFTER_POST_PATH}
    every = forms.ALL_FORMS_PATHS | forms.BROWSER_ALL_FORMS_PATHS
    assert not every & (forms.NEVER_PATHS | forms.LOGOUT_PATHS)


def test_inline_page_has_two_script_handled_forms(tinysite: TinySite) -> None:
    response = requests.get(tinysite.url(forms.INLINE_PATH), timeout=10)
    doc = lxml.html.fromstring(response.text)
    assert [f.get("id") for f in doc.forms] == ["replace", "inert"]
    assert forms.INLINE_TEXT in doc.xpath("//script")[0].text
    assert forms.INLINE_PATH not in index_doc(tinysite).xpath("//a/@href")


def test_area_root_without_slash_redirects_and_unknown_paths_are_404(tinysite: TinySite) -> None:
    response = requests.get(tinysite.url("/forms"), allow_redirects=False, timeout=10)
    assert (response.status_code, response.headers["Location"]) == (302, forms.INDEX_PATH)
    assert requests.get(tinysite.url("/forms/nothing.html"), timeout=10).status_code == 404
