"""Output files a command cannot write: refused before anything is crawled, and a
file that fails while it is written (a full disk) fails the command, not just its log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.clibatch import Command, crawl_command, run_commands
from tests.crawltools import crawl, run_crawler

if TYPE_CHECKING:
    from fixtures.tinysite.server import TinySite

UNREACHABLE = "http://127.0.0.1:9/"  # never fetched: the check comes first
SPECS = Path(__file__).parent / "specs"
Refused = tuple[subprocess.CompletedProcess[str], Path]


def unwritable_message(tmp_path: Path, kind: str) -> tuple[str, str]:
    """The output path of :func:`unwritable` in ``tmp_path``, and what the error
    says about it."""
    if kind == "directory":
        return "out.jsonl", "cannot write out.jsonl: it is a directory"
    if kind == "dangling link":
        return "out.jsonl", f"cannot write out.jsonl: it links to {tmp_path}/gone/x.jsonl"
    assert kind == "no permission"  # refused even to root: sysfs takes no new files
    return "/sys/out.jsonl", "cannot write /sys/out.jsonl: Permission denied"


def unwritable(tmp_path: Path, kind: str) -> tuple[str, str]:
    """An output path that cannot be written, made in ``tmp_path``, and what the
    error says about it."""
    if kind == "directory":
        (tmp_path / "out.jsonl").mkdir()
    elif kind == "dangling link":
        (tmp_path / "out.jsonl").symlink_to(tmp_path / "gone" / "x.jsonl")
    return unwritable_message(tmp_path, kind)


KINDS = ["directory", "dangling link", "no permission"]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


TWO_OUTPUTS = [
    (["-o", "same.jsonl", "--output-items", "same.jsonl"], "-o same.jsonl and --output-items"),
    (["-o", "x.jsonl", "-o", "./x.jsonl"], "-o x.jsonl and -o ./x.jsonl"),
    (["-o", "x.jsonl", "-o", "x.jsonl"], "-o x.jsonl and -o x.jsonl"),
    (
        ["-o", "a.jsonl", "-s", 'FEEDS={"sub/../a.jsonl": {"format": "jsonl"}}'],
        "-o a.jsonl and -s FEEDS sub/../a.jsonl",
    ),
]


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Refused]:
    """Every command line of this module that the checks refuse, run in one process
    (tests/clibatch.py): ``{key: (outcome, the test's temp dir)}``; each temp dir
    is prepared as the test's own ``tmp_path`` was."""
    root = tmp_path_factory.mktemp("refused")
    dirs: dict[str, Path] = {}
    commands: dict[str, Command] = {}

    def workdir(key: str) -> Path:
        dirs[key] = root / key.replace(" ", "-")
        dirs[key].mkdir()
        return dirs[key]

    for kind in KINDS:
        for option in ("-o", "--output-items"):
            tmp = workdir(f"crawl {option} {kind}")
            output, _ = unwritable(tmp, kind)
            commands[f"crawl {option} {kind}"] = crawl_command(UNREACHABLE, tmp, option, output)
        tmp = workdir(f"alike {kind}")
        output, _ = unwritable(tmp, kind)
        extract = ["extract", UNREACHABLE, "--field", "t=css:title", "-o", output]
        commands[f"alike {kind}"] = Command("crawler", extract, cwd=tmp)
        site = ["crawl", "site", "-a", f"start_url={UNREACHABLE}", "-o", str(tmp / output)]
        commands[f"alike {kind} scrapy"] = Command("scrapy", site)
    tmp = workdir("left behind")
    commands["left behind"] = crawl_command(
        UNREACHABLE, tmp, "-o", "pages.jsonl", "-s", "CONCURRENT_REQUESTS=0"
    )
    for n, (options, _) in enumerate(TWO_OUTPUTS):
        tmp = workdir(f"two outputs {n}")
        (tmp / "sub").mkdir()
        commands[f"two outputs {n}"] = crawl_command(UNREACHABLE, tmp, *options)
    tmp = workdir("two outputs alike")
    commands["two outputs alike"] = Command(
        "crawler",
        [
            "extract",
            UNREACHABLE,
            "--field",
            "t=css:title",
            "-o",
            "e.jsonl",
            "-s",
            f'FEEDS={{"{tmp}/e.jsonl": {{"format": "jsonl"}}}}',
        ],
        cwd=tmp,
    )
    out = str(tmp / "a.jsonl")
    site = ["crawl", "site", "-a", f"start_url={UNREACHABLE}", *store(tmp)]
    commands["two outputs alike scrapy"] = Command(
        "scrapy", [*site, "-o", out, "-o", f"{out}:jsonl"]
    )
    tmp = workdir("scrapy directory")
    commands["scrapy directory"] = Command(
        "scrapy",
        ["crawl", "site", "-a", f"start_url={UNREACHABLE}", *store(tmp), "-o", str(tmp)],
    )
    outcomes = run_commands(commands, root)
    return {
        key: (outcomes[key], dirs.get(key, dirs.get(key.removesuffix(" scrapy"))))
        for key in commands
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option", ["-o", "--output-items"])
def test_crawl_refuses_an_output_it_cannot_write(
    refused: dict[str, Refused], kind: str, option: str
) -> None:
    result, tmp_path = refused[f"crawl {option} {kind}"]
    _, message = unwritable_message(tmp_path, kind)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert line.startswith(f"error: {message}")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "crawl.db").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_extract_and_scrapy_crawl_refuse_it_too(refused: dict[str, Refused], kind: str) -> None:
    extract, tmp_path = refused[f"alike {kind}"]
    scrapy, _ = refused[f"alike {kind} scrapy"]
    _, message = unwritable_message(tmp_path, kind)
    for result in (extract, scrapy):
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        [line] = error_lines(result.stderr)
        assert message.rpartition(": ")[2] in line


def test_a_writable_output_is_not_left_behind_by_the_check(refused: dict[str, Refused]) -> None:
    result, tmp_path = refused["left behind"]
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


# -- outputs that are URIs, and outputs that meet --------------------------------

FTP_FEED = "ftp://fu:hunter2ftp@127.0.0.1:1/x.jsonl"  # nothing listens: the upload fails


def store(tmp_path: Path) -> list[str]:
    """A store in the temp dir: should a check let the crawl start, no crawl.db in the repo."""
    return ["-s", f"CRAWLER_STORE_URL=sqlite:///{tmp_path / 'crawl.db'}"]


@pytest.mark.parametrize("option", ["-o", "--output-items"])
def test_a_feed_uri_goes_to_scrapy_as_it_is(
    tinysite: TinySite, tmp_path: Path, option: str
) -> None:
    result = crawl(
        tinysite.url("/catalog/?size=1"),
        tmp_path,
        "--max-pages",
        "2",
        "--extract",
        str(SPECS / "catalog.yaml"),
        option,
        FTP_FEED,
        *("-s", "CRAWLER_FEED_PREFLIGHT=False"),  # tried at the end, not before the crawl
    )
    # Scrapy's FTP storage tried ftp://fu:...@127.0.0.1:1/x.jsonl (not a path "ftp:/fu:...")
    assert result.returncode == 1, result.stderr[-2000:]
    stored = (
        r"ERROR: Error storing jsonlines feed \(\d items\) in: ftp://fu:\*\*\*@127.0.0.1:1/x.jsonl"
    )
    assert re.search(stored, result.stderr), result.stderr[-2000:]
    [line] = error_lines(result.stderr)
    # the feed named (password masked), and where its records were kept
    assert line.startswith(
        "error: 1 output file(s) could not be written: ftp://fu:***@127.0.0.1:1/x.jsonl "
        f"(records kept in {tmp_path}/undelivered-"
    ), line
    assert line.endswith("-127.0.0.1-x.jsonl) (crawl failed: feed_failed)"), line
    assert "hunter2ftp" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr

    extract = run_crawler(
        *("extract", tinysite.url("/"), "--field", "t=css:title", "-o", FTP_FEED),
        *("-s", "CRAWLER_FEED_PREFLIGHT=False"),
        cwd=tmp_path,
    )
    assert extract.returncode == 1, extract.stderr[-2000:]
    assert error_lines(extract.stderr) == [
        "error: ftp://fu:***@127.0.0.1:1/x.jsonl could not be written (see the log)"
    ]
    assert "hunter2ftp" not in extract.stderr + extract.stdout


@pytest.mark.parametrize(("n", "options", "message"), [(n, *c) for n, c in enumerate(TWO_OUTPUTS)])
def test_two_outputs_to_one_file_are_one_line(
    refused: dict[str, Refused], n: int, options: list[str], message: str
) -> None:
    result, tmp_path = refused[f"two outputs {n}"]
    assert result.args[-len(options) :] == options
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {message}")
    assert line.endswith(
        "write the same file, and one would overwrite the other: give each output its own file"
    )
    assert not (tmp_path / "crawl.db").exists()


def test_extract_and_scrapy_crawl_refuse_two_outputs_to_one_file(
    refused: dict[str, Refused],
) -> None:
    extract, _ = refused["two outputs alike"]
    scrapy, _ = refused["two outputs alike scrapy"]
    for result in (extract, scrapy):
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.splitlines()
        assert "write the same file" in line


def test_output_files_and_s_feeds_are_all_written(tinysite: TinySite, tmp_path: Path) -> None:
    feeds = '{"b.jsonl": {"format": "jsonl"}}'
    result = crawl(
        tinysite.url("/"), tmp_path, "--max-pages", "3", "-o", "a.jsonl", "-s", f"FEEDS={feeds}"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    urls = {
        name: [json.loads(line)["url"] for line in (tmp_path / f"{name}.jsonl").open()]
        for name in "ab"
    }
    assert len(urls["a"]) == len(result.pages) > 1
    assert sorted(urls["a"]) == sorted(urls["b"])

    extract = run_crawler(
        "extract",
        tinysite.url("/"),
        "--field",
        "t=css:title",
        "-o",
        "c.csv",
        "-s",
        'FEEDS={"d.jsonl": {"format": "jsonl"}}',
        cwd=tmp_path,
    )
    assert extract.returncode == 0, extract.stderr[-2000:]
    assert (tmp_path / "c.csv").read_text().splitlines()[0] == "url,t"
    assert json.loads((tmp_path / "d.jsonl").read_text())["t"] == "Tinysite home"


def test_scrapy_crawl_output_to_a_directory_is_one_line(refused: dict[str, Refused]) -> None:
    """Not Scrapy's usage text and "Unrecognized output format ''": a directory
    has no suffix, and Scrapy reads -o before the project's command checks it."""
    result, tmp_path = refused["scrapy directory"]
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: cannot write {tmp_path}: it is a directory\n"


def test_xml_outputs_are_written_as_crawler_export_writes_them(
    tinysite: TinySite, tmp_path: Path
) -> None:
    result = crawl(
        tinysite.url("/catalog/?size=1"),
        tmp_path,
        "--extract",
        str(SPECS / "catalog.yaml"),
        "--output-items",
        "items.xml",
        "-o",
        "pages.xml",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    pages = ET.parse(tmp_path / "pages.xml").getroot()
    assert {page.findtext("url") for page in pages} >= {tinysite.url("/catalog/?size=1")}
    exported = run_crawler(
        "export", "1", "--store", f"sqlite:///{result.db}", "-o", "export.xml", cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    feed = (tmp_path / "items.xml").read_bytes()
    assert b"<sku>TS-0000000</sku>" in feed
    assert (tmp_path / "export.xml").read_bytes() == feed
