"""What a run report says (crawler.notify.report.RunReport)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from crawler.notify.report import RunReport
from crawler.outcome import CrawlOutcomeReport, Reason, read_outcome, write_outcome

STARTED = datetime(2026, 12, 1, 3, 0, 2, tzinfo=UTC)


def failed_report(**changes: object) -> RunReport:
    values: dict[str, object] = {
        "job": "tinysite",
        "run_id": 12,
        "status": "failed",
        "reasons": [
            {"code": "no_pages", "message": "No page was fetched (0 pages with a response)."},
            {
                "code": "start_url_failed",
                "message": "http://u:pagepw99@127.0.0.1:9/?token=tok987 got no response",
            },
        ],
        "scheduled_for": STARTED - timedelta(seconds=2),
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(seconds=75),
        "duration_seconds": 75.4,
        "pages": 0,
        "items": 0,
        "errors": 3,
        "exit_code": 1,
        "finish_reason": "finished",
        "log_file": "runs/tinysite/12/crawl.log",
        "crawl_run_id": 4,
        "store": "postgresql://crawler:storepw77@db.test/crawl",
    }
    values.update(changes)
    return RunReport(**values)  # type: ignore[arg-type]


def test_subject() -> None:
    report = failed_report()
    assert report.subject() == "[crawler] job tinysite run 12 failed: no_pages, start_url_failed"
    assert failed_report(status="succeeded", reasons=[]).subject() == (
        "[crawler] job tinysite run 12 succeeded"
    )
    assert failed_report(status="missed", run_id=None, reasons=[]).subject() == (
        "[crawler] job tinysite missed"
    )


def test_text_names_run_reasons_and_stats_without_secrets() -> None:
    text = failed_report().text()
    for line in (
        "Job:       tinysite",
        "Run:       12 (store run 4)",
        "Status:    failed (exit code 1, finish reason finished)",
        "  - no_pages: No page was fetched (0 pages with a response).",
        "Started:   2026-12-01T03:00:02+00:00",
        "Duration:  1 min 15 s",
        "Pages:     0",
        "Items:     0",
        "Errors:    3",
        "Log file:  runs/tinysite/12/crawl.log",
        "Store:     postgresql://crawler:***@db.test/crawl",
    ):
        assert line in text.splitlines(), (line, text)
    for secret in ("storepw77", "pagepw99", "tok987"):
        assert secret not in text


def test_text_leaves_out_what_is_unknown() -> None:
    text = RunReport(job="j", run_id=None, status="skipped").text()
    assert text == "Job:       j\nStatus:    skipped\n"


def test_json_is_serializable_and_masked() -> None:
    body = failed_report().to_json()
    assert json.loads(json.dumps(body)) == body
    assert body["job"] == "tinysite"
    assert body["run_id"] == 12
    assert body["status"] == "failed"
    assert [r["code"] for r in body["reasons"]] == ["no_pages", "start_url_failed"]
    assert body["started_at"] == "2026-12-01T03:00:02+00:00"
    assert (body["pages"], body["items"], body["errors"]) == (0, 0, 3)
    assert body["store"] == "postgresql://crawler:***@db.test/crawl"
    assert body["subject"].startswith("[crawler] job tinysite run 12 failed")
    for secret in ("storepw77", "pagepw99", "tok987"):
        assert secret not in json.dumps(body)


def test_from_outcome() -> None:
    outcome = SimpleNamespace(
        status="failed",
        exit_code=1,
        reasons=[{"code": "no_pages", "message": "nothing"}],
        finish_reason="finished",
        run_id=7,
        store="sqlite:///x.db",
        pages=0,
        items=0,
        errors=1,
        started_at="2026-12-01T03:00:02+00:00",
        finished_at=None,
        elapsed_seconds=1.5,
    )
    report = RunReport.from_outcome("tinysite", 12, outcome, log_file="runs/l.log")
    assert report.subject() == "[crawler] job tinysite run 12 failed: no_pages"
    assert (report.crawl_run_id, report.started_at, report.duration_seconds) == (7, STARTED, 1.5)
    assert report.log_file == "runs/l.log"


def test_from_outcome_of_a_real_outcome_file(tmp_path: Path) -> None:
    """The outcome file read back (Reason dataclasses, not mappings) makes a report."""
    path = tmp_path / "outcome.json"
    write_outcome(
        path,
        CrawlOutcomeReport(
            status="failed",
            exit_code=1,
            reasons=(Reason("start_url_failed", "the start URL gave no page"),),
            finish_reason="finished",
            started_at="2026-12-01T03:00:02+00:00",
            elapsed_seconds=1.5,
        ),
    )
    outcome = read_outcome(path)
    assert outcome is not None
    report = RunReport.from_outcome("tinysite", 12, outcome)
    assert report.reason_codes == ["start_url_failed"]
    assert report.subject() == "[crawler] job tinysite run 12 failed: start_url_failed"
    assert "the start URL gave no page" in report.text()
    assert report.started_at == STARTED
