"""Finding the login form, what submitting it sends, and telling success from failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import lxml.html
import pytest
import requests

from crawler.login.browser import selectors
from crawler.login.check import login_problem, same_page, scrub
from crawler.login.config import LoginConfig
from crawler.login.form import find_login_form, has_password_field
from fixtures.tinysite import payments

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

URL = "http://site.test/account/login"


def config(**overrides: object) -> LoginConfig:
    values: dict[str, object] = {
        "url": URL,
        "username": "alice",
        "password": "s3cret-value",
        "login_with": "auto",
        "max_relogins": 3,
        "timeout": 15.0,
    }
    return LoginConfig(**{**values, **overrides})  # type: ignore[arg-type]


def test_the_fixture_login_form_carries_its_csrf_token_and_next(tinysite: TinySite) -> None:
    page = requests.get(
        tinysite.url(payments.CSRF_LOGIN_PATH), params={"next": "/pay/area/"}, timeout=10
    )
    form = find_login_form(page.text, page.url)
    assert form is not None
    assert (form.action, form.method) == (tinysite.url(payments.CSRF_LOGIN_PATH), "POST")
    assert (form.username_field, form.password_field) == ("username", "password")
    [token] = lxml.html.fromstring(page.text).xpath("//input[@name='csrf_token']/@value")
    assert form.submission("alice", "pw") == [
        ("csrf_token", token),
        ("next", "/pay/area/"),
        ("username", "alice"),
        ("password", "pw"),
    ]


def test_the_books_login_form_posts_back_to_its_own_url(tinysite: TinySite) -> None:
    # login.html: no action, an <input> without a type for the user
    page = requests.get(tinysite.url(payments.login_url_for("/pay/area/")), timeout=10)
    form = find_login_form(page.text, page.url)
    assert form is not None
    assert (form.action, form.method) == (page.url, "POST")
    assert page.url.endswith("/pay/login?next=%2Fpay%2Farea%2F")
    assert (form.username_field, form.password_field) == ("username", "password")
    assert form.submission("brandon", "pw") == [("username", "brandon"), ("password", "pw")]


def test_the_script_only_login_has_no_form_to_submit(tinysite: TinySite) -> None:
    page = requests.get(tinysite.url(payments.SCRIPT_LOGIN_PATH), timeout=10)
    assert find_login_form(page.text, page.url) is None
    assert has_password_field(page.text)  # inputs, but in no form


def test_the_login_form_is_chosen_among_others_and_submits_like_a_browser() -> None:
    html = """
    <form action="/search"><input name="q" value="ships"></form>
    <form action="/signup" method="post">
      <input name="email"><input type="password" name="p1"><input type="password" name="p2">
    </form>
    <form action=" session " method="POST">
      <input type="hidden" name="token" value="T">
      <input type="text" name="nickname" value="ignored">
      <input type="email" name="login_email">
      <input type="password" name="secret">
      <input type="checkbox" name="remember" checked>
      <input type="checkbox" name="spam">
      <input type="text" name="off" disabled value="x">
      <select name="lang"><option value="en">En</option><option value="fr" selected>Fr</option>
      </select>
      <textarea name="note">hi</textarea>
      <input type="submit" name="go" value="Sign in"><input type="submit" name="other" value="No">
    </form>
    """
    form = find_login_form(html, URL)
    assert form is not None
    assert (form.action, form.method) == ("http://site.test/account/session", "POST")
    assert (form.username_field, form.password_field) == ("login_email", "secret")
    assert form.submission("alice@example.org", "pw") == [
        ("token", "T"),
        ("nickname", "ignored"),
        ("login_email", "alice@example.org"),
        ("secret", "pw"),
        ("remember", "on"),
        ("lang", "fr"),
        ("note", "hi"),
        ("go", "Sign in"),
    ]


def test_field_names_can_be_given_and_a_get_form_stays_get() -> None:
    html = '<form><input name="a"><input name="b"><input type="password" name="pin"></form>'
    detected = find_login_form(html, URL)
    assert detected is not None
    assert (detected.username_field, detected.method, detected.action) == ("b", "GET", URL)
    named = find_login_form(html, URL, username_field="a", password_field="pin")
    assert named is not None
    assert named.submission("u", "p") == [("a", "u"), ("b", ""), ("pin", "p")]
    assert find_login_form("<p>no form</p>", URL) is None


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("http://site.test/account/login", True),
        ("http://SITE.test:80/account/login?next=%2Fx", True),
        ("https://site.test/account/login", False),
        ("http://site.test/account/login/", False),
        ("http://site.test/account/", False),
        ("http://other.test/account/login", False),
    ],
)
def test_same_page_ignores_the_query(url: str, same: bool) -> None:
    assert same_page(url, URL) is same


def test_a_login_that_left_the_login_page_worked() -> None:
    assert login_problem(config(), "http://site.test/home", 200, "<h1>Hi</h1>") is None


@pytest.mark.parametrize(
    ("url", "status", "html", "expected"),
    [
        (URL, 200, '<p class="error">Bad password</p>', "still on the login page"),
        (URL, 200, '<p class="error">Bad password</p>', "the page says: Bad password"),
        ("http://site.test/x", 403, "", "HTTP 403"),
        ("http://site.test/x", 200, '<form><input type="password"></form>', "still asks"),
    ],
)
def test_failed_logins_say_why(url: str, status: int, html: str, expected: str) -> None:
    problem = login_problem(config(), url, status, html)
    assert problem is not None and expected in problem


def test_success_selector_and_failure_text() -> None:
    strict = config(success_selector="a.logout", failure_text="Try again")
    assert login_problem(strict, URL, 200, '<a class="logout">out</a>') is None
    problem = login_problem(strict, "http://site.test/home", 200, "<p>Welcome</p>")
    assert problem is not None and "a.logout" in problem
    problem = login_problem(strict, "http://site.test/home", 200, "<b>Try again</b>")
    assert problem is not None and "Try again" in problem


def test_scrub_removes_the_password() -> None:
    assert scrub("wrong: s3cret-value!", "s3cret-value") == "wrong: ***!"


def test_browser_selectors_follow_the_password_field_or_the_given_names() -> None:
    username, password, submit = selectors(config())
    assert password == "xpath:(//input[translate(@type, 'PASWORD', 'pasword') = 'password'])[1]"
    assert username.startswith(password + "/preceding::input")
    assert submit.startswith(password + "/following::")
    named = selectors(config(username_field="it's", password_field="pw", submit_selector="#go"))
    assert named == (
        'xpath:(//*[@name = "it\'s"])[1]',
        "xpath:(//input[@name = 'pw'])[1]",
        "#go",
    )


def test_the_login_form_follows_the_form_discovery_rules() -> None:
    """Disabled fieldsets are left out, the submitter's formaction and formmethod
    win, and an image button sends its click coordinates, as a browser does."""
    html = """
    <form action="/wrong" method="get">
      <fieldset disabled><input name="legacy_token" value="old"></fieldset>
      <input name="user"><input type="password" name="pw">
      <input type="image" name="go" src="go.png" formaction="/session" formmethod="post">
    </form>
    """
    form = find_login_form(html, URL)
    assert form is not None
    assert (form.action, form.method) == ("http://site.test/session", "POST")
    assert form.submission("alice", "pw1") == [
        ("user", "alice"),
        ("pw", "pw1"),
        ("go.x", "0"),
        ("go.y", "0"),
    ]


def test_the_login_form_is_read_with_its_form_owners_and_disabled_fields() -> None:
    html = (
        '<form id="signin" method="post" action="/session"><fieldset disabled>'
        '<input name="legacy" value="1"></fieldset><input type="hidden" name="csrf" value="t">'
        '<input type="password" name="pw"><button name="go" value="in">Sign in</button></form>'
        '<input name="login" form="signin" autocomplete="username">'  # outside, joined by id
    )
    form = find_login_form(html, URL)
    assert form is not None
    assert (form.action, form.method) == ("http://site.test/session", "POST")
    assert (form.username_field, form.password_field) == ("login", "pw")
    assert form.submission("alice", "s3cret") == [
        ("csrf", "t"),
        ("pw", "s3cret"),
        ("go", "in"),
        ("login", "alice"),
    ]
