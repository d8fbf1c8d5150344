"""What a notification says about one run of a scheduled job.

:class:`RunReport` is built by the scheduler from the run's history row and its
outcome file (:mod:`crawler.outcome`); :mod:`crawler.notify.send` sends
:meth:`RunReport.subject` and :meth:`RunReport.text` by email and
:meth:`RunReport.to_json` to webhooks.  Every text it renders has the store
URL's password masked (:func:`crawler.redaction.redact_url`) and the URLs in
reason messages redacted (:func:`crawler.redaction.redact_text`), whatever the
caller passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crawler.redaction import redact_text, redact_url

#: Version of the webhook body (``to_json()["schema"]``), raised on incompatible changes.
JSON_SCHEMA = 1


@dataclass(frozen=True)
class RunReport:
    """One run of a job: ``job`` (its name in the job file), ``run_id`` (the
    scheduler's history id; None for a run that never started, ``missed`` or
    ``skipped``), ``status`` (``succeeded``, ``failed``, ``interrupted``,
    ``skipped``, ``missed``), ``reasons`` (``{"code": ..., "message": ...}``
    mappings, as the outcome file has them), the times (aware datetimes, or
    None), ``duration_seconds``, the counts (``pages``, ``items``, ``errors``),
    ``exit_code`` (of the crawl process; negative: killed by that signal),
    ``finish_reason`` (Scrapy's), ``log_file``, ``crawl_run_id`` (the store's run
    id) and ``store`` (the store URL, masked when rendered)."""

    job: str
    run_id: int | None
    status: str
    reasons: Sequence[Mapping[str, str]] = field(default_factory=tuple)
    scheduled_for: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    pages: int | None = None
    items: int | None = None
    errors: int | None = None
    exit_code: int | None = None
    finish_reason: str | None = None
    log_file: str | None = None
    crawl_run_id: int | None = None
    store: str | None = None

    @classmethod
    def from_outcome(
        cls,
        job: str,
        run_id: int | None,
        outcome: Any,
        *,
        scheduled_for: datetime | None = None,
        log_file: str | None = None,
    ) -> RunReport:
        """A report from a :class:`crawler.outcome.CrawlOutcomeReport` (read by
        attribute: ``status``, ``reasons``, ``exit_code``, ``finish_reason``,
        ``run_id`` (the store's), ``store``, ``pages``, ``items``, ``errors``,
        ``started_at``, ``finished_at`` (datetimes or ISO-8601 texts),
        ``elapsed_seconds``); a missing attribute is None."""

        def get(name: str) -> Any:
            return getattr(outcome, name, None)

        return cls(
            job=job,
            run_id=run_id,
            status=str(get("status") or "failed"),
            reasons=tuple(_reason(reason) for reason in get("reasons") or ()),
            scheduled_for=scheduled_for,
            started_at=_datetime(get("started_at")),
            finished_at=_datetime(get("finished_at")),
            duration_seconds=get("elapsed_seconds"),
            pages=get("pages"),
            items=get("items"),
            errors=get("errors"),
            exit_code=get("exit_code"),
            finish_reason=get("finish_reason"),
            log_file=log_file,
            crawl_run_id=get("run_id"),
            store=get("store"),
        )

    @property
    def reason_codes(self) -> list[str]:
        """The reasons' codes, in order (``["no_pages"]``)."""
        return [str(reason.get("code", "")) for reason in self.reasons if reason.get("code")]

    def subject(self) -> str:
        """``[crawler] job tinysite run 12 failed: no_pages`` (one line; without
        ``run N`` for a run that has no history id)."""
        run = f" run {self.run_id}" if self.run_id is not None else ""
        codes = ", ".join(self.reason_codes)
        subject = f"[crawler] job {self.job}{run} {self.status}{': ' + codes if codes else ''}"
        return " ".join(subject.split())

    def text(self) -> str:
        """The plain-text body: job, run, status, each reason's message, the
        times, the counts, the log file and the (masked) store; lines that
        would say nothing (an unknown value) are left out."""
        status = self.status
        details = [
            f"exit code {self.exit_code}" if self.exit_code is not None else "",
            f"finish reason {self.finish_reason}" if self.finish_reason else "",
        ]
        if any(details):
            status += f" ({', '.join(d for d in details if d)})"
        rows: list[tuple[str, Any]] = [
            ("Job", self.job),
            ("Run", self._run()),
            ("Status", status),
        ]
        lines = [_row(label, value) for label, value in rows if value not in (None, "")]
        if self.reasons:
            lines.append("Reasons:")
            lines.extend(
                f"  - {reason.get('code', '?')}: {redact_text(str(reason.get('message', '')))}"
                for reason in self.reasons
            )
        rows = [
            ("Scheduled", _iso(self.scheduled_for)),
            ("Started", _iso(self.started_at)),
            ("Finished", _iso(self.finished_at)),
            ("Duration", _duration(self.duration_seconds)),
            ("Pages", self.pages),
            ("Items", self.items),
            ("Errors", self.errors),
            ("Log file", self.log_file),
            ("Store", redact_url(self.store) if self.store else None),
        ]
        lines.extend(_row(label, value) for label, value in rows if value not in (None, ""))
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The webhook body: every field (datetimes as ISO-8601 texts, the store
        masked), plus ``schema`` (:data:`JSON_SCHEMA`), ``subject`` and ``text``
        (so chat webhooks that show a ``text`` key, Slack's and Mattermost's,
        show the whole report)."""
        return {
            "schema": JSON_SCHEMA,
            "job": self.job,
            "run_id": self.run_id,
            "status": self.status,
            "reasons": [
                {
                    "code": str(reason.get("code", "")),
                    "message": redact_text(str(reason.get("message", ""))),
                }
                for reason in self.reasons
            ],
            "scheduled_for": _iso(self.scheduled_for),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_seconds": self.duration_seconds,
            "pages": self.pages,
            "items": self.items,
            "errors": self.errors,
            "exit_code": self.exit_code,
            "finish_reason": self.finish_reason,
            "log_file": self.log_file,
            "crawl_run_id": self.crawl_run_id,
            "store": redact_url(self.store) if self.store else None,
            "subject": self.subject(),
            "text": self.text(),
        }

    def _run(self) -> str | None:
        if self.run_id is None:
            return None
        if self.crawl_run_id is not None:
            return f"{self.run_id} (store run {self.crawl_run_id})"
        return str(self.run_id)


def _row(label: str, value: Any) -> str:
    return f"{label + ':':<11}{value}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _reason(reason: Any) -> dict[str, str]:
    """A reason as ``{"code": ..., "message": ...}``, from a mapping or from an object
    with ``code`` and ``message`` attributes (:class:`crawler.outcome.Reason`)."""
    if isinstance(reason, Mapping):
        return {str(k): str(v) for k, v in reason.items()}
    return {"code": str(reason.code), "message": str(reason.message)}


def _datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _duration(seconds: float | None) -> str | None:
    """``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds is None:
        return None
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
