"""``crawler crawl --incremental``: a re-crawl of a site where 5% of the pages changed
asks about every page, fetches only the changed ones in full, and stores what a
full crawl of the changed site stores.

The site is the versioned catalogue (``fixtures/tinysite/versioned.py``): ETag
and Last-Modified on most items, only Last-Modified on some, no validators on
a tenth; between the runs 5% of the items change, one disappears (404) and a new
page appears, linked only from a changed item.  The items are extracted with
``tests/specs/catalog.yaml``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from crawler.incremental import LAST_MODIFIED_MAX_LENGTH, kept_last_modified
from crawler.storage.schema import pages
from crawler.storage.sql import SqlStore
from fixtures.tinysite.hostile import ODD_ETAG, ODD_LAST_MODIFIED, ODD_VALIDATORS_PATH
from fixtures.tinysite.server import TinySite
from fixtures.tinysite.versioned import VersionedCatalogApp, new_page_path, validators_of
from tests.crawltools import REPO_ROOT, run_crawler
from tests.resumetools import finish, interrupt, page_count, start_crawl

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SIZE = 300
CHANGED = [20 * k + k % 10 for k in range(15)]  # 5%, with every kind of validators
GONE = 40  # answers 404 in the second run
NEW_FROM = CHANGED[1]  # the changed item that links to the new page
SPEC = str(REPO_ROOT / "tests" / "specs" / "catalog.yaml")
OPTIONS = ["-s", "CRAWLER_MAX_PAGES_PER_PATTERN=0", "--extract", SPEC, "--log-level", "INFO"]


@dataclass(frozen=True)
class Run:
    """One crawl: what the server answered, and what the store holds for it."""

    answered: Counter[int]  # status -> responses the server sent
    stats: dict[str, Any]
    pages: dict[str, dict[str, Any]]  # url -> page row
    links: set[tuple[str, str, str]]
    stdout: str


@dataclass(frozen=True)
class Runs:
    site: TinySite
    first: Run
    second: Run  # incremental, after the changes
    full: Run  # a full crawl of the changed site, in a store of its own
    third: Run  # incremental again, nothing changed since the second
    db: Path


def crawl(app: VersionedCatalogApp, site: TinySite, cwd: Path, db: str, *extra: str) -> Run:
    app.requests_by_status.clear()
    store = f"sqlite:///{db}"
    done = run_crawler("crawl", site.url("/catalog/"), "--store", store, *OPTIONS, *extra, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    with sqlite3.connect(cwd / db) as conn:
        conn.row_factory = sqlite3.Row
        (run_id, stats) = conn.execute("SELECT id, stats FROM runs ORDER BY id DESC").fetchone()
        pages = {
            r["url"]: dict(r)
            for r in conn.execute("SELECT * FROM pages WHERE run_id = ?", (run_id,))
        }
        links = set(
            conn.execute("SELECT source, url, found_via FROM links WHERE run_id = ?", (run_id,))
        )
    return Run(Counter(app.requests_by_status), json.loads(stats), pages, links, done.stdout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    cwd = tmp_path_factory.mktemp("incremental")
    app = VersionedCatalogApp(size=SIZE)
    with TinySite(apps=[app]) as site:
        first = crawl(app, site, cwd, "crawl.db", "--incremental")
        app.change(CHANGED)
        app.remove(GONE)
        app.add_page(1, linked_from=NEW_FROM)
        second = crawl(app, site, cwd, "crawl.db", "--incremental")
        full = crawl(app, site, cwd, "full.db")
        third = crawl(app, site, cwd, "crawl.db", "--incremental")
        yield Runs(site, first, second, full, third, cwd / "crawl.db")


def item_url(site: TinySite, n: int) -> str:
    return site.url(f"/catalog/item/{n}.html")


def test_the_first_run_has_nothing_to_compare_with_and_records_validators(runs: Runs) -> None:
    first = runs.first
    assert first.answered == Counter({200: SIZE + 1})
    assert "incremental/checked" not in first.stats
    page = first.pages[item_url(runs.site, 1)]
    assert page["etag"].startswith('"') and page["last_modified"].endswith(" GMT")
    assert len(page["digest"]) == 64 and page["unchanged"] == 0
    no_validators = first.pages[item_url(runs.site, 7)]
    assert (no_validators["etag"], no_validators["last_modified"]) == (None, None)
    assert no_validators["digest"] is not None


def test_the_second_run_fetches_only_the_changed_pages_in_full(runs: Runs) -> None:
    second, site = runs.second, runs.site
    unchanged = [n for n in range(SIZE) if n not in CHANGED and n != GONE]
    with_validators = [n for n in unchanged if any(validators_of(n))]
    without = [n for n in unchanged if not any(validators_of(n))]
    assert without and any(validators_of(n) == (False, True) for n in with_validators)
    assert {validators_of(n) for n in CHANGED} == {(True, True), (False, True), (False, False)}
    # The index and the unchanged items with validators: 304, no body.
    assert second.answered[304] == 1 + len(with_validators)
    # In full: the changed items, the new page, and the unchanged items without validators.
    assert second.answered[200] == len(CHANGED) + 1 + len(without)
    assert second.answered[404] == 1
    stats = second.stats
    assert stats["incremental/previous_run"] == 1
    assert stats["incremental/checked"] == SIZE + 1  # every page of the first run was asked about
    assert stats["incremental/not_modified"] == 1 + len(with_validators)
    assert stats["incremental/same_digest"] == len(without)
    assert stats["incremental/unchanged"] == 1 + len(unchanged)
    assert stats["incremental/changed"] == len(CHANGED) + 1  # and the one gone
    assert stats["downloader/response_bytes"] < runs.first.stats["downloader/response_bytes"] / 4
    # Recorded as unchanged, with the first run's status and title; the others not.
    for n in unchanged:
        page = second.pages[item_url(site, n)]
        assert page["unchanged"] == 1
        assert (page["status"], page["title"]) == (200, runs.first.pages[page["url"]]["title"])
    for n in CHANGED:
        assert second.pages[item_url(site, n)]["unchanged"] == 0
    assert second.pages[item_url(site, GONE)]["status"] == 404
    new_page = second.pages[site.url(new_page_path(1))]
    assert (new_page["status"], new_page["found_via"], new_page["unchanged"]) == (200, "link", 0)
    assert "unchanged since the previous run" in second.stdout


def test_the_second_run_stores_what_a_full_crawl_of_the_changed_site_does(runs: Runs) -> None:
    second, full = runs.second, runs.full

    def shown(run: Run) -> dict[str, tuple[Any, ...]]:
        return {u: (p["status"], p["title"], p["content_type"]) for u, p in run.pages.items()}

    assert shown(second) == shown(full)
    assert second.links == full.links
    assert len(second.pages) == SIZE + 2  # the index, the items (one a 404), the new page
    assert not any(page["unchanged"] for page in full.pages.values())


def test_items_of_unchanged_pages_are_carried_not_extracted_again(runs: Runs) -> None:
    site, stats = runs.site, runs.second.stats
    kept = SIZE - 1  # every item but the gone one's
    assert stats["extract/items/product"] == len(CHANGED)  # parsed: the changed pages only
    assert stats["incremental/items_carried"] == kept - len(CHANGED)
    assert stats["item_scraped_count"] - len(runs.second.pages) == kept
    assert stats["store/items_written"] == kept
    assert "incremental/items_carried" not in runs.first.stats
    with sqlite3.connect(runs.db) as conn:
        written_by = dict(conn.execute("SELECT url, run_id FROM items"))
    assert len(written_by) == SIZE  # the same rows: carried items keep their keys
    # Now last written by run 3 (which carried them all), but the gone item's.
    assert {u for u, run in written_by.items() if run != 3} == {item_url(site, GONE)}
    assert written_by[item_url(site, GONE)] == 1


def test_a_third_run_compares_with_the_second_and_finds_nothing_changed(runs: Runs) -> None:
    third = runs.third
    without = [n for n in range(SIZE) if n != GONE and not any(validators_of(n))]
    assert third.stats["incremental/previous_run"] == 2
    assert third.answered[200] == len(without)  # no validators: the body is compared
    assert third.answered[404] == 1
    assert third.stats["incremental/unchanged"] == SIZE + 1  # the new page too
    assert third.links == runs.full.links  # the links of unchanged pages carried on
    assert third.stats["store/items_written"] == third.stats["incremental/items_carried"]
    assert third.stats["incremental/items_carried"] == SIZE - 1
    assert "extract/items/product" not in third.stats


def test_crawler_runs_shows_the_unchanged_pages(runs: Runs) -> None:
    done = run_crawler("runs", "--store", f"sqlite:///{runs.db}", cwd=runs.db.parent)
    assert done.returncode == 0, done.stderr
    header, _, *rows = done.stdout.splitlines()
    assert header.split()[-4:] == ["pages", "unchanged", "items", "rejects"]
    # newest first: run 3 (all unchanged, its items carried), 2, 1: every run wrote
    # all the items of its pages
    assert [row.split()[-4:] for row in rows] == [
        [str(SIZE + 2), str(SIZE + 1), str(SIZE - 1), "0"],
        [str(SIZE + 2), str(SIZE - len(CHANGED)), str(SIZE - 1), "0"],
        [str(SIZE + 1), "0", str(SIZE), "0"],
    ]


def test_an_incremental_crawl_into_postgresql(postgres_url: str, tmp_path: Path) -> None:
    app = VersionedCatalogApp(size=30)
    with TinySite(apps=[app]) as site:
        args = ["crawl", site.url("/catalog/"), "--store", postgres_url, "--incremental"]
        assert run_crawler(*args, *OPTIONS, cwd=tmp_path).returncode == 0
        app.change([2])
        app.requests_by_status.clear()
        done = run_crawler(*args, *OPTIONS, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        answered = Counter(app.requests_by_status)
    store = SqlStore.open(postgres_url, create=False)
    try:
        [second, _] = store.runs()
        pages = store.pages(second["id"])
    finally:
        store.close()
    assert second["stats"]["incremental/previous_run"] == second["id"] - 1
    assert answered[200] == 1 + 3  # item 2, and the three items without validators
    assert second["unchanged"] == len(pages) - 1 == 30
    assert [p["url"] for p in pages if not p["unchanged"]] == [site.url("/catalog/item/2.html")]


# What counts as a baseline, and the items of unchanged pages.


def store_rows(db: Path, query: str, *args: Any) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(query, args))


def latest_stats(db: Path) -> dict[str, Any]:
    [row] = store_rows(db, "SELECT stats FROM runs ORDER BY id DESC LIMIT 1")
    return dict(json.loads(row["stats"]))


def catalog_crawl(
    site: TinySite, cwd: Path, *extra: str, url: str | None = None, ok: bool = True
) -> str:
    start = url or site.url("/catalog/")
    args = ["crawl", start, "--store", f"sqlite:///{cwd / 'c.db'}", "--log-level", "INFO"]
    done = run_crawler(*args, "-s", "CRAWLER_MAX_PAGES_PER_PATTERN=0", *extra, cwd=cwd)
    assert (done.returncode == 0) is ok, done.stderr[-3000:]
    return done.stderr


def feed_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_run_with_other_options_is_no_baseline(tinysite: TinySite, tmp_path: Path) -> None:
    """Forms submitted now, not then: the index must be parsed again to submit its form."""
    start = tinysite.url("/")
    db = f"sqlite:///{tmp_path / 'o.db'}"
    options = ["--render", "never", "--log-level", "INFO"]
    first = run_crawler("crawl", start, "--store", db, *options, "--forms", "none", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    args = ["crawl", start, "--store", db, *options, "--forms", "get", "--incremental"]
    second = run_crawler(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    fresh = run_crawler(
        "crawl", start, "--store", f"sqlite:///{tmp_path / 'f.db'}", *options, cwd=tmp_path
    )
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    stats = latest_stats(tmp_path / "o.db")
    assert "incremental/previous_run" not in stats
    assert "crawled with other options (CRAWLER_FORMS)" in second.stderr
    [(pages,)] = store_rows(tmp_path / "o.db", "SELECT count(*) FROM pages WHERE run_id = 2")
    [(full,)] = store_rows(tmp_path / "f.db", "SELECT count(*) FROM pages")
    assert pages == full > 3


def test_specs_added_since_the_baseline_mean_a_full_crawl(tmp_path: Path) -> None:
    app = VersionedCatalogApp(size=20)
    with TinySite(apps=[app]) as site:
        catalog_crawl(site, tmp_path)
        log = catalog_crawl(
            site, tmp_path, "--extract", SPEC, "--output-items", "x.jsonl", "--incremental"
        )
    assert "crawled with other options (extract)" in log
    assert len(feed_lines(tmp_path / "x.jsonl")) == 20
    assert "incremental/previous_run" not in latest_stats(tmp_path / "c.db")


def test_the_items_of_unchanged_pages_are_items_of_the_run(tmp_path: Path) -> None:
    app = VersionedCatalogApp(size=20)
    extract = ["--extract", SPEC, "--incremental"]
    with TinySite(apps=[app]) as site:
        catalog_crawl(site, tmp_path, *extract)
        app.change([3])
        catalog_crawl(site, tmp_path, *extract, "-o", "p.jsonl", "--output-items", "x.jsonl")
    stats = latest_stats(tmp_path / "c.db")
    assert stats["incremental/previous_run"] == 1
    assert stats["incremental/items_carried"] == 19  # all but the changed item's
    assert stats["store/items_written"] == 20
    items = feed_lines(tmp_path / "x.jsonl")
    assert len(items) == 20 and len({i["url"] for i in items}) == 20
    written_by = store_rows(tmp_path / "c.db", "SELECT run_id, count(*) FROM items GROUP BY 1")
    assert [tuple(r) for r in written_by] == [(2, 20)]  # same keys: no duplicate rows
    exported = run_crawler(
        "export", "2", "--store", f"sqlite:///{tmp_path / 'c.db'}", "--format", "jsonl",
        cwd=tmp_path,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert sorted(exported.stdout.splitlines()) == sorted(
        (tmp_path / "x.jsonl").read_text().splitlines()
    )


def test_the_baseline_is_the_latest_clean_run_from_the_same_canonical_url(tmp_path: Path) -> None:
    app = VersionedCatalogApp(size=10)
    with TinySite(apps=[app]) as site:
        catalog_crawl(site, tmp_path, "--incremental")
        # Run 2 fails its success criteria: not a baseline.
        catalog_crawl(site, tmp_path, "--incremental", "-s", "CRAWLER_MIN_ITEMS=1000", ok=False)
        [failed] = store_rows(tmp_path / "c.db", "SELECT stats FROM runs WHERE id = 2")
        assert json.loads(failed["stats"])["outcome/status"] != "succeeded"
        other = site.url("/catalog/").replace("http://", "HTTP://")  # the same, canonical
        catalog_crawl(site, tmp_path, "--incremental", url=other)
    stats = latest_stats(tmp_path / "c.db")
    assert stats["incremental/previous_run"] == 1
    assert stats["incremental/unchanged"] == 1 + 10  # the index and the items


def test_an_interrupted_run_is_no_baseline_but_its_resume_compares_as_before(
    tinysite: TinySite, tmp_path: Path
) -> None:
    size = 150
    start = tinysite.url(f"/catalog/?size={size}&delay=100")
    args = [start, "--store", "sqlite:///r.db", "--render", "never", "--log-level", "INFO"]
    args += ["-s", "CRAWLER_MAX_PAGES_PER_PATTERN=0", "--incremental"]
    db, log = tmp_path / "r.db", tmp_path / "r.log"
    assert finish(start_crawl(args, tmp_path, log)) == 0, log.read_text()[-3000:]
    resumable = [*args, "--job-dir", "job"]
    crawl = start_crawl(resumable, tmp_path, log)
    deadline = time.monotonic() + 60
    while page_count(db) < size + 1 + 20 and time.monotonic() < deadline and crawl.poll() is None:
        time.sleep(0.05)
    interrupt(crawl, 1)
    assert finish(crawl) == 130, log.read_text()[-3000:]
    # A new run skips the interrupted one (run 2) and compares with run 1 ...
    assert finish(start_crawl(args, tmp_path, log)) == 0, log.read_text()[-3000:]
    assert run_stats(db, 3)["incremental/previous_run"] == 1
    # ... and so does the resume of run 2, which completes it.
    assert finish(start_crawl(resumable, tmp_path, log)) == 0, log.read_text()[-3000:]
    resumed = run_stats(db, 2)
    assert (resumed["incremental/previous_run"], resumed["outcome/status"]) == (1, "succeeded")
    rows = store_rows(db, "SELECT count(*), sum(unchanged) FROM pages WHERE run_id = 2")
    assert tuple(rows[0]) == (size + 1, size + 1)


def run_stats(db: Path, run_id: int) -> dict[str, Any]:
    [row] = store_rows(db, "SELECT stats FROM runs WHERE id = ?", run_id)
    return dict(json.loads(row["stats"]))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_last_modified_that_is_no_date_is_not_kept(
    backend: str, tinysite: TinySite, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """110 characters of ``Last-Modified`` (no HTTP-date is longer than 33) failed a
    PostgreSQL crawl (the column holds 64) and was stored whole on SQLite: now the
    page is stored without it on both, counted; its 1,000-character ETag is kept."""
    store = (
        f"sqlite:///{tmp_path / 'c.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    args = ["crawl", tinysite.url(ODD_VALIDATORS_PATH), "--store", store, "--render", "never"]
    done = run_crawler(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    reader = SqlStore.open(store, create=False)
    try:
        [run] = reader.runs()
        [page] = reader.pages(run["id"])
    finally:
        reader.close()
    assert len(ODD_LAST_MODIFIED) > 64
    assert (page["status"], page["last_modified"], page["etag"]) == (200, None, ODD_ETAG)
    assert run["stats"]["crawler/last_modified_ignored"] == 1


def test_the_longest_last_modified_kept_is_the_columns_and_dates_fit() -> None:
    assert pages.c.last_modified.type.length == LAST_MODIFIED_MAX_LENGTH
    longest_date = "Wednesday, 02-Dec-26 08:00:00 GMT"  # rfc850-date, RFC 9110 5.6.7
    assert kept_last_modified(longest_date) == longest_date
    assert kept_last_modified("x" * 64) == "x" * 64
    assert kept_last_modified("x" * 65) is None
    assert kept_last_modified(None) is None
