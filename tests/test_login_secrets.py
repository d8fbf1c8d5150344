"""No password and no session cookie value in anything a logged-in crawl writes.

Each crawl runs at DEBUG with a feed file and the SQLite store; then every
byte it wrote (stdout, stderr, every file in its directory: feed, database,
WAL, fallback file) is searched for the password and for the values of the
session cookie the server actually received during the crawl.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from fixtures.tinysite import payments
from fixtures.tinysite.payments import USERS
from tests.crawltools import subprocess_env
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


# -- the crawl's child processes ----------------------------------------------


@dataclass(frozen=True)
class ChildProcess:
    pid: int
    name: str
    environ: bytes
    cmdline: bytes


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _parent(pid: str) -> int | None:
    stat = _read(f"/proc/{pid}/stat")
    return int(stat[stat.rindex(b")") + 2 :].split()[1]) if stat else None


def crawl_children(root: int, marker: bytes) -> list[ChildProcess]:
    """Every running descendant of ``root``, and every process whose environment holds
    ``marker`` (Chromium's crash handlers leave the tree), with what ``/proc`` shows."""
    parents = {int(e.name): _parent(e.name) for e in os.scandir("/proc") if e.name.isdigit()}
    tree, grown = {root}, True
    while grown:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grown = bool(found)
    # A child forked but not yet exec'd is the crawl itself (same memory, so the same
    # environment and arguments as ``root``): it shows nothing a browser was given.
    unexeced = (_read(f"/proc/{root}/environ"), _read(f"/proc/{root}/cmdline"))
    children = []
    for pid in parents:
        environ = _read(f"/proc/{pid}/environ")
        if environ is None or not ((pid in tree and pid != root) or marker in environ):
            continue
        cmdline = _read(f"/proc/{pid}/cmdline") or b""
        if (environ, cmdline) == unexeced:
            continue
        name = (_read(f"/proc/{pid}/comm") or b"").decode().strip()
        children.append(ChildProcess(pid, name, environ, cmdline))
    return children


def watch_children(
    process: subprocess.Popen[bytes], marker: bytes, timeout: float
) -> list[ChildProcess]:
    """What ``/proc`` showed of ``process``'s children, sampled until it exits
    (at most ``timeout`` seconds)."""
    seen: dict[tuple[int, bytes], ChildProcess] = {}
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        for child in crawl_children(process.pid, marker):
            seen.setdefault((child.pid, child.environ + child.cmdline), child)
        time.sleep(0.05)
    return list(seen.values())


def test_no_secret_in_the_environment_or_arguments_of_the_browsers(
    tinysite: TinySite, tmp_path: Path
) -> None:
    """A browser login crawl: the password the crawl read from its environment, and
    the crawl's other secret-looking variables, are in no chromedriver's or
    Chromium's ``/proc/PID/environ`` or ``/proc/PID/cmdline`` while it runs."""
    password = USERS["alice"]
    other_secrets = {"AWS_SECRET_ACCESS_KEY": "aws-secret-in-env", "PGPASSWORD": "pg-in-env"}
    browsers = tmp_path / "browsers"
    browsers.mkdir()
    log = tmp_path / "stderr.txt"
    # to a file, not a pipe: nobody reads a pipe while the crawl runs
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crawler.cli",
                "crawl",
                tinysite.url(payments.INDEX_PATH),
                "--store",
                f"sqlite:///{tmp_path / 'crawl.db'}",
                "--login",
                tinysite.url(payments.LOGIN_PATH),
                "--username",
                "alice",
                "--password-env",
                PASSWORD_ENV,
                "--login-with",
                "browser",
                "--render",
                "always",
                "-s",
                f"SELENIUM_TEMP_DIR={browsers}",
                *BROWSER_OPTIONS,
            ],
            cwd=tmp_path,
            env={**subprocess_env(), PASSWORD_ENV: password, **other_secrets},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    marker = f"HOME={browsers}".encode()
    try:
        children = watch_children(process, marker, timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == 0, log.read_text()[-3000:]
    names = {child.name for child in children}
    # the samples hold the processes to search: the test cannot pass by seeing none
    assert "chromedriver" in names, names
    assert any(name.startswith("chrom") and name != "chromedriver" for name in names), names
    # The browsers and what they start: chromedriver gets the browser HOME (marker),
    # Chromium and its helpers inherit it.  Not the crawl's own short-lived helpers
    # (Scrapy's start-up log runs ``uname -p`` through platform.platform()), which
    # inherit the user's environment as any child process does.
    children = [
        child
        for child in children
        if marker in child.environ or child.name == "chromedriver" or child.name.startswith("chrom")
    ]
    secrets = {password, *other_secrets.values()}
    leaks = [
        (child.name, what, secret)
        for child in children
        for what, data in (("environ", child.environ), ("cmdline", child.cmdline))
        for secret in secrets
        if secret.encode() in data
    ]
    assert leaks == []
    # nor the names of the variables that held them
    for child in children:
        names_in_env = {line.partition(b"=")[0] for line in child.environ.split(b"\0")}
        assert names_in_env.isdisjoint({PASSWORD_ENV.encode(), *map(str.encode, other_secrets)})
