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
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from crawler.storage.sql import SqlStore
from fixtures.tinysite.server import TinySite
from fixtures.tinysite.versioned import VersionedCatalogApp, new_page_path, validators_of
from tests.crawltools import REPO_ROOT, run_crawler

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


def test_items_of_unchanged_pages_are_not_extracted_again(runs: Runs) -> None:
    site = runs.site
    assert runs.second.stats["item_scraped_count"] - len(runs.second.pages) == len(CHANGED)
    assert runs.second.stats["store/items_written"] == len(CHANGED)
    with sqlite3.connect(runs.db) as conn:
        written_by = dict(conn.execute("SELECT url, run_id FROM items"))
    assert len(written_by) == SIZE  # the gone item's row stays
    assert {u for u, run in written_by.items() if run == 2} == {item_url(site, n) for n in CHANGED}


def test_a_third_run_compares_with_the_second_and_finds_nothing_changed(runs: Runs) -> None:
    third = runs.third
    without = [n for n in range(SIZE) if n != GONE and not any(validators_of(n))]
    assert third.stats["incremental/previous_run"] == 2
    assert third.answered[200] == len(without)  # no validators: the body is compared
    assert third.answered[404] == 1
    assert third.stats["incremental/unchanged"] == SIZE + 1  # the new page too
    assert third.links == runs.full.links  # the links of unchanged pages carried on
    assert third.stats.get("store/items_written", 0) == 0


def test_crawler_runs_shows_the_unchanged_pages(runs: Runs) -> None:
    done = run_crawler("runs", "--store", f"sqlite:///{runs.db}", cwd=runs.db.parent)
    assert done.returncode == 0, done.stderr
    header, _, *rows = done.stdout.splitlines()
    assert header.split()[-4:] == ["pages", "unchanged", "items", "rejects"]
    # newest first: run 3 (all unchanged, no item written), 2, 1
    assert [row.split()[-4:] for row in rows] == [
        [str(SIZE + 2), str(SIZE + 1), "0", "0"],
        [str(SIZE + 2), str(SIZE - len(CHANGED)), str(len(CHANGED)), "0"],
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
