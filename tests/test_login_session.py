"""``login_session()``: a logged-in ``requests.Session`` by HTTP and by browser, real Chromium."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

from crawler.exceptions import LoginError
from crawler.login.session import login_session
from fixtures.tinysite import payments
from fixtures.tinysite.payments import USERS

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

BROWSER = {"SELENIUM_ALLOWED_HOSTS": ["127.0.0.1"]}


def assert_logged_in_as(session: requests.Session, site: TinySite, user: str) -> None:
    page = session.get(site.url(payments.AREA_PATH), allow_redirects=False, timeout=10)
    assert page.status_code == 200
    assert f"<h1>Statements of {user}</h1>" in page.text


def test_by_http_the_form_is_posted_with_its_csrf_token(tinysite: TinySite) -> None:
    with login_session(tinysite.url(payments.CSRF_LOGIN_PATH), "carol", USERS["carol"]) as session:
        assert_logged_in_as(session, tinysite, "carol")
        assert payments.SESSION_COOKIE in session.cookies


def test_by_http_the_books_form_is_posted(tinysite: TinySite) -> None:
    with login_session(tinysite.url(payments.LOGIN_PATH), "brandon", "atigdng") as session:
        assert_logged_in_as(session, tinysite, "brandon")


def test_by_browser_the_cookies_are_handed_to_requests(tinysite: TinySite) -> None:
    with login_session(
        tinysite.url(payments.SCRIPT_LOGIN_PATH),
        "bob",
        USERS["bob"],
        via="browser",
        success_selector="li.to, li.from",
        browser_settings=BROWSER,
    ) as session:
        assert_logged_in_as(session, tinysite, "bob")


def test_by_http_the_script_only_login_is_a_clear_error(tinysite: TinySite) -> None:
    url = tinysite.url(payments.SCRIPT_LOGIN_PATH)
    with pytest.raises(LoginError, match='via="browser"') as raised:
        login_session(url, "bob", USERS["bob"])
    assert raised.value.login_url == url
    assert str(raised.value).startswith(f"login at {url} failed: ")


@pytest.mark.parametrize("via", ["http", "browser"])
@pytest.mark.parametrize(
    ("path", "said"),
    [
        # the book's form shows itself again, the project's also says why (quoted)
        (payments.LOGIN_PATH, "still on the login page after submitting it"),
        (payments.CSRF_LOGIN_PATH, f"(the page says: {payments.LOGIN_ERROR_TEXT})"),
    ],
)
def test_a_wrong_password_raises_login_error_without_the_password(
    tinysite: TinySite, via: str, path: str, said: str
) -> None:
    url = tinysite.url(path)
    with pytest.raises(LoginError) as raised:
        login_session(url, "alice", "wrong-password-xyz", via=via, browser_settings=BROWSER)
    message = str(raised.value)
    assert message.startswith(f"login at {url} failed: ")
    assert said in message
    assert "wrong-password-xyz" not in message


def test_an_unreachable_login_page_is_a_login_error() -> None:
    with pytest.raises(LoginError, match=r"login at http://127\.0\.0\.1:9/login failed"):
        login_session("http://127.0.0.1:9/login", "alice", "password", timeout=5)


def test_via_must_be_http_or_browser() -> None:
    with pytest.raises(ValueError, match="via must be one of"):
        login_session("http://127.0.0.1:9/login", "alice", "password", via="carrier-pigeon")
