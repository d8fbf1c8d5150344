"""``crawler report RUN``: the report of two real tinysite crawls, and its errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from crawler.cli import main
from crawler.report import data as rd
from crawler.report.diff import diff_runs
from crawler.storage.sql import SqlStore
from tests.reporttools import (
    CHANGING_PATH,
    GONE_PATH,
    HOSTILE_PATH,
    NEW_PATH,
    START_PATH,
    TRAP_LINK,
    ReportCrawls,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_the_crawls_give_what_the_report_shows(report_crawls: ReportCrawls) -> None:
    site = report_crawls.site
    store = SqlStore.open(report_crawls.store_url, create=False)
    try:
        first = rd.load_run(store, report_crawls.first)
        second = rd.load_run(store, report_crawls.second)
        assert rd.previous_run_for(store, second.id) == first.id
    finally:
        store.close()
    [slowest, *_] = rd.slowest(second.pages)
    assert slowest["url"].startswith(site.url(HOSTILE_PATH)) and slowest["latency"] >= 0.4
    errors = {g.label: [url for url, _ in g.examples] for g in rd.error_groups(second.pages)}
    assert errors == {
        "HTTP 404": [site.url("/report/missing.html")],
        "HTTP 500": [site.url("/report/broken.html")],
    }
    [trap] = rd.trap_groups(second.refused)
    assert (trap.label, trap.examples[0][0]) == (
        "repeated_segments",
        site.url("/report/" + TRAP_LINK),
    )
    assert [p["url"] for p in rd.form_pages(second.pages)] == [site.url("/search.html?q=A")]
    assert ("/report/items/…", 5) in rd.top_patterns(second)
    diff = diff_runs(first.id, first.pages, second.id, second.pages)
    assert (diff.new, diff.gone) == ((site.url(NEW_PATH),), (site.url(GONE_PATH),))
    changed = [(c.url, c.what) for c in diff.changed]  # the start page links to new, not old
    assert changed == [(site.url(START_PATH), "content"), (site.url(CHANGING_PATH), "content")]


def test_report_latest_compares_with_the_previous_run(
    report_crawls: ReportCrawls,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", "latest", "--store", report_crawls.store_url]) == 0
    out, err = capsys.readouterr()
    assert out == "report-2.html\n"
    assert err == "report of run 2, compared with run 1, written to report-2.html\n"
    html = (tmp_path / "report-2.html").read_text(encoding="utf-8")
    assert "Compared with run 1" in html
    assert "1 new, 1 gone, 2 changed" in " ".join(html.split()), html[
        html.index("Compared with") :
    ][:300]
    for chart in (
        "status-time",
        "latency",
        "found-via",
        "rendered",
        "depth",
        "patterns",
        "changes",
    ):
        assert f'<div class="chart" id="chart-{chart}"></div>' in html


def test_report_options(
    report_crawls: ReportCrawls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", report_crawls.store_url]
    out_file = tmp_path / "r.html"
    assert main(["report", "2", *store, "--no-compare", "-o", str(out_file)]) == 0
    assert capsys.readouterr().out == f"{out_file}\n"
    assert "No earlier run compared with" in out_file.read_text(encoding="utf-8")
    assert main(["report", "1", *store, "--compare", "2", "-o", str(out_file)]) == 0
    assert "Compared with run 2" in out_file.read_text(encoding="utf-8")
    assert main(["report", "1", *store, "-o", str(out_file)]) == 0  # the first has no previous
    assert "No earlier run compared with" in out_file.read_text(encoding="utf-8")


def test_report_to_standard_output(
    report_crawls: ReportCrawls,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``-o -`` writes the HTML to standard output, not to a file named ``-``."""
    monkeypatch.chdir(tmp_path)
    assert main(["report", "2", "--store", report_crawls.store_url, "-o", "-"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")
    assert err == "report of run 2, compared with run 1, written to standard output\n"
    assert list(tmp_path.iterdir()) == []
    assert main(["report", "2", "--store", report_crawls.store_url, "--no-compare", "-o", "-"]) == 0
    assert capsys.readouterr().err == "report of run 2 written to standard output\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["99"], "error: there is no run 99 in sqlite:///{db} (see crawler runs)"),
        (
            ["2", "--compare", "98"],
            "error: there is no run 98 in sqlite:///{db} (see crawler runs)",
        ),
        (["two"], "error: RUN is a run id or 'latest', not 'two' (see crawler runs)"),
        (["2", "--compare", "2"], "error: --compare 2 names run 2 itself: give another run"),
    ],
)
def test_unknown_runs_are_one_line_and_exit_2(
    report_crawls: ReportCrawls,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", *argv, "--store", report_crawls.store_url]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", message.format(db=report_crawls.db) + "\n")
    assert list(tmp_path.iterdir()) == []


def test_store_errors_are_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    SqlStore.open("sqlite:///empty.db").close()
    cases = {
        "sqlite:///empty.db": "error: store sqlite:///empty.db has no runs yet: "
        "crawl first (crawler crawl URL)",
        "sqlite:///none.db": "error: store sqlite:///none.db does not exist "
        f"(there is no file {tmp_path / 'none.db'}): give the URL of a store a crawl wrote to",
        "empty.db": "error: 'empty.db' is a path, not a store URL: write sqlite:///empty.db",
        "postgresql://u:secret@127.0.0.1:1/db": "error: cannot open store "
        "postgresql://u:***@127.0.0.1:1/db",
    }
    for url, message in cases.items():
        assert main(["report", "latest", "--store", url]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith(message) and err.count("\n") == 1, err
        assert "secret" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("empty.db")) == []
