"""``crawler jobs list`` and ``crawler jobs history`` on a real state store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from crawler.jobs.config import load_jobs_file
from crawler.jobs.state import StateStore
from tests.crawltools import run_crawler
from tests.jobstools import write_jobs

if TYPE_CHECKING:
    from pathlib import Path

JOBS = """
[jobs.nightly]
crawl = "http://127.0.0.1:9/"
schedule = { cron = "30 2 * * *", timezone = "Europe/Paris" }

[jobs.hourly]
crawl = "http://127.0.0.1:9/"
schedule = { every = "1h" }
misfire = "skip"
"""


def listing(jobs_file: Path) -> dict[str, str]:
    """``crawler jobs list``'s rows by job name."""
    done = run_crawler("jobs", "list", "--jobs-file", str(jobs_file), cwd=jobs_file.parent)
    assert done.returncode == 0, done.stderr
    return {line.split()[0]: line for line in done.stdout.splitlines()[2:] if line.strip()}


def test_list_shows_two_distinct_next_times_for_a_cron_job(tmp_path: Path) -> None:
    rows = listing(write_jobs(tmp_path, JOBS))
    nightly = rows["nightly"]
    times = [t for t in nightly.split() if t.count(":") == 2]
    assert len(times) == 2, nightly
    dates = [t for t in nightly.split() if t.count("-") == 2]
    assert dates[0] != dates[1], nightly  # 02:30 one day, 02:30 the next
    hourly = rows["hourly"]
    assert len({t for t in hourly.split() if t.count(":") == 2}) == 2, hourly


def test_list_says_a_past_next_fire_is_caught_up_at_the_next_start(tmp_path: Path) -> None:
    """A stored next fire in the past: no scheduler ran then.  The next start makes
    one catch-up run (misfire = run_once) or none (skip)."""
    jobs_file = write_jobs(tmp_path, JOBS)
    jobs = load_jobs_file(jobs_file)
    store = StateStore.open(jobs.scheduler.store)
    past = datetime.now(UTC) - timedelta(days=2)
    try:
        for name, job in jobs.jobs.items():
            assert job.schedule is not None
            store.set_job_state(name, schedule=job.schedule.key(), next_fire_at=past)
    finally:
        store.close()
    rows = listing(jobs_file)
    assert "catch-up run at the next scheduler start" in rows["nightly"]
    assert "skipped at the next scheduler start" in rows["hourly"]


def test_last_run_is_the_last_that_ran_and_history_filters_by_status(tmp_path: Path) -> None:
    jobs_file = write_jobs(tmp_path, JOBS)
    store = StateStore.open(load_jobs_file(jobs_file).scheduler.store)
    now = datetime.now(UTC)
    try:
        ran = store.add_run(
            job="hourly", trigger="schedule", status="succeeded", started_at=now, finished_at=now
        )
        for status in ("skipped", "missed", "skipped"):
            store.add_run(job="hourly", trigger="schedule", status=status, scheduled_for=now)
        store.add_run(job="nightly", trigger="schedule", status="skipped", scheduled_for=now)
    finally:
        store.close()
    rows = listing(jobs_file)
    assert f"succeeded ({now:%Y-%m-%d}" in rows["hourly"] and f"run {ran})" in rows["hourly"]
    assert "never ran" in rows["nightly"]

    def history(*args: str) -> list[dict]:
        done = run_crawler(
            "jobs", "history", *args, "--json", "--jobs-file", str(jobs_file), cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    assert len(history()) == 5
    assert [r["status"] for r in history("--status", "skipped")] == ["skipped"] * 3
    assert [r["id"] for r in history("hourly", "--status", "succeeded,missed")][-1] == ran
    assert len(history("hourly", "--status", "missed", "--status", "succeeded")) == 2
    none = run_crawler(
        "jobs", "history", "--status", "failed", "--jobs-file", str(jobs_file), cwd=tmp_path
    )
    assert none.stdout.strip() == "no runs with status failed"


def test_a_scheduler_with_no_jobs_is_refused(tmp_path: Path) -> None:
    jobs_file = write_jobs(tmp_path, "")
    done = run_crawler("scheduler", "--jobs-file", str(jobs_file), cwd=tmp_path, timeout=30)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"{jobs_file}: no jobs: a scheduler would have nothing to run" in done.stderr
