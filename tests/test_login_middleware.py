"""Logged-in crawls of the tinysite payments app with ``crawler crawl --login``, real Chromium."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest
import requests

from fixtures.tinysite import payments
from fixtures.tinysite.apps import default_apps
from fixtures.tinysite.payments import USERS, PaymentsApp
from fixtures.tinysite.server import SiteResponse, TinySite, redirect
from tests.logintools import (
    BROWSER_OPTIONS,
    PASSWORD_ENV,
    LoginCrawl,
    login_crawl,
    logouts_avoided,
)

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import SiteRequest


@pytest.fixture
def alice(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, USERS["alice"])
    return "alice"


def assert_reached_every_protected_page(crawl: LoginCrawl, pages: int | None = None) -> None:
    result = crawl.result
    assert result.returncode == 0, result.stderr
    assert payments.protected_targets(pages) <= crawl.ok_targets()
    assert payments.LOGOUT_PATH not in crawl.seen_paths()
    # the links were there, and dropped: by the spider, or failing that by the guard
    assert logouts_avoided(result.stats) >= 1
    assert not [p for p in result.pages if p["final_url"].startswith(crawl.login_url)]


@pytest.fixture(scope="module")
def http_crawl(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> LoginCrawl:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, USERS["alice"])
        return login_crawl(
            tinysite,
            tmp_path_factory.mktemp("http"),
            "--login-with",
            "http",
            login=payments.CSRF_LOGIN_PATH,  # the form with a CSRF token and a pre-session
        )


@pytest.fixture(scope="module")
def browser_crawl(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> LoginCrawl:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, USERS["alice"])
        return login_crawl(
            tinysite,
            tmp_path_factory.mktemp("browser"),
            "--login-with",
            "browser",
            *BROWSER_OPTIONS,
        )


def test_http_login_reaches_every_protected_page(http_crawl: LoginCrawl) -> None:
    assert_reached_every_protected_page(http_crawl)
    stats = http_crawl.result.stats
    assert (stats["login/logins"], stats.get("login/relogins", 0)) == (1, 0)
    # One GET of the form, one POST of it with the CSRF token; nothing rendered.
    assert http_crawl.seen_paths("POST") == [payments.CSRF_LOGIN_PATH]
    [post] = [r for r in http_crawl.seen if r.method == "POST"]
    assert payments.PRESESSION_COOKIE in post.cookies
    assert "selenium/renders" not in stats
    assert not any(page["rendered"] for page in http_crawl.result.pages)


def test_browser_login_hands_the_session_to_plain_http(browser_crawl: LoginCrawl) -> None:
    assert_reached_every_protected_page(browser_crawl)
    stats = browser_crawl.result.stats
    assert stats["login/logins"] == 1
    assert stats["selenium/renders"] == 1  # the login page, nothing else
    assert not any(page["rendered"] for page in browser_crawl.result.pages)
    # The browser posted the form; Scrapy then sent the browser's session cookie.
    posts = [r for r in browser_crawl.seen if r.method == "POST"]
    assert [r.target for r in posts] == [payments.LOGIN_PATH]
    area = [r for r in browser_crawl.seen if r.target == payments.AREA_PATH]
    assert area and all(payments.SESSION_COOKIE in r.cookies for r in area)


def test_the_script_only_login_works_in_the_browser(
    tinysite: TinySite, tmp_path: Path, alice: str
) -> None:
    crawl = login_crawl(
        tinysite,
        tmp_path,
        "--login-with",
        "browser",
        *BROWSER_OPTIONS,
        login=payments.SCRIPT_LOGIN_PATH,
    )
    assert_reached_every_protected_page(crawl)
    assert payments.API_LOGIN_PATH in crawl.seen_paths("POST")
    assert not any(page["rendered"] for page in crawl.result.pages)


def test_auto_falls_back_to_the_browser_when_http_finds_no_form(
    tinysite: TinySite, tmp_path: Path, alice: str
) -> None:
    crawl = login_crawl(tinysite, tmp_path, *BROWSER_OPTIONS, login=payments.SCRIPT_LOGIN_PATH)
    assert_reached_every_protected_page(crawl)
    stats = crawl.result.stats
    assert (stats["login/logins"], stats["login/http_fallbacks"]) == (1, 1)
    assert "in the browser, after HTTP failed" in crawl.result.stderr


def assert_clear_login_failure(crawl: LoginCrawl, *said: str) -> None:
    result = crawl.result
    assert result.returncode == 1
    assert f"error: login at {crawl.login_url} failed" in result.stderr
    for text in said:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert result.runs[-1]["finish_reason"] == "login_failed"
    assert result.pages == []  # not an empty crawl that looks fine: no page at all
    assert not [p for p in crawl.seen_paths() if p.startswith(payments.AREA_PATH)]


def test_the_script_only_login_fails_clearly_over_http(
    tinysite: TinySite, tmp_path: Path, alice: str
) -> None:
    crawl = login_crawl(
        tinysite, tmp_path, "--login-with", "http", login=payments.SCRIPT_LOGIN_PATH
    )
    assert_clear_login_failure(crawl, "no form with a password field", "--login-with browser")
    assert crawl.result.stats["login/failures"] == 1


@pytest.mark.parametrize(
    ("login", "said"),
    [
        (payments.LOGIN_PATH, "still on the login page after submitting it"),
        (payments.CSRF_LOGIN_PATH, payments.LOGIN_ERROR_TEXT),  # the page's message, quoted
    ],
)
def test_a_wrong_password_is_a_clear_error(
    tinysite: TinySite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, login: str, said: str
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-alices-password")
    crawl = login_crawl(tinysite, tmp_path, "--login-with", "http", login=login)
    assert_clear_login_failure(crawl, said)
    assert "not-alices-password" not in crawl.result.stderr + crawl.result.stdout


def test_a_missing_password_variable_stops_before_crawling(
    tinysite: TinySite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    crawl = login_crawl(tinysite, tmp_path)
    assert crawl.result.returncode == 2
    assert f"environment variable {PASSWORD_ENV}" in crawl.result.stderr
    assert crawl.seen == []


def test_login_options_need_each_other(tinysite: TinySite, tmp_path: Path) -> None:
    from tests.crawltools import crawl

    result = crawl(tinysite.url("/pay/"), tmp_path, "--username", "alice")
    assert result.returncode == 2
    assert "--username only makes sense with --login" in result.stderr


def expire_after_login(
    site: TinySite, user: str, requests_left: int
) -> tuple[threading.Thread, list[int]]:
    """Arm ``expire-after`` on the next session of ``user`` as soon as it exists.

    The fixture's ``expire-after`` only counts down sessions that exist, so it
    is posted from a thread the moment the crawl's login has created one;
    the crawl's first page is served with ``?delay=`` meanwhile, so no page
    of the crawl slips through before the count starts.
    """
    [app] = [a for a in site.apps if isinstance(a, PaymentsApp)]
    before = app.session_count(user)
    armed: list[int] = []

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if app.session_count(user) > before:
                response = requests.post(
                    site.url(payments.EXPIRE_AFTER_PATH),
                    params={"requests": str(requests_left), "user": user},
                    timeout=10,
                )
                armed.append(response.json()["sessions"])
                return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, armed


def test_an_expired_session_leads_to_one_relogin_and_no_missing_page(
    tinysite: TinySite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, USERS["carol"])
    pages = 20
    watcher, armed = expire_after_login(tinysite, "carol", requests_left=6)
    crawl = login_crawl(
        tinysite,
        tmp_path,
        "--login-with",
        "http",
        start=f"{payments.AREA_PATH}?pages={pages}&delay=1500",
        username="carol",
    )
    watcher.join(timeout=10)
    assert armed and armed[0] >= 1, "the session was never armed to expire"
    assert_reached_every_protected_page(crawl, pages)
    stats = crawl.result.stats
    assert (stats["login/logins"], stats["login/relogins"]) == (2, 1)
    assert stats["login/expired_responses"] >= 1
    assert crawl.seen_paths("POST").count(payments.LOGIN_PATH) == 2
    redirected = [
        r for r in crawl.seen if r.target.startswith(payments.AREA_PATH) and not r.cookies
    ]
    assert redirected == []  # every page was asked for with a session cookie


class AdminOnlyApp:
    """Pages that send every visitor to the payments login: no re-login can help."""

    prefix = "/admin-only/"

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse | None:
        if request.path == self.prefix:
            links = "".join(f'<a href="{self.prefix}{n}">page {n}</a>' for n in range(1, 6))
            return SiteResponse(body=f"<html><title>Admin</title><body>{links}</body></html>")
        return redirect(payments.login_url_for(request.path))


def test_pages_no_relogin_helps_are_kept_and_the_crawl_goes_on(tmp_path: Path, alice: str) -> None:
    with TinySite(apps=[*default_apps(), AdminOnlyApp()]) as site:
        crawl = login_crawl(
            site,
            tmp_path,
            "--login-with",
            "http",
            "-s",
            "CRAWLER_LOGIN_MAX_RELOGINS=1",
            "-s",
            "CONCURRENT_REQUESTS=1",  # one at a time: the counts below are exact
            start=AdminOnlyApp.prefix,
        )
    result = crawl.result
    assert result.returncode == 0, result.stderr
    assert result.runs[-1]["finish_reason"] == "finished"
    stats = result.stats
    # page 1: a re-login, and its retry still lands on the login page; pages 2-5:
    # one re-login in a row brought nothing back, so no more re-logins.
    assert (stats["login/logins"], stats["login/relogins"]) == (2, 1)
    assert (stats["login/expired_again"], stats["login/relogins_refused"]) == (1, 4)
    assert "not logging in again" in result.stderr
    admin = {path: page["status"] for path, page in result.by_path().items()}
    assert [admin[f"{AdminOnlyApp.prefix}{n}"] for n in range(1, 6)] == [302] * 5
