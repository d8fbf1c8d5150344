"""``crawler jobs list|run|history|pause|resume``: the jobs of a job file and their history.

Every subcommand takes ``--jobs-file PATH`` (default ``jobs.toml``); the state
and history live in the job file's ``[scheduler] store`` (default the
project's ``CRAWLER_STORE_URL``), where ``crawler scheduler`` keeps them.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from crawler.jobs.config import DEFAULT_JOBS_FILE, format_duration, load_jobs_file
from crawler.jobs.execute import (
    EXIT_INTERRUPTED,
    finish_run,
    owner_id,
    send_notifications,
    start_run,
)
from crawler.jobs.retention import prune_run_dirs
from crawler.jobs.scheduler import next_fire
from crawler.jobs.state import StateStore
from crawler.runner import project_settings
from crawler.summary import table

if TYPE_CHECKING:
    from crawler.jobs.config import Job, JobsFile

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: History statuses of fires that started no crawl (overlap/pause, misfire = skip).
DID_NOT_RUN = ("skipped", "missed")
#: History rows ``jobs list`` reads at a time looking for a job's last real run.
LAST_RUN_WINDOW = 200


def add_jobs_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs-file",
        metavar="PATH",
        default=DEFAULT_JOBS_FILE,
        help=f"the job file, TOML or YAML (default: {DEFAULT_JOBS_FILE})",
    )


def open_jobs(args: argparse.Namespace) -> tuple[JobsFile, StateStore]:
    """The checked job file and its state store (ConfigError, StoreError)."""
    settings = project_settings()
    jobs = load_jobs_file(args.jobs_file, str(settings.get("CRAWLER_STORE_URL")))
    store = StateStore.open(jobs.scheduler.store, settings.getfloat("CRAWLER_STORE_TIMEOUT"))
    return jobs, store


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "jobs",
        help="scheduled crawl jobs: list, run now, history, pause, resume",
        description="The jobs of a job file (README, 'Scheduled jobs'): their next run "
        "times, their history, a run now in the foreground; pause and resume them for "
        "the scheduler (crawler scheduler).",
    )
    commands = p.add_subparsers(
        title="subcommands", metavar="SUBCOMMAND", required=True, parser_class=type(p)
    )
    listing = commands.add_parser("list", help="the jobs, their schedules and next run times")
    listing.set_defaults(run=run_list)
    now = commands.add_parser(
        "run",
        help="run a job now, in the foreground, as the scheduler would; "
        "exits with the crawl's exit code",
    )
    now.add_argument("name", metavar="NAME")
    now.set_defaults(run=run_job)
    history = commands.add_parser("history", help="the runs of every job, or of one")
    history.add_argument("name", metavar="NAME", nargs="?")
    history.add_argument(
        "-n", "--limit", type=int, default=20, help="how many runs, newest first (default 20)"
    )
    history.add_argument(
        "--status",
        metavar="STATUS",
        action="append",
        default=[],
        help="only runs of this status (succeeded, failed, skipped, missed, running, "
        "...); repeat it or give a comma-separated list",
    )
    history.add_argument("--json", action="store_true", help="one JSON object per line")
    history.set_defaults(run=run_history)
    for name, what in (("pause", "pause"), ("resume", "resume")):
        sub = commands.add_parser(name, help=f"{what} a job's schedule (runs in progress go on)")
        sub.add_argument("name", metavar="NAME")
        sub.set_defaults(run=run_pause if name == "pause" else run_resume)
    for sub in (listing, now, history, *(commands.choices[n] for n in ("pause", "resume"))):
        add_jobs_file_option(sub)


def _local(moment: datetime | None, zone: str = "UTC") -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(zone)).strftime(f"{TIME_FORMAT} %Z")


def run_list(args: argparse.Namespace) -> int:
    jobs, store = open_jobs(args)
    try:
        states = store.job_states()
        last = {name: last_ran(store, name) for name in jobs.jobs}
    finally:
        store.close()
    now = datetime.now(UTC)
    rows = []
    for name, job in sorted(jobs.jobs.items()):
        state = states.get(name) or {}
        paused = bool(state.get("paused"))
        rows.append(
            (
                name,
                job.schedule.describe() if job.schedule else "manual (crawler jobs run)",
                next_runs(job, state, now),
                "yes" if paused else "no",
                describe_last(last.get(name)),
            )
        )
    if not rows:
        print(f"no jobs in {jobs.path}")
        return 0
    print(table(["job", "schedule", "next runs (job's time zone)", "paused", "last run"], rows))
    return 0


def next_runs(job: Job, state: dict[str, Any], now: datetime) -> str:
    """The next two fire times of ``job`` in its time zone: the stored one (the
    scheduler's) when it is for this schedule and still ahead, else computed
    from now.  A stored one in the past means no scheduler ran then: the text
    says what the next ``crawler scheduler`` start does with it (its
    ``misfire`` policy: one catch-up run, or none); a paused job has no note."""
    if job.schedule is None:
        return "-"
    zone = job.schedule.timezone
    trigger = job.schedule.trigger()
    first = state.get("next_fire_at")
    missed = ""
    if (
        first is not None
        and state.get("schedule") == job.schedule.key()
        and first < now
        and not state.get("paused")
    ):
        when = _local(first, zone)
        missed = (
            f"missed {when}: catch-up run at the next scheduler start; then "
            if job.misfire == "run_once"
            else f"missed {when}: skipped at the next scheduler start (misfire = skip); then "
        )
    if first is None or state.get("schedule") != job.schedule.key() or first < now:
        first = next_fire(trigger, None, now)
    if first is None:
        return f"{missed}never"
    # ``now`` = ``first``: APScheduler's CronTrigger starts from the later of
    # ``previous`` + 1 microsecond and ``now``; with the real now it returned ``first`` again.
    second = next_fire(trigger, first, first)
    return missed + ", ".join(_local(t, zone) for t in (first, second) if t)


def last_ran(store: StateStore, job: str) -> dict[str, Any] | None:
    """The newest history row of ``job`` that ran (not :data:`DID_NOT_RUN`):
    a paused or overlapping job writes a ``skipped`` row at every fire, which
    would hide its last real run.  Read :data:`LAST_RUN_WINDOW` rows at a time."""
    offset = 0
    while True:
        rows = store.runs(job, limit=offset + LAST_RUN_WINDOW)[offset:]
        for row in rows:
            if row["status"] not in DID_NOT_RUN:
                return row
        if len(rows) < LAST_RUN_WINDOW:
            return None
        offset += LAST_RUN_WINDOW


def describe_last(row: dict[str, Any] | None) -> str:
    if row is None:
        return "never ran"
    moment = row["started_at"] or row["finished_at"] or row["scheduled_for"]
    return f"{row['status']} ({_local(moment)}, run {row['id']})"


def run_history(args: argparse.Namespace) -> int:
    jobs, store = open_jobs(args)
    try:
        if args.name is not None:
            jobs.job(args.name)
        statuses = tuple(s.strip() for text in args.status for s in text.split(",") if s.strip())
        rows = store.runs(args.name, limit=max(1, args.limit), statuses=statuses)
    finally:
        store.close()
    if args.json:
        for row in rows:
            print(json.dumps(row, default=lambda v: v.isoformat()))
        return 0
    if not rows:
        print(f"no runs with status {', '.join(statuses)}" if statuses else "no runs yet")
        return 0
    print(
        table(
            [
                "run",
                "job",
                "trigger",
                "started (UTC)",
                "ended (UTC)",
                "duration",
                "status",
                "reason",
                "finish reason",
                "pages",
                "items",
                "errors",
                "exit",
                "log file",
            ],
            [
                (
                    r["id"],
                    r["job"],
                    r["trigger"],
                    _utc(r["started_at"]),
                    _utc(r["finished_at"]),
                    run_duration(r),
                    r["status"],
                    ",".join(x.get("code", "?") for x in r["reasons"] or []) or None,
                    r["finish_reason"],
                    r["pages"],
                    r["items"],
                    r["errors"],
                    r["exit_code"],
                    r["log_file"],
                )
                for r in rows
            ],
        )
    )
    return 0


def _utc(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime(TIME_FORMAT)


def run_duration(row: dict[str, Any]) -> str:
    if row["started_at"] is None or row["finished_at"] is None:
        return "-"
    return format_duration(round((row["finished_at"] - row["started_at"]).total_seconds(), 1))


def run_pause(args: argparse.Namespace) -> int:
    jobs, store = open_jobs(args)
    try:
        jobs.job(args.name)
        store.set_job_state(args.name, paused=True)
    finally:
        store.close()
    print(f"{args.name} paused: the scheduler starts no new run of it (runs in progress go on)")
    return 0


def run_resume(args: argparse.Namespace) -> int:
    jobs, store = open_jobs(args)
    try:
        job = jobs.job(args.name)
        values: dict[str, Any] = {"paused": False}
        if job.schedule is not None:  # from now on: the fires while paused are not caught up
            values["schedule"] = job.schedule.key()
            values["next_fire_at"] = next_fire(job.schedule.trigger(), None, datetime.now(UTC))
        store.set_job_state(args.name, **values)
    finally:
        store.close()
    when = ""
    if job.schedule is not None:
        when = f"; next run {_local(values['next_fire_at'], job.schedule.timezone)}"
    print(f"{args.name} resumed{when}")
    return 0


class _Stops:
    """SIGTERM and Ctrl-C for ``jobs run``: noted while the run starts (raising
    then would leave a crawl just started running on its own, in its own process
    group), raised as :class:`KeyboardInterrupt` once :func:`_wait` has armed it."""

    def __init__(self) -> None:
        self.requested = False
        self.armed = False

    def __call__(self, _signum: int, _frame: Any) -> None:
        self.requested = True
        if self.armed:
            raise KeyboardInterrupt


def run_job(args: argparse.Namespace) -> int:
    """Run the job now in the foreground (its history row, log, job dir,
    notifications as the scheduler's); the crawl's exit code: 0 succeeded,
    1 failed, 2 its configuration was refused, 130 interrupted (Ctrl-C or
    SIGTERM here stop the crawl as the scheduler would)."""
    jobs, store = open_jobs(args)
    try:
        job = jobs.job(args.name)
        owner = owner_id()
        run_id = store.add_run(job=job.name, trigger="manual", status="queued", owner=owner)
        stops = _Stops()
        previous = {sig: signal.signal(sig, stops) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            handle = start_run(store, jobs, job, run_id, owner=owner)
            if handle is None:
                row = store.run(run_id) or {}
                send_notifications(store, job, row)
                print(f"error: {row['reasons'][0]['message']}", file=sys.stderr)
                return 1
            log = (store.run(run_id) or {}).get("log_file")
            print(f"run {run_id} of {job.name}: log in {log}", file=sys.stderr)
            code = _wait(handle, jobs.scheduler.stop_grace, stops)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        row = finish_run(store, handle, code)
        prune_run_dirs(store, job.name, jobs.scheduler.runs_dir, jobs.scheduler.keep_runs)
    finally:
        store.close()
    reasons = "; ".join(r.get("message", "") for r in row.get("reasons") or [])
    shown = {
        k: "-" if row[k] is None else row[k] for k in ("exit_code", "pages", "items", "errors")
    }
    print(  # "-": not known (a Scrapyd run's counts, a killed crawl's exit), as in jobs history
        f"run {run_id} of {job.name}: {row['status']} (exit {shown['exit_code']}; pages "
        f"{shown['pages']}, items {shown['items']}, errors {shown['errors']})"
        + (f": {reasons}" if reasons else ""),
        file=sys.stderr,
    )
    if row["status"] == "succeeded":
        return 0
    if row["status"] == "interrupted":
        return EXIT_INTERRUPTED
    return row["exit_code"] if row["exit_code"] in (1, 2) else 1


def _wait(handle: Any, grace: float, stops: _Stops) -> int | None:
    """Wait for the run to end, stopping it on its timeout or on Ctrl-C or
    SIGTERM, also one that came while it started (a second one kills it at
    once); its exit status."""
    while True:
        try:
            stops.armed = True
            if stops.requested and handle.stop_sent is None:
                raise KeyboardInterrupt
            while (code := handle.returncode()) is None:
                if handle.stop_sent is None and handle.timed_out():
                    handle.stop("timeout")
                handle.kill_if_late(grace)
                time.sleep(0.2)
            return code
        except KeyboardInterrupt:
            if handle.stop_sent is not None:
                grace = 0.0
            handle.stop("user")
