"""``scrapy crawl`` in this project (``crawler.scrapycommands.crawl``): usage and
configuration errors are one line with exit code 2, and the exit code follows the
crawl's finish reason."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.clibatch import Command, run_commands
from tests.crawltools import run_scrapy, scrapy_crawl_site
from tests.settingcases import CHECK_CASES, COMPONENT_CASES, VALIDATOR_CASES

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

UNREACHABLE = "start_url=http://127.0.0.1:9/"  # never fetched: the checks come first
Refused = tuple[subprocess.CompletedProcess[str], Path]


def store(tmp_path: Path) -> list[str]:
    return ["-s", f"CRAWLER_STORE_URL=sqlite:///{tmp_path / 'crawl.db'}"]


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
    ("DOWNLOAD_DELAY=inf", "DOWNLOAD_DELAY must be a number >= 0, not 'inf'"),
    ("DOWNLOAD_WARNSIZE=-1", "DOWNLOAD_WARNSIZE must be a whole number >= 0, not '-1'"),
    *COMPONENT_CASES,
    *VALIDATOR_CASES,
    *CHECK_CASES,
    (
        "CRAWLER_STORE_URL=crawl.db",
        "'crawl.db' is a path, not a store URL: write sqlite:///crawl.db for a SQLite file "
        "there (store URLs: sqlite:///RELATIVE/PATH, sqlite:////ABSOLUTE/PATH or "
        "postgresql://USER@HOST[:PORT]/DATABASE)",
    ),
]
BAD_ARGUMENTS = [
    (["site"], "the site spider needs a start URL: -a start_url=https://..."),
    (
        ["site", "-a", "start_url=ftp://example.org/"],
        "the start URL must be an http(s) URL, not 'ftp://example.org/'",
    ),
    (
        ["site", "-a", UNREACHABLE, "-a", "max_depth=deep"],
        "max_depth must be a whole number >= 0, not 'deep'",
    ),
    (
        ["site", "-a", UNREACHABLE, "-a", "max_pages=-1"],
        "max_pages must be a whole number >= 0, not '-1'",
    ),
    (
        ["site", "-a", UNREACHABLE, "-a", "max_depth=0"],
        "max_depth must be 1 or more, not 0 (0 would mean no limit to DEPTH_LIMIT); "
        "leave it out for no limit",
    ),
    (
        ["site", "-a", UNREACHABLE, "-a", "render=sometimes"],
        "render must be one of never, auto, always, not 'sometimes'",
    ),
    (
        ["site", "-a", UNREACHABLE, "-a", "submit_forms=("],
        "submit_forms must be a regular expression (or empty), not '(' "
        "(missing ), unterminated subpattern at position 0)",
    ),
    (
        ["site", "-a", UNREACHABLE, "-a", "form_values=[1,2]"],
        "form_values takes NAME=VALUE pairs (comma-separated, a list, or a mapping), not '[1,2]'",
    ),
    (
        ["site", "-a", UNREACHABLE, "-a", "allow_domains=example.org,https://x.test/"],
        "allow_domains takes host names such as example.org, not 'https://x.test/'",
    ),
    (["extract"], "the extract spider needs URLs: -a url=, -a urls= or -a from_file="),
    (
        ["extract", "-a", "url=http://127.0.0.1:9/"],
        "the extract spider needs a spec: -a spec=FILE, or -a field.NAME=SELECTOR",
    ),
    (
        ["payments", "-a", "login_url=http://127.0.0.1:9/", "-a", "username=brandon"],
        "the payments spider needs -a password_env=VAR (an environment variable holding "
        "the password) or -a password_file=FILE",
    ),
    (
        [
            "payments",
            "-a",
            "login_url=http://127.0.0.1:9/",
            "-a",
            "username=brandon",
            "-a",
            "password_env=SCRAPY_CRAWL_TEST_UNSET",
        ],
        "the password should be in the environment variable SCRAPY_CRAWL_TEST_UNSET, "
        "which is not set or empty",
    ),
    (["login"], "the login spider needs CRAWLER_LOGIN_URL and the login settings"),
    (
        ["site", "-a", UNREACHABLE, "-a", "=x"],
        "a spider argument has no name (-a =x): write -a NAME=VALUE",
    ),
]


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Refused]:
    """Every ``scrapy`` command line of this module that the checks refuse, run in
    one process (tests/clibatch.py): ``{key: (outcome, the test's temp dir)}``."""
    root = tmp_path_factory.mktemp("refused")
    dirs: dict[str, Path] = {}
    commands: dict[str, Command] = {}

    def add(key: str, *args: str) -> None:
        dirs[key] = root / key
        dirs[key].mkdir()
        commands[key] = Command("scrapy", [a.replace("{tmp}", str(dirs[key])) for a in args])

    in_tmp = ["-s", "CRAWLER_STORE_URL=sqlite:///{tmp}/crawl.db"]  # store(tmp_path)
    for n, (setting, _) in enumerate(BAD_SETTINGS):
        add(f"setting-{n}", "crawl", "site", "-a", UNREACHABLE, *in_tmp, "-s", setting)
    for n, (arguments, _) in enumerate(BAD_ARGUMENTS):
        add(f"argument-{n}", "crawl", *arguments, *in_tmp)
    for option in ("-o", "-O"):
        site = ["crawl", "site", "-a", UNREACHABLE, *in_tmp]
        add(f"missing-dir{option}", *site, option, "{tmp}/missing_dir/pages.jsonl")
    add("unknown-spider", "crawl", "no_such_spider")
    outcomes = run_commands(commands, root)
    return {key: (outcomes[key], dirs[key]) for key in commands}


@pytest.mark.parametrize(("n", "setting", "message"), [(n, *c) for n, c in enumerate(BAD_SETTINGS)])
def test_a_bad_setting_is_one_line_before_anything_is_logged(
    refused: dict[str, Refused], n: int, setting: str, message: str
) -> None:
    result, tmp_path = refused[f"setting-{n}"]
    assert result.args[-1] == setting
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"
    assert not (tmp_path / "crawl.db").exists()


@pytest.mark.parametrize(
    ("n", "arguments", "message"), [(n, *c) for n, c in enumerate(BAD_ARGUMENTS)]
)
def test_a_bad_spider_argument_is_one_line_before_anything_is_logged(
    refused: dict[str, Refused], n: int, arguments: list[str], message: str
) -> None:
    result, tmp_path = refused[f"argument-{n}"]
    assert result.args[2 : 2 + len(arguments)] == arguments
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: {message}\n"  # no banner, no traceback
    assert not (tmp_path / "crawl.db").exists()


def test_an_output_into_a_missing_directory_is_one_line(refused: dict[str, Refused]) -> None:
    for option in ("-o", "-O"):
        result, tmp_path = refused[f"missing-dir{option}"]
        output = tmp_path / "missing_dir" / "pages.jsonl"
        assert result.returncode == 2
        parent = output.parent
        assert (
            result.stderr
            == f"error: cannot write {output}: the directory {parent} does not exist\n"
        )
        assert not output.parent.exists()


def test_an_unknown_spider_is_one_line(refused: dict[str, Refused]) -> None:
    result, _ = refused["unknown-spider"]
    assert result.returncode == 2
    assert result.stderr.startswith("error: no spider named 'no_such_spider'")


def test_a_misspelt_setting_is_a_warning_and_a_clean_crawl_exits_0(
    tinysite: TinySite, tmp_path: Path
) -> None:
    output = tmp_path / "pages.jsonl"
    result = scrapy_crawl_site(
        tinysite.url("/"),
        "-a",
        "max_pages=1",
        "-s",
        "SELENIUM_POOLSIZE=2",
        "-O",
        str(output),
        store=tmp_path / "crawl.db",
    )
    assert result.returncode == 0, result.stderr  # finish reason closespider_pagecount
    warnings = [line for line in result.stderr.splitlines() if "SELENIUM_POOLSIZE" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith("did you mean SELENIUM_POOL_SIZE?")
    assert output.read_text(encoding="utf-8").count("\n") == 1


def test_a_store_that_cannot_be_opened_is_one_line_as_in_crawler_crawl(tmp_path: Path) -> None:
    result = run_scrapy(
        "crawl",
        "site",
        "-a",
        UNREACHABLE,
        "-s",
        "CRAWLER_STORE_URL=sqlite:////nonexistent-dir/crawl.db",
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot open store sqlite:////nonexistent-dir/crawl.db")


def test_a_spider_that_turns_the_store_off_needs_none(tmp_path: Path) -> None:
    """The login spider's custom_settings switch the store off: its URL is not opened."""
    result = run_scrapy(
        "crawl",
        "login",
        "-s",
        "CRAWLER_STORE_URL=sqlite:////nonexistent-dir/crawl.db",
        "-s",
        f"CRAWLER_LOGIN_URL={UNREACHABLE.partition('=')[2]}login",
        "-s",
        "CRAWLER_LOGIN_USERNAME=u",
        "-s",
        "CRAWLER_LOGIN_PASSWORD_ENV=NO_SUCH_VARIABLE_SET",
    )
    assert "cannot open store" not in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_feed_that_fails_while_written_fails_the_crawl(
    tinysite: TinySite, tmp_path: Path
) -> None:
    (tmp_path / "full.jsonl").symlink_to("/dev/full")  # no space left on device
    result = scrapy_crawl_site(
        tinysite.url("/"),
        "-a",
        "max_pages=2",
        "-o",
        str(tmp_path / "full.jsonl"),
        store=tmp_path / "crawl.db",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "error: 1 output file(s) could not be written (see the log)" in result.stderr


def test_an_extraction_that_extracts_nothing_exits_1_not_0(
    tinysite: TinySite, tmp_path: Path
) -> None:
    feed = tmp_path / "items.jsonl"
    result = run_scrapy(
        "crawl",
        "extract",
        "-a",
        f"url={tinysite.url('/')}",
        "-a",
        "field.price=css:.no-such-class::text",
        *store(tmp_path),
        "-O",
        str(feed),
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "'finish_reason': 'no_items'" in result.stderr
    assert "Nothing extracted from 1 URL(s)" in result.stderr
    # the page's row is there, with nothing in it
    assert feed.read_text(encoding="utf-8").endswith('"price": null}\n')
