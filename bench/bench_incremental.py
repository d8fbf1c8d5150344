"""Incremental re-crawls: a 2,000-page site crawled, 5% of it changed, crawled again.

``python -m bench.bench_incremental [--pages 2000] [--changed 5] [--seed N]
[--mode http|render|both] [--render-pages 200]``

On the versioned catalogue (``fixtures/tinysite/versioned.py``: ETag and
Last-Modified on 80% of the items, Last-Modified only on 10%, no validators on
10%), served by this process, each mode runs, one after the other:

1. ``crawler crawl --incremental`` of the site (nothing to compare with: a full crawl);
2. the site changes: ``--changed`` percent of the items (picked with the seed),
   one item removed (404), one new page linked from a changed item;
3. the same command again (the incremental re-crawl);
4. a full crawl of the changed site into another store, for reference (and to
   check that the re-crawl stored the same pages).

Each crawl extracts items with ``tests/specs/catalog.yaml``.  Printed per
crawl: pages stored, pages the server sent in full (200), 304s, bytes received
(``downloader/response_bytes``), renders, wall seconds, CPU seconds (user +
system of the crawl process, ``RUSAGE_CHILDREN``) and the crawl process's peak
RSS (``memusage/max``), then the re-crawl's ratios
to the first run.  The server runs in this process: its CPU is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fixtures.tinysite.server import TinySite
from fixtures.tinysite.versioned import VersionedCatalogApp

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "catalog.yaml"


@dataclass(frozen=True)
class Crawl:
    name: str
    pages: int
    full: int  # responses sent in full (200)
    not_modified: int  # 304s
    response_bytes: int
    renders: int
    wall: float  # seconds
    cpu: float  # seconds, user + system
    peak_mib: float  # the crawl process's peak RSS (Scrapy's memusage/max)

    def row(self) -> str:
        return (
            f"{self.name:<22} {self.pages:>6,} {self.full:>6,} {self.not_modified:>6,} "
            f"{self.response_bytes / 1e6:>8.2f} {self.renders:>7,} "
            f"{self.wall:>7.1f} {self.cpu:>7.1f} {self.peak_mib:>8.0f}"
        )


def crawl(
    name: str, app: VersionedCatalogApp, site: TinySite, cwd: Path, db: str, extra: list[str]
) -> Crawl:
    app.requests_by_status.clear()
    cmd = [
        sys.executable,
        "-m",
        "crawler.cli",
        "crawl",
        site.url("/catalog/"),
        "--store",
        f"sqlite:///{db}",
        "--extract",
        str(SPEC),
        "-s",
        "CRAWLER_MAX_PAGES_PER_PATTERN=0",
        "--log-level",
        "WARNING",
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with (cwd / "log").open("ab") as log:
        code = subprocess.run(cmd, cwd=cwd, env=env, stdout=log, stderr=log, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code.returncode != 0:
        raise SystemExit(f"{name}: exit {code.returncode}\n{(cwd / 'log').read_text()[-3000:]}")
    with sqlite3.connect(cwd / db) as conn:
        run_id, stats = conn.execute("SELECT id, stats FROM runs ORDER BY id DESC").fetchone()
        (pages,) = conn.execute("SELECT count(*) FROM pages WHERE run_id = ?", (run_id,)).fetchone()
    stats = json.loads(stats)
    return Crawl(
        name,
        pages,
        app.requests_by_status[200],
        app.requests_by_status[304],
        int(stats.get("downloader/response_bytes", 0)),
        int(stats.get("selenium/renders", 0)),
        wall,
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        int(stats.get("memusage/max", 0)) / 2**20,
    )


def stored_pages(db: Path) -> dict[str, tuple[int | None, str | None]]:
    with sqlite3.connect(db) as conn:
        (run_id,) = conn.execute("SELECT max(id) FROM runs").fetchone()
        rows = conn.execute("SELECT url, status, title FROM pages WHERE run_id = ?", (run_id,))
        return {url: (status, title) for url, status, title in rows}


def bench(pages: int, percent: float, mode: str, rng: random.Random) -> None:
    render = ["--render", "always", "-s", "SELENIUM_POOL_SIZE=2"] if mode == "render" else []
    app = VersionedCatalogApp(size=pages)
    changed = rng.sample(range(pages), round(pages * percent / 100))
    gone = rng.choice([n for n in range(pages) if n not in changed])
    with TinySite(apps=[app]) as site, tempfile.TemporaryDirectory(prefix="bench-inc-") as tmp:
        cwd = Path(tmp)
        os.chmod(cwd, 0o755)  # the browsers' temp dirs live below it
        temp = ["-s", f"SELENIUM_TEMP_DIR={cwd}"] if render else []
        incremental = ["--incremental", *render, *temp]
        first = crawl("first run", app, site, cwd, "crawl.db", incremental)
        app.change(changed)
        app.remove(gone)
        app.add_page(1, linked_from=changed[0])
        second = crawl("re-crawl --incremental", app, site, cwd, "crawl.db", incremental)
        full = crawl("re-crawl in full", app, site, cwd, "full.db", [*render, *temp])
        same = stored_pages(cwd / "crawl.db") == stored_pages(cwd / "full.db")
    print(f"\n{mode}: {pages:,} items, {len(changed)} changed ({percent:g}%), 1 removed, 1 new")
    print(
        f"{'crawl':<22} {'pages':>6} {'200s':>6} {'304s':>6} {'MB recv':>8} {'renders':>7} "
        f"{'wall s':>7} {'CPU s':>7} {'peak MiB':>8}"
    )
    for row in (first, second, full):
        print(row.row())

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.3f}" if b else "-"

    print(
        f"re-crawl / first run: pages fetched in full {ratio(second.full, first.full)}, "
        f"bytes {ratio(second.response_bytes, first.response_bytes)}, "
        f"wall {ratio(second.wall, first.wall)}, CPU {ratio(second.cpu, first.cpu)}"
        + (f", renders {ratio(second.renders, first.renders)}" if render else "")
    )
    print(f"incremental re-crawl stored the same pages as the full one: {'yes' if same else 'NO'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=2000, help="catalogue items (HTTP mode)")
    parser.add_argument("--render-pages", type=int, default=200, help="catalogue items (render)")
    parser.add_argument("--changed", type=float, default=5.0, help="percent of items changed")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--mode", choices=("http", "render", "both"), default="http")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else time.time_ns() % 1_000_000
    print(f"seed {seed}")
    rng = random.Random(seed)
    modes = ("http", "render") if args.mode == "both" else (args.mode,)
    for mode in modes:
        bench(args.pages if mode == "http" else args.render_pages, args.changed, mode, rng)


if __name__ == "__main__":
    main()
