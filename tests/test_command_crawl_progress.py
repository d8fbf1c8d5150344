"""``crawler crawl``'s progress as a user sees it: one live line on a terminal
(stderr on a pseudo-terminal), ``Progress:`` log lines otherwise."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from tests.crawltools import read_store, run_crawler, subprocess_env

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

# 40 catalog items and the index, each held 200 ms by the server: about 1.5 s of crawl
START = "/catalog/?size=40&delay=200"
PAGES = 41
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LIVE = re.compile(
    r"^(\d+) pages? \([\d.,]+/s\), (\d+) queued, (\d+) renders?, (\d+) errors?, "
    r"\d+:\d\d:\d\d elapsed$"
)
LOGGED = re.compile(r" \[[\w.]+\] (DEBUG|INFO|WARNING|ERROR|CRITICAL): ")
LOGGED_PROGRESS = re.compile(r"\[crawler\.extensions\.progress\] INFO: Progress: \d+ pages? ")
ITEM = "crawler.items.PageRecord"
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


def crawl_on_a_terminal(
    tmp_path: Path, *arguments: str, env: dict[str, str] | None = None, stdout: bool = False
) -> tuple[int, str, str]:
    """``crawler crawl ARGUMENTS`` with stderr (and stdout, with ``stdout``) on a
    pseudo-terminal of 160 columns (``env`` changes the environment):
    ``(exit code, stdout when not on the terminal, what the terminal showed)``."""
    controller, terminal = pty.openpty()
    env = {**subprocess_env(), "TERM": "xterm", "COLUMNS": "160", **(env or {})}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "crawl", *arguments],
            cwd=tmp_path,
            stdout=terminal if stdout else subprocess.PIPE,
            stderr=terminal,
            env=env,
        )
        os.close(terminal)
        shown = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        out, _ = proc.communicate(timeout=30)
    finally:
        os.close(controller)
    return proc.returncode, (out or b"").decode(), shown.decode()


def test_a_live_line_on_a_terminal(tinysite: TinySite, tmp_path: Path) -> None:
    code, stdout, shown = crawl_on_a_terminal(tmp_path, tinysite.url(START))
    assert code == 0, shown[-3000:]
    assert "Stored in sqlite:///crawl.db" in stdout
    # Cut where the terminal starts a line again: at line ends and carriage returns
    text = ANSI.sub("", shown)
    parts = [p for p in re.split(r"\r\n|\r|\n", text) if p.strip()]
    drawn = {i: m for i, m in enumerate(LIVE.match(p) for p in parts) if m}
    states = [(int(m[1]), int(m[2]), int(m[3]), int(m[4])) for m in drawn.values()]
    pages = [s[0] for s in states]
    assert len(set(pages)) >= 3, parts  # it moved while the crawl ran
    assert pages == sorted(pages)
    assert any(queued for _, queued, _, _ in states)  # the scheduler's queue was seen
    stored, _ = read_store(tmp_path / "crawl.db")
    assert pages[-1] == len(stored) == PAGES  # the final state (nothing left queued)...
    assert states[-1][1] == 0
    last = max(drawn)
    assert f"{parts[last]}\r\n" in text  # ...left on the screen, not drawn over
    # Records logged while the line was shown (Scrapy's "Closing spider") are
    # whole lines of their own, never glued to the progress line.
    for part in parts:
        if LOGGED.search(part):
            assert RECORD_START.match(part), part
    closing = [i for i, p in enumerate(parts) if "INFO: Closing spider (finished)" in p]
    assert closing and min(drawn) < closing[0] < last, parts


def test_progress_log_lines_without_a_terminal(tinysite: TinySite, tmp_path: Path) -> None:
    proc = run_crawler(
        "crawl", tinysite.url(START), "-s", "LOGSTATS_INTERVAL=0.5", cwd=tmp_path, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = re.findall(r"\[crawler\.extensions\.progress\] INFO: Progress: (.*)", proc.stderr)
    assert len(lines) >= 2, proc.stderr[-3000:]
    for line in lines:
        assert LIVE.match(line), line
    counts = [int(LIVE.match(line)[1]) for line in lines]  # type: ignore[index]
    assert counts == sorted(counts)
    assert counts[-1] <= PAGES
    assert "Crawled " not in proc.stderr  # Scrapy's LogStats line: replaced, not doubled
    assert "\x1b[" not in proc.stderr  # no terminal codes in a log
    assert "'responses_per_minute'" in proc.stderr  # LogStats's stats at the close, kept


def screen_parts(shown: str) -> list[str]:
    """What the terminal showed, without escape sequences, cut where it starts a
    line again (line ends, carriage returns)."""
    return [p for p in re.split(r"\r\n|\r|\n", ANSI.sub("", shown)) if p.strip()]


def test_the_last_state_counts_the_pages_the_summary_counts(
    tinysite: TinySite, tmp_path: Path
) -> None:
    """A start URL redirected twice: one page request answered (outcome/pages), three
    pages stored (each redirect's response too), and the summary says 3 pages: so
    does the last state of the line."""
    code, stdout, shown = crawl_on_a_terminal(tmp_path, tinysite.url("/rough/redirect/1"))
    assert code == 0, shown[-3000:]
    assert ": 3 pages (finish reason: finished)" in stdout
    drawn = [m for m in (LIVE.match(p) for p in screen_parts(shown)) if m]
    assert drawn and int(drawn[-1][1]) == 3, shown[-3000:]
    assert f"{drawn[-1][0]}\r\n" in ANSI.sub("", shown)  # left on the screen


def test_no_live_line_when_a_feed_writes_to_the_terminal(
    tinysite: TinySite, tmp_path: Path
) -> None:
    """Items on stdout, itself the terminal: they would be printed into the line, so
    progress is logged instead, and each item's JSON is a whole line."""
    feeds = json.dumps({"stdout:": {"format": "jsonlines", "item_classes": [ITEM]}})
    code, _, shown = crawl_on_a_terminal(
        tmp_path,
        tinysite.url(START),
        "-s",
        f"FEEDS={feeds}",
        "-s",
        "LOGSTATS_INTERVAL=0.5",
        stdout=True,
    )
    assert code == 0, shown[-3000:]
    parts = screen_parts(shown)
    assert not [p for p in parts if LIVE.match(p)], parts  # never drawn
    assert any(LOGGED_PROGRESS.search(p) for p in parts), parts
    rows = [json.loads(p) for p in parts if p.startswith('{"')]  # not the stats dump
    assert len(rows) == PAGES


def test_progress_is_logged_on_a_dumb_terminal(tinysite: TinySite, tmp_path: Path) -> None:
    """rich shows a dumb terminal nothing until the end: ``Progress:`` lines instead."""
    code, _, shown = crawl_on_a_terminal(
        tmp_path, tinysite.url(START), "-s", "LOGSTATS_INTERVAL=0.5", env={"TERM": "dumb"}
    )
    assert code == 0, shown[-3000:]
    parts = screen_parts(shown)
    assert not [p for p in parts if LIVE.match(p)], parts
    logged = [p for p in parts if LOGGED_PROGRESS.search(p)]
    assert len(logged) >= 2, parts
