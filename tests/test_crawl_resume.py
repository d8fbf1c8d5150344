"""``crawler crawl --job-dir``: killed (SIGKILL) or interrupted (Ctrl-C) at random
moments and resumed, a 2,000-page crawl stores exactly what an uninterrupted one does.

The site is the generated catalogue (``fixtures/tinysite/catalog.py``, 2,000
items and the index).  Kills come when the store holds a random number of pages
(the seed is printed, ``RESUME_SEED`` replays it); after each kill the run is
still open (never "finished"), and the last resume ends the same run.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler.journal import job_meta
from fixtures.tinysite import traps
from tests.clibatch import Command, run_commands
from tests.crawltools import run_crawler
from tests.resumetools import (
    finish,
    interrupt,
    kill_when,
    page_count,
    start_crawl,
    stored,
)

if TYPE_CHECKING:
    from pathlib import Path

    from fixtures.tinysite.server import TinySite
    from tests.resumetools import Stored

SIZE = 2000
OPTIONS = ["--render", "never", "-s", "CRAWLER_MAX_PAGES_PER_PATTERN=0", "--log-level", "INFO"]


def catalogue(site: TinySite, delay: int = 0, size: int = SIZE) -> str:
    return site.url(f"/catalog/?size={size}" + (f"&delay={delay}" if delay else ""))


def catalogue_pages(site: TinySite, size: int, delay: int) -> dict[str, int]:
    """The URL of every page of a catalogue of ``size`` items, all answering 200."""
    query = f"?size={size}&delay={delay}"
    urls = [site.url(f"/catalog/{query}")]
    urls += [site.url(f"/catalog/item/{n}.html{query}") for n in range(size)]
    return dict.fromkeys(urls, 200)


def seed() -> int:
    value = int(os.environ.get("RESUME_SEED", time.time_ns() % 1_000_000))
    print(f"RESUME_SEED={value}")
    return value


@pytest.fixture(scope="module")
def uninterrupted(tinysite: TinySite, tmp_path_factory: pytest.TempPathFactory) -> Stored:
    work = tmp_path_factory.mktemp("uninterrupted")
    done = run_crawler(
        "crawl", catalogue(tinysite), "--store", "sqlite:///crawl.db", *OPTIONS, cwd=work
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = stored(work / "crawl.db")
    assert len(result.pages) == SIZE + 1
    return result


def assert_whole_catalogue(db: Path, site: TinySite, size: int, delay: int) -> Stored:
    """The store holds one finished run with every page of the catalogue, once."""
    resumed = stored(db)
    assert resumed.runs == [(1, "finished")]
    assert resumed.pages == catalogue_pages(site, size, delay)
    assert resumed.page_rows == size + 1
    return resumed


def assert_same(resumed: Stored, uninterrupted: Stored) -> None:
    """Same pages and links (the ``delay`` a slow crawl's URLs carry aside)."""
    assert resumed.runs == [(1, "finished")]
    pages = {_undelayed(url): status for url, status in resumed.pages.items()}
    assert pages == uninterrupted.pages  # 0 pages lost, none extra
    assert resumed.page_rows == uninterrupted.page_rows  # 0 duplicated rows
    links = {(_undelayed(s), _undelayed(u), via) for s, u, via in resumed.links}
    assert links == uninterrupted.links
    assert resumed.link_rows == uninterrupted.link_rows


def _undelayed(url: str) -> str:
    return re.sub(r"&delay=\d+", "", url)


def run_stats(db: Path) -> dict[str, object]:
    with sqlite3.connect(db) as conn:
        (stats,) = conn.execute("SELECT stats FROM runs WHERE id = 1").fetchone()
    return json.loads(stats)


def assert_outcome_is_the_runs(db: Path, stats: dict[str, object], pages: int) -> None:
    """The verdict's counts and times are the run's, not the last segment's: each
    page counted once though a resume fetched some again; the run's start."""
    assert stats["outcome/pages"] == pages  # the catalogue: robots.txt, sitemaps aside
    assert stats["outcome/http_errors"] == 0
    with sqlite3.connect(db) as conn:
        (started_at,) = conn.execute("SELECT started_at FROM runs WHERE id = 1").fetchone()
    run_start = datetime.fromisoformat(str(stats["outcome/started_at"]))
    stored_start = datetime.fromisoformat(started_at).replace(tzinfo=UTC)
    assert abs((run_start - stored_start).total_seconds()) < 5
    last_segment = datetime.fromisoformat(str(stats["start_time"])).replace(tzinfo=UTC)
    assert run_start < last_segment
    assert (
        float(stats["outcome/elapsed_seconds"])
        > (
            datetime.fromisoformat(str(stats["finish_time"])).replace(tzinfo=UTC) - last_segment
        ).total_seconds()
    )


def test_sigkilled_three_times_then_resumed_stores_what_an_uninterrupted_crawl_does(
    tinysite: TinySite, tmp_path: Path, uninterrupted: Stored
) -> None:
    rng = random.Random(seed())
    thresholds = [rng.randint(30, 500), rng.randint(600, 1200), rng.randint(1300, 1900)]
    args = [catalogue(tinysite), "--store", "sqlite:///crawl.db", "--job-dir", "job", *OPTIONS]
    db, log = tmp_path / "crawl.db", tmp_path / "crawl.log"
    killed_at = []
    for threshold in thresholds:
        killed_at.append(kill_when(start_crawl(args, tmp_path, log), db, threshold))
        print("killed with", killed_at[-1], "pages stored")
        with sqlite3.connect(db) as conn:
            runs = list(conn.execute("SELECT id, finish_reason, finished_at FROM runs"))
        assert runs == [(1, None, None)]  # one run, still open: never "finished"
        assert job_meta(tmp_path / "job")["state"] == "running"
    assert killed_at == sorted(killed_at)
    assert killed_at[-1] < SIZE + 1, "the crawl finished before the last kill"
    code = finish(start_crawl(args, tmp_path, log))
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "Resuming run 1 of site" in text
    assert "Traceback" not in text
    assert_same(stored(db), uninterrupted)
    stats = run_stats(db)
    assert stats["journal/segments"] == 4
    assert stats["finish_reason"] == "finished"
    assert_outcome_is_the_runs(db, stats, SIZE + 1)
    assert job_meta(tmp_path / "job")["state"] == "finished"
    # The same command once more: nothing to resume, said before anything is fetched.
    again = run_crawler(*["crawl", *args], cwd=tmp_path)
    assert again.returncode == 2
    assert "which finished: nothing to resume" in again.stderr
    assert stored(db).runs == [(1, "finished")]


def test_rows_reach_the_store_within_a_second_whatever_the_batch_size(
    tinysite: TinySite, tmp_path: Path
) -> None:
    """With batches of 100,000 rows, rows are still written every second: a kill
    loses none of them and the resume completes the run."""
    size, delay = 400, 100
    args = [catalogue(tinysite, delay, size), "--store", "sqlite:///crawl.db", "--job-dir", "job"]
    args += [*OPTIONS, "-s", "CRAWLER_STORE_BATCH_SIZE=100000"]
    args += ["-o", "pages.jsonl", "-o", "pages.json"]
    db, log = tmp_path / "crawl.db", tmp_path / "crawl.log"
    crawl = start_crawl(args, tmp_path, log)
    pages = kill_when(crawl, db, 40, timeout=30)
    # 401 pages at 0.1 s over 8 connections take 5 s or more: killed mid-crawl
    assert crawl.returncode == -9, log.read_text()[-3000:]
    assert 40 <= pages < size + 1
    code = finish(start_crawl(args, tmp_path, log))
    assert code == 0, log.read_text()[-3000:]
    resumed = assert_whole_catalogue(db, tinysite, size, delay)
    # The JSON lines feed was appended to (the first part's lines are kept); the
    # JSON one, which cannot be, was rewritten whole, said on stderr.
    lines = [json.loads(line) for line in (tmp_path / "pages.jsonl").read_text().splitlines()]
    urls = {line["url"] for line in lines}
    assert urls <= set(resumed.pages)
    assert len(urls) > size + 1 - pages  # more than the resume alone fetched
    assert {page["url"] for page in json.loads((tmp_path / "pages.json").read_text())} <= urls
    assert "pages.json (json) cannot be appended to" in log.read_text()


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stores_what_was_fetched_and_the_resume_completes_the_run(
    tinysite: TinySite, tmp_path: Path, presses: int
) -> None:
    """One Ctrl-C: the requests in flight land, the crawl closes.  Two: it stops at
    once (responses in flight are dropped and journalled as not done); either
    way every page fetched so far is stored, the run is finished as
    ``shutdown`` (exit code 130) and a resume completes it."""
    # Slow answers (0.1 s): the second press comes while the first waits for them.
    size, delay = 400, 100
    args = [catalogue(tinysite, delay, size), "--store", "sqlite:///crawl.db", "--job-dir", "job"]
    args += [*OPTIONS, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16", "-s", "CONCURRENT_REQUESTS=16"]
    db, log = tmp_path / "crawl.db", tmp_path / "crawl.log"
    crawl = start_crawl(args, tmp_path, log)
    deadline = time.monotonic() + 60
    while page_count(db) < 100 and time.monotonic() < deadline and crawl.poll() is None:
        time.sleep(0.05)
    interrupt(crawl, presses, gap=0.02)
    code = finish(crawl)
    text = log.read_text()
    assert code == 130, text[-3000:]
    assert "lost" not in text.split("\n")[-2]
    interrupted = stored(db)
    assert interrupted.runs == [(1, "shutdown")]
    stats = run_stats(db)
    # Every page record that went through the pipelines is stored (with two
    # presses, also those the reactor stopped on their way through).
    assert len(interrupted.pages) >= stats["item_scraped_count"] > 0
    if presses == 1:
        # ... and every response reached the spider: all responses but robots.txt
        # (fetched by the robots middleware and for its Sitemap: lines) and
        # /sitemap.xml, which are no page records.
        assert len(interrupted.pages) == stats["response_received_count"] - 3
    else:
        assert "forcing unclean shutdown" in text
    assert job_meta(tmp_path / "job")["state"] == "stopped"
    code = finish(start_crawl(args, tmp_path, log))
    assert code == 0, log.read_text()[-3000:]
    assert_whole_catalogue(db, tinysite, size, delay)
    assert_outcome_is_the_runs(db, run_stats(db), size + 1)


def test_a_job_directory_is_refused_for_another_crawl_and_resume_needs_one(
    tinysite: TinySite, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    # Command lines refused before any crawl starts run in one process (tests.clibatch).
    early = run_commands(
        {
            "refused": Command(
                "crawler",
                ["crawl", catalogue(tinysite), "--job-dir", "empty", "--resume"],
                cwd=tmp_path,
            ),
            "no_dir": Command("crawler", ["crawl", catalogue(tinysite), "--resume"], cwd=tmp_path),
        },
        tmp_path,
    )
    assert early["refused"].returncode == 2
    assert "holds no crawl to resume" in early["refused"].stderr
    assert early["no_dir"].returncode == 2
    assert "--resume needs --job-dir" in early["no_dir"].stderr
    # A job directory that holds a crawl of another start URL.
    args = [catalogue(tinysite, delay=20), "--store", "sqlite:///crawl.db", "--job-dir", "job"]
    kill_when(start_crawl([*args, *OPTIONS], tmp_path, tmp_path / "log"), tmp_path / "crawl.db", 5)
    # The store is named by its absolute path: the same command from another
    # directory (its own crawl.db) would write another store's run 1.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    moved = [args[0], "--job-dir", str(tmp_path / "job"), *OPTIONS]
    late = run_commands(
        {
            "other": Command(
                "crawler", ["crawl", tinysite.url("/"), "--job-dir", "job"], cwd=tmp_path
            ),
            # Other arguments would end the run with another crawl's pages (--max-pages
            # may change).
            "deeper": Command(
                "crawler", ["crawl", *args, *OPTIONS, "--max-depth", "1"], cwd=tmp_path
            ),
            "moved": Command("crawler", ["crawl", *moved], cwd=elsewhere),
        },
        tmp_path,
    )
    other, deeper, refused = late["other"], late["deeper"], late["moved"]
    assert other.returncode == 2
    assert "holds run 1 of site" in other.stderr
    assert "choose another job directory" in other.stderr
    assert "Traceback" not in other.stderr
    assert deeper.returncode == 2, deeper.stderr[-2000:]
    assert "started with other arguments: DEPTH_LIMIT 1 (the run's: 0)" in deeper.stderr
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert f"(--store sqlite:///{tmp_path / 'crawl.db'}, or CRAWLER_STORE_URL)" in refused.stderr
    assert not (elsewhere / "crawl.db").exists()
    # Two crawls on one job directory at once: the second is refused, the first
    # is left alone and finishes.  The first is running once it stored pages of
    # its own (the killed crawl's are there already).
    before = page_count(tmp_path / "crawl.db")
    first = start_crawl([*args, *OPTIONS], tmp_path, tmp_path / "log")
    time.sleep(0.2)
    deadline = time.monotonic() + 30
    while page_count(tmp_path / "crawl.db") < before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_crawler("crawl", *args, *OPTIONS, cwd=tmp_path)
    assert second.returncode == 2, second.stderr[-2000:]
    assert "is in use by another crawl" in second.stderr
    assert finish(first) == 0
    assert stored(tmp_path / "crawl.db").runs == [(1, "finished")]
    assert len(stored(tmp_path / "crawl.db").pages) == SIZE + 1


def test_trap_budgets_and_max_pages_count_over_the_whole_run(
    tinysite: TinySite, tmp_path: Path
) -> None:
    """A resume goes on with the per-pattern budgets and the --max-pages count
    where the killed or stopped crawl left them, instead of starting them again."""
    budget = 30
    args = [tinysite.url(traps.INDEX_PATH), "--store", "sqlite:///crawl.db", "--job-dir", "job"]
    args += ["--render", "never", "-s", f"CRAWLER_MAX_PAGES_PER_PATTERN={budget}"]
    # Rows reach the store every 50 (not once a second): the kill comes mid-crawl.
    args += ["-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "-s", "CRAWLER_STORE_BATCH_SIZE=50"]
    db, log = tmp_path / "crawl.db", tmp_path / "crawl.log"
    kill_when(start_crawl(args, tmp_path, log), db, 40, timeout=60)
    code = finish(start_crawl(args, tmp_path, log))
    assert code == 0, log.read_text()[-3000:]
    months, days = [], []
    for url, status in stored(db).pages.items():
        parts = urlsplit(url)
        if parts.path == traps.CALENDAR_PATH and status == 200:
            query = parse_qs(parts.query)
            (days if "day" in query else months).append(int(query["month"][0]))
    assert sorted(months) == list(range(1, budget + 1))  # as an uninterrupted crawl
    assert len(days) == budget

    # --max-pages: the run's pages, across resumes.
    work = tmp_path / "max"
    work.mkdir()
    args = [catalogue(tinysite), "--store", "sqlite:///crawl.db", "--job-dir", "job", *OPTIONS]
    first = finish(start_crawl([*args, "--max-pages", "60"], work, log))
    assert first == 0
    after_first = page_count(work / "crawl.db")
    assert 60 <= after_first <= 60 + 24  # requests in flight land
    assert job_meta(work / "job")["state"] == "stopped"
    again = finish(start_crawl([*args, "--max-pages", "60"], work, log))
    assert again == 0
    assert page_count(work / "crawl.db") <= after_first + 24  # closed at its first page
    more = finish(start_crawl([*args, "--max-pages", "120"], work, log))
    assert more == 0
    assert 120 <= page_count(work / "crawl.db") <= 120 + 24
    assert stored(work / "crawl.db").runs == [(1, "closespider_pagecount")]
