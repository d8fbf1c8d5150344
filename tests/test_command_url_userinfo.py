"""A start or login URL with a user name and password in it: refused by every
command before anything is crawled, in one line with the password masked
(a crawl would fail every request with ``invalid hostname``, log the password
and store it in ``pages.url`` and ``runs.start_url``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.crawltools import crawl, run_crawler, run_scrapy, scrapy_crawl_site

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

PASSWORD = "hunter2url"


def assert_refused(returncode: int, stderr: str, what: str, shown: str) -> None:
    assert returncode == 2, stderr[-2000:]
    assert stderr.startswith(f"error: the {what} {shown} holds a user name or password"), stderr
    assert len(stderr.splitlines()) == 1, stderr
    assert PASSWORD not in stderr
    assert "--login LOGIN_URL --username USER" in stderr and "HTTPAUTH_USER" in stderr


def with_userinfo(tinysite: TinySite, path: str = "/") -> tuple[str, str]:
    """The tinysite URL of ``path`` with ``fu:PASSWORD@``, and as the error shows it."""
    url = tinysite.url(path)
    return url.replace("://", f"://fu:{PASSWORD}@"), url.replace("://", "://fu:***@")


def test_crawler_crawl(tinysite: TinySite, tmp_path: Path) -> None:
    url, shown = with_userinfo(tinysite)
    result = crawl(url, tmp_path)
    assert_refused(result.returncode, result.stderr, "start URL", shown)
    assert not result.db.exists()


def test_crawler_extract(tinysite: TinySite, tmp_path: Path) -> None:
    url, shown = with_userinfo(tinysite)
    result = run_crawler("extract", url, "--field", "t=css:title", cwd=tmp_path)
    assert_refused(result.returncode, result.stderr, "URL", shown)
    assert result.stdout == ""


def test_scrapy_crawl_site(tinysite: TinySite, tmp_path: Path) -> None:
    url, shown = with_userinfo(tinysite)
    result = scrapy_crawl_site(
        url,
        store=tmp_path / "crawl.db",
    )
    assert_refused(result.returncode, result.stderr, "start URL", shown)


@pytest.mark.parametrize("command", ["crawl", "login"])
def test_the_login_url(
    command: str, tinysite: TinySite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_LOGIN_PASSWORD", "not-used-here")
    login_url, shown = with_userinfo(tinysite, "/login")
    options = ["--username", "alice", "--password-env", "TEST_LOGIN_PASSWORD"]
    if command == "crawl":
        result = crawl(tinysite.url("/"), tmp_path, "--login", login_url, *options)
    else:
        result = run_crawler("login", login_url, *options, cwd=tmp_path)
    assert_refused(result.returncode, result.stderr, "login URL", shown)


FEEDS_WITH_PASSWORD = [
    '["ftp://fu:hunter2ftp@127.0.0.1:1/x.jsonl"]',  # not a dict: the value is quoted
    '{"gopher://fu:hunter2ftp@127.0.0.1:1/x.jsonl": {"format": "jsonl"}}',  # no storage
    '{"ftp://fu:hunter2ftp@127.0.0.1:1/x.jsonl": {"format": "nosuch"}}',  # no exporter
]


@pytest.mark.parametrize("feeds", FEEDS_WITH_PASSWORD)
@pytest.mark.parametrize("command", ["crawler", "scrapy"])
def test_a_configuration_error_quoting_a_password_masks_it(
    command: str, feeds: str, tinysite: TinySite, tmp_path: Path
) -> None:
    if command == "crawler":
        result = crawl(tinysite.url("/"), tmp_path, "-s", f"FEEDS={feeds}")
    else:
        result = run_scrapy(
            "crawl", "site", "-a", f"start_url={tinysite.url('/')}", "-s", f"FEEDS={feeds}"
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: FEEDS"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "hunter2ftp" not in result.stderr
    assert "fu:***@127.0.0.1" in result.stderr
