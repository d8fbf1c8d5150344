"""``crawler scheduler`` as a real process against the tinysite: runs on time,
history across restarts, misfires, overlaps, pause/resume, a graceful stop,
recovery of interrupted runs, the lock; ``crawler jobs run`` in the foreground.

Schedules are every 1-2 s; tolerances allow a loaded 2-core machine.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from crawler.jobs.config import load_jobs_file
from crawler.jobs.state import StateStore
from tests.crawltools import run_crawler, subprocess_env
from tests.jobstools import (
    SchedulerProcess,
    group_alive,
    history,
    kill_leftovers,
    wait_for,
    write_jobs,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fixtures.tinysite.server import TinySite
    from tests.notifytools import SmtpSink, WebhookReceiver

LATE = 3.0  # seconds a run may start after its fire time on a loaded machine
SLOW = "?delay=2000"  # a start page that takes 2 s: a crawl still running at the next fire
# A start page that takes 10 s: a crawl surely still running when the test stops it
# (with 2 s, a loaded machine saw the crawl finish between "running" and the SIGTERM).
STUCK = "?delay=10000"


@pytest.fixture
def schedulers(tmp_path: Path) -> Iterator[list[SchedulerProcess]]:
    """Scheduler processes a test starts; killed if still running, and no crawl
    process group of theirs may be left behind."""
    started: list[SchedulerProcess] = []
    yield started
    for scheduler in started:
        try:
            scheduler.stop(signal.SIGTERM, timeout=20)
        finally:
            scheduler.kill()
    assert kill_leftovers(tmp_path / "jobs.toml") == [], "a crawl outlived the test"


def start(schedulers: list[SchedulerProcess], jobs_file: Path) -> SchedulerProcess:
    scheduler = SchedulerProcess(jobs_file).start()
    schedulers.append(scheduler)
    return scheduler


def done(jobs_file: Path, job: str, status: str = "succeeded") -> list[dict]:
    return [r for r in history(jobs_file, job) if r["status"] == status]


def test_runs_on_time_pause_resume_and_history_across_a_restart(
    tinysite: TinySite, tmp_path: Path, schedulers: list[SchedulerProcess]
) -> None:
    jobs_file = write_jobs(
        tmp_path,
        f'[jobs.tiny]\ncrawl = "{tinysite.url("/")}"\noptions = {{ max-pages = 2 }}\n'
        'store = "sqlite:///tiny.db"\nschedule = { every = 1 }\n',
    )
    scheduler = start(schedulers, jobs_file)
    second = subprocess.Popen(  # one scheduler per state store: a second one refuses
        [sys.executable, "-m", "crawler.cli", "scheduler", "--jobs-file", str(jobs_file)],
        cwd=tmp_path,
        env=subprocess_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = wait_for(
        lambda: len(done(jobs_file, "tiny")) >= 2 and done(jobs_file, "tiny"), 30, "2 runs"
    )
    for run in runs:
        assert run["trigger"] == "schedule"
        assert run["started_at"] - run["scheduled_for"] < timedelta(seconds=LATE)
        assert (
            run["exit_code"] == 0
            and (tmp_path / "runs" / "tiny" / str(run["id"]) / "crawl.log").is_file()
        )
    fires = [r["scheduled_for"] for r in history(jobs_file, "tiny") if r["trigger"] == "schedule"]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fires)]
    assert gaps and all(abs(gap - round(gap)) < 0.01 for gap in gaps), gaps  # on the grid
    _, refusal = second.communicate(timeout=60)
    assert second.returncode == 2 and "another scheduler" in refusal, refusal

    assert (
        run_crawler("jobs", "pause", "tiny", "--jobs-file", str(jobs_file), cwd=tmp_path).returncode
        == 0
    )
    paused_at = datetime.now(UTC)
    wait_for(
        lambda: not [r for r in history(jobs_file) if r["status"] in ("queued", "running")],
        15,
        "idle",
    )
    before = len(history(jobs_file))
    listing = run_crawler("jobs", "list", "--jobs-file", str(jobs_file), cwd=tmp_path)
    assert "tiny" in listing.stdout and "yes" in listing.stdout, listing.stdout
    wait_for(lambda: datetime.now(UTC) > paused_at + timedelta(seconds=3), 10, "three fire times")
    assert len(history(jobs_file)) == before, "a paused job ran"
    assert (
        run_crawler(
            "jobs", "resume", "tiny", "--jobs-file", str(jobs_file), cwd=tmp_path
        ).returncode
        == 0
    )
    wait_for(lambda: len(history(jobs_file)) > before, 10, "a run after resume")

    assert scheduler.stop() == 0
    kept = history(jobs_file)
    start(schedulers, jobs_file)
    wait_for(
        lambda: len(done(jobs_file, "tiny")) > len([r for r in kept if r["status"] == "succeeded"]),
        20,
        "a run after the restart",
    )
    assert history(jobs_file)[: len(kept)][0]["id"] == kept[0]["id"]  # history kept
    shown = run_crawler("jobs", "history", "tiny", "--jobs-file", str(jobs_file), cwd=tmp_path)
    assert shown.returncode == 0 and "succeeded" in shown.stdout and "crawl.log" in shown.stdout


def test_missed_runs_follow_the_misfire_policy(
    tinysite: TinySite, tmp_path: Path, schedulers: list[SchedulerProcess]
) -> None:
    """Fires missed while no scheduler ran (state written as a scheduler stopped
    12 s ago would have left it): run_once runs one catch-up, skip records them."""
    url = tinysite.url("/")
    jobs_file = write_jobs(
        tmp_path,
        f'[jobs.once]\ncrawl = "{url}"\noptions = {{ max-pages = 1 }}\nstore = "sqlite:///c.db"\n'
        'schedule = { every = 5 }\nmisfire = "run_once"\n\n'
        f'[jobs.skip]\ncrawl = "{url}"\noptions = {{ max-pages = 1 }}\nstore = "sqlite:///c.db"\n'
        'schedule = { every = 5 }\nmisfire = "skip"\n',
    )
    jobs = load_jobs_file(jobs_file)
    store = StateStore.open(jobs.scheduler.store)
    due = datetime.now(UTC) - timedelta(seconds=12)  # fires at -12, -7, -2 s
    for name, job in jobs.jobs.items():
        assert job.schedule is not None
        store.set_job_state(name, schedule=job.schedule.key(), next_fire_at=due)
    store.close()
    start(schedulers, jobs_file)
    caught_up = wait_for(lambda: done(jobs_file, "once"), 20, "the catch-up run")
    assert len(caught_up) == 1 and caught_up[0]["trigger"] == "catch_up"
    assert abs(caught_up[0]["scheduled_for"] - (due + timedelta(seconds=10))) < timedelta(
        seconds=0.01
    )
    missed = [r for r in history(jobs_file, "skip") if r["status"] == "missed"]
    assert len(missed) == 1, history(jobs_file, "skip")
    assert "3 scheduled run(s) missed" in missed[0]["reasons"][0]["message"]
    assert not [
        r
        for r in history(jobs_file, "skip")
        if r["started_at"] is not None and r["started_at"] < due + timedelta(seconds=14)
    ]


def test_overlap_skip_queue_stop_and_timeout(
    tinysite: TinySite, tmp_path: Path, schedulers: list[SchedulerProcess]
) -> None:
    url = tinysite.url(f"/{SLOW}")
    common = f'crawl = "{url}"\noptions = {{ max-pages = 1 }}\nschedule = {{ every = 1 }}\n'
    jobs_file = write_jobs(
        tmp_path,
        "".join(
            f'[jobs.{name}]\n{common}store = "sqlite:///{name}.db"\n{policy}\n\n'
            for name, policy in (
                ("skip", 'overlap = "skip"'),
                ("queue", 'overlap = "queue"'),
                ("stop", 'overlap = "stop"'),
                ("late", "timeout = 1"),
            )
        ),
        cap=3,
    )
    scheduler = start(schedulers, jobs_file)

    def settled() -> bool:
        queue = history(jobs_file, "queue")
        stop = history(jobs_file, "stop")
        return bool(
            [r for r in queue if r["status"] == "succeeded"]
            and [r for r in queue if r["status"] == "running" and r["resumed_from"] is None][1:2]
            == []
            and len([r for r in queue if r["started_at"]]) >= 2
            and [r for r in stop if r["status"] == "interrupted"]
            and len([r for r in stop if r["started_at"]]) >= 2
            and [r for r in history(jobs_file, "late") if r["finished_at"] and r["started_at"]]
        )

    wait_for(settled, 40, "queued and stopped runs")
    assert scheduler.stop() == 0

    skip = history(jobs_file, "skip")
    started = [r for r in skip if r["started_at"]]
    skipped = [r for r in skip if r["status"] == "skipped"]
    assert skipped and all(r["reasons"][0]["code"] == "overlap" for r in skipped)
    for a, b in itertools.pairwise(started):  # never two at once
        assert b["started_at"] >= a["finished_at"]

    queue = [r for r in history(jobs_file, "queue") if r["started_at"]]
    assert queue[0]["status"] == "succeeded", (queue[0], log_tail(queue[0]))
    assert queue[1]["started_at"] >= queue[0]["finished_at"]  # ran after the previous one
    assert queue[1]["scheduled_for"] < queue[0]["finished_at"]  # though fired during it
    assert [r for r in history(jobs_file, "queue") if r["status"] == "skipped"]  # one waits at most

    stop = [r for r in history(jobs_file, "stop") if r["started_at"]]
    first = stop[0]
    assert first["status"] == "interrupted" and "overlap" in [x["code"] for x in first["reasons"]]
    assert stop[1]["started_at"] >= first["finished_at"]

    ran = [r for r in history(jobs_file) if r["started_at"]]
    spans = [(r["job"], r["id"], r["started_at"], r["finished_at"]) for r in ran]
    assert max(concurrent(ran, r["started_at"]) for r in ran) == 3, spans  # max_concurrent_runs

    late = next(r for r in history(jobs_file, "late") if r["started_at"])
    assert late["status"] == "failed" and "timeout" in [x["code"] for x in late["reasons"]]


def log_tail(run: dict) -> str:
    """The end of a run's crawl log, for a failure message."""
    return Path(run["log_file"]).read_text(errors="replace")[-3000:]


def concurrent(runs: list[dict], moment: datetime) -> int:
    """How many of ``runs`` were running at ``moment``."""
    return len([r for r in runs if r["started_at"] <= moment < r["finished_at"]])


def test_sigterm_interrupts_runs_and_a_restart_resumes_them(
    tinysite: TinySite, tmp_path: Path, schedulers: list[SchedulerProcess]
) -> None:
    jobs_file = write_jobs(
        tmp_path,
        f'[jobs.slow]\ncrawl = "{tinysite.url("/" + STUCK)}"\noptions = {{ max-pages = 1 }}\n'
        'store = "sqlite:///c.db"\nschedule = { every = 1 }\ninterrupted = "resume"\n',
    )
    scheduler = start(schedulers, jobs_file)
    running = wait_for(
        lambda: [r for r in history(jobs_file) if r["status"] == "running"], 20, "a running crawl"
    )[0]
    assert group_alive(running["pgid"])
    assert scheduler.stop(signal.SIGTERM) == 0
    assert not group_alive(running["pgid"]), "the crawl outlived the scheduler"
    row = history(jobs_file)[[r["id"] for r in history(jobs_file)].index(running["id"])]
    assert row["status"] == "interrupted"
    assert "shutdown" in [r["code"] for r in row["reasons"]]

    start(schedulers, jobs_file)
    resumed = wait_for(
        lambda: [r for r in history(jobs_file) if r["resumed_from"] == running["id"]],
        15,
        "a resume",
    )[0]
    assert resumed["trigger"] == "resume" and resumed["job_dir"] == running["job_dir"]


def test_a_crawl_that_outlived_a_killed_scheduler_is_adopted(
    tinysite: TinySite, tmp_path: Path, schedulers: list[SchedulerProcess]
) -> None:
    jobs_file = write_jobs(
        tmp_path,
        f'[jobs.slow]\ncrawl = "{tinysite.url("/" + SLOW)}"\noptions = {{ max-pages = 1 }}\n'
        'store = "sqlite:///c.db"\nschedule = { every = 60 }\n',
    )
    jobs = load_jobs_file(jobs_file)
    store = StateStore.open(jobs.scheduler.store)
    job = jobs.job("slow")
    assert job.schedule is not None
    store.set_job_state("slow", schedule=job.schedule.key(), next_fire_at=datetime.now(UTC))
    store.close()
    scheduler = start(schedulers, jobs_file)
    running = wait_for(
        lambda: [r for r in history(jobs_file) if r["status"] == "running"], 20, "a running crawl"
    )[0]
    scheduler.stop(signal.SIGKILL)
    assert group_alive(running["pgid"])  # its own session: the crawl goes on
    start(schedulers, jobs_file)
    wait_for(lambda: "adopting run" in schedulers[-1].output(), 10, "adoption")
    row = wait_for(
        lambda: [r for r in history(jobs_file) if r["id"] == running["id"] and r["finished_at"]],
        20,
        "its end",
    )[0]
    assert (row["status"], row["pages"]) == ("succeeded", 1), row  # from its outcome file
    assert len([r for r in history(jobs_file) if r["started_at"]]) == 1  # not run twice


def test_jobs_run_in_the_foreground_exits_with_the_crawls_code_and_notifies(
    tinysite: TinySite, tmp_path: Path, smtp_server: SmtpSink, webhook_receiver: WebhookReceiver
) -> None:
    """A failed run sends one email and one webhook naming job, run and reason;
    a success sends none (``on = ["failure"]``)."""
    notify = (
        '[[jobs.{name}.notify]]\non = ["failure"]\n'
        f'email = {{ to = ["ops@example.org"], from = "crawler@example.org", '
        f'smtp = "{smtp_server.url}" }}\n\n'
        f'[[jobs.{{name}}.notify]]\nwebhook = {{ url = "{webhook_receiver.url}" }}\n\n'
    )
    jobs_file = write_jobs(
        tmp_path,
        f'[jobs.ok]\ncrawl = "{tinysite.url("/")}"\noptions = {{ max-pages = 1 }}\n'
        'store = "sqlite:///c.db"\n\n'
        + notify.replace("{name}", "ok")
        + f'[jobs.broken]\ncrawl = "{tinysite.url("/")}"\n'
        'options = { extract = ["bad-spec.yaml"] }\nstore = "sqlite:///c.db"\n\n'
        + notify.replace("{name}", "broken"),
    )
    # a spec file that exists (the job file check) but is no spec (the crawl's check)
    (tmp_path / "bad-spec.yaml").write_text("fields: [not, a, spec]\n", encoding="utf-8")
    ok = run_crawler("jobs", "run", "ok", "--jobs-file", str(jobs_file), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "succeeded" in ok.stderr
    [row] = history(jobs_file, "ok")
    assert (row["trigger"], row["status"], row["exit_code"]) == ("manual", "succeeded", 0)
    assert smtp_server.mails == [] and webhook_receiver.requests == []

    broken = run_crawler("jobs", "run", "broken", "--jobs-file", str(jobs_file), cwd=tmp_path)
    assert broken.returncode == 2, broken.stderr  # the crawl refused its configuration
    [row] = history(jobs_file, "broken")
    assert row["status"] == "failed" and row["reasons"][0]["code"] == "config_error"
    assert row["notify_failures"] == 0
    [mail] = smtp_server.mails
    [post] = webhook_receiver.requests
    assert f"job broken run {row['id']} failed" in mail.message["Subject"]
    body = json.loads(post.body)
    assert (body["job"], body["run_id"], body["status"]) == ("broken", row["id"], "failed")
    assert body["reasons"][0]["code"] == "config_error"


def test_a_dead_host_fails(tmp_path: Path) -> None:
    jobs_file = write_jobs(
        tmp_path,
        '[jobs.dead]\ncrawl = "http://127.0.0.1:9/"\noptions = { max-pages = 1 }\n'
        'store = "sqlite:///c.db"\nsettings = { RETRY_ENABLED = false }\n',
    )
    dead = run_crawler("jobs", "run", "dead", "--jobs-file", str(jobs_file), cwd=tmp_path)
    assert dead.returncode == 1, dead.stderr
    [row] = history(jobs_file, "dead")
    assert row["status"] == "failed" and row["exit_code"] == 1
    assert "start_url_failed" in [r["code"] for r in row["reasons"]], row["reasons"]


def test_state_store_on_postgresql(postgres_url: str) -> None:
    store = StateStore.open(postgres_url, timeout=10)
    try:
        run_id = store.add_run(job="j", trigger="manual", status="queued")
        store.update_run(run_id, status="failed", reasons=[{"code": "no_pages", "message": "m"}])
        assert store.runs("j")[0]["reasons"] == [{"code": "no_pages", "message": "m"}]
        store.set_job_state("j", paused=True)
        store.set_job_state("j", next_fire_at=datetime(2030, 1, 1, tzinfo=UTC))
        assert store.job_states()["j"]["paused"] is True
        assert store.acquire_lock("h:1", 15, lambda _owner: False) is None
        assert store.acquire_lock("h:2", 15, lambda _owner: False) == "h:1"
        assert store.acquire_lock("h:2", 15, lambda owner: owner == "h:1") is None  # holder gone
        assert store.heartbeat("h:1") is False and store.heartbeat("h:2") is True
    finally:
        store.close()


def test_a_changed_job_file_is_re_read_while_the_scheduler_runs(
    tinysite: TinySite, tmp_path: Path, schedulers: list[SchedulerProcess]
) -> None:
    """A renamed job fires under its new name only, the change is logged; a file
    that no longer validates keeps the old jobs, its error logged once."""
    body = 'crawl = "{}"\noptions = {{ max-pages = 1 }}\nschedule = {{ every = 1 }}\n'
    body = body.format(tinysite.url("/"))
    jobs_file = write_jobs(tmp_path, "[jobs.old]\n" + body)
    scheduler = start(schedulers, jobs_file)
    wait_for(lambda: done(jobs_file, "old"), 20, "a run of old")
    text = jobs_file.read_text()
    jobs_file.write_text(text.replace("[jobs.old]", "[jobs.new]"))
    wait_for(lambda: done(jobs_file, "new"), 20, "a run of new")
    assert "added: new; removed: old" in scheduler.output(), scheduler.output()
    renamed_at = datetime.now(UTC)
    jobs_file.write_text(text.replace("[jobs.old]", "[jobs.new]") + "[jobs.bad]\nspider = 3\n")
    wait_for(lambda: "not valid; keeping the old jobs" in scheduler.output(), 10, "the error")
    wait_for(lambda: datetime.now(UTC) > renamed_at + timedelta(seconds=3), 10, "three fires")
    assert scheduler.output().count("not valid; keeping the old jobs") == 1
    late_old = [r for r in history(jobs_file, "old") if r["scheduled_for"] > renamed_at]
    assert late_old == [], "a removed job fired"
    wait_for(  # the old jobs kept: new still fires
        lambda: [r for r in history(jobs_file, "new") if r["scheduled_for"] > renamed_at],
        10,
        "a fire of new after the invalid file",
    )


def test_a_crawl_killed_by_a_signal_nobody_asked_for_is_failed(
    tinysite: TinySite, tmp_path: Path, webhook_receiver: WebhookReceiver
) -> None:
    """``kill -9`` of the crawl itself (as the OOM killer does): failed, reason
    ``killed`` naming the signal, notified; ``jobs run`` exits 1, not 130."""
    jobs_file = write_jobs(
        tmp_path,
        f'[jobs.oom]\ncrawl = "{tinysite.url("/" + SLOW)}"\noptions = {{ max-pages = 1 }}\n'
        'store = "sqlite:///c.db"\ninterrupted = "retry"\n\n'
        f'[[jobs.oom.notify]]\non = ["failure"]\nwebhook = {{ url = "{webhook_receiver.url}" }}\n',
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "jobs", "run", "oom", "--jobs-file", str(jobs_file)],
        cwd=tmp_path,
        env=subprocess_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pid = wait_for(
            lambda: [r["pid"] for r in history(jobs_file, "oom") if r["pid"]], 30, "the crawl"
        )[0]
        os.kill(pid, signal.SIGKILL)
        _, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 1, err
    assert "(exit 137; pages -, items -, errors -)" in err, err  # unknown, as jobs history shows
    [row] = history(jobs_file, "oom")
    assert row["status"] == "failed", row
    assert [r["code"] for r in row["reasons"]] == ["killed"]
    assert "killed by SIGKILL (out of memory?" in row["reasons"][0]["message"]
    [post] = webhook_receiver.requests
    assert json.loads(post.body)["status"] == "failed"


def test_a_jobs_run_whose_process_died_is_adopted_and_its_timeout_counts_from_its_start(
    tinysite: TinySite, tmp_path: Path, schedulers: list[SchedulerProcess]
) -> None:
    """``crawler jobs run`` killed while its crawl goes on: the running scheduler
    adopts the crawl within seconds and stops it at ``started_at + timeout``."""
    jobs_file = write_jobs(
        tmp_path,
        f'[jobs.long]\ncrawl = "{tinysite.url("/?delay=15000")}"\noptions = {{ max-pages = 1 }}\n'
        'store = "sqlite:///c.db"\ntimeout = "4s"\n',
    )
    jobs_file.write_text(jobs_file.read_text().replace('stop_grace = "4s"', 'stop_grace = "1s"'))
    scheduler = start(schedulers, jobs_file)
    run = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "jobs", "run", "long", "--jobs-file", str(jobs_file)],
        cwd=tmp_path,
        env=subprocess_env(),
        stderr=subprocess.DEVNULL,
    )
    try:
        [started] = wait_for(
            lambda: [r["started_at"] for r in history(jobs_file, "long") if r["pid"]], 30, "a crawl"
        )
        wait_for(  # adopted 2.5 s or more after its start: a timeout counted from there is late
            lambda: datetime.now(UTC) > started + timedelta(seconds=2.5), 10, "2.5 s"
        )
        run.kill()
        run.wait(10)
        wait_for(lambda: "adopting run" in scheduler.output(), 10, "the adoption")
        [row] = wait_for(
            lambda: [r for r in history(jobs_file, "long") if r["status"] != "running"],
            20,
            "the run's end",
        )
    finally:
        run.kill()
    assert row["status"] == "failed" and "timeout" in [r["code"] for r in row["reasons"]], row
    assert row["finished_at"] - row["started_at"] < timedelta(seconds=4 + 2.5), row


def test_a_run_stopped_while_its_crawl_starts_is_interrupted_with_exit_130(
    tinysite: TinySite, tmp_path: Path
) -> None:
    """SIGTERM to ``crawler jobs run`` as soon as its crawl process exists:
    ``interrupted`` (reason ``user``), an exit code recorded, 130 returned, and
    the crawl's log says it was stopped."""
    jobs_file = write_jobs(
        tmp_path,
        f'[jobs.early]\ncrawl = "{tinysite.url("/")}"\noptions = {{ max-pages = 1 }}\n'
        'store = "sqlite:///c.db"\n',
    )
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "jobs",
            "run",
            "early",
            "--jobs-file",
            str(jobs_file),
        ],
        cwd=tmp_path,
        env=subprocess_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: [r for r in history(jobs_file, "early") if r["pid"]], 30, "the crawl")
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 130, err
    [row] = history(jobs_file, "early")
    assert row["status"] == "interrupted", row
    # 130 (SIGINT: 128 + 2) - or 1 when the KeyboardInterrupt came while
    # ``python -m`` was still finding the module (runpy reports it, exits 1)
    assert row["exit_code"] in (130, 1), row
    assert [r["code"] for r in row["reasons"]] == ["user"]
    log = (tmp_path / "runs" / "early" / str(row["id"]) / "crawl.log").read_text()
    stopped_early = not (tmp_path / "runs" / "early" / str(row["id"]) / "outcome.json").exists()
    assert not stopped_early or "was stopped (user)" in log, log
    assert stopped_early  # the stop came before the crawl could write its outcome
