"""``crawler crawl``'s progress as a user sees it: one live line on a terminal
(stderr on a pseudo-terminal), ``Progress:`` log lines otherwise."""

from __future__ import annotations

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
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


def crawl_on_a_terminal(tmp_path: Path, *arguments: str) -> tuple[int, str, str]:
    """``crawler crawl ARGUMENTS`` with stderr on a pseudo-terminal of 160 columns:
    ``(exit code, stdout, what the terminal showed)``."""
    controller, terminal = pty.openpty()
    env = {**subprocess_env(), "TERM": "xterm", "COLUMNS": "160"}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "crawl", *arguments],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
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
        stdout, _ = proc.communicate(timeout=30)
    finally:
        os.close(controller)
    return proc.returncode, stdout.decode(), shown.decode()


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
