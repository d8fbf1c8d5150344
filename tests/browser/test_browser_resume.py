"""A rendering crawl with a job directory, SIGKILLed or interrupted mid-render and resumed:
every page rendered once in the store, no render lost, no browser left behind.

Renders in flight when the crawl dies are journalled as not done and rendered
by the resume; renders still queued when Ctrl-C closes the browser pool are
not recorded as failures.  (The 2,000-page version with an uninterrupted crawl
beside it is ``python -m bench.bench_resume``; the HTTP one is
``tests/test_crawl_resume.py``.)
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from typing import TYPE_CHECKING

from crawler.journal import job_meta
from tests.browser.conftest import find_process, is_browser_main, processes_under
from tests.resumetools import finish, interrupt, kill_when, start_crawl, stored

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite

SIZE = 240
GONE_WITHIN = 5.0  # seconds for the killed crawl's browsers to exit


def arguments(site: TinySite, root: str) -> list[str]:
    return [
        site.url(f"/catalog/?size={SIZE}"),
        "--render",
        "always",
        "--store",
        "sqlite:///crawl.db",
        "--job-dir",
        "job",
        "-s",
        "CRAWLER_MAX_PAGES_PER_PATTERN=0",
        "-s",
        f"SELENIUM_TEMP_DIR={root}",
        "-s",
        "SELENIUM_POOL_SIZE=2",
        "-s",
        "SELENIUM_ALLOWED_HOSTS=127.0.0.1",
        "--log-level",
        "INFO",
    ]


def expected(site: TinySite) -> set[str]:
    query = f"?size={SIZE}"
    return {site.url(f"/catalog/{query}")} | {
        site.url(f"/catalog/item/{n}.html{query}") for n in range(SIZE)
    }


def rendered_pages(db: Path) -> list[tuple[str, int, int, str | None]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT url, status, rendered, error FROM pages"))


def wait_gone(root: str) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while processes_under(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_under(root) == []


def test_rendering_crawl_killed_twice_and_interrupted_then_resumed_renders_every_page_once(
    tinysite: TinySite, browser_root: str, tmp_path: Path
) -> None:
    """SIGKILL at two random moments, then Ctrl-C mid-render, then a resume to the end."""
    seed = int(os.environ.get("RESUME_SEED", time.time_ns() % 1_000_000))
    print(f"RESUME_SEED={seed}")
    rng = random.Random(seed)
    args = arguments(tinysite, browser_root)
    db, log = tmp_path / "crawl.db", tmp_path / "crawl.log"
    for threshold in (rng.randint(10, 60), rng.randint(80, 130)):
        crawl = start_crawl(args, tmp_path, log)
        killed_at = kill_when(crawl, db, threshold, timeout=180)
        assert crawl.returncode == -9, log.read_text()[-3000:]
        assert killed_at < SIZE + 1
        wait_gone(browser_root)  # the browsers died with the crawl
        assert stored(db).runs == [(1, None)]  # the run is open, never "finished"
    # Ctrl-C while both browsers render and more renders wait in the queue.
    crawl = start_crawl(args, tmp_path, log)
    target = len(rendered_pages(db)) + rng.randint(20, 60)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and crawl.poll() is None:
        if (
            len(find_process(browser_root, is_browser_main)) == 2
            and len(rendered_pages(db)) >= target
        ):
            break
        time.sleep(0.05)
    interrupt(crawl, 1)
    code = finish(crawl, timeout=120)
    text = log.read_text()
    assert code == 130, text[-3000:]
    wait_gone(browser_root)
    interrupted = rendered_pages(db)
    assert len(interrupted) < SIZE + 1, "the crawl ended before Ctrl-C"
    # Renders still queued when the pool closed are no page errors.
    assert [error for *_, error in interrupted if error] == []
    assert stored(db).runs == [(1, "shutdown")]
    code = finish(start_crawl(args, tmp_path, log))
    assert code == 0, log.read_text()[-3000:]
    pages = rendered_pages(db)
    assert {url for url, *_ in pages} == expected(tinysite)  # none lost
    assert len(pages) == SIZE + 1  # none twice
    assert all(status == 200 and rendered and error is None for _, status, rendered, error in pages)
    assert stored(db).runs == [(1, "finished")]
    meta = job_meta(tmp_path / "job")
    assert (meta["state"], meta["segments"]) == ("finished", 4)
