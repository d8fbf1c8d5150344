"""``scrapy crawl`` in this project (``crawler.scrapycommands.crawl``): usage and
configuration errors are one line with exit code 2, and the exit code follows the
crawl's finish reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.crawltools import run_scrapy

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

UNREACHABLE = "start_url=http://127.0.0.1:9/"  # never fetched: the checks come first


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def store(tmp_path: Path) -> list[str]:
    return ["-s", f"CRAWLER_STORE_URL=sqlite:///{tmp_path / 'crawl.db'}"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("SELENIUM_POOL_SIZE=abc", "SELENIUM_POOL_SIZE must be a whole number >= 1, not 'abc'"),
        ("ROBOTSTXT_OBEY=nope", "ROBOTSTXT_OBEY must be True or False, not 'nope'"),
        (
            "CRAWLER_RENDER=sometimes",
            "CRAWLER_RENDER must be one of never, auto, always, not 'sometimes'",
        ),
        ("DOWNLOAD_DELAY=fast", "DOWNLOAD_DELAY must be a number >= 0, not 'fast'"),
        ("CONCURRENT_REQUESTS=-1", "CONCURRENT_REQUESTS must be a whole number >= 1, not '-1'"),
        ("FEEDS={bad", "FEEDS must be a dict (or its JSON), not '{bad'"),
    ],
)
def test_a_bad_setting_is_one_line_before_anything_is_logged(
    tmp_path: Path, setting: str, message: str
) -> None:
    result = run_scrapy("crawl", "site", "-a", UNREACHABLE, *store(tmp_path), "-s", setting)
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"
    assert not (tmp_path / "crawl.db").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "error: the site spider needs a start URL: -a start_url=https://..."),
        (["-a", "start_url=ftp://example.org/"], "error: the start URL must be an http(s) URL"),
        (["-a", UNREACHABLE, "-a", "max_depth=deep"], "error: max_depth must be a whole number"),
        (["-a", UNREACHABLE, "-a", "render=sometimes"], "error: render must be one of never"),
    ],
)
def test_a_bad_spider_argument_is_one_line_and_exit_code_2(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = run_scrapy("crawl", "site", *arguments, *store(tmp_path))
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert line.startswith(message)
    assert "Traceback" not in result.stderr


def test_an_output_into_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    output = tmp_path / "missing_dir" / "pages.jsonl"
    arguments = ["crawl", "site", "-a", UNREACHABLE, *store(tmp_path)]
    for option in ("-o", "-O"):
        result = run_scrapy(*arguments, option, str(output))
        assert result.returncode == 2
        parent = output.parent
        assert (
            result.stderr
            == f"error: cannot write {output}: the directory {parent} does not exist\n"
        )
    assert not output.parent.exists()


def test_an_unknown_spider_is_one_line() -> None:
    result = run_scrapy("crawl", "no_such_spider")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no spider named 'no_such_spider'")


def test_a_misspelt_setting_is_a_warning_and_a_clean_crawl_exits_0(
    tinysite: TinySite, tmp_path: Path
) -> None:
    output = tmp_path / "pages.jsonl"
    result = run_scrapy(
        "crawl",
        "site",
        "-a",
        f"start_url={tinysite.url('/')}",
        "-a",
        "max_pages=1",
        *store(tmp_path),
        "-s",
        "SELENIUM_POOLSIZE=2",
        "-O",
        str(output),
    )
    assert result.returncode == 0, result.stderr  # finish reason closespider_pagecount
    warnings = [line for line in result.stderr.splitlines() if "SELENIUM_POOLSIZE" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith("did you mean SELENIUM_POOL_SIZE?")
    assert output.read_text(encoding="utf-8").count("\n") == 1


def test_the_exit_code_follows_the_finish_reason(tinysite: TinySite, tmp_path: Path) -> None:
    result = run_scrapy(
        "crawl",
        "site",
        "-a",
        f"start_url={tinysite.url('/')}",
        "-s",
        "CRAWLER_STORE_URL=sqlite:////nonexistent-dir/crawl.db",
        "-s",
        f"CRAWLER_STORE_FALLBACK_PATH={tmp_path / 'unwritten.jsonl'}",
    )
    assert "'finish_reason': 'store_error'" in result.stderr
    assert result.returncode == 1


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
