"""What a scheduler does at start with what the previous one left: runs whose
crawl is gone (per ``interrupted``), queued runs (per ``misfire``).

The scheduler's own recovery (:meth:`Scheduler.recover`) on a real state store,
in this process; the rows are those a scheduler killed mid-run leaves.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from crawler.jobs import scheduler as scheduler_module
from crawler.jobs.config import load_jobs_file
from crawler.jobs.execute import adopt_run, process_start
from crawler.jobs.scheduler import Scheduler
from crawler.jobs.state import StateStore
from crawler.outcome import usage_report, write_outcome

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def dead_pid() -> int:
    """The pid of a process that ended (and was reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    assert process.wait() == 0
    return process.pid


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[Scheduler]:
    path = tmp_path / "jobs.toml"
    path.write_text(
        '[scheduler]\nstore = "sqlite:///state.db"\n\n'
        + "".join(
            f'[jobs.{policy}]\ncrawl = "http://127.0.0.1:9/"\ninterrupted = "{policy}"\n'
            f'misfire = "{"skip" if policy == "mark" else "run_once"}"\n\n'
            for policy in ("resume", "retry", "mark")
        )
    )
    jobs = load_jobs_file(path)
    store = StateStore.open(jobs.scheduler.store)
    yield Scheduler(jobs, store)
    store.close()


def test_runs_whose_crawl_is_gone_follow_the_interrupted_policy(
    scheduler: Scheduler, tmp_path: Path
) -> None:
    store = scheduler.store
    pid, now = dead_pid(), datetime.now(UTC)
    left = {}
    for name in ("resume", "retry", "mark"):
        left[name] = store.add_run(
            job=name,
            trigger="schedule",
            status="running",
            started_at=now,
            run_dir=str(tmp_path / name),
            job_dir=str(tmp_path / name / "job"),
            pid=pid,
            pgid=pid,
            pid_start="1",
            owner=f"{socket.gethostname()}:{pid}",  # a scheduler that died
        )
    scheduler.recover()
    for run_id in left.values():
        row = store.run(run_id)
        assert row is not None
        assert row["status"] == "interrupted"
        assert [r["code"] for r in row["reasons"]] == ["scheduler_died"]
    pending = {p.job: p for p in scheduler.pending}
    assert set(pending) == {"resume", "retry"}  # mark: nothing more
    assert pending["resume"].job_dir == tmp_path / "resume" / "job"  # the same job dir
    assert pending["retry"].job_dir is None  # a fresh one
    for name in ("resume", "retry"):
        follow = store.run(pending[name].run_id)
        assert follow is not None
        assert (follow["trigger"], follow["resumed_from"]) == (name, left[name])
        assert (store.run(left[name]) or {}).get("followed_by") == follow["id"]
    assert (store.run(left["mark"]) or {}).get("followed_by") == 0

    again = Scheduler(scheduler.jobs, store)  # followed up once, not at every start
    again.recover()
    assert {p.run_id for p in again.pending} == {p.run_id for p in scheduler.pending}


def test_queued_runs_follow_the_misfire_policy(scheduler: Scheduler) -> None:
    store = scheduler.store
    queued = {
        name: [store.add_run(job=name, trigger="schedule", status="queued") for _ in range(2)]
        for name in ("resume", "mark")  # misfire run_once, skip
    }
    scheduler.recover()
    assert [p.run_id for p in scheduler.pending] == [queued["resume"][1]]  # the newest, once
    statuses = {i: (store.run(i) or {}).get("status") for ids in queued.values() for i in ids}
    assert statuses == {
        queued["resume"][0]: "missed",
        queued["resume"][1]: "queued",
        queued["mark"][0]: "missed",
        queued["mark"][1]: "missed",
    }


def test_a_run_that_ended_unwatched_ends_when_it_ended_not_when_noticed(
    scheduler: Scheduler, tmp_path: Path
) -> None:
    """The end time is the outcome file's ``finished_at``; without one, when
    its crawl.log was last written; without that, unknown (None)."""
    store = scheduler.store
    pid, now = dead_pid(), datetime.now(UTC)
    ended = now - timedelta(minutes=10)
    rows = {}
    for name in ("resume", "retry", "mark"):
        run_dir = tmp_path / name
        run_dir.mkdir()
        rows[name] = store.add_run(
            job=name,
            trigger="schedule",
            status="running",
            started_at=now - timedelta(minutes=20),
            run_dir=str(run_dir),
            log_file=str(run_dir / "crawl.log") if name != "mark" else None,
            pid=pid,
            pgid=pid,
            pid_start="1",
            owner=f"{socket.gethostname()}:{pid}",
        )
    outcome = usage_report("boom", started_at=now - timedelta(minutes=20))
    write_outcome(
        tmp_path / "resume" / "outcome.json",
        dataclasses.replace(outcome, finished_at=ended.isoformat()),
    )
    log = tmp_path / "retry" / "crawl.log"
    log.write_text("the crawl's last line\n")
    os.utime(log, (ended.timestamp(), ended.timestamp()))
    scheduler.recover()
    finished = {name: (store.run(i) or {}).get("finished_at") for name, i in rows.items()}
    assert finished["resume"] == ended  # the outcome file's
    assert abs((finished["retry"] - ended).total_seconds()) < 1  # the log's mtime
    assert finished["mark"] is None  # unknown
    assert (store.run(rows["resume"]) or {}).get("status") == "failed"


def test_an_adopted_run_this_scheduler_stopped_is_not_lost(
    scheduler: Scheduler, tmp_path: Path
) -> None:
    """A crawl adopted from a dead scheduler, then stopped by this one (overlap
    ``stop``), ends ``interrupted`` with reason ``overlap``, not ``lost``."""
    store = scheduler.store
    crawl = subprocess.Popen(  # stands for a crawl: a process in its own session
        [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    # Python's Ctrl-C handler is in place once the child runs its code: the test
    # is about the scheduler, not a SIGINT that comes while the interpreter starts.
    assert crawl.stdout is not None and crawl.stdout.readline() == "ready\n"
    try:
        pid = dead_pid()
        run_id = store.add_run(
            job="mark",
            trigger="schedule",
            status="running",
            started_at=datetime.now(UTC),
            run_dir=str(tmp_path / "mark"),
            pid=crawl.pid,
            pgid=crawl.pid,
            pid_start=process_start(crawl.pid),
            owner=f"{socket.gethostname()}:{pid}",
        )
        scheduler.recover()
        handle = scheduler.active[run_id]
        assert handle.proc is None  # adopted
        handle.stop("overlap")
        crawl.wait(10)
        for _ in range(50):
            scheduler.poll_runs()
            if not scheduler.active:
                break
            time.sleep(0.1)
        scheduler.notifier.shutdown(wait=True)
    finally:
        crawl.kill()
        crawl.wait()
    row = store.run(run_id) or {}
    assert row["status"] == "interrupted"
    assert [r["code"] for r in row["reasons"]] == ["overlap"]


def test_a_stale_lock_taken_over_is_logged_and_its_holders_runs_change_hands(
    scheduler: Scheduler,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A frozen scheduler (a live process that stopped renewing the lock): the
    new one logs the takeover naming it and adopts its running crawl; the old
    one, woken, exits without stopping that crawl."""
    store = scheduler.store
    frozen = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    crawl = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        old_owner = f"{socket.gethostname()}:{frozen.pid}"
        assert store.acquire_lock(old_owner, 15, lambda _: False) is None
        run_id = store.add_run(
            job="mark",
            trigger="schedule",
            status="running",
            started_at=datetime.now(UTC),
            run_dir=str(tmp_path / "mark"),
            pid=crawl.pid,
            pgid=crawl.pid,
            pid_start=process_start(crawl.pid),
            owner=old_owner,
        )
        old = Scheduler(scheduler.jobs, store)
        old.owner = old_owner
        old.recover()  # nothing to adopt: the run is its own
        old.active[run_id] = adopt_run(scheduler.jobs.jobs["mark"], store.run(run_id) or {})

        monkeypatch.setattr(scheduler_module, "LOCK_STALE_AFTER", 0.0)  # it froze long ago
        with caplog.at_level(logging.WARNING, logger="crawler.jobs.scheduler"):
            scheduler.take_lock()
        assert f"took over the scheduler lock of {old_owner}" in caplog.text
        scheduler.recover()
        assert run_id in scheduler.active  # adopted, though its old owner still lives

        old.next_beat = 0.0
        old.tick()  # woken: the lock is no longer its own
        assert old.stopping.is_set()
        old.shutdown()
        old.notifier.shutdown(wait=True)
        time.sleep(0.3)
        assert crawl.poll() is None, "the old scheduler stopped a crawl it no longer owns"
        assert (store.run(run_id) or {}).get("status") == "running"
    finally:
        for process in (crawl, frozen):
            process.kill()
            process.wait()
