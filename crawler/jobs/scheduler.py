"""``crawler scheduler``: the long-running process that runs a job file's jobs on time.

Every :data:`TICK` seconds it renews its lock, follows its runs (exit, timeout,
stop grace), reads the job state (so ``crawler jobs pause/resume`` from another
shell counts within a tick), fires the jobs that are due and starts queued runs
while fewer than ``max_concurrent_runs`` run.  The state store is the truth:
next fire times, paused flags and history are written there before anything
is acted on, so a scheduler killed at any point starts again where it was.

Policies (per job; README, "Scheduled jobs"):

* ``overlap`` - a fire while a run of the job runs or waits: ``skip`` (history
  row ``skipped``), ``queue`` (runs after it; one waiting run at most, further
  fires are skipped) or ``stop`` (SIGINT the running one, start when it ended);
* ``misfire`` - fires missed while no scheduler ran: ``run_once`` (one
  ``catch_up`` run, however many were missed) or ``skip`` (one ``missed`` row);
* ``interrupted`` - a run in progress when the scheduler died or was stopped:
  ``resume`` (a new run with its job dir: the crawl resumes its journal),
  ``retry`` (a fresh run) or ``mark`` (history says interrupted, nothing more).
  A run whose crawl outlived a killed scheduler is adopted: followed until it
  ends, its outcome file read, as if started here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.exceptions import ConfigError, SchedulerLockedError, StoreError
from crawler.jobs import parts
from crawler.jobs.config import jobs_file_key, load_jobs_file
from crawler.jobs.execute import (
    RunHandle,
    adopt_run,
    alive,
    finish_run,
    last_written,
    monotonic_since,
    owner_gone,
    owner_id,
    result_values,
    send_notifications,
    start_run,
)
from crawler.jobs.remote import RemoteRunHandle, remote_handle
from crawler.jobs.retention import prune_run_dirs

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

    from crawler.jobs.config import Job, JobsFile
    from crawler.jobs.state import StateStore

logger = logging.getLogger(__name__)

TICK = 0.5  # seconds between two looks at the state, the runs and the clock
HEARTBEAT = 2.0  # seconds between two renewals of the lock
LOCK_STALE_AFTER = 15.0  # seconds: a lock not renewed this long is taken over
ORPHAN_CHECK = 3.0  # seconds between two looks for runs whose owner died (jobs run)
RELOAD_CHECK = 1.0  # seconds between two looks at the job file (mtime, size, content hash)
MAX_MISSED = 100_000  # fires counted at most when catching up


@dataclass
class Pending:
    """A queued history row waiting for a free slot (and for its job's previous run)."""

    run_id: int
    job: str
    job_dir: Path | None = None


def next_fire(trigger: BaseTrigger, previous: datetime | None, now: datetime) -> datetime | None:
    """The trigger's next fire time after ``previous`` (after ``now`` when None), UTC."""
    fire = trigger.get_next_fire_time(previous, now)
    return None if fire is None else fire.astimezone(UTC)


def fires_until(
    trigger: BaseTrigger, due: datetime, now: datetime
) -> tuple[int, datetime, datetime | None]:
    """The fires from ``due`` up to ``now``: (how many, the last, the next one after ``now``)."""
    count, last, fire = 0, due, due
    while fire is not None and fire <= now and count < MAX_MISSED:
        count, last = count + 1, fire
        fire = next_fire(trigger, fire, now)
    return count, last, fire


class Scheduler:
    """Runs ``jobs`` with ``store`` as its state; :meth:`run` until SIGTERM/SIGINT."""

    def __init__(self, jobs: JobsFile, store: StateStore) -> None:
        self.jobs = jobs
        self.store = store
        self.owner = owner_id()
        self.triggers = {
            name: job.schedule.trigger() for name, job in jobs.jobs.items() if job.schedule
        }
        self.active: dict[int, RunHandle] = {}
        self.foreign: dict[int, dict[str, Any]] = {}  # runs of a live `crawler jobs run`
        self.pending: list[Pending] = []
        self.stopping = threading.Event()
        self.hurry = False
        self.notifier = ThreadPoolExecutor(max_workers=2, thread_name_prefix="notify")
        self.next_beat = 0.0
        self.reload_asked = threading.Event()  # SIGHUP
        self.next_reload_check = 0.0
        self.next_orphan_check = 0.0
        self.lock_lost = False  # another scheduler took the lock over: exit, stop nothing
        self.taken_from: str | None = None  # the stale holder this one took the lock from
        self.file_key = jobs_file_key(jobs.path)
        self.file_digest = _file_digest(jobs.path)
        self.bad_digest: str | None = None  # the content of a file that did not validate

    # Lifecycle

    def run(self) -> int:
        """Take the lock, recover, catch up, loop until asked to stop, stop
        gracefully; 0.  :class:`SchedulerLockedError` when another scheduler runs."""
        self.take_lock()
        self.next_beat = time.monotonic() + HEARTBEAT
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_hangup)
        try:
            logger.info(
                "scheduler %s started: %d job(s) from %s, state in the store",
                self.owner,
                len(self.jobs.jobs),
                self.jobs.path,
            )
            self.recover()
            self.catch_up()
            self.start_pending()
            while not self.stopping.is_set():
                try:
                    self.tick()
                except StoreError as e:  # a store that went away: again at the next tick
                    logger.error("%s (retrying)", e)
                self.stopping.wait(TICK)
            self.shutdown()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.notifier.shutdown(wait=True)
            self.store.release_lock(self.owner)
        logger.info("scheduler stopped")
        return 0

    def take_lock(self) -> None:
        """Take the state store's lock; :class:`SchedulerLockedError` when a live
        scheduler holds it.  Taking over a stale lock (its holder dead, or not
        renewing it for :data:`LOCK_STALE_AFTER` s: frozen, say by SIGSTOP) is
        logged naming the old holder, whose runs this scheduler then adopts; a
        woken old holder leaves them running (:meth:`shutdown`)."""
        previous = self.store.lock_holder()
        holder = self.store.acquire_lock(self.owner, LOCK_STALE_AFTER, owner_gone)
        if holder is not None:
            raise SchedulerLockedError(
                f"another scheduler ({holder}) runs the jobs of this state store: "
                "stop it first, or give this one another [scheduler] store"
            )
        if previous not in (None, self.owner):
            self.taken_from = previous
            logger.warning(
                "took over the scheduler lock of %s (%s): its runs are adopted here",
                previous,
                "its process is gone"
                if owner_gone(previous)
                else f"no heartbeat for {LOCK_STALE_AFTER:g}s or more",
            )

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.stopping.is_set():
            self.hurry = True  # a second signal: kill the runs now
        self.stopping.set()

    def _on_hangup(self, _signum: int, _frame: Any) -> None:
        self.reload_asked.set()
        self.next_reload_check = 0.0

    # The job file, re-read while running

    def check_jobs_file(self) -> None:
        """Re-read the job file when it changed (mtime, size or content hash,
        looked at every :data:`RELOAD_CHECK` seconds) or on SIGHUP.  Added jobs
        fire from now, removed ones stop firing (their running runs finish and
        are recorded, their queued runs are dropped), changed ones fire on their
        new schedule; each is logged.  A file that no longer validates keeps the
        old jobs, its error logged once per content."""
        if time.monotonic() < self.next_reload_check:
            return
        self.next_reload_check = time.monotonic() + RELOAD_CHECK
        asked = self.reload_asked.is_set()
        self.reload_asked.clear()
        key = jobs_file_key(self.jobs.path)
        if key == self.file_key and not asked:
            return
        self.file_key = key
        digest = _file_digest(self.jobs.path)
        if digest == self.file_digest and not asked:
            return
        try:
            new = load_jobs_file(self.jobs.path, self.jobs.scheduler.store)
        except ConfigError as e:
            if digest != self.bad_digest:
                self.bad_digest = digest
                logger.error("the job file changed but is not valid; keeping the old jobs: %s", e)
            return
        self.bad_digest = None
        self.file_digest = digest
        self.apply_jobs(new)

    def apply_jobs(self, new: JobsFile) -> None:
        """Replace the jobs with ``new``'s (see :meth:`check_jobs_file`)."""
        old = self.jobs
        if new.scheduler.store != old.scheduler.store:
            logger.warning(
                "the job file's [scheduler] store changed: it takes effect at the next "
                "scheduler start (this one keeps %s)",
                old.scheduler.store,
            )
            new = dataclasses.replace(
                new, scheduler=dataclasses.replace(new.scheduler, store=old.scheduler.store)
            )
        added = sorted(set(new.jobs) - set(old.jobs))
        removed = sorted(set(old.jobs) - set(new.jobs))
        changed = sorted(n for n in set(new.jobs) & set(old.jobs) if new.jobs[n] != old.jobs[n])
        self.jobs = new
        self.triggers = {
            name: job.schedule.trigger() for name, job in new.jobs.items() if job.schedule
        }
        now = datetime.now(UTC)
        states = self.store.job_states()
        for name in added + changed:
            job = new.jobs[name]
            state = states.get(name)
            if job.schedule is None:
                continue
            if state is None or state["schedule"] != job.schedule.key():
                self.store.set_job_state(
                    name,
                    schedule=job.schedule.key(),
                    next_fire_at=next_fire(self.triggers[name], None, now),
                )
        for pending in [p for p in self.pending if p.job in removed]:
            self.pending.remove(pending)
            self.store.update_run(
                pending.run_id,
                status="skipped",
                finished_at=now,
                reasons=[{"code": "removed", "message": "its job was removed from the job file"}],
            )
        running = {h.job.name for h in self.active.values()}
        logger.info(
            "job file %s re-read: %d job(s); added: %s; removed: %s%s; changed: %s",
            new.path,
            len(new.jobs),
            ", ".join(added) or "none",
            ", ".join(removed) or "none",
            "".join(f" ({name}: its running run goes on)" for name in removed if name in running),
            ", ".join(changed) or "none",
        )

    def shutdown(self) -> None:
        """Stop starting runs, SIGINT every run (they end interrupted, resumable
        from their job dirs), SIGKILL those still there after ``stop_grace``.
        A scheduler whose lock was taken over stops none: its runs are the new
        holder's, which adopts them."""
        if self.lock_lost:
            if self.active:
                logger.warning(
                    "leaving %d run(s) to the scheduler that took the lock over: %s",
                    len(self.active),
                    ", ".join(str(run_id) for run_id in self.active),
                )
            self.active.clear()
            return
        for run_id, handle in list(self.active.items()):
            if isinstance(handle, RemoteRunHandle):  # Scrapyd's: the next scheduler follows it
                del self.active[run_id]
        if self.active:
            logger.info("stopping %d run(s)", len(self.active))
        for handle in self.active.values():
            handle.stop("shutdown")
        while self.active:
            self.beat()  # a long stop_grace is no reason to lose the lock
            self.poll_runs()
            time.sleep(0.1)

    # Start: what the previous scheduler left

    def recover(self) -> None:
        """Runs left running or queued by a scheduler that died, and runs a
        stopped scheduler interrupted: adopted, finished, resumed, retried or
        marked (the ``interrupted`` policy); queued ones per ``misfire``."""
        self.take_over_orphans()
        # Interrupted by a scheduler's death or stop, not yet resumed or retried:
        # the newest of each job is followed up, the older ones no longer.
        follow: dict[str, dict[str, Any]] = {}
        for row in sorted(self.store.runs(limit=None, statuses=("interrupted",)), key=_id):
            codes = {r.get("code") for r in row.get("reasons") or []}
            if row["followed_by"] is None and codes & {"shutdown", "scheduler_died"}:
                older = follow.get(row["job"])
                if older is not None:
                    self.store.update_run(older["id"], followed_by=0)
                follow[row["job"]] = row
        for name, row in follow.items():
            self._follow_up(name, row)
        self._recover_queued()

    def take_over_orphans(self, follow_up: bool = False) -> None:
        """The ``running`` rows not followed here: those of a live owner (a
        ``crawler jobs run`` in another shell) are counted as foreign runs;
        those whose owner is gone are adopted when their crawl lives (its
        timeout counting from its ``started_at``), else recorded as ended
        (and, with ``follow_up``, followed per ``interrupted``).  At start,
        and every :data:`ORPHAN_CHECK` seconds while running."""
        for row in sorted(self.store.runs(limit=None, statuses=("running",)), key=_id):
            if row["id"] in self.active or row["owner"] == self.owner:
                continue
            job = self.jobs.jobs.get(row["job"])
            owner = row["owner"] or ""
            if owner != self.taken_from and not owner_gone(owner):
                self.foreign[row["id"]] = row  # `crawler jobs run` in another shell
                continue
            self.foreign.pop(row["id"], None)
            if job is not None and row["remote_job"]:  # on Scrapyd: followed there
                handle = remote_handle(self.jobs, job, row["id"], row["remote_job"])
                handle.started = monotonic_since(row["started_at"])
                self.active[row["id"]] = handle
                continue
            if job is not None and alive(row["pid"], row["pid_start"]):
                logger.info(
                    "adopting run %s of %s (pid %s; its owner %s is gone or lost the lock)",
                    row["id"],
                    job.name,
                    row["pid"],
                    row["owner"],
                )
                self.active[row["id"]] = adopt_run(job, row)
                continue
            values = self._lost_values(row, job)
            if "finished_at" not in values:  # it ended while nobody watched: when its log
                log = Path(row["log_file"]) if row["log_file"] else None  # was last written
                values["finished_at"] = last_written(log)
            self.store.update_run(row["id"], **values)
            logger.warning("run %s of %s: %s", row["id"], row["job"], values["status"])
            if job is not None:
                self._notify(job, row["id"])
                if follow_up and values["status"] == "interrupted":
                    self._follow_up(job.name, self.store.run(row["id"]) or row)

    def _lost_values(self, row: dict[str, Any], job: Job | None) -> dict[str, Any]:
        outcome_file = Path(row["run_dir"] or ".") / "outcome.json"
        if job is not None and parts.read_outcome(outcome_file) is not None:
            return result_values(outcome_file, None, None, job)  # it ended meanwhile
        return {
            "status": "interrupted",
            "reasons": [
                {
                    "code": "scheduler_died",
                    "message": f"its owner ({row['owner']}: a scheduler, or crawler jobs "
                    "run) died while the run was in progress, and its crawl is gone",
                }
            ],
        }

    def _follow_up(self, name: str, row: dict[str, Any]) -> None:
        job = self.jobs.jobs.get(name)
        policy = job.interrupted if job is not None else "mark"
        if job is None or policy == "mark":
            self.store.update_run(row["id"], followed_by=0)
            return
        job_dir = Path(row["job_dir"]) if policy == "resume" and row["job_dir"] else None
        run_id = self.enqueue(job, row["scheduled_for"], policy, job_dir, resumed_from=row["id"])
        self.store.update_run(row["id"], followed_by=run_id)
        logger.info("run %s of %s (%s) will %s run %s", run_id, name, policy, policy, row["id"])

    def _recover_queued(self) -> None:
        """Queued rows of a scheduler that stopped before starting them: a resume
        or retry is kept, the newest fire of a ``run_once`` job is kept; the
        others are ``missed``."""
        now = datetime.now(UTC)
        kept: set[str] = {p.job for p in self.pending}
        for row in sorted(self.store.runs(limit=None, statuses=("queued",)), key=_id, reverse=True):
            if row["id"] in {p.run_id for p in self.pending}:
                continue
            job = self.jobs.jobs.get(row["job"])
            follow_up = row["trigger"] in ("resume", "retry")
            if job is not None and (
                follow_up or (job.misfire == "run_once" and row["job"] not in kept)
            ):
                job_dir = Path(row["job_dir"]) if row["job_dir"] else None
                self.pending.insert(0, Pending(row["id"], row["job"], job_dir))
                kept.add(row["job"])
                continue
            self.store.update_run(
                row["id"],
                status="missed",
                finished_at=now,
                reasons=[
                    {
                        "code": "missed",
                        "message": "queued, but the scheduler stopped before starting it",
                    }
                ],
            )

    def catch_up(self) -> None:
        """Fires missed while no scheduler ran, per each job's ``misfire`` policy;
        a new job, or one whose schedule changed, starts from now."""
        now = datetime.now(UTC)
        states = self.store.job_states()
        for name, trigger in self.triggers.items():
            job = self.jobs.jobs[name]
            assert job.schedule is not None
            state = states.get(name)
            due = state["next_fire_at"] if state else None
            if state is None or state["schedule"] != job.schedule.key() or due is None:
                self.store.set_job_state(
                    name, schedule=job.schedule.key(), next_fire_at=next_fire(trigger, None, now)
                )
                continue
            if due > now:
                continue
            count, last, following = fires_until(trigger, due, now)
            if state["paused"]:
                self.store.set_job_state(name, next_fire_at=following)
                continue
            if job.misfire == "run_once":
                logger.info("%s: %d run(s) missed; one catch-up run", name, count)
                if not any(p.job == name for p in self.pending):
                    self.fire(job, last, "catch_up")
            else:
                logger.info("%s: %d run(s) missed (misfire = skip)", name, count)
                run_id = self.store.add_run(
                    job=name,
                    trigger="schedule",
                    status="missed",
                    scheduled_for=last,
                    finished_at=now,
                    owner=self.owner,
                    reasons=[
                        {
                            "code": "missed",
                            "message": f"{count} scheduled run(s) missed while no scheduler "
                            f"ran (from {_when(due)} to {_when(last)})",
                        }
                    ],
                )
                self._notify(job, run_id)
            self.store.set_job_state(name, next_fire_at=following, last_fire_at=last)

    # The loop

    def beat(self) -> bool:
        """Renew the lock every :data:`HEARTBEAT` seconds; False when it was lost."""
        if time.monotonic() < self.next_beat:
            return True
        self.next_beat = time.monotonic() + HEARTBEAT
        if self.store.heartbeat(self.owner):
            return True
        logger.error(
            "another scheduler (%s) took over this state store's lock: exiting, "
            "its runs left to it",
            self.store.lock_holder() or "gone meanwhile",
        )
        self.lock_lost = True
        self.stopping.set()
        return False

    def tick(self) -> None:
        if not self.beat():
            return
        self.check_jobs_file()
        self.poll_runs()
        now = datetime.now(UTC)
        states = self.store.job_states()
        for name, trigger in self.triggers.items():
            state = states.get(name)
            if state is None or state["paused"]:
                continue
            due = state["next_fire_at"]
            if due is None:  # resumed while no scheduler ran
                self.store.set_job_state(name, next_fire_at=next_fire(trigger, None, now))
                continue
            if due <= now:
                count, last, following = fires_until(trigger, due, now)
                if count > 1:
                    logger.warning("%s: %d fires due at once; one run", name, count)
                self.store.set_job_state(name, next_fire_at=following, last_fire_at=last)
                self.fire(self.jobs.jobs[name], last, "schedule")
        self.start_pending(states)

    def fire(self, job: Job, scheduled_for: datetime, trigger: str) -> None:
        """Apply ``job.overlap`` to a fire: skip it, queue it, or stop the run."""
        running = [h for h in self.active.values() if h.job.name == job.name]
        running_ids = [h.run_id for h in running]
        running_ids += [i for i, r in self.foreign.items() if r["job"] == job.name]
        waiting = [p for p in self.pending if p.job == job.name]
        if running_ids or waiting:
            if job.overlap == "skip" or waiting:
                what = (
                    f"run {running_ids[0]} of the job was still running"
                    if running_ids and not waiting
                    else f"run {waiting[0].run_id} of the job was already waiting to start"
                )
                run_id = self.store.add_run(
                    job=job.name,
                    trigger=trigger,
                    status="skipped",
                    scheduled_for=scheduled_for,
                    finished_at=datetime.now(UTC),
                    owner=self.owner,
                    reasons=[{"code": "overlap", "message": f"not started: {what}"}],
                )
                logger.info("%s: fire of %s skipped (%s)", job.name, _when(scheduled_for), what)
                self._notify(job, run_id)
                return
            if job.overlap == "stop":
                for handle in running:
                    handle.stop("overlap")
        self.enqueue(job, scheduled_for, trigger)

    def enqueue(
        self,
        job: Job,
        scheduled_for: datetime | None,
        trigger: str,
        job_dir: Path | None = None,
        resumed_from: int | None = None,
    ) -> int:
        run_id = self.store.add_run(
            job=job.name,
            trigger=trigger,
            status="queued",
            scheduled_for=scheduled_for,
            owner=self.owner,
            job_dir=str(job_dir) if job_dir else None,
            resumed_from=resumed_from,
        )
        self.pending.append(Pending(run_id, job.name, job_dir))
        return run_id

    def start_pending(self, states: dict[str, dict[str, Any]] | None = None) -> None:
        """Start queued runs, oldest first, while there is a free slot; a run
        waits for its job's previous run to end, and while its job is paused."""
        if self.stopping.is_set():
            return
        states = states if states is not None else self.store.job_states()
        for pending in list(self.pending):
            if len(self.active) + len(self.foreign) >= self.jobs.scheduler.max_concurrent_runs:
                return
            if any(h.job.name == pending.job for h in self.active.values()):
                continue
            if any(r["job"] == pending.job for r in self.foreign.values()):
                continue
            if states.get(pending.job, {}).get("paused"):
                continue
            self.pending.remove(pending)
            job = self.jobs.jobs[pending.job]
            handle = start_run(
                self.store,
                self.jobs,
                job,
                pending.run_id,
                job_dir=pending.job_dir,
                owner=self.owner,
            )
            if handle is None:
                self._notify(job, pending.run_id)
            else:
                self.active[handle.run_id] = handle

    def poll_runs(self) -> None:
        """Finish the runs that ended; stop those past their timeout; kill those
        that did not stop within ``stop_grace``."""
        grace = 0.0 if self.hurry else self.jobs.scheduler.stop_grace
        for handle in list(self.active.values()):
            code = handle.returncode()
            if code is None:
                if handle.stop_sent is None and handle.timed_out():
                    handle.stop("timeout")
                handle.kill_if_late(grace)
                continue
            del self.active[handle.run_id]
            row = finish_run(self.store, handle, code, notify=False)
            self.notifier.submit(send_notifications, self.store, handle.job, row)
            prune_run_dirs(
                self.store,
                handle.job.name,
                self.jobs.scheduler.runs_dir,
                self.jobs.scheduler.keep_runs,
            )
        for run_id, row in list(self.foreign.items()):
            current = self.store.run(run_id)
            if current is None or current["status"] != "running":
                del self.foreign[run_id]
            elif owner_gone(row["owner"] or ""):
                self.next_orphan_check = 0.0  # adopted or recorded at once
        if time.monotonic() >= self.next_orphan_check and not self.stopping.is_set():
            self.next_orphan_check = time.monotonic() + ORPHAN_CHECK
            self.take_over_orphans(follow_up=True)

    def _notify(self, job: Job, run_id: int) -> None:
        row = self.store.run(run_id)
        if row is not None and job.notify:
            self.notifier.submit(send_notifications, self.store, job, row)


def _file_digest(path: Path) -> str | None:
    """The SHA-256 of the job file's bytes; None when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _id(row: dict[str, Any]) -> int:
    return int(row["id"])


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
