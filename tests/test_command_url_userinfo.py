"""A start or login URL with a user name and password in it: refused by every
command before anything is crawled, in one line with the password masked
(a crawl would fail every request with ``invalid hostname``, log the password
and store it in ``pages.url`` and ``runs.start_url``)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.clibatch import Command, crawl_command, run_commands

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

PASSWORD = "hunter2url"
Refused = tuple[subprocess.CompletedProcess[str], Path]


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


FEEDS_WITH_PASSWORD = [
    '["ftp://fu:hunter2ftp@127.0.0.1:1/x.jsonl"]',  # not a dict: the value is quoted
    '{"gopher://fu:hunter2ftp@127.0.0.1:1/x.jsonl": {"format": "jsonl"}}',  # no storage
    '{"ftp://fu:hunter2ftp@127.0.0.1:1/x.jsonl": {"format": "nosuch"}}',  # no exporter
]


@pytest.fixture(scope="module")
def refused(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Refused]:
    """Every command line of this module, all refused before anything is crawled,
    run in one process (tests/clibatch.py): ``{key: (outcome, the test's temp dir)}``."""
    root = tmp_path_factory.mktemp("refused")
    dirs: dict[str, Path] = {}
    commands: dict[str, Command] = {}

    def workdir(key: str) -> Path:
        dirs[key] = root / key.replace(" ", "-")
        dirs[key].mkdir()
        return dirs[key]

    url, _ = with_userinfo(tinysite)
    commands["crawl"] = crawl_command(url, workdir("crawl"))
    extract = ["extract", url, "--field", "t=css:title"]
    commands["extract"] = Command("crawler", extract, cwd=workdir("extract"))
    store = f"CRAWLER_STORE_URL=sqlite:///{workdir('scrapy') / 'crawl.db'}"
    commands["scrapy"] = Command("scrapy", ["crawl", "site", "-a", f"start_url={url}", "-s", store])
    login_url, _ = with_userinfo(tinysite, "/login")
    options = ["--username", "alice", "--password-env", "TEST_LOGIN_PASSWORD"]
    env = {"TEST_LOGIN_PASSWORD": "not-used-here"}
    commands["login crawl"] = crawl_command(
        tinysite.url("/"), workdir("login crawl"), "--login", login_url, *options
    )
    commands["login crawl"].env = env
    commands["login login"] = Command(
        "crawler", ["login", login_url, *options], cwd=workdir("login login"), env=env
    )
    for n, feeds in enumerate(FEEDS_WITH_PASSWORD):
        commands[f"feeds crawler {n}"] = crawl_command(
            tinysite.url("/"), workdir(f"feeds crawler {n}"), "-s", f"FEEDS={feeds}"
        )
        site = ["crawl", "site", "-a", f"start_url={tinysite.url('/')}", "-s", f"FEEDS={feeds}"]
        commands[f"feeds scrapy {n}"] = Command("scrapy", site)
    outcomes = run_commands(commands, root)
    return {key: (outcomes[key], dirs.get(key, root)) for key in commands}


def test_crawler_crawl(tinysite: TinySite, refused: dict[str, Refused]) -> None:
    _, shown = with_userinfo(tinysite)
    result, tmp_path = refused["crawl"]
    assert_refused(result.returncode, result.stderr, "start URL", shown)
    assert not (tmp_path / "crawl.db").exists()


def test_crawler_extract(tinysite: TinySite, refused: dict[str, Refused]) -> None:
    _, shown = with_userinfo(tinysite)
    result, _ = refused["extract"]
    assert_refused(result.returncode, result.stderr, "URL", shown)
    assert result.stdout == ""


def test_scrapy_crawl_site(tinysite: TinySite, refused: dict[str, Refused]) -> None:
    _, shown = with_userinfo(tinysite)
    result, _ = refused["scrapy"]
    assert_refused(result.returncode, result.stderr, "start URL", shown)


@pytest.mark.parametrize("command", ["crawl", "login"])
def test_the_login_url(command: str, tinysite: TinySite, refused: dict[str, Refused]) -> None:
    _, shown = with_userinfo(tinysite, "/login")
    result, _ = refused[f"login {command}"]
    assert_refused(result.returncode, result.stderr, "login URL", shown)


@pytest.mark.parametrize("n", range(len(FEEDS_WITH_PASSWORD)))
@pytest.mark.parametrize("command", ["crawler", "scrapy"])
def test_a_configuration_error_quoting_a_password_masks_it(
    command: str, n: int, refused: dict[str, Refused]
) -> None:
    result, _ = refused[f"feeds {command} {n}"]
    assert result.args[-1] == f"FEEDS={FEEDS_WITH_PASSWORD[n]}"
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: FEEDS"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "hunter2ftp" not in result.stderr
    assert "fu:***@127.0.0.1" in result.stderr
