"""Killing ``crawler crawl --job-dir`` at random moments and resuming it (tests of resume)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.crawltools import subprocess_env


@dataclass(frozen=True)
class Stored:
    """What a store holds, as sets (duplicates would show in the counts)."""

    runs: list[tuple[int, str | None]]
    pages: dict[str, int | None]  # url -> status
    page_rows: int
    links: set[tuple[str, str, str]]
    link_rows: int
    items: int


def stored(db: Path) -> Stored:
    with sqlite3.connect(db) as conn:
        runs = list(conn.execute("SELECT id, finish_reason FROM runs ORDER BY id"))
        pages = list(conn.execute("SELECT url, status FROM pages"))
        links = list(conn.execute("SELECT source, url, found_via FROM links"))
        (items,) = conn.execute("SELECT count(*) FROM items").fetchone()
    return Stored(
        runs=runs,
        pages=dict(pages),
        page_rows=len(pages),
        links=set(links),
        link_rows=len(links),
        items=items,
    )


def page_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            (count,) = conn.execute("SELECT count(*) FROM pages").fetchone()
    except sqlite3.OperationalError:  # no table yet
        return 0
    return int(count)


def start_crawl(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """``crawler crawl ARGS`` in a process group of its own (killed as a user's
    supervisor would kill it)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "crawl", *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
            start_new_session=True,
        )


def kill_when(process: subprocess.Popen[bytes], db: Path, pages: int, timeout: float = 240) -> int:
    """SIGKILL the crawl's whole process group once the store has ``pages`` pages
    (or the crawl ended by itself); the pages stored when it was killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if page_count(db) >= pages:
            break
        time.sleep(0.05)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return page_count(db)


def interrupt(process: subprocess.Popen[bytes], times: int, gap: float = 0.1) -> None:
    """Ctrl-C ``times`` times (SIGINT to the crawl, ``gap`` seconds apart)."""
    for press in range(times):
        if press:
            time.sleep(gap)
        process.send_signal(signal.SIGINT)


def finish(process: subprocess.Popen[bytes], timeout: float = 300) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
