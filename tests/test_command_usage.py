"""Usage errors of the ``crawler`` command line: one line on standard error, exit code 2."""

from __future__ import annotations

import pytest

from crawler.cli import main


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
