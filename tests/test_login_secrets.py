"""No password and no session cookie value in anything a logged-in crawl writes.

Each crawl runs at DEBUG with a feed file and the SQLite store; then every
byte it wrote (stdout, stderr, every file in its directory: feed, database,
WAL, fallback file) is searched for the password and for the values of the
session cookie the server actually received during the crawl.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite import payments
from fixtures.tinysite.payments import USERS
from tests.logintools import BROWSER_OPTIONS, PASSWORD_ENV, LoginCrawl, login_crawl

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite


def everything_written(crawl: LoginCrawl, directory: Path) -> dict[str, bytes]:
    written = {
        "stdout": crawl.result.stdout.encode("utf-8"),
        "stderr": crawl.result.stderr.encode("utf-8"),
    }
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            written[path.name] = path.read_bytes()
    return written


def session_values(crawl: LoginCrawl) -> set[str]:
    return {
        r.cookies[payments.SESSION_COOKIE]
        for r in crawl.seen
        if r.cookies.get(payments.SESSION_COOKIE)
    }


def assert_no_secret_in(written: dict[str, bytes], secrets: set[str]) -> None:
    leaks = [
        (name, secret)
        for name, data in written.items()
        for secret in secrets
        if secret.encode("utf-8") in data
    ]
    assert leaks == []


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        # COOKIES_DEBUG logs every Cookie and Set-Cookie header: the masker must catch them.
        ("http", ("--login-with", "http", "-s", "COOKIES_DEBUG=True", "-o", "pages.jsonl")),
        # The login is typed into Chromium, and every page is rendered with the session.
        ("browser", ("--login-with", "browser", "--render", "always", "-o", "pages.csv")),
    ],
)
def test_a_logged_in_debug_crawl_writes_no_password_and_no_session_cookie(
    tinysite: TinySite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    options: tuple[str, ...],
) -> None:
    password = USERS["alice"]
    monkeypatch.setenv(PASSWORD_ENV, password)
    crawl = login_crawl(
        tinysite,
        tmp_path,
        "--log-level",
        "DEBUG",
        "-s",
        f"CRAWLER_STORE_FALLBACK_DIR={tmp_path}",
        *options,
        *BROWSER_OPTIONS,
    )
    result = crawl.result
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["login/logins"] == 1
    assert payments.protected_targets() <= crawl.ok_targets()
    sessions = session_values(crawl)
    assert len(sessions) == 1  # the secret to look for: what the server got as the session
    written = everything_written(crawl, tmp_path)
    assert {"crawl.db", "pages.jsonl" if mode == "http" else "pages.csv"} <= set(written)
    assert_no_secret_in(written, {password, *sessions})
    if mode == "http":
        # The cookie headers were logged, with their values masked.
        assert f"{payments.SESSION_COOKIE}=***" in result.stderr
