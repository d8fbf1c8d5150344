"""``python -m examples.mscrape``: the book's mscrape.py on the framework, against the fixture."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from examples import mscrape
from fixtures.tinysite import payments
from tests.browser.conftest import browser_root, browser_settings, needs_chromium
from tests.crawltools import subprocess_env

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

__all__ = ["browser_root"]  # the fixture: no browser process outlives a test

# mscrape.py's output in the book, for brandon.
BOOK_OUTPUT = """\
         125 Registration for PyCon
         200 Payment for writing that code
    -------- ------------------------------
         325 Total payments made
"""
PASSWORD_ENV = "MSCRAPE_TEST_PASSWORD"


def run_example(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "examples.mscrape", *args],
        cwd=tmp_path,
        env={**subprocess_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_books_output() -> None:
    expected = [p for p in payments.EXPECTED_PAYMENTS["brandon"] if p.direction == "to"]
    assert [line.split(maxsplit=1) for line in BOOK_OUTPUT.splitlines()] == [
        *([str(p.amount), p.memo] for p in expected),
        ["--------", "-" * 30],
        [str(payments.payments_made("brandon")), "Total payments made"],
    ]


@pytest.mark.parametrize("parser", [[], ["-l"]], ids=["BeautifulSoup", "lxml"])
def test_over_http_it_prints_the_books_total(
    tinysite: TinySite, tmp_path: Path, parser: list[str]
) -> None:
    first = len(tinysite.requests_seen)
    proc = run_example(tmp_path, *parser, tinysite.url(payments.INDEX_PATH))
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == BOOK_OUTPUT
    posts = [r.target for r in tinysite.requests_seen[first:] if r.method == "POST"]
    assert posts == [payments.LOGIN_PATH]  # the book's login form, read and posted


@needs_chromium
@pytest.mark.parametrize("parser", [[], ["-l"]], ids=["BeautifulSoup", "lxml"])
def test_in_the_browser_it_prints_the_books_total(
    tinysite: TinySite,
    browser_root: str,
    capsys: pytest.CaptureFixture[str],
    parser: list[str],
) -> None:
    first = len(tinysite.requests_seen)
    settings = browser_settings(browser_root)
    code = mscrape.main([*parser, "-s", tinysite.url("/pay")], browser_settings=settings)
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == BOOK_OUTPUT
    seen = tinysite.requests_seen[first:]
    # Chromium typed into the book's form and posted it; requests then fetched the index.
    assert [r.target for r in seen if r.method == "POST"] == [payments.LOGIN_PATH]
    assert [r.target for r in seen].count(payments.INDEX_PATH) == 2


def test_another_account_with_its_password_from_the_environment(
    tinysite: TinySite, tmp_path: Path
) -> None:
    password = payments.USERS["sam"]
    proc = run_example(
        tmp_path,
        "--username",
        "sam",
        "--password-env",
        PASSWORD_ENV,
        "-l",
        tinysite.url(payments.INDEX_PATH),
        env={PASSWORD_ENV: password},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "          25 Gas money-thanks for the ride!",
        "    -------- ------------------------------",
        "          25 Total payments made",
    ]


def test_a_failed_login_is_an_error_naming_the_login_page(
    tinysite: TinySite, tmp_path: Path
) -> None:
    proc = run_example(
        tmp_path,
        "--username",
        "sam",
        "--password-env",
        PASSWORD_ENV,
        tinysite.url(payments.INDEX_PATH),
        env={PASSWORD_ENV: "not-sams-password"},
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"error: login at {tinysite.url(payments.LOGIN_PATH)} failed: "
        "still on the login page after submitting it\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--username", "sam"], "--username needs --password-env VAR"),
        (["--username", "sam", "--password-env", "MSCRAPE_UNSET"], "MSCRAPE_UNSET is not set"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_example(tmp_path, *args, "http://127.0.0.1:9/pay/")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert run_example(tmp_path, "ftp://x/").returncode == 2
