from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from crawler.exceptions import ConfigError, StoreError, StoreNotFoundError, StoreUrlError
from crawler.storage.postgres import connect_params
from crawler.storage.sql import SqlStore, check_store_url, display_url, looks_like_store
from tests.sqlitelock import write_lock

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.pgserver import PostgresServer


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
    assert {"runs", "pages", "items", "rejects", "links"} <= tables
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


def test_reopen_run_opens_only_a_run_finished_for_that_reason(store: SqlStore) -> None:
    """A shared crawl resumed after its Redis did not answer (crawler worker --crawl)."""
    stopped = store.start_run("site", "http://x/", {})
    store.finish_run(stopped, "frontier_unreachable", {"pages": 3})
    done = store.start_run("site", "http://x/", {})
    store.finish_run(done, "finished", {})
    running = store.start_run("site", "http://x/", {})
    assert store.reopen_run(stopped, "frontier_unreachable")
    row = store.run(stopped)
    assert row is not None
    assert (row["finished_at"], row["finish_reason"], row["stats"]) == (None, None, {"pages": 3})
    assert not store.reopen_run(stopped, "frontier_unreachable")  # open already
    assert not store.reopen_run(done, "frontier_unreachable")
    assert not store.reopen_run(running, "frontier_unreachable")
    assert not store.reopen_run(done + running + 1, "frontier_unreachable")  # no such run
    finished = store.run(done)
    assert finished is not None and finished["finish_reason"] == "finished"


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
    with pytest.raises(StoreError, match="unknown store scheme 'nosuchdb://' in nosuchdb://x"):
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


def test_a_reject_written_again_is_stored_once_per_run(store: SqlStore) -> None:
    """A page fetched again after a resume gives the same rejects: kept once."""
    row = {"spec": "p", "url": "http://x/1", "reason": "missing: price", "data": {"n": 1}}
    run = store.start_run("site", None, {})
    store.write_rejects(run, [row, dict(row)])
    store.write_rejects(run, [row, {**row, "data": {"n": 2}}])
    assert sorted(r["data"]["n"] for r in store.rejects(run)) == [1, 2]
    other = store.start_run("site", None, {})
    store.write_rejects(other, [row])  # another run keeps its own
    assert len(store.rejects(other)) == 1


def test_unreachable_postgresql_is_a_store_error(closed_port: int) -> None:
    with pytest.raises(
        StoreError, match=rf"cannot open store postgresql://u:\*\*\*@127.0.0.1:{closed_port}/db"
    ):
        SqlStore.open(f"postgresql://u:pw@127.0.0.1:{closed_port}/db")


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


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///crawl.db",
        "sqlite:////var/data/crawl.db",
        "sqlite+pysqlite:///crawl.db",
        "postgresql://u:pw@127.0.0.1:5432/db",
        "postgres://u@db.example/crawl",
        "postgresql+psycopg://u@h/db",
    ],
)
def test_store_urls_pass_as_they_are(url: str) -> None:
    assert check_store_url(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("crawl.db", "'crawl.db' is a path, not a store URL: write sqlite:///crawl.db for"),
        ("/tmp/x/crawl.db", "is a path, not a store URL: write sqlite:////tmp/x/crawl.db for"),
        ("sqlite:crawl.db", "malformed store URL sqlite:crawl.db: use sqlite:///RELATIVE/PATH"),
        ("mysql://u@h/db", "unknown store scheme 'mysql://' in mysql://u@h/db: use sqlite:///"),
        ("postgresql://u@h:port/db", "malformed store URL"),
        ("sqlite://", "sqlite:// names no file"),
        ("", "the store URL is empty"),
    ],
)
def test_bad_store_urls_say_what_to_write(url: str, message: str) -> None:
    with pytest.raises(StoreUrlError) as info:
        check_store_url(url)
    assert message in str(info.value)
    if url != "sqlite://":
        assert "postgresql://USER@HOST[:PORT]/DATABASE" in str(info.value)
    assert "\n" not in str(info.value)
    # a configuration error (exit code 2) that the code opening stores catches too
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, StoreError)


def test_a_malformed_url_keeps_its_password_out_of_the_message() -> None:
    with pytest.raises(StoreUrlError) as info:
        check_store_url("postgresql:/bob:hunter2@db.example/crawl")
    assert "hunter2" not in str(info.value)


def test_open_refuses_a_bare_path_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreUrlError, match="write sqlite:///"):
        SqlStore.open(str(tmp_path / "crawl.db"))
    assert list(tmp_path.iterdir()) == []


def test_what_extract_o_means_as_a_store() -> None:
    assert looks_like_store("sqlite:///x.db")
    assert looks_like_store("postgresql://u@h/db")
    assert looks_like_store("items.db")  # then refused by check_store_url with the URL
    assert looks_like_store("items.SQLITE3")
    assert not looks_like_store("items.jsonl")
    assert not looks_like_store("out.csv")


def test_reading_a_missing_sqlite_store_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nope.db'}"
    with pytest.raises(StoreNotFoundError) as info:
        SqlStore.open(url, create=False)
    assert str(info.value) == (
        f"store {url} does not exist (there is no file {tmp_path / 'nope.db'}): "
        "give the URL of a store a crawl wrote to"
    )
    assert list(tmp_path.iterdir()) == []


def test_reading_a_database_that_is_no_store_creates_no_tables(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    sqlite3.connect(db).execute("create table t (x)").connection.close()
    with pytest.raises(StoreNotFoundError, match="is not a crawler store: it has no runs table"):
        SqlStore.open(f"sqlite:///{db}", create=False)
    conn = sqlite3.connect(db)
    assert [r[0] for r in conn.execute("select name from sqlite_master")] == ["t"]
    assert conn.execute("pragma journal_mode").fetchone()[0] == "delete"  # left as it was


def test_reading_an_empty_postgresql_database_creates_no_tables(postgres_url: str) -> None:
    with pytest.raises(StoreNotFoundError, match="is not a crawler store"):
        SqlStore.open(postgres_url, create=False)
    with pytest.raises(StoreNotFoundError):  # still nothing there
        SqlStore.open(postgres_url, create=False)


def test_reading_an_existing_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crawl.db'}"
    writer = SqlStore.open(url)
    run = writer.start_run("site", None, {})
    writer.close()
    reader = SqlStore.open(url, create=False)
    try:
        assert [r["id"] for r in reader.runs()] == [run]
    finally:
        reader.close()


def test_an_unreachable_server_is_one_line_with_the_password_masked() -> None:
    with pytest.raises(StoreError) as info:
        SqlStore.open("postgresql://u:hunter2@127.0.0.1:1/db", create=False)
    message = str(info.value)
    assert message.startswith("cannot open store postgresql://u:***@127.0.0.1:1/db: ")
    assert "\n" not in message
    assert "hunter2" not in message


def link(
    source: str,
    url: str,
    found_via: str = "link",
    text: str | None = None,
    refused: str | None = None,
) -> dict[str, Any]:
    return {"source": source, "url": url, "found_via": found_via, "text": text, "refused": refused}


def test_links_are_kept_once_and_say_where_a_url_came_from(store: SqlStore) -> None:
    run1 = store.start_run("site", "http://x/", {})
    run2 = store.start_run("site", "http://x/", {})
    store.write_batch(
        run1,
        page_rows=[page("http://x/"), page("http://x/a")],
        link_rows=[
            link("http://x/", "http://x/a", text="A"),
            link("http://x/", "http://x/a", text="A again"),  # in one batch: the first
            link("http://x/", "http://x/a", "frame"),
            link("http://x/s.xml", "http://x/b", "sitemap", "urlset"),
            link("http://x/", "http://x/c", refused="pattern_budget: ..."),
        ],
    )
    # a later batch of the same run: the row already there is kept
    store.write_batch(run1, link_rows=[link("http://x/", "http://x/a", text="later")])
    store.write_batch(run2, link_rows=[link("http://x/", "http://x/a", text="run 2")])
    assert store.links(run1) == [
        {"source": "http://x/", "url": "http://x/a", "found_via": "frame", "text": None,
         "refused": None, "fetched": True},
        {"source": "http://x/", "url": "http://x/a", "found_via": "link", "text": "A",
         "refused": None, "fetched": True},
        {"source": "http://x/s.xml", "url": "http://x/b", "found_via": "sitemap",
         "text": "urlset", "refused": None, "fetched": False},
        {"source": "http://x/", "url": "http://x/c", "found_via": "link", "text": None,
         "refused": "pattern_budget: ...", "fetched": False},
    ]  # fmt: skip
    [where] = store.links(run1, url="http://x/b")
    assert (where["source"], where["fetched"]) == ("http://x/s.xml", False)
    assert [r["text"] for r in store.links(run2, url="http://x/a")] == ["run 2"]
    assert store.links(run1, url="http://x/nowhere") == []


def test_a_big_batch_with_repeated_keys_keeps_the_batch_rules(store: SqlStore) -> None:
    """Thousands of rows in one batch (PostgreSQL: one statement a table), a page,
    a link, an item and a reject given twice: the page's and the item's last
    rows win, the link's first, the reject is kept once."""
    run = store.start_run("site", None, {})
    page_rows = [page(f"http://x/{n}") for n in range(1500)]
    page_rows.append(page("http://x/7", status=404, title="again"))
    link_rows = [
        link(f"http://x/{n}", f"http://x/{n * 7 % 1500}", text=f"t{n}") for n in range(3000)
    ]
    link_rows.append(link("http://x/3", "http://x/21", text="later"))  # (3, 21) again
    reject = {"spec": "p", "url": "http://x/1", "reason": "missing: price", "data": {"n": 1}}
    store.write_batch(
        run,
        page_rows=page_rows,
        item_rows=[item('["a"]', price=1), item('["b"]', price=2), item('["a"]', price=3)],
        reject_rows=[reject, dict(reject)],
        link_rows=link_rows,
    )
    stored = {r["url"]: r for r in store.pages(run)}
    assert len(stored) == 1500
    assert (stored["http://x/7"]["status"], stored["http://x/7"]["title"]) == (404, "again")
    assert len(store.link_rows(run)) == 3000
    assert [
        r["text"] for r in store.links(run, url="http://x/21") if r["source"] == "http://x/3"
    ] == ["t3"]
    assert {r["key"]: r["data"] for r in store.items("product")} == {
        '["a"]': {"price": 3},
        '["b"]': {"price": 2},
    }
    assert len(store.rejects(run)) == 1


# What an array literal or a parameter list could get wrong: NULL as a word,
# braces, quotes, backslashes, commas, an empty string, non-ASCII, a long text.
AWKWARD = ["NULL", "{a,b}", 'say "hi"', "back\\slash", "a, b", "", "日本語 ✓", "x" * 5000]


def test_awkward_values_are_stored_as_given(store: SqlStore) -> None:
    run = store.start_run("site", None, {})
    page_rows = [
        page(f"http://x/{n}", title=value, referer=None if n % 2 else value, status=None)
        for n, value in enumerate(AWKWARD)
    ]
    link_rows = [link("http://x/0", f"http://x/{n}", text=v) for n, v in enumerate(AWKWARD)]
    link_rows.append(link("http://x/0", "http://x/none", text=None))
    data = {"name": AWKWARD, "nested": {"list": [1, 2.5, None, True], "NULL": None}}
    store.write_batch(
        run,
        page_rows=page_rows,
        item_rows=[item('["a"]', **data)],
        reject_rows=[{"spec": "p", "url": None, "reason": "NULL", "data": data}],
        link_rows=link_rows,
    )
    stored = {r["url"]: r for r in store.pages(run)}
    for n, value in enumerate(AWKWARD):
        row = stored[f"http://x/{n}"]
        assert (row["title"], row["referer"], row["status"]) == (
            value,
            None if n % 2 else value,
            None,
        )
    texts = {url: text for _, url, _, text in store.link_rows(run)}
    assert texts == {**{f"http://x/{n}": v for n, v in enumerate(AWKWARD)}, "http://x/none": None}
    assert [r["data"] for r in store.items("product")] == [data]
    [reject] = store.rejects(run)
    assert (reject["reason"], reject["url"], reject["data"]) == ("NULL", None, data)


def test_a_failing_row_late_in_a_batch_writes_nothing(store: SqlStore) -> None:
    run = store.start_run("site", None, {})
    good = [link("http://x/", f"http://x/{n}") for n in range(50)]
    with pytest.raises(StoreError, match="cannot write pages and links to store") as info:
        store.write_batch(
            run,
            page_rows=[page(f"http://x/{n}") for n in range(50)],
            link_rows=[*good, link("http://x/", None, text="secret-row-value")],  # type: ignore[arg-type]
        )
    # what failed, without the row (PostgreSQL's DETAIL: "Failing row contains (...)")
    assert re.search(r"not.null", str(info.value), re.IGNORECASE)
    assert "secret-row-value" not in str(info.value)
    assert store.pages(run) == []
    assert store.link_rows(run) == []


def test_a_store_of_an_older_version_gains_the_new_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    s = SqlStore.open(f"sqlite:///{db}")
    s.close()
    conn = sqlite3.connect(db)
    conn.execute("alter table pages drop column notes")  # as written before pages.notes
    conn.execute("alter table links drop column refused")  # as written before links.refused
    conn.commit()
    conn.close()
    s = SqlStore.open(f"sqlite:///{db}")
    try:
        run = s.start_run("site", "http://x/", {})
        s.write_pages(run, [page("http://x/", notes="alert 'hi' accepted")])
        assert s.pages(run)[0]["notes"] == "alert 'hi' accepted"
        s.write_batch(run, link_rows=[link("http://x/", "http://x/a", refused="url_too_long")])
        assert s.links(run)[0]["refused"] == "url_too_long"
    finally:
        s.close()


# Bounded waits: a frozen server, a lock held by another session or process.


def test_a_frozen_postgresql_server_is_a_store_error_within_the_bound(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    store = SqlStore.open(postgres_url, timeout=1)
    run = store.start_run("site", None, {})
    postgres_server.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="cannot write pages to store") as info:
            store.write_pages(run, [page("http://x/")])
        elapsed = time.monotonic() - started
        with pytest.raises(StoreError, match=r"cannot open store .*no answer within 2 s"):
            SqlStore.open(postgres_url, timeout=1)
        store.close()
    finally:
        postgres_server.thaw()
    # a wait for the connection's answer (1 s + 1 s of grace), then a new connection's (2 s)
    assert elapsed < 8, elapsed
    assert "\n" not in str(info.value)


def test_a_statement_waiting_for_a_lock_is_cancelled_by_the_server(postgres_url: str) -> None:
    store = SqlStore.open(postgres_url, timeout=1)
    run = store.start_run("site", None, {})
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as other:
        other.execute("lock table pages in access exclusive mode")  # held until commit
        started = time.monotonic()
        with pytest.raises(StoreError, match="canceling statement due to statement timeout"):
            store.write_pages(run, [page("http://x/")])
        assert time.monotonic() - started < 5
    store.write_pages(run, [page("http://x/")])  # the same store goes on once the lock is gone
    assert len(store.pages(run)) == 1
    store.close()


def test_postgresql_timeouts_keep_what_the_url_says() -> None:
    params = connect_params(0.5, {})
    assert params["connect_timeout"] == 2  # libpq's floor
    assert params["options"] == "-c statement_timeout=500"
    assert params["tcp_user_timeout"] == 500
    given = {"connect_timeout": "7", "options": "-c search_path=crawl"}
    params = connect_params(30, given)
    assert "connect_timeout" not in params
    assert params["options"] == "-c search_path=crawl -c statement_timeout=30000"
    assert "options" not in connect_params(30, {"options": "-c statement_timeout=0"})


def test_a_sqlite_write_lock_shorter_than_the_bound_is_waited_out(tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    store = SqlStore.open(f"sqlite:///{db}", timeout=10)
    run = store.start_run("site", None, {})
    with write_lock(db, seconds=1.5):
        started = time.monotonic()
        store.write_pages(run, [page("http://x/")])
        elapsed = time.monotonic() - started
    assert elapsed > 1  # it waited for the other process's commit
    assert store.busy.retries >= 2
    assert 1 < store.busy.waited < 10
    assert len(store.pages(run)) == 1
    store.close()


def test_a_sqlite_write_lock_held_past_the_bound_is_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    store = SqlStore.open(f"sqlite:///{db}", timeout=1)
    run = store.start_run("site", None, {})
    with write_lock(db):  # until the block ends
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            store.write_pages(run, [page("http://x/")])
        elapsed = time.monotonic() - started
    assert 1 <= elapsed < 3, elapsed
    assert re.fullmatch(
        rf"cannot write pages to store sqlite:///{re.escape(str(db))}: database is locked "
        r"\(another process held its write lock; waited 1\.\d s, CRAWLER_STORE_TIMEOUT is 1 s\)",
        str(info.value),
    )
    assert store.busy.retries >= 1
    store.write_pages(run, [page("http://x/")])  # the lock is gone: the store works again
    store.close()


def test_reading_waits_for_a_sqlite_lock_at_once(tmp_path: Path) -> None:
    db = tmp_path / "crawl.db"
    SqlStore.open(f"sqlite:///{db}").close()
    with write_lock(db):  # WAL: readers go on while another process writes
        reader = SqlStore.open(f"sqlite:///{db}", create=False, timeout=1)
        assert reader.runs() == []
        reader.close()


# Incremental re-crawls: validators, digests, the previous run (crawler.incremental).


def vpage(url: str, **overrides: object) -> dict[str, object]:
    """A page row with the incremental columns (every row of a batch has the same keys)."""
    empty = {"etag": None, "last_modified": None, "digest": None, "unchanged": False}
    return page(url, **{**empty, **overrides})


def test_pages_keep_validators_digest_and_unchanged(store: SqlStore) -> None:
    run = store.start_run("site", "http://x/", {})
    validators = {"etag": '"abc"', "last_modified": "Sun, 01 Nov 2026 00:00:00 GMT"}
    store.write_pages(
        run,
        [
            vpage("http://x/", **validators, digest="d" * 64, unchanged=False),
            vpage("http://x/a", digest="e" * 64, unchanged=True),
        ],
    )
    rows = {p["url"]: p for p in store.pages(run)}
    assert {k: rows["http://x/"][k] for k in validators} == validators
    assert rows["http://x/"]["digest"] == "d" * 64
    assert (rows["http://x/"]["unchanged"], rows["http://x/a"]["unchanged"]) == (False, True)
    assert [r["unchanged"] for r in store.runs()] == [1]


def test_the_previous_run_is_the_latest_finished_one_of_the_same_crawl(store: SqlStore) -> None:
    def run(spider: str = "site", start: str = "http://x/", reason: str | None = "finished") -> int:
        run_id = store.start_run(spider, start, {})
        if reason is not None:
            store.finish_run(run_id, reason, {})
        return run_id

    assert store.previous_run("site", "http://x/", None) is None
    first = run()
    second = run(reason="closespider_pagecount")
    run(reason="store_error")  # rows missing: never compared with
    run(spider="other")
    run(start="http://y/")
    unfinished = run(reason=None)
    current = run(reason=None)
    assert store.previous_run("site", "http://x/", current) == second
    assert store.previous_run("site", "http://x/", second) == first
    assert store.previous_run("site", "http://x/", first) is None
    assert unfinished < current


def test_the_previous_run_finished_cleanly_from_the_canonical_start(store: SqlStore) -> None:
    def run(reason: str, stats: dict[str, object], start: str = "http://x:8080/") -> int:
        run_id = store.start_run("site", start, {})
        store.finish_run(run_id, reason, stats)
        return run_id

    clean = run("finished", {"outcome/status": "succeeded"}, start="http://X:8080")
    run("finished", {"outcome/status": "failed"})  # e.g. start_url_failed: 0 pages
    run("shutdown", {})  # Ctrl-C, an older row without a verdict
    run("no_items", {})
    run("finished", {"outcome/status": "succeeded"}, start="http://x:8080/other")
    assert store.previous_run("site", "http://x:8080", None) == clean
    assert store.previous_run("site", "http://x:8080/", None) == clean
    older = run("closespider_timeout", {})  # an older row: a clean finish reason
    assert store.previous_run("site", "http://x:8080/", None) == older
    run("store_error", {"outcome/status": "succeeded"})  # rows missing: never
    assert store.previous_run("site", "http://x:8080/", None) == older


def test_items_since_a_run_are_those_it_or_a_later_one_wrote(store: SqlStore) -> None:
    first = store.start_run("site", "http://x/", {})
    store.write_items(first, [item("a"), item("b")])
    second = store.start_run("site", "http://x/", {})
    store.write_items(second, [item("b")])
    assert [(r["key"], r["url"]) for r in store.items_since(second)] == [("b", "http://x/b")]
    assert sorted(r["key"] for r in store.items_since(first)) == ["a", "b"]


def test_validated_pages_are_the_200s_with_a_validator_or_digest(store: SqlStore) -> None:
    run = store.start_run("site", "http://x/", {})
    store.write_pages(
        run,
        [
            vpage("http://x/e", etag='"e"'),
            vpage("http://x/m", last_modified="Sun, 01 Nov 2026 00:00:00 GMT"),
            vpage("http://x/d", digest="d" * 64),
            vpage("http://x/none"),
            vpage("http://x/404", status=404, etag='"x"'),
            vpage("http://x/err", digest="d" * 64, error="render failed: x"),
        ],
    )
    store.write_batch(run, link_rows=[link("http://x/e", "http://x/m")])
    assert sorted(p["url"] for p in store.validated_pages(run)) == [
        "http://x/d",
        "http://x/e",
        "http://x/m",
    ]
    assert store.link_rows(run) == [("http://x/e", "http://x/m", "link", None)]


def test_an_older_postgresql_store_gains_the_incremental_columns(postgres_url: str) -> None:
    SqlStore.open(postgres_url).close()
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for column in ("etag", "last_modified", "digest", "unchanged"):
            conn.execute(f"ALTER TABLE pages DROP COLUMN {column}")
    s = SqlStore.open(postgres_url)
    try:
        run = s.start_run("site", "http://x/", {})
        s.write_pages(run, [vpage("http://x/", etag='"t"', digest="d" * 64, unchanged=True)])
        [row] = s.pages(run)
        assert (row["etag"], row["digest"], row["unchanged"]) == ('"t"', "d" * 64, True)
    finally:
        s.close()


def test_an_older_store_is_read_without_the_columns_it_lacks(tmp_path: Path) -> None:
    """Reading (crawler export, crawler report) adds no column: one a store written
    by an older version lacks is None; a crawl (create=True) adds it."""
    db = tmp_path / "old.db"
    s = SqlStore.open(f"sqlite:///{db}")
    run = s.start_run("site", "http://x/", {})
    s.write_pages(run, [page("http://x/")])
    s.close()
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE pages DROP COLUMN latency")
    s = SqlStore.open(f"sqlite:///{db}", create=False)
    try:
        [row] = s.pages(run)
        assert (row["title"], row["latency"]) == ("T", None)
        assert "latency" not in s.columns("pages")
    finally:
        s.close()
    s = SqlStore.open(f"sqlite:///{db}")
    try:
        s.write_pages(run, [page("http://x/", latency=0.25)])
        assert s.pages(run)[0]["latency"] == 0.25
    finally:
        s.close()


OPEN_AT_ONCE = """
import sys, time
from crawler.exceptions import StoreError
from crawler.storage.sql import SqlStore
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
try:
    SqlStore.open(sys.argv[1]).close()
except StoreError as e:
    print(e)
    sys.exit(1)
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_opening_a_new_store_at_once_all_open_it(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Jobs sharing a new store start together: each process creates the schema,
    and one's CREATE TABLE may find the table another just made ("table pages
    already exists").  Every process opens the store, with real processes
    released at the same instant, three rounds on fresh stores."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for round_ in range(3):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'crawl{round_}.db'}"
        else:
            url = request.getfixturevalue("postgres_url")
            if round_:
                request.getfixturevalue("postgres_server").reset()
        start = time.time() + 1.2  # every process imported and waiting by then
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT_ONCE, url, str(start)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(6)
        ]
        outputs = [p.communicate(timeout=60)[0] for p in procs]
        failed = [out for p, out in zip(procs, outputs, strict=True) if p.returncode]
        assert not failed, failed
        s = SqlStore.open(url, create=False)
        s.close()


def test_a_value_too_long_for_its_column_is_refused_not_cut(postgres_url: str) -> None:
    """PostgreSQL: a value past a ``VARCHAR(n)`` column's length fails the batch, as a
    row-by-row INSERT does; the batch's arrays must not cut it (an explicit cast to
    ``VARCHAR(n)`` would, silently)."""
    store = SqlStore.open(postgres_url)
    try:
        run = store.start_run("site", None, {})
        too_long = "Wed, 02 Dec 2026 00:00:00 GMT" + "x" * 80
        with pytest.raises(StoreError, match="value too long"):
            store.write_batch(
                run,
                page_rows=[
                    page("http://x/a", last_modified=None),
                    page("http://x/b", last_modified=too_long),
                ],
            )
        assert store.pages(run) == []
        with pytest.raises(StoreError, match="value too long"):
            store.write_batch(run, link_rows=[link("http://x/", "http://x/c", found_via="f" * 21)])
        assert store.link_rows(run) == []
    finally:
        store.close()


def test_json_lists_and_mixed_numbers_are_stored_as_given(store: SqlStore) -> None:
    """Values a row-by-row INSERT stored: a list as an item's or reject's data (not
    flattened into the batch's array), ``None`` data as JSON null, an ``int``
    latency among ``float`` ones, a ``bool`` status among ``int`` ones."""
    run = store.start_run("site", None, {})
    store.write_batch(
        run,
        page_rows=[
            page("http://x/a", latency=0, status=True),
            page("http://x/b", latency=0.25, status=200),
        ],
        item_rows=[
            {"spec": "list", "key": "1", "data": ["a", ["b"]], "url": None},
            {"spec": "list", "key": "2", "data": [], "url": None},
        ],
        reject_rows=[
            {"spec": "r", "url": None, "reason": "one", "data": ["a"]},
            {"spec": "r", "url": None, "reason": "two", "data": ["b"]},
        ],
    )
    stored = {r["url"]: r for r in store.pages(run)}
    assert (stored["http://x/a"]["latency"], stored["http://x/a"]["status"]) == (0.0, 1)
    assert (stored["http://x/b"]["latency"], stored["http://x/b"]["status"]) == (0.25, 200)
    assert sorted(map(repr, (r["data"] for r in store.items("list")))) == ["['a', ['b']]", "[]"]
    assert sorted(r["data"][0] for r in store.rejects(run)) == ["a", "b"]


# SQLite: a table's batch in one INSERT ... SELECT FROM json_each(rows)
ODD = [*AWKWARD, "tab\tnew\nline\r", "\x01\x1f\x7f", "emoji 🕷", "\u2028\u2029", "'; --", "\\u"]


def odd_batch() -> dict[str, list[dict[str, Any]]]:
    """A batch of every table with odd strings, numbers, bools, JSON and None."""
    return {
        "page_rows": [
            page(
                f"http://x/{n}",
                title=value,
                referer=None if n % 2 else value,
                status=[None, 200, 404][n % 3],
                depth=n,
                rendered=bool(n % 2),
                latency=[None, 0.125, 1e-7, 3][n % 4],
                unchanged=[None, True, False][n % 3],
                etag=value[:64] or None,
            )
            for n, value in enumerate(ODD)
        ],
        "item_rows": [
            item(f"k{n}", name=value, n=n, f=n / 3, ok=bool(n % 2), none=None, deep=[{"v": value}])
            for n, value in enumerate(ODD)
        ],
        "reject_rows": [
            {"spec": "p", "url": value or None, "reason": f"r{n}", "data": {"v": value}}
            for n, value in enumerate(ODD)
        ],
        "link_rows": [
            link("http://x/0", f"http://x/{n}", text=value or None, refused=value[:9] or None)
            for n, value in enumerate(ODD)
        ],
    }


def table_dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows with each value's SQLite type, the times left out."""
    conn = sqlite3.connect(db)
    try:
        dump = {}
        for table in ("pages", "items", "rejects", "links"):
            names = [
                row[1]
                for row in conn.execute(f"PRAGMA table_info({table})")
                if row[1] not in ("updated_at", "created_at")
            ]
            columns = ", ".join(f"{n}, typeof({n})" for n in names)
            rows = conn.execute(f"SELECT {columns} FROM {table}")
            dump[table] = sorted(map(tuple, rows), key=repr)
        return dump
    finally:
        conn.close()


def statements_of(store: SqlStore) -> list[tuple[str, bool]]:
    """Each statement the store's engine sends from now on: (SQL, executemany)."""
    sent: list[tuple[str, bool]] = []

    def record(*args: Any) -> None:  # conn, cursor, statement, parameters, context, executemany
        sent.append((args[2], args[5]))

    event.listen(store.engine, "before_cursor_execute", record)
    return sent


def test_sqlite_writes_each_tables_batch_in_one_statement(sqlite_store: SqlStore) -> None:
    run = sqlite_store.start_run("site", None, {})
    sent = statements_of(sqlite_store)
    sqlite_store.write_batch(run, **odd_batch())
    inserts = [(sql, many) for sql, many in sent if sql.startswith("INSERT")]
    assert len(inserts) == 4  # pages, items, rejects, links
    assert all("json_each" in sql and not many for sql, many in inserts)


def test_sqlite_json_rows_store_what_executemany_stores(tmp_path: Path) -> None:
    """The same batches, twice over (upserts, the first link kept), into a store
    writing JSON rows and one writing row by row: the same rows, the same types."""
    dumps = []
    for name, json_each in (("json.db", True), ("many.db", False)):
        store = SqlStore.open(f"sqlite:///{tmp_path / name}")
        store._json_each = json_each
        run = store.start_run("site", None, {})
        store.write_batch(run, **odd_batch())
        again = odd_batch()
        for row in again["page_rows"]:
            row["title"] = f"again {row['title']}"
        for row in again["link_rows"]:
            row["text"] = "not kept"
        store.write_batch(run, **again)
        store.close()
        dumps.append(table_dump(tmp_path / name))
    assert dumps[0] == dumps[1]
    assert len(dumps[0]["pages"]) == len(ODD) and len(dumps[0]["links"]) == len(ODD)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("nul \x00 inside", "NUL"),
        ("the text \\u0000", "NUL's escape as text"),
        (float("nan"), "NaN"),
        (float("inf"), "infinity"),
    ],
)
def test_sqlite_rows_json_cannot_carry_go_row_by_row(
    tmp_path: Path, value: object, why: str
) -> None:
    """A NUL character (SQLite's JSON functions would cut the text there), NaN or an
    infinity (no JSON form): that table's batch is written with ``executemany``, as
    before, and stored the same way."""
    dumps = []
    for name, json_each in (("json.db", True), ("many.db", False)):
        store = SqlStore.open(f"sqlite:///{tmp_path / name}")
        store._json_each = json_each
        run = store.start_run("site", None, {})
        sent = statements_of(store)
        rows = [page("http://x/a", title="plain", latency=0.5), page("http://x/b", latency=0.5)]
        rows[1]["latency" if isinstance(value, float) else "title"] = value
        store.write_batch(run, page_rows=rows, link_rows=[link("http://x/a", "http://x/b")])
        inserts = [(sql, many) for sql, many in sent if sql.startswith("INSERT")]
        if json_each:  # pages row by row, links still one statement
            assert [("json_each" in sql, many) for sql, many in inserts] == [
                (False, True),
                (True, False),
            ], why
        store.close()
        dumps.append(table_dump(tmp_path / name))
    assert dumps[0] == dumps[1]
    if isinstance(value, str):
        conn = sqlite3.connect(tmp_path / "json.db")
        titles = dict(conn.execute("SELECT url, title FROM pages"))
        conn.close()
        assert titles["http://x/b"] == value


def test_a_row_without_a_column_of_the_first_is_a_store_error(store: SqlStore) -> None:
    run = store.start_run("site", None, {})
    rows = [page("http://x/a"), page("http://x/b")]
    del rows[1]["title"]
    with pytest.raises(StoreError, match="cannot write pages to store"):
        store.write_batch(run, page_rows=rows)
    assert store.pages(run) == []
