from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from crawler.exceptions import StoreError
from crawler.storage.sql import SqlStore, display_url

if TYPE_CHECKING:
    from collections.abc import Iterator
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


def test_open_creates_tables_in_wal_mode(sqlite_store: SqlStore, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "crawl.db")
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"runs", "pages", "items", "rejects"} <= tables
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
    assert [(r["id"], r["pages"]) for r in store.runs()] == [(run2, 1), (run1, 2)]


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
    sqlite_store: SqlStore, tmp_path: Path
) -> None:
    run = sqlite_store.start_run("site", None, {})
    sqlite3.connect(tmp_path / "crawl.db").execute("drop table pages")
    with pytest.raises(StoreError, match="cannot write pages to store") as info:
        sqlite_store.write_pages(run, [page("http://x/secret-row-value")])
    assert "secret-row-value" not in str(info.value)


def item(key: str, **data: object) -> dict[str, object]:
    return {"spec": "product", "key": key, "data": data, "url": f"http://x/{key}"}


def test_items_upsert_by_spec_and_key_across_runs(store: SqlStore) -> None:
    run1 = store.start_run("site", None, {})
    store.write_items(run1, [item('["a"]', price=1), item('["b"]', price=2)])
    run2 = store.start_run("site", None, {})
    # the same key twice in one batch: the last one wins
    store.write_items(run2, [item('["a"]', price=10), item('["a"]', price=11)])

    rows = {r["key"]: r for r in store.items("product")}
    assert set(rows) == {'["a"]', '["b"]'}
    assert rows['["a"]']["data"] == {"price": 11}
    assert (rows['["a"]']["run_id"], rows['["a"]']["first_run_id"]) == (run2, run1)
    assert (rows['["b"]']["run_id"], rows['["b"]']["first_run_id"]) == (run1, run1)
    assert [r["items"] for r in store.runs()] == [1, 1]


def test_rejects_are_kept_with_their_reason(store: SqlStore) -> None:
    run = store.start_run("site", None, {})
    store.write_rejects(
        run,
        [
            {
                "spec": "product",
                "url": "http://x/1",
                "reason": "missing required field: price",
                "data": {"name": "n"},
            }
        ],
    )
    [reject] = store.rejects(run)
    assert reject["reason"] == "missing required field: price"
    assert reject["data"] == {"name": "n"}
    assert store.runs()[0]["rejects"] == 1


def test_unreachable_postgresql_is_a_store_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        StoreError, match=rf"cannot open store postgresql://u:\*\*\*@127.0.0.1:{port}/db"
    ):
        SqlStore.open(f"postgresql://u:pw@127.0.0.1:{port}/db")


def test_a_batch_is_one_transaction(store: SqlStore) -> None:
    run = store.start_run("site", None, {})
    good_page = page("http://x/ok")
    bad_item = {"spec": "product", "key": None, "data": {}, "url": None}  # key NOT NULL
    with pytest.raises(StoreError, match="cannot write pages and items to store"):
        store.write_batch(run, page_rows=[good_page], item_rows=[bad_item])
    assert store.pages(run) == []  # the page went back with the failed item
    store.write_batch(
        run,
        page_rows=[good_page],
        item_rows=[item('["a"]', price=1), item('["b"]', price=2)],
        reject_rows=[{"spec": "other", "url": None, "reason": "conversion: x", "data": {}}],
    )
    assert len(store.pages(run)) == 1
    assert store.spec_counts(run) == [("other", 0, 1), ("product", 2, 0)]
