"""crawler.outcome: the verdict from a crawl's stats and thresholds, and the outcome file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from crawler.addon import framework_settings
from crawler.exceptions import ConfigError
from crawler.outcome import (
    FAILED,
    INTERRUPTED,
    SUCCEEDED,
    CrawlOutcomeReport,
    Criteria,
    Reason,
    Verdict,
    judge,
    outcome_file,
    read_outcome,
    report_for,
    write_outcome,
)
from crawler.settingscheck import check_types

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT = Criteria()
COUNTS = ("pages", "no_response", "http_errors", "items")


def crawl_stats(**values: Any) -> dict[str, Any]:
    """Stats of a crawl with the outcome middleware on: ``pages=3`` -> ``outcome/pages``."""
    stats: dict[str, Any] = {
        "finish_reason": "finished",
        "outcome/pages": 0,
        "outcome/no_response": 0,
        "outcome/http_errors": 0,
        "outcome/items": 0,
    }
    for key, value in values.items():
        stats[f"outcome/{key}" if key in COUNTS else key] = value
    return stats


def codes(stats: dict[str, Any], criteria: Criteria = DEFAULT) -> list[str]:
    return [reason.code for reason in judge(stats, criteria).reasons]


def test_a_crawl_with_pages_succeeds() -> None:
    verdict = judge(crawl_stats(pages=3), DEFAULT)
    assert (verdict.status, verdict.reasons, verdict.exit_code) == (SUCCEEDED, (), 0)
    assert verdict.error_line() is None


def test_a_dead_start_url_fails_with_no_pages_and_says_why() -> None:
    stats = crawl_stats(
        no_response=1,
        **{
            "outcome/start_url/url": "http://127.0.0.1:9/",
            "outcome/start_url/error": "Connection refused",
            "outcome/start_urls_failed": 1,
        },
    )
    verdict = judge(stats, DEFAULT)
    assert (verdict.status, verdict.exit_code) == (FAILED, 1)
    assert [r.code for r in verdict.reasons] == ["start_url_failed", "no_pages"]
    assert verdict.error_line() == (
        "error: the start URL http://127.0.0.1:9/ gave no page: Connection refused "
        "(crawl failed: start_url_failed, no_pages)"
    )


def test_a_start_url_with_an_http_error_fails_even_with_a_page() -> None:
    stats = crawl_stats(
        pages=1,
        http_errors=1,
        **{"outcome/start_url/url": "http://h/", "outcome/start_url/status": 404},
    )
    verdict = judge(stats, DEFAULT)
    assert [r.code for r in verdict.reasons] == ["start_url_failed"]
    assert verdict.reasons[0].message == "the start URL http://h/ answered HTTP 404"


def test_thresholds() -> None:
    assert codes(crawl_stats(pages=3), Criteria(min_pages=5)) == ["too_few_pages"]
    assert codes(crawl_stats(pages=0), Criteria(min_pages=0)) == []
    assert codes(crawl_stats(pages=3), Criteria(min_items=2)) == ["no_items"]
    assert codes(crawl_stats(pages=3, items=1), Criteria(min_items=2)) == ["too_few_items"]
    # 2 errors (one without response, one 404) of 5 pages requested: 40%
    errors = crawl_stats(pages=4, no_response=1, http_errors=1)
    assert codes(errors, Criteria(max_error_ratio=0.4)) == []
    assert codes(errors, Criteria(max_error_ratio=0.39)) == ["too_many_errors"]
    [reason] = judge(errors, Criteria(max_error_ratio=0.2)).reasons
    assert reason.message == (
        "2 of 5 pages ended in an error (40%), more than CRAWLER_MAX_ERROR_RATIO=0.2"
    )
    assert codes(crawl_stats(pages=0, no_response=7), Criteria(min_pages=0)) == []  # 1.0: off


def test_page_records_are_not_items() -> None:
    """The site spider's page records are scraped items to Scrapy, not to the verdict."""
    stats = crawl_stats(pages=3, item_scraped_count=3)
    assert codes(stats, Criteria(min_items=1)) == ["no_items"]
    # without the middleware's count, Scrapy's is all there is
    assert (
        codes({"finish_reason": "finished", "item_scraped_count": 3}, Criteria(min_items=1)) == []
    )


def test_failures_other_components_report() -> None:
    assert codes(crawl_stats(pages=1, finish_reason="login_failed")) == ["login_failed"]
    store = crawl_stats(pages=1, finish_reason="store_error", **{"store/error": "disk I/O error"})
    assert judge(store, DEFAULT).reasons == (Reason("store_failed", "disk I/O error"),)
    assert codes(crawl_stats(pages=1, **{"store/rows_lost": 3})) == ["store_failed"]
    feeds = crawl_stats(pages=1, **{"feedexport/failed_count/FTPFeedStorage": 1})
    assert codes(feeds) == ["feed_failed"]
    assert codes(crawl_stats(pages=1, finish_reason="no_items")) == ["no_items"]
    assert codes(crawl_stats(pages=1, finish_reason="memusage_exceeded")) == ["stopped"]
    assert codes(crawl_stats(pages=1, finish_reason="closespider_pagecount")) == []
    down = crawl_stats(
        pages=3,
        **{
            "selenium/render_failures/nodes_down": 9,
            "selenium/nodes_down_error": "no remote browser node to render on: ...",
        },
    )
    assert judge(down, DEFAULT).reasons == (
        Reason("browser_nodes_down", "9 renders failed: no remote browser node to render on: ..."),
    )


def test_an_interrupted_crawl_is_neither_success_nor_failure() -> None:
    verdict = judge(crawl_stats(pages=0, finish_reason="shutdown"), DEFAULT)
    assert (verdict.status, verdict.exit_code) == (INTERRUPTED, 130)
    assert [r.code for r in verdict.reasons] == ["interrupted"]
    assert verdict.error_line() is None


def test_without_the_outcome_middleware_pages_are_not_judged() -> None:
    """A project whose settings leave the middleware out: no counts, no page verdict."""
    assert codes({"finish_reason": "finished"}) == []


def test_messages_hold_no_password() -> None:
    stats = crawl_stats(
        **{
            "outcome/start_url/url": "http://bob:hunter2@127.0.0.1:9/",
            "outcome/start_url/error": "refused by http://bob:hunter2@127.0.0.1:9/",
        }
    )
    verdict = judge(stats, DEFAULT)
    assert "hunter2" not in json.dumps([r.message for r in verdict.reasons])
    report = report_for(stats, verdict, store="postgresql://u:pw-secret@db/crawl")
    assert report.store is None  # no run was stored
    report = report_for(
        {**stats, "store/run_id": 4}, verdict, store="postgresql://u:pw-secret@db/x"
    )
    assert "pw-secret" not in json.dumps(report.to_json())


def test_the_outcome_file_round_trip(tmp_path: Path) -> None:
    start = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    stats = crawl_stats(
        pages=4,
        no_response=1,
        items=2,
        **{
            "start_time": start,
            "finish_time": datetime(2026, 12, 1, 13, 0, 2, 500000, tzinfo=UTC),
            "store/run_id": 7,
            "selenium/renders": 3,
        },
    )
    verdict = judge(stats, Criteria(max_error_ratio=0.1))
    path = tmp_path / "outcome.json"
    write_outcome(path, report_for(stats, verdict, store="sqlite:///crawl.db"))
    assert [p.name for p in tmp_path.iterdir()] == ["outcome.json"]  # no temporary file left
    data = json.loads(path.read_text())
    assert data == {
        "status": "failed",
        "exit_code": 1,
        "reasons": [
            {
                "code": "too_many_errors",
                "message": "1 of 5 pages ended in an error (20%), more than "
                "CRAWLER_MAX_ERROR_RATIO=0.1",
            }
        ],
        "finish_reason": "finished",
        "run_id": 7,
        "store": "sqlite:///crawl.db",
        "pages": 4,
        "items": 2,
        "errors": 1,
        "error_ratio": 0.2,
        "rendered": 3,
        "unchanged": 0,
        "started_at": "2026-12-01T13:00:00+00:00",
        "finished_at": "2026-12-01T13:00:02.500000+00:00",
        "elapsed_seconds": 2.5,
    }
    report = read_outcome(path)
    assert report is not None
    assert report == CrawlOutcomeReport.from_json(data)
    assert (report.status, report.run_id, report.reasons[0].code) == (
        "failed",
        7,
        "too_many_errors",
    )
    with pytest.raises(AttributeError):  # frozen
        report.status = "succeeded"  # type: ignore[misc]


@pytest.mark.parametrize(
    "content",
    [
        "",
        "{not json",
        "[]",
        '{"status": "fine", "exit_code": 0, "reasons": []}',
        '{"status": "failed"}',
    ],
)
def test_a_corrupt_outcome_file_reads_as_none(tmp_path: Path, content: str) -> None:
    path = tmp_path / "outcome.json"
    path.write_text(content)
    assert read_outcome(path) is None
    assert read_outcome(tmp_path / "missing.json") is None


def test_the_settings_are_checked() -> None:
    for name, value in [("CRAWLER_MAX_ERROR_RATIO", 1.5), ("CRAWLER_MIN_PAGES", -1)]:
        with pytest.raises(ConfigError, match=name):
            check_types(framework_settings({name: value}), "CRAWLER_")
    with pytest.raises(ConfigError, match="must be a number between 0 and 1"):
        check_types(framework_settings({"CRAWLER_MAX_ERROR_RATIO": 1.5}), "CRAWLER_")
    check_types(framework_settings({"CRAWLER_MAX_ERROR_RATIO": 0.25}), "CRAWLER_")


def test_the_previous_outcome_is_removed_as_a_crawl_starts(tmp_path: Path) -> None:
    """A run killed before it writes its outcome must not leave the last run's
    ``succeeded`` for a scheduler to read."""
    path = tmp_path / "outcome.json"
    write_outcome(path, CrawlOutcomeReport(status=SUCCEEDED, exit_code=0))
    assert read_outcome(path) is not None
    settings = framework_settings({"CRAWLER_OUTCOME_FILE": str(path)})
    assert outcome_file(settings) == str(path)
    assert not path.exists()
    assert read_outcome(path) is None


def test_a_failed_feed_is_named_with_its_local_copy() -> None:
    stats = {
        "finish_reason": "finished",
        "outcome/pages": 3,
        "feedexport/failed_count/FTPFeedStorage": 1,
        "feedexport/failed_count/FileFeedStorage": 1,
        "feedexport/undelivered": [
            {"uri": "ftp://u:pw77@example.com/out.jsonl", "kept": "/k/undelivered-x-out.jsonl"}
        ],
    }
    verdict = judge(stats, DEFAULT)
    assert verdict.reasons == (
        Reason(
            "feed_failed",
            "2 output file(s) could not be written: ftp://u:***@example.com/out.jsonl "
            "(records kept in /k/undelivered-x-out.jsonl), and 1 other (see the log)",
        ),
    )


def test_the_verdict_log_line_reads_back() -> None:
    failed = Verdict(
        FAILED,
        (Reason("start_url_failed", "the start URL x gave no page"), Reason("no_pages", "n")),
    )
    line = failed.log_line()
    assert (
        line == "Crawl outcome: failed (start_url_failed, no_pages): the start URL x gave no page"
    )
    log = (
        f"2026-12-01 10:00:00 [crawler.downloadermiddlewares.outcome] INFO: {line}\n"
        "2026-12-01 10:00:00 [scrapy.core.engine] INFO: Spider closed (finished)\n"
    )
    assert Verdict.parse_log_line(log) == Verdict(
        FAILED,
        (
            Reason("start_url_failed", "the start URL x gave no page"),
            Reason("no_pages", "see the log"),
        ),
    )
    ok = f"x [crawler.downloadermiddlewares.outcome] INFO: {Verdict(SUCCEEDED, ()).log_line()}\n"
    assert Verdict.parse_log_line(log + ok) == Verdict(SUCCEEDED, ())
    assert Verdict.parse_log_line("[scrapy.core.engine] INFO: Spider closed (finished)\n") is None
