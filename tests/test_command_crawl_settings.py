"""``crawler crawl`` as a user runs it: bad settings are one line and exit code 2, a
misspelt name is a warning, and a crawl that renders nothing needs no browser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crawler.cli import main
from tests.clibatch import Command, crawl_command, run_commands
from tests.crawltools import CrawlResult, crawl, read_store, subprocess_env
from tests.settingcases import CHECK_CASES, COMPONENT_CASES, VALIDATOR_CASES

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

UNREACHABLE = "http://127.0.0.1:9/"  # never fetched: the check comes first
Refused = tuple[subprocess.CompletedProcess[str], Path]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


BAD_SETTINGS = [
    ("SELENIUM_POOL_SIZE=abc", "SELENIUM_POOL_SIZE must be a whole number >= 1, not 'abc'"),
    ("ROBOTSTXT_OBEY=nope", "ROBOTSTXT_OBEY must be True or False, not 'nope'"),
    (
        "CRAWLER_RENDER=sometimes",
        "CRAWLER_RENDER must be one of never, auto, always, not 'sometimes'",
    ),
    ("DOWNLOAD_DELAY=fast", "DOWNLOAD_DELAY must be a number >= 0, not 'fast'"),
    ("CONCURRENT_REQUESTS=-1", "CONCURRENT_REQUESTS must be a whole number >= 1, not '-1'"),
    ("FEEDS={bad", "FEEDS must be a dict (or its JSON), not '{bad'"),
    # values that pass a type but would break the crawl
    ("DOWNLOAD_DELAY=inf", "DOWNLOAD_DELAY must be a number >= 0, not 'inf'"),
    ("DOWNLOAD_MAXSIZE=-1", "DOWNLOAD_MAXSIZE must be a whole number >= 0, not '-1'"),
    (
        "AUTOTHROTTLE_TARGET_CONCURRENCY=0",
        "AUTOTHROTTLE_TARGET_CONCURRENCY must be a number > 0, not '0'",
    ),
    *COMPONENT_CASES,
    *VALIDATOR_CASES,
    *CHECK_CASES,
]
ALIKE = [COMPONENT_CASES[0], COMPONENT_CASES[3], VALIDATOR_CASES[0], VALIDATOR_CASES[3]]


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Refused]:
    """Every command line of this module that its checks refuse, run in one process
    (tests/clibatch.py): ``{key: (outcome, its working directory)}``."""
    root = tmp_path_factory.mktemp("refused")
    commands: dict[str, Command] = {}
    for n, (setting, _) in enumerate(BAD_SETTINGS):
        commands[f"setting-{n}"] = crawl_command(UNREACHABLE, workdir(root, n), "-s", setting)
    login = workdir(root, "login")
    password = login / "password"
    password.write_text("secret\n")
    for n, (setting, _) in enumerate(ALIKE):
        for name, command in (
            ("extract", ["extract", UNREACHABLE, "--field", "t=css:h1"]),
            (
                "login",
                ["login", UNREACHABLE, "--username", "alice", "--password-file", str(password)],
            ),
        ):
            commands[f"{name}-{n}"] = Command("crawler", [*command, "-s", setting], cwd=login)
    commands["max-pages"] = crawl_command(
        UNREACHABLE, workdir(root, "max-pages"), "--max-pages", "-1"
    )
    commands["missing-dir"] = crawl_command(
        UNREACHABLE, workdir(root, "missing-dir"), "-o", "missing_dir/pages.jsonl"
    )
    outcomes = run_commands(commands, root)
    return {key: (outcomes[key], commands[key].cwd) for key in commands}


def workdir(root: Path, name: object) -> Path:
    path = root / str(name)
    path.mkdir()
    return path


@pytest.mark.parametrize(("n", "setting", "message"), [(n, *c) for n, c in enumerate(BAD_SETTINGS)])
def test_a_bad_setting_is_one_line_and_exit_code_2(
    refused: dict[str, Refused], n: int, setting: str, message: str
) -> None:
    result, cwd = refused[f"setting-{n}"]
    assert result.args[-1] == setting
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: {message}\n"  # nothing else: no banner, no traceback
    assert not (cwd / "crawl.db").exists()  # nothing was opened, let alone crawled


@pytest.mark.parametrize(("n", "setting", "message"), [(n, *c) for n, c in enumerate(ALIKE)])
def test_extract_and_login_refuse_them_alike(
    refused: dict[str, Refused], n: int, setting: str, message: str
) -> None:
    for command in ("extract", "login"):
        result, _ = refused[f"{command}-{n}"]
        assert result.args[-1] == setting
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr == f"error: {message}\n", command


def test_a_bad_spider_argument_is_one_line_before_scrapy_logs(refused: dict[str, Refused]) -> None:
    result, cwd = refused["max-pages"]
    assert result.returncode == 2
    assert result.stderr == "error: max_pages must be a whole number >= 0, not -1\n"
    assert not (cwd / "crawl.db").exists()  # refused before the store was opened (and created)


def test_an_output_into_a_missing_directory_is_a_usage_error(refused: dict[str, Refused]) -> None:
    result, cwd = refused["missing-dir"]
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: cannot write missing_dir/pages.jsonl: the directory missing_dir does not exist"
    ]
    assert not (cwd / "missing_dir").exists()


def test_a_misspelt_setting_is_a_warning_with_the_right_name(
    tinysite: TinySite, tmp_path: Path
) -> None:
    result = crawl(tinysite.url("/"), tmp_path, "--max-pages", "1", "-s", "SELENIUM_POOLSIZE=2")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "SELENIUM_POOLSIZE" in line]
    assert len(warnings) == 1
    assert "WARNING: Unknown setting SELENIUM_POOLSIZE (set on the command line)" in warnings[0]
    assert warnings[0].endswith("did you mean SELENIUM_POOL_SIZE?")
    assert error_lines(result.stderr) == []


def crawl_without_browsers(start_url: str, tmp_path: Path, *options: str) -> CrawlResult:
    """``crawler crawl`` with a PATH that holds no browser (nor anything else)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    db = tmp_path / "crawl.db"
    store = f"sqlite:///{db}"
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "crawl", start_url, "--store", store, *options],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**subprocess_env(), "PATH": str(empty)},
    )
    pages, runs = read_store(db)
    return CrawlResult(proc.returncode, proc.stdout, proc.stderr, db, pages, runs)


def test_a_crawl_that_renders_nothing_needs_no_browser(tinysite: TinySite, tmp_path: Path) -> None:
    result = crawl_without_browsers(tinysite.url("/"), tmp_path, "--render", "never")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert {"/", "/page1.html", "/page2.html"} <= result.html_paths()


def test_a_render_without_a_browser_is_one_clear_error_and_the_crawl_ends(
    tinysite: TinySite, tmp_path: Path
) -> None:
    result = crawl_without_browsers(tinysite.url("/"), tmp_path, "--render", "always")
    assert result.returncode == 0, result.stderr  # the crawl itself went as asked
    assert "Traceback" not in result.stderr
    told = [line for line in result.stderr.splitlines() if "Cannot render pages" in line]
    assert len(told) == 1
    for fix in ("SELENIUM_BROWSER_EXECUTABLE_PATH", "SELENIUM_REMOTE_URL", "--render never"):
        assert fix in told[0]
    assert result.stats["selenium/render_failures/browser_not_found"] >= 1
    # Each page falls back to its HTML, with the render's error noted.
    [start] = [p for p in result.pages if p["url"] == tinysite.url("/")]
    assert (start["status"], start["rendered"]) == (200, 0)
    assert start["error"].startswith("render failed: BrowserNotFoundError")
    assert {"/", "/page1.html", "/page2.html"} <= result.html_paths()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--username", "alice"], "--username only makes sense with --login LOGIN_URL"),
        (
            ["--username", "alice", "--password-env", "VAR"],
            "--username, --password-env only make sense with --login LOGIN_URL",
        ),
    ],
)
def test_login_options_without_login_say_so_in_good_grammar(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["crawl", UNREACHABLE, *options]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
