"""Running ``crawler`` as a user would (a subprocess) and reading what it stored."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent


def subprocess_env() -> dict[str, str]:
    """The environment for a ``python -m crawler...`` child: it imports this checkout.

    A relative ``PYTHONPATH`` (``.``) means nothing in a child started in a temp
    dir, and the child would import whatever copy the editable install points at.
    """
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    db: Path
    pages: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def by_path(self) -> dict[str, dict[str, Any]]:
        """Pages of the last run keyed by path (plus query)."""
        out = {}
        for page in self.pages:
            parts = urlsplit(page["url"])
            out[parts.path + (f"?{parts.query}" if parts.query else "")] = page
        return out

    def html_paths(self) -> set[str]:
        return {
            path
            for path, page in self.by_path().items()
            if (page["content_type"] or "").startswith("text/html") and page["status"] == 200
        }

    @property
    def stats(self) -> dict[str, Any]:
        return json.loads(self.runs[-1]["stats"]) if self.runs and self.runs[-1]["stats"] else {}


def run_crawler(
    *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=subprocess_env() if env is None else env,
    )


def read_store(db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not db.exists():
        return [], []
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    runs = [dict(r) for r in conn.execute("select * from runs order by id")]
    pages = []
    if runs:
        pages = [
            dict(r)
            for r in conn.execute(
                "select * from pages where run_id = ? order by url", (runs[-1]["id"],)
            )
        ]
    conn.close()
    return pages, runs


def crawl(
    start_url: str, tmp_path: Path, *options: str, db_name: str = "crawl.db", timeout: float = 120
) -> CrawlResult:
    db = tmp_path / db_name
    proc = run_crawler(
        "crawl", start_url, "--store", f"sqlite:///{db}", *options, cwd=tmp_path, timeout=timeout
    )
    pages, runs = read_store(db)
    return CrawlResult(proc.returncode, proc.stdout, proc.stderr, db, pages, runs)


def run_scrapy(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``scrapy ARGS`` from the project root (where ``scrapy.cfg`` is), as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=REPO_ROOT,
        env=kwargs.pop("env", subprocess_env()),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def scrapy_crawl_site(
    start_url: str, *args: str, store: Path | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """``scrapy crawl site -a start_url=START_URL ARGS``, with ``-s CRAWLER_STORE_URL``
    for the SQLite file ``store`` when given (see :func:`run_scrapy`)."""
    store_args = ("-s", f"CRAWLER_STORE_URL=sqlite:///{store}") if store is not None else ()
    return run_scrapy("crawl", "site", "-a", f"start_url={start_url}", *store_args, *args, **kwargs)


# Runs argv[2:] and writes the peak resident set size of that child (KiB,
# ru_maxrss of the wrapper's only child) to the file argv[1].
_PEAK_RSS_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def crawl_measured(
    start_url: str, tmp_path: Path, *options: str, timeout: float = 300
) -> tuple[CrawlResult, int]:
    """:func:`crawl`, and the crawl process's peak resident set size in KiB."""
    db = tmp_path / "crawl.db"
    peak_file = tmp_path / "peak-rss-kib"
    argv = [sys.executable, "-m", "crawler.cli", "crawl", start_url, "--store", f"sqlite:///{db}"]
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_WRAPPER, str(peak_file), *argv, *options],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=subprocess_env(),
    )
    pages, runs = read_store(db)
    result = CrawlResult(proc.returncode, proc.stdout, proc.stderr, db, pages, runs)
    return result, int(peak_file.read_text())
