"""Runs of ``target = "scrapyd"`` jobs: scheduled on a Scrapyd server, followed by polling.

The scheduler's side of :mod:`crawler.scrapyd` (through :mod:`crawler.jobs.parts`):
:func:`start_remote_run` schedules the job's spider in its deployed
``project`` (``schedule.json``; arguments as ``-a``, settings as ``-s``, the
Scrapyd job id ``NAME-<history id>``); :class:`RemoteRunHandle` asks
``status.json`` every :data:`POLL` seconds until the job is no longer pending
or running; its end is read from the log Scrapyd keeps: the crawl's own
verdict line (``Crawl outcome: failed (start_url_failed, no_pages): ...``,
:meth:`ScrapydClient.verdict`), the verdict of ``crawler crawl``; for a log
without one (a crawl that died, a project deployed before the line) Scrapy's
finish reason judged by :func:`crawler.runner.exit_code_for`.  Scrapyd
reports no exit code, and the crawl's outcome file, on the Scrapyd host, is
out of reach.
Stopping is ``cancel.json`` (SIGINT to the crawl: it ends interrupted); a
second cancel after ``stop_grace`` forces it.  The history row's ``log_file``
is the log's URL; ``remote_job`` the Scrapyd job id, by which a restarted
scheduler follows a run it finds running.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crawler.jobs import parts
from crawler.jobs.execute import STOP_REASONS, RunHandle, owner_id
from crawler.runner import EXIT_INTERRUPTED, exit_code_for

if TYPE_CHECKING:
    from pathlib import Path

    from crawler.jobs.config import Job, JobsFile
    from crawler.jobs.state import StateStore
    from crawler.outcome import Verdict

logger = logging.getLogger(__name__)

POLL = 1.0  # seconds between two status.json requests for one run


@dataclass
class RemoteRunHandle(RunHandle):
    """A run on Scrapyd; ``pid``/``pgid`` are 0 (no local process)."""

    client: Any = None
    remote_id: str = ""
    next_poll: float = field(default=0.0)

    def returncode(self) -> int | None:
        """0 once Scrapyd no longer has the job pending or running (its end is
        read by :meth:`result`), else None; a failed status request is retried."""
        if time.monotonic() < self.next_poll:
            return None
        self.next_poll = time.monotonic() + POLL
        try:
            state = self.client.status(self.job.project, self.remote_id)
        except parts.ScrapydError as e:
            logger.warning("run %s of %s: %s", self.run_id, self.job.name, e)
            return None
        return None if state in ("pending", "running") else 0

    def stop(self, reason: str) -> None:
        if self.stop_sent is None:
            self.stop_reason = reason
            self.stop_sent = time.monotonic()
            logger.info("cancelling run %s of %s (%s)", self.run_id, self.job.name, reason)
            self._cancel()

    def kill_if_late(self, grace: float) -> None:
        if self.stop_sent is None or self.killed:
            return
        if time.monotonic() - self.stop_sent >= grace:
            self.killed = True  # Scrapyd's second cancel forces the crawl to stop
            self._cancel()

    def _cancel(self) -> None:
        try:
            self.client.cancel(self.job.project, self.remote_id)
        except parts.ScrapydError as e:
            logger.error("run %s of %s: %s", self.run_id, self.job.name, e)

    def result(self, returncode: int | None = None) -> dict[str, Any]:
        """The history columns of the ended run, from the verdict (else the finish
        reason) in its log (``returncode``, always 0 here, says nothing)."""
        assert self.job.spider is not None and self.job.project is not None
        reasons: list[dict[str, str]] = []
        verdict: Verdict | None = None
        try:
            verdict, reason = self.client.verdict(self.job.project, self.job.spider, self.remote_id)
        except parts.ScrapydError as e:
            reason = None
            reasons.append({"code": "lost", "message": f"its log could not be read: {e}"})
        if verdict is not None:  # the crawl's own verdict (crawler.outcome.judge)
            status, code = verdict.status, verdict.exit_code
            reasons += [{"code": r.code, "message": r.message} for r in verdict.reasons]
        else:  # a crawl that died, or deployed before the verdict line: its finish reason
            status, code = self._judge_finish_reason(reason, reasons)
        if self.stop_reason:
            timeout = f"{self.job.timeout:g}s" if self.job.timeout else "none"
            message = STOP_REASONS[self.stop_reason].format(timeout=timeout)
            reasons.append({"code": self.stop_reason, "message": message})
            if self.stop_reason == "timeout":
                status = "failed"
        return {"status": status, "reasons": reasons, "exit_code": code, "finish_reason": reason}

    def _judge_finish_reason(
        self, reason: str | None, reasons: list[dict[str, str]]
    ) -> tuple[str, int | None]:
        """``(status, exit code)`` from Scrapy's finish reason alone (the rule of
        :func:`crawler.runner.exit_code_for`); adds to ``reasons``."""
        code = exit_code_for(reason) if reason else None
        if code == 0:
            status = "succeeded"
        elif code == EXIT_INTERRUPTED or (self.stop_reason and code is None):
            status = "interrupted"
        else:
            status = "failed"
            if reason:
                reasons.append(
                    {"code": reason, "message": f"the crawl on Scrapyd ended with {reason!r}"}
                )
            elif not reasons:
                reasons.append(
                    {
                        "code": "lost",
                        "message": "Scrapyd's log of the job has no finish reason: the crawl "
                        "died, or Scrapyd keeps no log of it",
                    }
                )
        return status, code


def start_remote_run(
    store: StateStore, jobs: JobsFile, job: Job, run_id: int, *, owner: str | None = None
) -> RemoteRunHandle | None:
    """Schedule the queued row ``run_id`` of ``job`` on Scrapyd; None when
    Scrapyd refused it (the row is then failed, reason ``start_failed``)."""
    assert jobs.scheduler.scrapyd is not None and job.spider and job.project
    client = parts.scrapyd_client(jobs.scheduler.scrapyd)
    settings: dict[str, Any] = dict(job.crawl_settings())
    if job.store:
        settings["CRAWLER_STORE_URL"] = job.store
    now = datetime.now(UTC)
    try:
        remote_id = client.schedule(
            job.project, job.spider, job.args, settings, job_id=f"{job.name}-{run_id}"
        )
    except parts.ScrapydError as e:
        store.update_run(
            run_id,
            status="failed",
            started_at=now,
            finished_at=now,
            reasons=[{"code": "start_failed", "message": str(e)}],
        )
        logger.error("run %s of %s could not be scheduled: %s", run_id, job.name, e)
        return None
    log_url = client.log_url(job.project, job.spider, remote_id)
    store.update_run(
        run_id,
        status="running",
        started_at=now,
        log_file=log_url,
        remote_job=remote_id,
        owner=owner or owner_id(),
    )
    logger.info("run %s of %s scheduled on Scrapyd as %s", run_id, job.name, remote_id)
    return remote_handle(jobs, job, run_id, remote_id, client)


def remote_handle(
    jobs: JobsFile, job: Job, run_id: int, remote_id: str, client: Any = None
) -> RemoteRunHandle:
    """A handle on the Scrapyd job ``remote_id`` (a run found running at start, too)."""
    assert jobs.scheduler.scrapyd is not None
    run_dir: Path = jobs.scheduler.runs_dir / job.name / str(run_id)
    return RemoteRunHandle(
        job=job,
        run_id=run_id,
        run_dir=run_dir,
        outcome_file=run_dir / "outcome.json",
        pid=0,
        pgid=0,
        pid_start=None,
        client=client or parts.scrapyd_client(jobs.scheduler.scrapyd),
        remote_id=remote_id,
    )
