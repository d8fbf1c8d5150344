"""``crawler login --save-cookies`` and ``crawler crawl --cookies``: Netscape cookies.txt files."""

from __future__ import annotations

import os
import pty
import shutil
import stat
import subprocess
import sys
from http.cookiejar import Cookie
from typing import TYPE_CHECKING

import pytest

from crawler.exceptions import LoginConfigError
from crawler.login.cookies import load_cookies_txt, save_cookies_txt
from fixtures.tinysite import payments
from fixtures.tinysite.payments import USERS
from tests.crawltools import crawl, run_crawler
from tests.logintools import PASSWORD_ENV, logouts_avoided

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite


def cookie(
    name: str, value: str, *, domain: str = "127.0.0.1", expires: int | None = None
) -> Cookie:
    return Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain.startswith("."),
        domain_initial_dot=domain.startswith("."),
        path="/pay/",
        path_specified=True,
        secure=False,
        expires=expires,
        discard=expires is None,
        comment=None,
        comment_url=None,
        rest={"HttpOnly": None} if name == "session" else {},
    )


def test_cookies_txt_round_trip_keeps_session_cookies_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o644)
    written = save_cookies_txt(
        [cookie("session", "abc123"), cookie("lang", "en", domain=".example.org", expires=2**31)],
        path,
    )
    assert written == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# Netscape HTTP Cookie File"
    assert "#HttpOnly_127.0.0.1\tFALSE\t/pay/\tFALSE\t0\tsession\tabc123" in lines
    assert f".example.org\tTRUE\t/pay/\tFALSE\t{2**31}\tlang\ten" in lines
    loaded = {c.name: c for c in load_cookies_txt(path)}
    assert (loaded["session"].value, loaded["session"].expires) == ("abc123", None)
    assert loaded["session"].has_nonstandard_attr("HTTPOnly")
    assert (loaded["lang"].domain, loaded["lang"].expires) == (".example.org", 2**31)


def test_a_missing_or_broken_cookies_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LoginConfigError, match="does not exist"):
        load_cookies_txt(tmp_path / "nope.txt")
    broken = tmp_path / "broken.txt"
    broken.write_text("just text\n", encoding="utf-8")
    with pytest.raises(LoginConfigError, match=r"not a readable Netscape cookies\.txt"):
        load_cookies_txt(broken)


@pytest.fixture(scope="module")
def saved_cookies(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``crawler login ... --save-cookies FILE`` as bob."""
    directory = tmp_path_factory.mktemp("login")
    path = directory / "bob.cookies.txt"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, USERS["bob"])
        proc = run_crawler(
            "login",
            tinysite.url(payments.LOGIN_PATH),
            "--username",
            "bob",
            "--password-env",
            PASSWORD_ENV,
            "--save-cookies",
            str(path),
            cwd=directory,
        )
    assert proc.returncode == 0, proc.stderr
    assert f"saved 1 cookies to {path}" in proc.stdout
    return path


def test_login_saves_the_session_as_a_private_cookies_txt(saved_cookies: Path) -> None:
    assert stat.S_IMODE(saved_cookies.stat().st_mode) == 0o600
    names = {c.name for c in load_cookies_txt(saved_cookies)}
    assert payments.SESSION_COOKIE in names


def test_crawl_with_the_saved_cookies_reaches_protected_pages_without_logging_in(
    tinysite: TinySite, tmp_path: Path, saved_cookies: Path
) -> None:
    first = len(tinysite.requests_seen)
    result = crawl(tinysite.url(payments.INDEX_PATH), tmp_path, "--cookies", str(saved_cookies))
    seen = tinysite.requests_seen[first:]
    assert result.returncode == 0, result.stderr
    ok = {path for path, page in result.by_path().items() if page["status"] == 200}
    assert payments.protected_targets() <= ok
    paths = [r.target.split("?")[0] for r in seen]
    assert payments.LOGIN_PATH not in paths  # no login: the file's session did it
    assert payments.LOGOUT_PATH not in paths  # and it was not thrown away either
    assert result.stats["login/cookies_loaded"] == 1  # the session: the book's login sets no other
    assert logouts_avoided(result.stats) >= 1


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_reads_the_saved_cookies(tinysite: TinySite, saved_cookies: Path) -> None:
    page = subprocess.run(
        ["curl", "-sS", "-b", str(saved_cookies), tinysite.url(payments.AREA_PATH)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "<h1>Statements of bob</h1>" in page


@pytest.mark.parametrize(
    ("login", "said"),
    [
        (payments.LOGIN_PATH, "still on the login page after submitting it"),
        (payments.CSRF_LOGIN_PATH, payments.LOGIN_ERROR_TEXT),  # the page's message, quoted
    ],
)
def test_login_with_a_wrong_password_says_so(
    tinysite: TinySite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, login: str, said: str
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong-password-for-bob")
    path = tmp_path / "cookies.txt"
    proc = run_crawler(
        "login",
        tinysite.url(login),
        "--username",
        "bob",
        "--password-env",
        PASSWORD_ENV,
        "--save-cookies",
        str(path),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert f"error: login at {tinysite.url(login)} failed" in proc.stderr
    assert said in proc.stderr
    assert "wrong-password-for-bob" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    assert not path.exists()


def test_there_is_no_password_option(tinysite: TinySite, tmp_path: Path) -> None:
    proc = run_crawler(
        "login",
        tinysite.url(payments.LOGIN_PATH),
        "--username",
        "bob",
        "--password",
        "x",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert (
        "error: crawler login: ambiguous option: --password could match --password-env"
        in proc.stderr
    )


def test_the_password_is_asked_for_on_a_terminal(tinysite: TinySite, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    path = tmp_path / "cookies.txt"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "login",
            tinysite.url(payments.LOGIN_PATH),
            "--username",
            "carol",
            "--save-cookies",
            str(path),
        ],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,  # no controlling terminal: getpass reads standard input
    )
    os.close(terminal)
    prompt = f"Password for carol at {tinysite.url(payments.LOGIN_PATH)}: "
    try:
        assert process.stderr is not None
        seen = ""
        while not seen.endswith(prompt):  # typed earlier, it would be flushed with echo off
            char = process.stderr.read(1)
            assert char, f"no password prompt; the command wrote {seen!r}"
            seen += char
        os.write(controller, (USERS["carol"] + "\n").encode())
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert USERS["carol"] not in stdout + stderr  # not echoed
    assert "saved 1 cookies" in stdout


def test_without_a_terminal_a_password_source_is_required(
    tinysite: TinySite, tmp_path: Path
) -> None:
    proc = run_crawler(
        "login", tinysite.url(payments.LOGIN_PATH), "--username", "carol", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "needs --password-env VAR or --password-file FILE" in proc.stderr
