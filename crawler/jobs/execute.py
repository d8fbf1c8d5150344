"""One run of a job: a subprocess in its own process group, its files, its history row.

Both ``crawler jobs run`` and ``crawler scheduler`` go through :func:`start_run`
and :meth:`RunHandle.finish`.  A run's directory is ``RUNS_DIR/JOB/<history id>/``
with ``crawl.log`` (the crawl's standard output and error), ``outcome.json``
(``CRAWLER_OUTCOME_FILE``, written by the crawl as it exits) and ``job/`` (its
``--job-dir``; a resumed run reuses the job dir of the run it resumes).

A run is stopped as Ctrl-C would stop it: SIGINT to its process group (Scrapy
closes the crawl, which ends ``interrupted`` and resumable from its job dir);
a group still there ``stop_grace`` seconds later is killed (SIGKILL).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.utils.conf import closest_scrapy_cfg

from crawler.jobs import parts
from crawler.redaction import redact_url

if TYPE_CHECKING:
    from crawler.jobs.config import Job, JobsFile
    from crawler.jobs.state import StateStore

logger = logging.getLogger(__name__)

EXIT_INTERRUPTED = 130
EXIT_USAGE = 2
#: Why the scheduler stopped a run -> the reason recorded (code, message).
STOP_REASONS = {
    "timeout": "the run took longer than its timeout ({timeout}) and was stopped",
    "overlap": 'stopped for a newer run of the job (overlap = "stop")',
    "shutdown": "the scheduler was stopped while the run was in progress",
    "user": "stopped by the user (Ctrl-C or SIGTERM to crawler jobs run)",
}


#: Signals that ask a crawl to stop (Ctrl-C, ``kill``, a closed terminal): a
#: crawl they end is ``interrupted``; any other signal that ends it (SIGKILL of
#: the OOM killer or ``kill -9``, SIGSEGV, SIGABRT...) makes it ``failed``.
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def _killed_by(signum: int) -> str:
    """``killed by SIGKILL (out of memory?)``, ``killed by SIGSEGV``, ``killed by signal 99``."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    hint = " (out of memory? the kernel's OOM killer sends it; see dmesg)" if signum == 9 else ""
    return f"killed by {name}{hint}"


def owner_id() -> str:
    """This process as a run's or the lock's owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (``/proc/PID/stat`` field 22, clock
    ticks since boot): with the pid it names one process, even after the pid is
    reused.  None when there is no such process, or it is a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    if not fields or fields[0] == "Z":
        return None
    return fields[19]


def alive(pid: int | None, start: str | None) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs."""
    return pid is not None and start is not None and process_start(pid) == start


def owner_gone(owner: str) -> bool:
    """Whether ``owner`` (``host:pid``) is a process of this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return process_start(int(pid)) is None


def signal_group(pgid: int | None, signum: int) -> bool:
    """Send ``signum`` to the process group; False when it is gone."""
    if not pgid:
        return False
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


@dataclass
class RunHandle:
    """A run in progress: a child of this process (``proc``), or one adopted from
    a scheduler that died (``proc`` None, followed by pid and start time)."""

    job: Job
    run_id: int
    run_dir: Path
    outcome_file: Path
    pid: int
    pgid: int
    pid_start: str | None
    proc: subprocess.Popen[bytes] | None = None
    started: float = field(default_factory=time.monotonic)
    stop_reason: str | None = None
    stop_sent: float | None = None
    killed: bool = False

    def returncode(self) -> int | None:
        """The exit status once the run ended (a signal as ``-N``), else None; an
        adopted run's is not known (``-1``) - its outcome file tells."""
        if self.proc is not None:
            return self.proc.poll()
        return None if alive(self.pid, self.pid_start) else -1

    def stop(self, reason: str) -> None:
        """Ask the run to stop (SIGINT to its group), once; the reason is kept."""
        if self.stop_sent is None:
            self.stop_reason = reason
            self.stop_sent = time.monotonic()
            logger.info("stopping run %s of %s (%s)", self.run_id, self.job.name, reason)
            signal_group(self.pgid, signal.SIGINT)

    def kill_if_late(self, grace: float) -> None:
        """SIGKILL the group when it did not stop ``grace`` seconds after :meth:`stop`."""
        if self.stop_sent is None or self.killed:
            return
        if time.monotonic() - self.stop_sent >= grace:
            logger.warning(
                "run %s of %s did not stop within %gs: killing its process group",
                self.run_id,
                self.job.name,
                grace,
            )
            self.killed = True
            signal_group(self.pgid, signal.SIGKILL)

    def result(self, returncode: int | None) -> dict[str, Any]:
        """The history columns of the ended run (:func:`result_values`)."""
        return result_values(self.outcome_file, returncode, self.stop_reason, self.job)

    def timed_out(self) -> bool:
        timeout = self.job.timeout
        return timeout is not None and time.monotonic() - self.started > timeout


def start_run(
    store: StateStore,
    jobs: JobsFile,
    job: Job,
    run_id: int,
    *,
    job_dir: Path | None = None,
    owner: str | None = None,
) -> RunHandle | None:
    """Start the queued history row ``run_id`` of ``job`` (a crawl in its own
    session and process group, in the job file's directory, with this
    process's environment: login passwords come from there).  ``job_dir``: the
    job dir of the run it resumes.  None when the process cannot be started
    (the row is then failed, reason ``start_failed``).  A ``target = "scrapyd"``
    job is scheduled on Scrapyd instead (:mod:`crawler.jobs.remote`)."""
    if job.target == "scrapyd":
        from crawler.jobs.remote import start_remote_run  # it builds on this module

        return start_remote_run(store, jobs, job, run_id, owner=owner)
    run_dir = jobs.scheduler.runs_dir / job.name / str(run_id)
    log_file = run_dir / "crawl.log"
    outcome_file = run_dir / "outcome.json"
    job_dir = job_dir or run_dir / "job"
    argv = job.command(sys.executable, job_dir, outcome_file)
    env = None
    if job.spider is not None and not closest_scrapy_cfg(jobs.base_dir):
        # No Scrapy project around the job file: the framework's settings, as
        # `crawler` itself uses (crawler.runner.project_settings).
        env = {"SCRAPY_SETTINGS_MODULE": "crawler.settings", **os.environ}
    now = datetime.now(UTC)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=jobs.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
    except OSError as e:
        store.update_run(
            run_id,
            status="failed",
            started_at=now,
            finished_at=now,
            run_dir=str(run_dir),
            log_file=str(log_file),
            reasons=[{"code": "start_failed", "message": f"the crawl could not be started: {e}"}],
        )
        logger.error("run %s of %s could not be started: %s", run_id, job.name, e)
        return None
    store.update_run(
        run_id,
        status="running",
        started_at=now,
        run_dir=str(run_dir),
        log_file=str(log_file),
        job_dir=str(job_dir),
        pid=proc.pid,
        pgid=proc.pid,
        pid_start=process_start(proc.pid),
        owner=owner or owner_id(),
        store=redact_url(job.store) if job.store else None,
    )
    logger.info("run %s of %s started (pid %s, log %s)", run_id, job.name, proc.pid, log_file)
    return RunHandle(
        job=job,
        run_id=run_id,
        run_dir=run_dir,
        outcome_file=outcome_file,
        pid=proc.pid,
        pgid=proc.pid,
        pid_start=process_start(proc.pid),
        proc=proc,
    )


def adopt_run(job: Job, row: dict[str, Any]) -> RunHandle:
    """A handle on the run of ``row`` whose process outlived its scheduler."""
    run_dir = Path(row["run_dir"])
    return RunHandle(
        job=job,
        run_id=row["id"],
        run_dir=run_dir,
        outcome_file=run_dir / "outcome.json",
        pid=row["pid"],
        pgid=row["pgid"],
        pid_start=row["pid_start"],
        started=monotonic_since(row.get("started_at")),
    )


def monotonic_since(started_at: datetime | None) -> float:
    """The :func:`time.monotonic` reading of the wall-clock moment ``started_at``
    (a run's history start, UTC): an adopted run's timeout counts from when it
    started, not from its adoption.  Now when ``started_at`` is None."""
    if started_at is None:
        return time.monotonic()
    elapsed = (datetime.now(UTC) - started_at).total_seconds()
    return time.monotonic() - max(0.0, elapsed)


def finish_run(
    store: StateStore, handle: RunHandle, returncode: int | None, *, notify: bool = True
) -> dict[str, Any]:
    """Record how the run ended (its outcome file, else its exit status) and
    notify (unless ``notify`` is False: the caller does); the finished history
    row.  What is left of its process group (a browser the crawl could not
    close) is killed."""
    signal_group(handle.pgid, signal.SIGKILL)
    values = handle.result(returncode)
    values.setdefault("finished_at", datetime.now(UTC))
    if handle.stop_reason and handle.pgid and not handle.outcome_file.exists():
        _note_early_stop(handle, values.get("exit_code"))
    store.update_run(handle.run_id, **values)
    row = store.run(handle.run_id) or {}
    logger.info(
        "run %s of %s %s (exit %s%s)",
        handle.run_id,
        handle.job.name,
        values["status"],
        values.get("exit_code"),
        "".join(f"; {r['code']}" for r in values.get("reasons") or []),
    )
    if notify:
        send_notifications(store, handle.job, row)
    return row


def _note_early_stop(handle: RunHandle, exit_code: int | None) -> None:
    """A line at the end of the crawl.log of a run stopped before its crawl
    wrote its outcome (stopped while starting: Python's KeyboardInterrupt
    traceback may be all the log has)."""
    try:
        with (handle.run_dir / "crawl.log").open("a", encoding="utf-8") as log:
            log.write(
                f"[crawler jobs] run {handle.run_id} was stopped ({handle.stop_reason}) "
                f"before its crawl wrote its outcome (exit {exit_code}); a "
                "KeyboardInterrupt traceback above is that stop, not a crash\n"
            )
    except OSError as e:
        logger.warning("cannot write to the log of run %s: %s", handle.run_id, e)


def send_notifications(store: StateStore, job: Job, row: dict[str, Any]) -> None:
    """Notify ``job``'s targets about ``row``; failures logged and counted in the row."""
    failures = parts.notify_run(job.notify, row)
    for failure in failures:
        logger.error("notification for run %s of %s failed: %s", row["id"], job.name, failure)
    if failures:
        store.update_run(row["id"], notify_failures=len(failures))
        row["notify_failures"] = len(failures)


def result_values(
    outcome_file: Path, returncode: int | None, stop_reason: str | None, job: Job
) -> dict[str, Any]:
    """The history columns of an ended run: from its outcome file
    (:func:`crawler.jobs.parts.read_outcome`), else from its exit status
    (0 succeeded, 130 or a stop signal - :data:`STOP_SIGNALS` - interrupted,
    another signal failed with reason ``killed``, anything else failed); a
    crawl ended by signal N has the exit code 128 + N (130 for SIGINT).  A run
    stopped for its timeout is failed (``timeout``): it did not do its work.
    ``finished_at`` is the outcome file's, when it has one."""
    outcome = parts.read_outcome(outcome_file)
    reasons: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    if outcome is not None:
        status = outcome.status
        reasons = [_reason(r) for r in outcome.reasons]
        values.update(
            exit_code=outcome.exit_code,
            finish_reason=outcome.finish_reason,
            pages=outcome.pages,
            items=outcome.items,
            errors=outcome.errors,
            crawl_run_id=outcome.run_id,
        )
        if outcome.store:
            values["store"] = outcome.store
        ended = _moment(outcome.finished_at)
        if ended is not None:
            values["finished_at"] = ended  # when it ended, not when that was noticed
    else:
        code = returncode if returncode is not None and returncode >= 0 else None
        if returncode is not None and returncode < -1:
            code = 128 - returncode  # ended by signal N: 128 + N, as a shell's $? says
        values["exit_code"] = code
        if code == 0:
            status = "succeeded"
        elif returncode == -1 and stop_reason:  # adopted, and stopped here: as asked
            status = "interrupted"
        elif returncode == -1:  # adopted: its exit status went to its dead parent
            status = "interrupted"
            reasons.append(
                {
                    "code": "lost",
                    "message": "the crawl ended while no scheduler watched it and left no "
                    "outcome file",
                }
            )
        elif (
            returncode is not None
            and returncode < -1
            and not stop_reason
            and -returncode not in STOP_SIGNALS
        ):
            status = "failed"  # a signal nobody here sent: the OOM killer, a crash, kill -9
            reasons.append(
                {"code": "killed", "message": f"the crawl was {_killed_by(-returncode)}"}
            )
        elif stop_reason or code == EXIT_INTERRUPTED or (returncode or 0) < 0:
            status = "interrupted"  # stopped by us or a stop signal, however early
        else:
            status = "failed"
            what = "a configuration error" if code == EXIT_USAGE else "a failure"
            reasons.append(
                {
                    "code": "config_error" if code == EXIT_USAGE else "exit_code",
                    "message": f"the crawl exited with code {code} ({what}; see its log)",
                }
            )
    if stop_reason:
        message = STOP_REASONS[stop_reason].format(timeout=_seconds(job.timeout))
        reasons.append({"code": stop_reason, "message": message})
        if stop_reason == "timeout":
            status = "failed"
    values.update(status=status, reasons=reasons)
    return values


def _moment(text: str | None) -> datetime | None:
    """An ISO-8601 time of an outcome file as an aware UTC datetime; None when
    missing or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def last_written(path: Path | None) -> datetime | None:
    """The modification time of ``path`` (a run's ``crawl.log``: the last thing
    its crawl wrote), UTC; None when there is no such file."""
    if path is None:
        return None
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def _reason(reason: Any) -> dict[str, str]:
    """An outcome's reason (``crawler.outcome.Reason``, or a mapping) as a dict."""
    if isinstance(reason, dict):
        return {"code": str(reason.get("code")), "message": str(reason.get("message", ""))}
    return {"code": str(reason.code), "message": str(reason.message)}


def _seconds(value: float | None) -> str:
    return "none" if value is None else f"{value:g}s"
