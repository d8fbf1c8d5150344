"""Usage errors of the ``crawler`` command line: one line on standard error, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.cli import main
from tests.crawltools import run_crawler


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "error: crawler: the following arguments are required: COMMAND"),
        (["nosuch"], "error: crawler: argument COMMAND: invalid choice: 'nosuch'"),
        (["crawl"], "error: crawler crawl: the following arguments are required: START_URL"),
        (
            ["crawl", "--max-depth", "x", "http://example.org/"],
            "error: crawler crawl: argument --max-depth: invalid int value: 'x'",
        ),
        (
            ["crawl", "--render", "sometimes", "http://example.org/"],
            "error: crawler crawl: argument --render: invalid choice: 'sometimes'",
        ),
        (
            ["extract", "--engine", "nosuch", "http://example.org/"],
            "error: crawler extract: argument --engine: invalid choice: 'nosuch'",
        ),
        (["runs", "--limit", "0"], "error: crawler runs: argument -n/--limit: takes a whole"),
        (["runs", "--limit", "x"], "error: crawler runs: argument -n/--limit: takes a whole"),
        (["runs", "--nosuch"], "error: crawler: unrecognized arguments: --nosuch"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(expected)
    assert err.count("\n") == 1, err
    assert "--help" in err


def test_help_is_still_the_full_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["crawl", "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: crawler crawl")


def test_max_pages_0_is_refused_not_read_as_no_limit(tmp_path: Path) -> None:
    result = run_crawler("crawl", "http://127.0.0.1:9/", "--max-pages", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "error: max_pages must be 1 or more, not 0 (0 would mean no limit to "
        "CLOSESPIDER_PAGECOUNT); leave it out for no limit\n"
    )
