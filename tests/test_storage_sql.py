from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from crawler.exceptions import StoreError
from crawler.storage.sql import SqlStore, display_url

if TYPE_CHECKING:
    from pathlib import Path


def page(url: str, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "url": url,
        "final_url": url,
        "status": 200,
        "content_type": "text/html",
        "title": "T",
        "depth": 0,
        "found_via": "start",
        "referer": None,
        "rendered": False,
        "fetched_at": "2026-11-21T00:00:00+00:00",
        "error": None,
    }
    row.update(overrides)
    return row


@pytest.fixture
def store(tmp_path: Path) -> SqlStore:
    s = SqlStore.open(f"sqlite:///{tmp_path / 'crawl.db'}")
    yield s
    s.close()


def test_open_creates_tables_in_wal_mode(store: SqlStore, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "crawl.db")
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"runs", "pages"} <= tables
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_pages_upsert_one_row_per_url_per_run(store: SqlStore) -> None:
    run1 = store.start_run("site", "http://x/", {})
    store.write_pages(run1, [page("http://x/"), page("http://x/a", status=500)])
    store.write_pages(run1, [page("http://x/a", status=200, title="again")])
    run2 = store.start_run("site", "http://x/", {})
    store.write_pages(run2, [page("http://x/")])

    rows = store.pages(run1)
    assert [(r["url"], r["status"], r["title"]) for r in rows] == [
        ("http://x/", 200, "T"),
        ("http://x/a", 200, "again"),
    ]
    assert len(store.pages(run2)) == 1
    assert [r["pages"] for r in store.runs()] == [1, 2]


def test_finish_run_records_reason_and_stats(store: SqlStore) -> None:
    run = store.start_run("site", "http://x/", {"settings": {"A": 1}})
    store.finish_run(run, "finished", {"item_scraped_count": 3})
    row = store.run(run)
    assert row is not None
    assert row["finish_reason"] == "finished"
    assert row["stats"] == {"item_scraped_count": 3}
    assert row["settings"] == {"settings": {"A": 1}}
    assert row["finished_at"] is not None


def test_page_counts_group_by_column(store: SqlStore) -> None:
    run = store.start_run("site", None, {})
    store.write_pages(
        run, [page("u1"), page("u2", found_via="link"), page("u3", found_via="link", status=404)]
    )
    assert store.page_counts(run, "found_via") == [("link", 2), ("start", 1)]
    assert store.page_counts(run, "status") == [(200, 2), (404, 1)]


def test_unopenable_sqlite_path_names_the_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/crawl.db"
    with pytest.raises(StoreError, match=r"no/such/dir/crawl\.db") as info:
        SqlStore.open(url)
    assert "directory exists and is writable" in str(info.value)


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(StoreError, match="cannot open store nosuchdb://x"):
        SqlStore.open("nosuchdb://x")


def test_password_is_masked_in_messages() -> None:
    assert "hunter2" not in display_url("postgresql://bob:hunter2@127.0.0.1:1/db")


def test_write_failure_becomes_store_error_without_row_data(
    store: SqlStore, tmp_path: Path
) -> None:
    run = store.start_run("site", None, {})
    sqlite3.connect(tmp_path / "crawl.db").execute("drop table pages")
    with pytest.raises(StoreError, match="cannot write pages to store") as info:
        store.write_pages(run, [page("http://x/secret-row-value")])
    assert "secret-row-value" not in str(info.value)
