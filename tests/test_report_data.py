"""The run report's data, diff and page, on small stores written row by row."""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from crawler.exceptions import ReportError
from crawler.outcome import STATUS_STAT
from crawler.report import charts, previous_run_for, render_report
from crawler.report import data as rd
from crawler.report.diff import diff_runs
from crawler.report.html import REPORT_SCRIPT, REPORT_SCRIPT_HASH
from crawler.storage.sql import SqlStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
SUCCEEDED = {STATUS_STAT: "succeeded"}


def page(url: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "url": url,
        "final_url": url,
        "status": 200,
        "content_type": "text/html",
        "title": "T",
        "depth": 0,
        "found_via": "link",
        "referer": None,
        "rendered": False,
        "fetched_at": "2026-12-01T10:00:00.000+00:00",
        "error": None,
        "latency": 0.05,
    }
    row.update(overrides)
    return row


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crawl.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = SqlStore.open(url)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    s = SqlStore.open(f"sqlite:///{tmp_path / 'crawl.db'}")
    yield s
    s.close()


def add_run(
    store: SqlStore,
    pages: list[dict[str, Any]],
    start_url: str = "http://h/",
    stats: dict[str, Any] | None = None,
    links: list[dict[str, Any]] = (),  # type: ignore[assignment]
    spider: str = "site",
) -> int:
    run_id = store.start_run(spider, start_url, {})
    store.write_batch(run_id, page_rows=pages, link_rows=list(links))
    store.finish_run(run_id, "finished", {**SUCCEEDED, **(stats or {})})
    return run_id


def test_status_classes_and_url_patterns() -> None:
    assert [rd.status_class(s) for s in (200, 301, 404, 503, None, 99)] == [
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        "no response",
        "no response",
    ]
    assert rd.url_pattern("http://h/page12.html") == "/page{n}.html"
    assert rd.url_pattern("http://h/catalog/item/12.html?p=3", "h") == "/catalog/item/…?…"
    assert rd.url_pattern("http://h/") == "/"
    assert rd.url_pattern("http://other:81/a/2024", "h") == "other:81/a/{n}"


def test_groups_keep_five_examples_and_sort_by_count() -> None:
    pages = [page(f"http://h/e{n}", status=None, error=f"TimeoutError: {n}") for n in range(7)]
    pages += [page("http://h/nf", status=404, title="Not found"), page("http://h/ok")]
    groups = rd.error_groups(pages)
    assert [(g.label, g.count, len(g.examples)) for g in groups] == [
        ("TimeoutError", 7, 5),
        ("HTTP 404", 1, 1),
    ]
    assert groups[1].examples == (("http://h/nf", "Not found"),)
    refused = [("http://h/a/a/a", "http://h/", "repeated_segments: /a x3")] * 2
    [trap] = rd.trap_groups(refused)
    assert (trap.label, trap.count) == ("repeated_segments", 2)


def test_depth_latency_and_verdict() -> None:
    pages = [
        page("http://h/", depth=0, latency=0.2),
        page("http://h/a", depth=2, latency=None),
        page("http://h/b", depth=2, rendered=True, latency=1.5),
    ]
    assert rd.depth_counts(pages) == [(0, 1), (1, 0), (2, 2)]
    assert rd.latencies(pages) == {"plain": [200.0], "rendered": [1500.0]}
    assert [p["url"] for p in rd.slowest(pages)] == ["http://h/b", "http://h/"]
    assert rd.verdict({STATUS_STAT: "failed", "outcome/failed/no_pages": 1}) == "failed: no_pages"
    assert rd.verdict({}) == "unknown"


def test_histograms_are_counted_here_and_keep_the_longest_value() -> None:
    assert rd.histogram([0, 0.5, 1, 2.9, 3, 7], size=1, count=3) == [2, 1, 3]
    data = rd.RunData(
        run={"id": 1, "start_url": "http://h/"},
        pages=[
            page("http://h/a", latency=0.004, fetched_at="2026-12-01T10:00:00.000+00:00"),
            page("http://h/b", latency=1.5, status=404, fetched_at="2026-12-01T10:00:02.000+00:00"),
            page(
                "http://h/c", latency=0.3, rendered=True, fetched_at="2026-12-01T10:00:01.000+00:00"
            ),
        ],
    )
    times = charts.response_times(data)
    assert times is not None
    assert {trace.name: sum(trace.y) for trace in times.data} == {"plain": 2, "rendered": 1}
    assert times.data[0].y[-1] == 1  # the longest, 1,500 ms, in the last bin
    over_time = charts.status_over_time(data)
    assert over_time is not None
    assert {trace.name: sum(trace.y) for trace in over_time.data} == {"2xx": 2, "4xx": 1}
    assert len(over_time.data[0].x) == charts.TIME_BINS


def test_diff_by_digest_else_status_and_title() -> None:
    old = [
        page("http://h/same", digest="a"),
        page("http://h/content", digest="a"),
        page("http://h/status", status=200),
        page("http://h/title", title="Old"),
        page("http://h/gone"),
        page("http://h/retitled-same-body", digest="x", title="Old"),
    ]
    new = [
        page("http://h/same", digest="a"),
        page("http://h/content", digest="b"),
        page("http://h/status", status=404),
        page("http://h/title", title="New"),
        page("http://h/new"),
        page("http://h/retitled-same-body", digest="x", title="New"),
    ]
    diff = diff_runs(1, old, 2, new)
    assert (diff.new, diff.gone) == (("http://h/new",), ("http://h/gone",))
    assert [(c.url, c.what) for c in diff.changed] == [
        ("http://h/content", "content"),
        ("http://h/status", "status 200 -> 404"),
        ("http://h/title", "title"),
    ]
    # The same body is the same page, whatever its title (digests decide when both have one).
    assert (diff.same, diff.by_digest) == (2, 3)


def test_previous_run_is_the_latest_clean_run_of_the_same_start(store: SqlStore) -> None:
    first = add_run(store, [page("http://h/")], start_url="http://h")
    add_run(store, [page("http://h/")], start_url="http://other/")
    failed = store.start_run("site", "http://h/", {})
    store.finish_run(failed, "finished", {STATUS_STAT: "failed"})
    third = add_run(store, [page("http://h/")], start_url="http://h/")
    assert previous_run_for(store, third) == first  # canonical: http://h is http://h/
    assert previous_run_for(store, first) is None
    with pytest.raises(ReportError, match="there is no run 99 in"):
        previous_run_for(store, 99)
    html = render_report(store, third, compare_with=first, plotlyjs="/static/plotly.min.js")
    assert f"Compared with run {first}" in html


def test_unknown_runs_are_report_errors(sqlite_store: SqlStore) -> None:
    with pytest.raises(ReportError, match="has no runs yet"):
        rd.resolve_run(sqlite_store, "latest")
    run_id = add_run(sqlite_store, [page("http://h/")])
    assert rd.resolve_run(sqlite_store, "latest") == run_id
    with pytest.raises(ReportError, match="there is no run 7"):
        render_report(sqlite_store, 7)
    with pytest.raises(ReportError, match="there is no run 8"):
        render_report(sqlite_store, run_id, compare_with=8)
    with pytest.raises(ReportError, match="not 'last'"):
        rd.resolve_run(sqlite_store, "last")


def test_a_store_older_than_latency_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    store = SqlStore.open(f"sqlite:///{db}")
    run_id = add_run(store, [page("http://h/"), page("http://h/a", depth=1)])
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE pages DROP COLUMN latency")
    store = SqlStore.open(f"sqlite:///{db}", create=False)
    try:
        data = rd.load_run(store, run_id)
        assert [p["latency"] for p in data.pages] == [None, None]
        html = render_report(store, run_id, plotlyjs="plotly.js")
    finally:
        store.close()
    assert "no response times recorded (no responses, or a store written before" in html
    assert 'id="chart-depth"' in html and 'id="chart-latency"' not in html


def test_hostile_values_are_escaped_everywhere(sqlite_store: SqlStore) -> None:
    hostile_url = f"http://h/{HOSTILE}"
    pages = [
        page("http://h/", title=HOSTILE, latency=3.0),
        page(hostile_url, status=None, error=f"{HOSTILE}: boom", title=HOSTILE),
        page("http://h/form", found_via="form", title=HOSTILE),
        page("javascript:alert(3)", status=500),
    ]
    links = [
        {
            "source": "http://h/",
            "url": hostile_url + "/x",
            "found_via": "link",
            "text": HOSTILE,
            "refused": f"{HOSTILE}: refused",
        }
    ]
    stats = {f"login/{HOSTILE}": 1, "forms/submitted/get": 1}
    base = add_run(sqlite_store, [page("http://h/", title="Old")], stats=SUCCEEDED)
    run_id = add_run(
        sqlite_store, pages, start_url=f"http://h/?{HOSTILE}", stats=stats, links=links
    )
    html = render_report(sqlite_store, run_id, compare_with=base, plotlyjs="/static/plotly.min.js")
    assert "<img" not in html
    assert "alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html  # only http(s) URLs become links
    # The figures are data, not script: JSON with <, > and & escaped, in one block.
    figures = re.search(r'<script type="application/json" id="report-figures">(.*?)</script>', html)
    assert figures is not None
    assert "<" not in figures.group(1)
    assert "\\u0026lt;img src=x" in figures.group(1)  # an escaped URL pattern
    # The only inline scripts: the figures' data and the constant drawing script.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert [attrs for attrs, _ in scripts] == [
        ' src="/static/plotly.min.js"',
        ' type="application/json" id="report-figures"',
        "",
    ]
    assert scripts[2][1] == REPORT_SCRIPT
    assert REPORT_SCRIPT_HASH.startswith("'sha256-") and REPORT_SCRIPT_HASH.endswith("='")


def test_inline_plotly_makes_one_self_contained_file(sqlite_store: SqlStore) -> None:
    run_id = add_run(sqlite_store, [page("http://h/")])
    html = render_report(sqlite_store, run_id)
    assert "<script src=" not in html and "<link" not in html
    assert len(html) > 3_000_000  # plotly.min.js is in it


def test_comparisons_say_which_way_and_name_another_site(sqlite_store: SqlStore) -> None:
    store = sqlite_store
    first = add_run(store, [page("http://h/"), page("http://h/old")])
    second = add_run(
        store, [page("http://h/"), page("http://h/new"), page("http://h/r", found_via="form")]
    )
    other = add_run(store, [page("http://o/")], start_url="http://o/", spider="extract")

    def text(run_id: int, compare_with: int) -> str:
        html = render_report(store, run_id, compare_with=compare_with, plotlyjs="p.js")
        return " ".join(html.split())

    since = text(second, first)
    assert f'<h2 id="changes">Changes since run {first}</h2>' in since
    assert "since then: 2 new, 1 gone, 0 changed, 1 unchanged" in since
    assert "another site" not in since and "a later run" not in since
    assert "Forms submitted: 1 result page<" in since
    assert f"Pages since run {first}" in since  # the chart's title
    # the other way round: from this run until the later one
    until = text(first, second)
    assert f'<h2 id="changes">Changes until run {second}</h2>' in until
    assert f"Compared with run {second}, a later run" in until
    assert "from this run until then: 2 new, 1 gone, 0 changed" in until
    assert until.index("http://h/new") < until.index("gone (1)")  # new: the later run's page
    assert "since an earlier run" not in until and "since run" not in until
    # another spider and start URL: allowed, and said
    elsewhere = text(second, other)
    assert f"Run {other} is of another site: spider extract from" in elsewhere
    assert '<span class="url">http://o/</span>' in elsewhere
