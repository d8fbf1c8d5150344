"""Output files a command cannot write: refused before anything is crawled, and a
file that fails while it is written (a full disk) fails the command, not just its log."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from tests.crawltools import crawl, run_crawler, run_scrapy

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

UNREACHABLE = "http://127.0.0.1:9/"  # never fetched: the check comes first


def unwritable(tmp_path: Path, kind: str) -> tuple[str, str]:
    """An output path that cannot be written, and what the error says about it."""
    if kind == "directory":
        (tmp_path / "out.jsonl").mkdir()
        return "out.jsonl", "cannot write out.jsonl: it is a directory"
    if kind == "dangling link":
        (tmp_path / "out.jsonl").symlink_to(tmp_path / "gone" / "x.jsonl")
        return "out.jsonl", f"cannot write out.jsonl: it links to {tmp_path}/gone/x.jsonl"
    assert kind == "no permission"  # refused even to root: sysfs takes no new files
    return "/sys/out.jsonl", "cannot write /sys/out.jsonl: Permission denied"


KINDS = ["directory", "dangling link", "no permission"]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option", ["-o", "--output-items"])
def test_crawl_refuses_an_output_it_cannot_write(tmp_path: Path, kind: str, option: str) -> None:
    output, message = unwritable(tmp_path, kind)
    result = crawl(UNREACHABLE, tmp_path, option, output)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert line.startswith(f"error: {message}")
    assert "Traceback" not in result.stderr
    assert not result.db.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_extract_and_scrapy_crawl_refuse_it_too(tmp_path: Path, kind: str) -> None:
    output, message = unwritable(tmp_path, kind)
    extract = run_crawler(
        "extract", UNREACHABLE, "--field", "t=css:title", "-o", output, cwd=tmp_path
    )
    scrapy = run_scrapy(
        "crawl", "site", "-a", f"start_url={UNREACHABLE}", "-o", str(tmp_path / output)
    )
    for result in (extract, scrapy):
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        [line] = error_lines(result.stderr)
        assert message.rpartition(": ")[2] in line


def test_a_writable_output_is_not_left_behind_by_the_check(tmp_path: Path) -> None:
    result = crawl(UNREACHABLE, tmp_path, "-o", "pages.jsonl", "-s", "CONCURRENT_REQUESTS=0")
    assert result.returncode == 2  # a bad setting: refused after the output was checked
    assert not (tmp_path / "pages.jsonl").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_fails_crawl_and_extract_with_one_error(
    tinysite: TinySite, tmp_path: Path
) -> None:
    (tmp_path / "full.jsonl").symlink_to("/dev/full")  # every write: no space left on device
    result = crawl(tinysite.url("/"), tmp_path, "--max-pages", "2", "-o", "full.jsonl")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "error: 1 output file(s) could not be written (see the log)" in result.stderr
    assert "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.pages  # the store still has what was crawled

    extract = run_crawler(
        "extract", tinysite.url("/"), "--field", "t=css:title", "-o", "full.jsonl", cwd=tmp_path
    )
    assert extract.returncode == 1, extract.stderr[-2000:]
    assert "error: full.jsonl could not be written (see the log)" in extract.stderr
    assert "row(s) written" not in extract.stderr
    assert "Traceback" not in extract.stderr
