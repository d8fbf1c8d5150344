"""The scheduler's one door to the modules it uses from other parts of the framework:
the outcome file (:mod:`crawler.outcome`), notifications (:mod:`crawler.notify`)
and the Scrapyd client (:mod:`crawler.scrapyd`).

Every import of them is here, so the rest of :mod:`crawler.jobs` sees small,
stable functions: :func:`read_outcome`, :func:`parse_targets` (the job file's
``notify`` entries, :func:`crawler.notify.targets.parse_targets`),
:func:`notify_run`, :func:`scrapyd_client`.
"""

from __future__ import annotations

from typing import Any

from crawler.exceptions import ConfigError, ScrapydError
from crawler.notify.report import RunReport
from crawler.notify.send import notify
from crawler.notify.targets import parse_targets
from crawler.outcome import read_outcome
from crawler.scrapyd import ScrapydClient

__all__ = [
    "ScrapydError",
    "notify_run",
    "parse_targets",
    "read_outcome",
    "scrapyd_client",
]


def notify_run(targets: list[Any], run: dict[str, Any]) -> list[str]:
    """Send the report of a finished (or skipped, missed) run to ``targets``
    whose ``on`` matches its status; the failures, one message each (never raises)."""
    if not targets:
        return []
    started, finished = run.get("started_at"), run.get("finished_at")
    duration = (finished - started).total_seconds() if started and finished else None
    try:
        report = RunReport(
            job=run["job"],
            run_id=run["id"],
            status=run["status"],
            reasons=list(run.get("reasons") or []),
            scheduled_for=run.get("scheduled_for"),
            started_at=started,
            finished_at=finished,
            duration_seconds=duration,
            pages=run.get("pages") or 0,
            items=run.get("items") or 0,
            errors=run.get("errors") or 0,
            exit_code=run.get("exit_code"),
            finish_reason=run.get("finish_reason"),
            log_file=run.get("log_file"),
            crawl_run_id=run.get("crawl_run_id"),
            store=run.get("store"),
        )
        return list(notify(targets, report))
    except Exception as e:  # a notification never stops the scheduler
        return [f"cannot build the notification: {type(e).__name__}: {e}"]


def scrapyd_client(url: str) -> ScrapydClient:
    """A :class:`crawler.scrapyd.ScrapydClient` for ``url`` (credentials from the
    URL or ``SCRAPYD_USERNAME``/``SCRAPYD_PASSWORD``); ConfigError for a bad URL."""
    try:
        return ScrapydClient(url)
    except ScrapydError as e:
        raise ConfigError(str(e)) from None
