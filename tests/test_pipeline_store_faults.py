"""A crawl's store failing under it: frozen, locked, broken, with nowhere to put its rows.

Each crawl is a ``crawler crawl`` subprocess against the tinysite, into a real
SQLite file or the session's real PostgreSQL server; the faults are real too:
the server's processes stopped (SIGSTOP), a second process holding SQLite's
write lock, a trigger refusing every page row, a fallback directory that is a
file.  What is checked is what a user sees: the exit code, the final line of
standard error (rows saved in the run's fallback file, rows lost) and the
files left behind.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from crawler.storage.sql import SqlStore
from tests.crawltools import read_store, run_crawler, subprocess_env
from tests.sqlitelock import write_lock

if TYPE_CHECKING:
    from collections.abc import Callable

    from fixtures.tinysite.server import TinySite
    from tests.pgserver import PostgresServer

# long enough that a crawl is still running when a test breaks its store
SLOW_CATALOG = "/catalog/?size=300&delay=50"
FINAL_LINE = re.compile(
    r"not written to the store: (?P<rows>\d+) rows; (?P<saved>\d+) saved"
    r"(?: in (?P<path>\S+) \((?P<tables>[^)]*)\))?; (?P<lost>\d+) lost(?: \((?P<why>.*)\))?"
)
STAMP = r"\d{8}T\d{6}Z"


def start_crawl(start_url: str, store_url: str, cwd: Path, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", start_url, "--store", store_url, *options],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )


def wait_for_pages(proc: subprocess.Popen[str], count: Callable[[], int], pages: int) -> None:
    deadline = time.monotonic() + 30
    while count() < pages:
        assert time.monotonic() < deadline, "the crawl never stored a page"
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.05)


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def sqlite_pages(db: Path) -> Callable[[], int]:
    def count() -> int:
        if not db.exists():
            return 0
        conn = sqlite3.connect(db, timeout=5)
        try:
            return int(conn.execute("select count(*) from pages").fetchone()[0])
        except sqlite3.OperationalError:  # the tables do not exist yet
            return 0
        finally:
            conn.close()

    return count


def final_line(stderr: str) -> re.Match[str]:
    line = stderr.rstrip("\n").rpartition("\n")[2]
    match = FINAL_LINE.fullmatch(line)
    assert match, f"final line: {line!r}\n{stderr[-3000:]}"
    return match


def fallback_rows(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def refusing_store(db: Path) -> str:
    """A SQLite store that opens and starts runs, and refuses every page row."""
    url = f"sqlite:///{db}"
    SqlStore.open(url).close()
    conn = sqlite3.connect(db)
    conn.execute(
        "create trigger refuse_pages before insert on pages "
        "begin select raise(abort, 'pages refused by a trigger'); end"
    )
    conn.commit()
    conn.close()
    return url


def test_a_frozen_postgresql_server_ends_the_crawl_with_its_rows_in_the_runs_file(
    tinysite: TinySite, tmp_path: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    def stored_pages() -> int:
        try:
            with psycopg.connect(
                f"host=127.0.0.1 port={postgres_server.port} user=postgres "
                f"dbname={postgres_server.database}",
                connect_timeout=2,
            ) as conn:
                row = conn.execute("select count(*) from pages").fetchone()
        except psycopg.Error:  # the tables do not exist yet
            return 0
        return int(row[0]) if row else 0

    proc = start_crawl(
        tinysite.url(SLOW_CATALOG),
        postgres_url,
        tmp_path,
        "-s",
        "CRAWLER_STORE_BATCH_SIZE=20",
        "-s",
        "CRAWLER_STORE_TIMEOUT=1",
    )
    try:
        wait_for_pages(proc, stored_pages, 5)
        postgres_server.freeze()
        frozen = time.monotonic()
        stdout, stderr = finish(proc, timeout=60)
        took = time.monotonic() - frozen
    finally:
        postgres_server.thaw()

    assert took < 30, f"{took:.1f} s after the freeze"
    assert proc.returncode == 1, stderr[-3000:]
    assert re.search(
        r"error: cannot write [a-z ]+ to store postgresql://\S+: .*(did not answer|no answer) "
        r"within \d+ s",
        stderr,
    ), stderr[-3000:]
    line = final_line(stderr)
    assert line["lost"] == "0"
    assert int(line["saved"]) == int(line["rows"]) > 0
    path = Path(line["path"])
    assert path.parent == tmp_path
    assert re.fullmatch(rf"unwritten-site-crawler-run1-{STAMP}\.jsonl", path.name)
    rows = fallback_rows(line["path"])
    assert len(rows) == int(line["saved"])
    assert Counter(r["table"] for r in rows)["pages"] > 0
    assert "Traceback" not in stderr
    assert "Stored in" not in stdout


def test_a_sqlite_write_lock_held_a_few_seconds_is_waited_out(
    tinysite: TinySite, tmp_path: Path
) -> None:
    db = tmp_path / "crawl.db"
    proc = start_crawl(
        tinysite.url(SLOW_CATALOG),
        f"sqlite:///{db}",
        tmp_path,
        "-s",
        "CRAWLER_STORE_BATCH_SIZE=20",
        "-s",
        "CRAWLER_STORE_TIMEOUT=15",
        "-s",
        "CRAWLER_MAX_PAGES_PER_PATTERN=0",  # all 300 items: one URL pattern
    )
    try:
        wait_for_pages(proc, sqlite_pages(db), 5)
        # longer than SQLite's own 5 s busy timeout the store used to rely on
        with write_lock(db, seconds=6):
            pass
    finally:
        _, stderr = finish(proc, timeout=120)

    assert proc.returncode == 0, stderr[-3000:]
    assert "not written to the store" not in stderr
    pages, runs = read_store(db)
    stats = json.loads(runs[-1]["stats"])
    assert stats["store/busy_retries"] >= 2
    assert stats["store/busy_wait"] > 1
    assert len(pages) == stats["store/pages_written"]
    paths = {p["url"].partition("?")[0].removeprefix(tinysite.base_url) for p in pages}
    assert {f"/catalog/item/{n}.html" for n in range(300)} <= paths
    assert not list(tmp_path.glob("unwritten-*"))


def test_a_sqlite_write_lock_held_past_the_bound_sends_rows_to_the_runs_file(
    tinysite: TinySite, tmp_path: Path
) -> None:
    db = tmp_path / "crawl.db"
    proc = start_crawl(
        tinysite.url(SLOW_CATALOG),
        f"sqlite:///{db}",
        tmp_path,
        "-s",
        "CRAWLER_STORE_BATCH_SIZE=20",
        "-s",
        "CRAWLER_STORE_TIMEOUT=1",
    )
    try:
        wait_for_pages(proc, sqlite_pages(db), 5)
        with write_lock(db):  # held until the crawl has ended
            stdout, stderr = finish(proc, timeout=60)
    finally:
        finish(proc, timeout=10)

    assert proc.returncode == 1, stderr[-3000:]
    assert re.search(
        rf"error: cannot write [a-z ]+ to store sqlite:///{re.escape(str(db))}: database is "
        r"locked \(another process held its write lock; waited 1\.\d s, CRAWLER_STORE_TIMEOUT "
        r"is 1 s\)",
        stderr,
    ), stderr[-3000:]
    line = final_line(stderr)
    assert line["lost"] == "0"
    assert int(line["saved"]) > 0
    assert re.fullmatch(rf"unwritten-site-crawl\.db-run1-{STAMP}\.jsonl", Path(line["path"]).name)
    assert len(fallback_rows(line["path"])) == int(line["saved"])
    assert "Stored in" not in stdout


def test_failed_crawls_into_two_stores_write_two_fallback_files(
    tinysite: TinySite, tmp_path: Path
) -> None:
    finals = []
    for name in ("a.db", "b.db"):
        url = refusing_store(tmp_path / name)
        proc = run_crawler("crawl", tinysite.url("/catalog/?size=5"), "--store", url, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr[-3000:]
        assert "pages refused by a trigger" in proc.stderr
        finals.append(final_line(proc.stderr))
    first, second = finals
    assert first["path"] != second["path"]
    assert re.fullmatch(rf"unwritten-site-a\.db-run1-{STAMP}\.jsonl", Path(first["path"]).name)
    assert re.fullmatch(rf"unwritten-site-b\.db-run1-{STAMP}\.jsonl", Path(second["path"]).name)
    for line in finals:  # each file holds its own crawl's rows, and only those
        rows = fallback_rows(line["path"])
        assert len(rows) == int(line["saved"]) == int(line["rows"]) > 0
        assert len({r["url"] for r in rows if r["table"] == "pages"}) == len(
            [r for r in rows if r["table"] == "pages"]
        )
    assert sorted(p.name for p in tmp_path.glob("unwritten-*")) == sorted(
        Path(line["path"]).name for line in finals
    )


def test_rows_the_fallback_file_cannot_take_are_reported_lost(
    tinysite: TinySite, tmp_path: Path
) -> None:
    url = refusing_store(tmp_path / "crawl.db")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    proc = run_crawler(
        "crawl",
        tinysite.url("/catalog/?size=5"),
        "--store",
        url,
        "-s",
        f"CRAWLER_STORE_FALLBACK_DIR={blocker / 'fallback'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    line = final_line(proc.stderr)
    assert line["saved"] == "0"
    assert int(line["lost"]) == int(line["rows"]) > 0
    assert re.fullmatch(
        rf"cannot write the fallback file {re.escape(str(blocker))}/fallback/"
        rf"unwritten-site-crawl\.db-run1-{STAMP}\.jsonl: Not a directory",
        line["why"],
    )
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("unwritten-*"))


@pytest.mark.parametrize("setting", ["CRAWLER_STORE_TIMEOUT=0", "CRAWLER_STORE_TIMEOUT=soon"])
def test_a_bad_store_timeout_is_refused_before_crawling(tmp_path: Path, setting: str) -> None:
    proc = run_crawler("crawl", "http://127.0.0.1:1/", "-s", setting, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: CRAWLER_STORE_TIMEOUT must be")
    assert list(tmp_path.iterdir()) == []
