"""When ``crawler crawl``, ``scrapy crawl`` and ``crawler extract`` count a crawl as failed.

Real crawls in subprocesses: against nothing listening (a dead host), the
tinysite, and a small site of its own whose start page answers 404 or 500 and
whose links are broken.  What a user or a scheduler sees is checked: the exit
code, the one ``error:`` line, the outcome file (``CRAWLER_OUTCOME_FILE``,
read with :func:`crawler.outcome.read_outcome`) and the verdict the store's
runs row keeps in its stats.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from crawler.outcome import read_outcome
from crawler.storage.sql import SqlStore
from fixtures.tinysite.server import SiteResponse, TinySite, not_found
from tests.clibatch import Command, run_commands
from tests.crawltools import crawl, run_crawler, scrapy_crawl_site, subprocess_env

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fixtures.tinysite.server import SiteRequest
    from tests.crawltools import CrawlResult

DEAD = "http://127.0.0.1:9/"  # nothing listens on the discard port
FAST = ("-s", "RETRY_TIMES=0")  # one attempt is enough to find nothing there


class ErrorsApp:
    """``/404/`` and ``/500/`` answer so for good; ``/broken/`` links to two pages
    that exist and three that do not."""

    prefix = "/"

    def handle(self, request: SiteRequest, site: TinySite) -> SiteResponse | None:
        if request.path == "/500/":
            return SiteResponse(status=500, body="broken for good\n", content_type="text/plain")
        if request.path == "/broken/":
            links = "".join(
                f'<a href="/broken/{name}">{name}</a>' for name in ("a", "b", "x", "y", "z")
            )
            return SiteResponse(body=f"<html><title>broken</title><body>{links}</body></html>")
        if request.path in ("/broken/a", "/broken/b"):
            return SiteResponse(body="<html><title>ok</title><body>ok</body></html>")
        return not_found()


@pytest.fixture(scope="module")
def errors_site() -> Iterator[TinySite]:
    with TinySite(apps=[ErrorsApp()]) as site:
        yield site


def outcome_of(result: CrawlResult | object, path: Path) -> dict[str, object]:
    assert path.exists(), getattr(result, "stderr", "")[-3000:]
    return json.loads(path.read_text())


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_a_dead_host_fails_with_its_reasons(tmp_path: Path) -> None:
    outcome = tmp_path / "outcome.json"
    result = crawl(DEAD, tmp_path, *FAST, "-s", f"CRAWLER_OUTCOME_FILE={outcome}")
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = error_lines(result.stderr)
    assert line.startswith(f"error: the start URL {DEAD} gave no page: ")
    assert line.endswith("(crawl failed: start_url_failed, no_pages)")
    data = outcome_of(result, outcome)
    assert data["status"] == "failed"
    assert data["exit_code"] == 1
    assert [r["code"] for r in data["reasons"]] == ["start_url_failed", "no_pages"]  # type: ignore[union-attr]
    assert (data["pages"], data["errors"], data["error_ratio"]) == (0, 1, 1.0)
    assert data["run_id"] == result.runs[-1]["id"]
    assert data["store"] == f"sqlite:///{result.db}"
    report = read_outcome(outcome)
    assert report is not None and report.failed and report.finish_reason == "finished"
    # the store's runs row keeps the verdict with the stats
    stats = result.stats
    assert stats["outcome/status"] == "failed"
    assert stats["outcome/failed/start_url_failed"] == stats["outcome/failed/no_pages"] == 1


@pytest.mark.parametrize("status", [404, 500])
def test_a_start_url_with_an_http_error_fails(
    errors_site: TinySite, tmp_path: Path, status: int
) -> None:
    start = errors_site.url(f"/{status}/")
    result = crawl(start, tmp_path, *FAST)
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = error_lines(result.stderr)
    assert line == (
        f"error: the start URL {start} answered HTTP {status} (crawl failed: start_url_failed)"
    )
    assert result.stats["outcome/start_url/status"] == status


def test_a_healthy_crawl_succeeds(tinysite: TinySite, tmp_path: Path) -> None:
    outcome = tmp_path / "runs" / "outcome.json"
    outcome.parent.mkdir()
    result = crawl(
        tinysite.url("/"), tmp_path, "--max-pages", "5", "-s", f"CRAWLER_OUTCOME_FILE={outcome}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert error_lines(result.stderr) == []
    report = read_outcome(outcome)
    assert report is not None
    assert (report.status, report.exit_code, report.reasons) == ("succeeded", 0, ())
    assert report.finish_reason == "closespider_pagecount"
    assert report.pages >= 5 and report.items == 0  # page records are not items
    assert report.started_at < report.finished_at and report.elapsed_seconds > 0
    assert result.stats["outcome/status"] == "succeeded"
    assert [p.name for p in outcome.parent.iterdir()] == ["outcome.json"]


def test_thresholds(errors_site: TinySite, tinysite: TinySite, tmp_path: Path) -> None:
    broken = crawl(errors_site.url("/broken/"), tmp_path, "--max-error-ratio", "0.4")
    assert broken.returncode == 1, broken.stderr[-3000:]
    [line] = error_lines(broken.stderr)
    # 3 of the 6 pages are 404s
    assert line == (
        "error: 3 of 6 pages ended in an error (50%), more than CRAWLER_MAX_ERROR_RATIO=0.4 "
        "(crawl failed: too_many_errors)"
    )
    assert broken.stats["outcome/error_ratio"] == 0.5
    few = crawl(
        tinysite.url("/"),
        tmp_path,
        "--max-pages",
        "2",
        "--min-pages",
        "50",
        "--min-items",
        "1",
        db_name="few.db",
    )
    assert few.returncode == 1
    [line] = error_lines(few.stderr)
    assert "fewer than CRAWLER_MIN_PAGES=50 (crawl failed: too_few_pages, no_items)" in line
    assert few.stats["outcome/failed/no_items"] == 1


def test_the_error_ratio_threshold_is_not_more_than(errors_site: TinySite, tmp_path: Path) -> None:
    result = crawl(errors_site.url("/broken/"), tmp_path, "-s", "CRAWLER_MAX_ERROR_RATIO=0.5")
    assert result.returncode == 0, result.stderr[-3000:]  # 50% is not more than 0.5


def test_a_store_that_fails_fails_the_crawl(tinysite: TinySite, tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    SqlStore.open(f"sqlite:///{db}").close()
    conn = sqlite3.connect(db)
    conn.execute(
        "create trigger refuse_pages before insert on pages "
        "begin select raise(abort, 'pages refused by a trigger'); end"
    )
    conn.commit()
    conn.close()
    outcome = tmp_path / "outcome.json"
    result = crawl(
        tinysite.url("/catalog/?size=5"), tmp_path, "-s", f"CRAWLER_OUTCOME_FILE={outcome}"
    )
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = error_lines(result.stderr)
    assert "pages refused by a trigger" in line and "(crawl failed: store_failed)" in line
    assert result.stderr.splitlines()[-1].startswith("not written to the store: ")
    data = outcome_of(result, outcome)
    assert [r["code"] for r in data["reasons"]] == ["store_failed"]  # type: ignore[union-attr]
    assert result.stats["outcome/failed/store_failed"] == 1


def test_scrapy_crawl_and_crawler_extract_agree(tmp_path: Path) -> None:
    scrapy_outcome = tmp_path / "scrapy.json"
    proc = scrapy_crawl_site(
        DEAD,
        *FAST,
        "-s",
        f"CRAWLER_OUTCOME_FILE={scrapy_outcome}",
        store=tmp_path / "scrapy.db",
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    [line] = error_lines(proc.stderr)
    assert line.endswith("(crawl failed: start_url_failed, no_pages)")
    data = outcome_of(proc, scrapy_outcome)
    assert [r["code"] for r in data["reasons"]] == ["start_url_failed", "no_pages"]  # type: ignore[union-attr]
    extract_outcome = tmp_path / "extract.json"
    proc = run_crawler(
        "extract",
        DEAD,
        "--field",
        "t=css:h1",
        *FAST,
        "-s",
        f"CRAWLER_OUTCOME_FILE={extract_outcome}",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    data = outcome_of(proc, extract_outcome)
    assert data["status"] == "failed"
    assert "start_url_failed" in [r["code"] for r in data["reasons"]]  # type: ignore[union-attr]


def test_errors_before_crawling_write_the_outcome_file_too(tmp_path: Path) -> None:
    crawl_outcome = tmp_path / "crawl.json"
    scrapy_outcome = tmp_path / "scrapy.json"
    store_outcome = tmp_path / "store.json"
    results = run_commands(
        {
            "store": Command(
                "crawler",
                [
                    "crawl",
                    DEAD,
                    "--store",
                    f"sqlite:///{tmp_path / 'no-such-dir' / 'crawl.db'}",
                    "-s",
                    f"CRAWLER_OUTCOME_FILE={store_outcome}",
                ],
                cwd=tmp_path,
            ),
            "crawl": Command(
                "crawler",
                [
                    "crawl",
                    DEAD,
                    "-s",
                    f"CRAWLER_OUTCOME_FILE={crawl_outcome}",
                    "-s",
                    "DEPTH_LIMIT=x",
                ],
                cwd=tmp_path,
            ),
            "scrapy": Command(
                "scrapy",
                ["crawl", "site", "-s", f"CRAWLER_OUTCOME_FILE={scrapy_outcome}"],  # no start_url
            ),
            "unwritable": Command(
                "crawler",
                ["crawl", DEAD, "-s", f"CRAWLER_OUTCOME_FILE={tmp_path / 'nowhere' / 'o.json'}"],
                cwd=tmp_path,
            ),
        },
        tmp_path,
    )
    for key, path in (("crawl", crawl_outcome), ("scrapy", scrapy_outcome)):
        assert results[key].returncode == 2, results[key].stderr
        report = read_outcome(path)
        assert report is not None, key
        assert (report.status, report.exit_code, report.reasons[0].code) == (
            "failed",
            2,
            "config_error",
        )
        assert f"error: {report.reasons[0].message}" in results[key].stderr
    assert results["store"].returncode == 2, results["store"].stderr
    report = read_outcome(store_outcome)
    assert report is not None
    assert (report.exit_code, report.reasons[0].code) == (2, "store_failed")
    assert "no-such-dir" in report.reasons[0].message
    assert results["unwritable"].returncode == 2
    assert "nowhere" in results["unwritable"].stderr
    assert not (tmp_path / "nowhere").exists()


def test_crawler_runs_shows_the_verdict_and_survives_a_closed_pipe(tmp_path: Path) -> None:
    """``crawler runs`` has a status column (a dead host's run: failed, with its codes,
    though its finish reason is ``finished``); its reader going away (``| head -2``)
    ends it quietly, no BrokenPipeError traceback."""
    result = crawl(DEAD, tmp_path, *FAST)
    assert result.returncode == 1, result.stderr[-3000:]
    store = f"sqlite:///{result.db}"
    listed = run_crawler("runs", "--store", store, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    header, *rows = [line for line in listed.stdout.splitlines() if line.strip()]
    assert "status" in header.split()
    assert "failed: start_url_failed, no_pages" in rows[-1]
    assert "finished" in rows[-1]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        closed = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "runs", "--store", store],
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(),
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in closed.stderr, closed.stderr
    assert closed.returncode == 141


def test_crawler_extract_says_why_it_failed(
    errors_site: TinySite, tinysite: TinySite, tmp_path: Path
) -> None:
    """One URL of two answers 404: exit code 1 and the verdict's error line, as
    README promises, not only the warning that a URL gave no page."""
    proc = run_crawler(
        "extract",
        tinysite.url("/"),
        errors_site.url("/404/"),
        "--field",
        "t=css:title::text",
        *FAST,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    [line] = error_lines(proc.stderr)
    assert line.endswith("(crawl failed: start_url_failed)"), line


def test_https_to_an_http_port_says_so(tinysite: TinySite, tmp_path: Path) -> None:
    """The error line is a sentence, not Twisted's ``[<Failure OpenSSL.SSL.Error ...>]``."""
    url = tinysite.url("/").replace("http://", "https://")
    result = crawl(url, tmp_path, *FAST)
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = error_lines(result.stderr)
    assert "TLS handshake failed: wrong version number (is the port HTTPS?)" in line, line
    assert "Failure" not in line and "[(" not in line
