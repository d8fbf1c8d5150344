"""The dashboard application (:func:`crawler.dashboard.app.create_app`) on small real stores.

Flask's test client against SQLite and PostgreSQL stores and state stores
written here: secrets masked again on the way out, hostile values escaped,
searches that take ``%`` and ``_`` literally, pagination, status filters, the
log tail (only the recorded file, only inside the job file's ``runs_dir``), the
report page without ``crawler.report``, and the guards' small functions.
"""

from __future__ import annotations

import hashlib
import os
import sys
from base64 import b64encode
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from crawler.dashboard import security
from crawler.dashboard.app import DashboardConfig, create_app, http_href
from crawler.dashboard.data import LOG_TAIL_LINES, MAX_QUERY, PAGE_SIZE
from crawler.jobs.state import StateStore
from crawler.storage.schema import PAGE_COLUMNS
from crawler.storage.sql import SqlStore
from tests.jobstools import write_jobs

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from flask.testing import FlaskClient

SECRETS = ("hunter2-secret", "ftp-pass-123", "pg-pass-456", "cookie-val-789", "tok-abc-111")


def page_row(url: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(PAGE_COLUMNS)
    row.update(url=url, final_url=url, status=200, depth=1, found_via="link", rendered=False)
    row.update(fetched_at=datetime.now(UTC).isoformat(), title=url.rsplit("/", 1)[-1])
    row.update(values)
    return row


def build_store(url: str) -> str:
    """A store with run 1: secrets in its settings and stats, hostile titles,
    150 numbered pages, a 404, a page without response, four items."""
    store = SqlStore.open(url)
    try:
        settings = {
            "MAIL_PASS": SECRETS[0],
            "FEEDS": {f"ftp://me:{SECRETS[1]}@h/x.jsonl": {"format": "jsonlines"}},
            "DATABASE": f"postgresql://u:{SECRETS[2]}@h/db",
        }
        run_id = store.start_run("site", "http://h/", settings)
        rows = [page_row(f"http://h/p{i:03d}") for i in range(150)]
        rows += [
            page_row("http://h/evil", title="<script>alert(1)</script>"),
            page_row("http://h/percent", title="100% off"),
            page_row("http://h/digits", title="1000 off"),
            page_row("http://h/under", title="a_b"),
            page_row("http://h/missing", status=404, title=None),
            page_row("http://h/down", status=None, error=f"refused by https://u:{SECRETS[4]}@h/"),
            page_row(f"http://h/q?api_key={SECRETS[4]}", title="keyed"),
        ]
        items = [
            {"spec": "gadget", "key": "1", "data": {"name": '"><img src=x onerror=alert(2)>'}},
            {"spec": "gadget", "key": "2", "data": {"name": "50%"}},
            {"spec": "other", "key": "3", "data": {"name": "5000"}},
            {"spec": "other", "key": "4", "data": {"name": 'Crème "brûlée"'}},
        ]
        store.write_batch(
            run_id, page_rows=rows, item_rows=[{**i, "url": "http://h/evil"} for i in items]
        )
        stats = {
            "login/cookie_header": f"sessionid={SECRETS[3]}",
            "note": f"see https://h/?token={SECRETS[4]}",
            "outcome/status": "succeeded",
        }
        store.finish_run(run_id, "finished", stats)
    finally:
        store.close()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store of :func:`build_store`, in SQLite and in PostgreSQL (``LIKE``,
    ``CAST`` of JSON and the orderings are each database's own)."""
    if request.param == "postgresql":
        return build_store(request.getfixturevalue("postgres_url"))
    return build_store(f"sqlite:///{tmp_path / 'crawl.db'}")


@pytest.fixture
def client(store_url: str) -> Iterator[FlaskClient]:
    app = create_app(DashboardConfig(store_url=store_url))
    yield app.test_client()
    app.extensions["crawler_dashboard"].close()


def test_secrets_are_masked_on_the_run_and_pages(client: FlaskClient) -> None:
    shown = "".join(
        client.get(path).get_data(as_text=True)
        for path in ("/", "/runs/1", "/runs/1/pages?page=2", "/runs/1/pages?q=h/q")
    )
    for secret in SECRETS:
        assert secret not in shown
    assert "MAIL_PASS" in shown and "ftp://me:***@h/x.jsonl" in shown
    assert "api_key=***" in shown


def test_hostile_values_are_escaped(client: FlaskClient) -> None:
    pages = client.get("/runs/1/pages?q=evil").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages
    assert "<script>alert(1)" not in pages
    items = client.get("/runs/1/items").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(2)&gt;" in items
    assert "<img" not in items
    assert http_href("javascript:alert(1)") is None
    assert http_href("HTTPS://h/x") == "HTTPS://h/x"


def rows(client: FlaskClient, path: str) -> list[str]:
    text = client.get(path).get_data(as_text=True)
    return [line for line in text.splitlines() if 'class="title"' in line]


def test_search_takes_percent_and_underscore_literally(client: FlaskClient) -> None:
    assert rows(client, "/runs/1/pages?q=100%25") == ['  <td class="title">100% off</td>']
    # "_" in a title, or in the URL of the page titled "keyed"; not any character.
    assert rows(client, "/runs/1/pages?q=_") == [
        '  <td class="title">keyed</td>',  # http://h/q?api_key=...
        '  <td class="title">a_b</td>',  # http://h/under
    ]
    assert len(rows(client, "/runs/1/pages?q=P0")) == 100  # case insensitive
    items = client.get("/runs/1/items?q=50%25").get_data(as_text=True)
    assert "50%" in items and "5000" not in items
    only = client.get("/runs/1/items?spec=other").get_data(as_text=True)
    assert "5000" in only and "50%" not in only
    # Stored as JSON text ("\u00e8", '\"'): found as typed.
    for typed in ("crème", '"brûlée"'):
        found = client.get("/runs/1/items", query_string={"q": typed}).get_data(as_text=True)
        assert "Crème" in found and "5000" not in found, typed


def test_listings_are_paginated_and_filtered_by_status(client: FlaskClient) -> None:
    first = client.get("/runs/1/pages").get_data(as_text=True)
    assert len([x for x in first.splitlines() if 'class="title"' in x]) == PAGE_SIZE
    assert 'rel="next" href="/runs/1/pages?page=2"' in first
    second = client.get("/runs/1/pages?page=2").get_data(as_text=True)
    assert len([x for x in second.splitlines() if 'class="title"' in x]) == 157 - PAGE_SIZE
    assert 'rel="next"' not in second and 'rel="prev"' in second
    assert "http://h/missing" in client.get("/runs/1/pages?status=4xx").get_data(as_text=True)
    assert len(rows(client, "/runs/1/pages?status=404")) == 1
    assert "http://h/down" in client.get("/runs/1/pages?status=none").get_data(as_text=True)
    assert len(rows(client, "/runs/1/pages?status=none")) == 1
    bad = client.get("/runs/1/pages?status=2x")
    assert bad.status_code == 400
    assert "status takes a code" in bad.get_data(as_text=True)
    assert client.get("/runs/2/pages").status_code == 404


def test_the_log_is_the_recorded_file_inside_runs_dir(tmp_path: Path, store_url: str) -> None:
    jobs_file = write_jobs(tmp_path, '[jobs.tiny]\ncrawl = "http://h/"\n')
    runs_dir = tmp_path / "runs" / "tiny" / "1"
    runs_dir.mkdir(parents=True)
    log = runs_dir / "crawl.log"
    lines = [f"line {i}" for i in range(LOG_TAIL_LINES + 200)]
    lines.append("store postgresql://u:log-secret-1@h/db")
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outside = tmp_path / "outside.log"
    outside.write_text("not for the dashboard\n", encoding="utf-8")
    state = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        for crawl_run, path in ((1, log), (2, outside)):
            state.add_run(
                job="tiny",
                trigger="manual",
                status="succeeded",
                crawl_run_id=crawl_run,
                store=store_url,
                log_file=str(path),
            )
    finally:
        state.close()
    store = SqlStore.open(store_url)
    try:
        store.start_run("site", "http://h/", {})
    finally:
        store.close()
    app = create_app(DashboardConfig(store_url=store_url, jobs_file=str(jobs_file)))
    try:
        client = app.test_client()
        shown = client.get("/runs/1/log").get_data(as_text=True)
        assert f"line {LOG_TAIL_LINES + 199}" in shown
        # The last 1000 of 1201 lines: from line 201.
        assert "line 200\n" not in shown and '"log">line 201\n' in shown
        assert "postgresql://u:***@h/db" in shown and "log-secret-1" not in shown
        refused = client.get("/runs/2/log").get_data(as_text=True)
        assert "outside the job file" in refused and "not for the dashboard" not in refused
        job = client.get("/jobs/tiny").get_data(as_text=True)
        assert 'href="/runs/1/log"' in job
    finally:
        app.extensions["crawler_dashboard"].close()


def test_a_run_without_a_job_has_no_log(client: FlaskClient) -> None:
    text = client.get("/runs/1/log").get_data(as_text=True)
    assert "No log file was recorded for this run" in text


def test_the_report_page_says_when_reports_are_not_available(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "crawler.report", None)  # import fails as if absent
    answer = client.get("/runs/1/report")
    assert answer.status_code == 200
    assert "Report not available" in answer.get_data(as_text=True)
    assert client.get("/runs/9/report").status_code == 404


def test_the_report_policy_allows_only_the_reports_own_script() -> None:
    from crawler.report.html import REPORT_SCRIPT, REPORT_SCRIPT_HASH

    digest = b64encode(hashlib.sha256(REPORT_SCRIPT.encode()).digest()).decode()
    assert f"'sha256-{digest}'" == REPORT_SCRIPT_HASH
    policy = security.report_policy(REPORT_SCRIPT_HASH)
    scripts = policy.split("script-src")[1].split(";")[0]
    assert scripts.split() == ["'self'", REPORT_SCRIPT_HASH]


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("localhost", True),
        ("localhost:8400", True),
        ("127.0.0.1:8400", True),
        ("[::1]:8400", True),
        ("LOCALHOST", True),
        ("localhost.evil.example", False),
        ("127.0.0.1.nip.io:8400", False),
        ("evil.example:8400", False),
        ("", False),
    ],
)
def test_loopback_host_names(header: str, allowed: bool) -> None:
    assert security.loopback_host_allowed(header) is allowed


def test_the_loopback_address_bound_to_is_a_host_name_too() -> None:
    assert security.loopback_host_allowed("127.0.0.2:8400", "127.0.0.2")
    assert security.loopback_host_allowed("[::1]:8400", "::1")
    assert not security.loopback_host_allowed("127.0.0.2:8400")
    assert not security.loopback_host_allowed(":8400", "")


def test_loopback_addresses() -> None:
    assert all(map(security.is_loopback, ("127.0.0.1", "127.1.2.3", "::1", "localhost")))
    assert not any(map(security.is_loopback, ("0.0.0.0", "::", "192.168.1.2", "example.org")))


def test_out_of_range_ids_pages_and_long_searches_are_refused_cleanly(
    client: FlaskClient,
) -> None:
    """Numbers past SQLite's and PostgreSQL's 64-bit integers raised OverflowError in
    the driver (500), a 60,000-character search made SQLite's LIKE fail (500), and
    werkzeug's ``int`` took any Unicode digit as a run id."""
    huge = "9" * 23
    for path in (
        f"/runs/{huge}",
        f"/runs/{huge}/report",
        f"/runs/{huge}/pages",
        f"/runs/{huge}/items",
        f"/runs/{huge}/log",
        f"/runs/{2**63}",  # one past the largest
        "/runs/\uff11",  # a fullwidth 1: int() reads it as 1
        "/runs/\u0661/pages",  # an Arabic-Indic 1
        "/runs/-1",
    ):
        assert client.get(path).status_code == 404, path
    for largest in (2**31 - 1, 2**31, 2**63 - 1):  # no such run (PostgreSQL: int4), no error
        assert client.get(f"/runs/{largest}").status_code == 404, largest
        assert client.get(f"/runs/1/report?compare={largest}").status_code == 404, largest
    for path in (f"/?page={huge}", f"/runs/1/pages?page={huge}", f"/runs/1/items?page={huge}"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert 'class="title"' not in answer.get_data(as_text=True)  # past the last page
    assert len(rows(client, "/runs/1/pages?page=\uff12")) == PAGE_SIZE  # not page 2: page 1
    assert client.get(f"/runs/1/report?compare={huge}").status_code == 404
    for compare in ("\u00b2", "\uff11", "-1", "1.0"):  # "²".isdigit() is True
        assert client.get("/runs/1/report", query_string={"compare": compare}).status_code == 400
    for listing in ("pages", "items"):
        for q in ("a" * 60_000, "%" * (MAX_QUERY + 1)):
            refused = client.get(f"/runs/1/{listing}", query_string={"q": q})
            assert refused.status_code == 400, listing
            text = refused.get_data(as_text=True)
            assert f"give at most {MAX_QUERY}" in text and q not in text
        longest = client.get(f"/runs/1/{listing}", query_string={"q": "%" * MAX_QUERY})
        assert longest.status_code == 200
        assert f'maxlength="{MAX_QUERY}"' in longest.get_data(as_text=True)


def test_the_job_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    """A job added while the dashboard runs shows on the next page, as the
    scheduler picks it up; a file that no longer validates keeps the jobs shown."""
    store_url = build_store(f"sqlite:///{tmp_path / 'crawl.db'}")
    jobs_file = write_jobs(tmp_path, '[jobs.tiny]\ncrawl = "http://h/"\n')
    app = create_app(DashboardConfig(store_url=store_url, jobs_file=str(jobs_file)))
    try:
        client = app.test_client()
        first = client.get("/").get_data(as_text=True)
        assert 'href="/jobs/tiny"' in first and "/jobs/added" not in first
        assert client.get("/jobs/added").status_code == 404
        write_jobs(
            tmp_path, '[jobs.tiny]\ncrawl = "http://h/"\n\n[jobs.added]\ncrawl = "http://h/x"\n'
        )
        bump_mtime(jobs_file)
        again = client.get("/").get_data(as_text=True)
        assert 'href="/jobs/tiny"' in again and 'href="/jobs/added"' in again
        assert client.get("/jobs/added").status_code == 200
        jobs_file.write_text("[jobs.broken\n", encoding="utf-8")
        bump_mtime(jobs_file)
        kept = client.get("/")
        assert kept.status_code == 200
        assert 'href="/jobs/added"' in kept.get_data(as_text=True)
    finally:
        app.extensions["crawler_dashboard"].close()


def bump_mtime(path: Path) -> None:
    """Move ``path``'s mtime a second on: two writes within the file system's
    timestamp granularity would otherwise look unchanged."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
