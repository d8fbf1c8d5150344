"""Resume: 2,000-page crawls SIGKILLed at random moments and resumed, against an uninterrupted one.

``python -m bench.bench_resume [--pages 2000] [--kills 3] [--seed N] [--mode http|render|both]``

For each mode (plain HTTP, ``--render always``), one run compares, on the
generated catalogue (``fixtures/tinysite/catalog.py``):

* an uninterrupted ``crawler crawl`` of the site;
* the same command with ``--job-dir``, its process group SIGKILLed when the
  store holds a random number of pages (``--kills`` times), then run again
  until it finishes by itself.

It prints pages lost (in the uninterrupted store, not the resumed one), pages
extra, duplicated page rows, links lost, each kill's page count, and the wall
time of both (the resumed one's total over its segments).  Not a test: the
suite's versions are ``tests/test_crawl_resume.py`` (2,000 pages over HTTP)
and ``tests/browser/test_browser_resume.py`` (240 rendered pages).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fixtures.tinysite.server import TinySite

ROOT = Path(__file__).resolve().parent.parent


def command(site: TinySite, pages: int, mode: str, extra: list[str]) -> list[str]:
    render = ["--render", "always", "-s", "SELENIUM_POOL_SIZE=2"] if mode == "render" else []
    return [
        sys.executable,
        "-m",
        "crawler.cli",
        "crawl",
        site.url(f"/catalog/?size={pages}"),
        "--store",
        "sqlite:///crawl.db",
        "-s",
        "CRAWLER_MAX_PAGES_PER_PATTERN=0",
        "--log-level",
        "WARNING",
        *render,
        *extra,
    ]


def count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM pages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def contents(db: Path) -> tuple[set[str], int, set[tuple[str, str]]]:
    with sqlite3.connect(db) as conn:
        urls = [url for (url,) in conn.execute("SELECT url FROM pages")]
        links = set(conn.execute("SELECT source, url FROM links"))
    return set(urls), len(urls), links


def run(cmd: list[str], cwd: Path, kill_at: int | None = None) -> tuple[int, float, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    with (cwd / "log").open("ab") as log:
        process = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if kill_at is not None:
            while process.poll() is None and count(cwd / "crawl.db") < kill_at:
                time.sleep(0.05)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        code = process.wait()
    return code, time.monotonic() - started, count(cwd / "crawl.db")


def bench(site: TinySite, pages: int, kills: int, mode: str, rng: random.Random) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-resume-") as tmp:
        plain, resumed = Path(tmp, "plain"), Path(tmp, "resumed")
        plain.mkdir()
        resumed.mkdir()
        code, plain_seconds, _ = run(command(site, pages, mode, []), plain)
        assert code == 0, (plain / "log").read_text()[-2000:]
        cmd = command(site, pages, mode, ["--job-dir", "job"])
        step = pages // (kills + 1)
        thresholds = [rng.randint(i * step + 10, (i + 1) * step) for i in range(kills)]
        seconds, killed = 0.0, []
        for threshold in thresholds:
            _, took, stored = run(cmd, resumed, kill_at=threshold)
            seconds += took
            killed.append(stored)
        code, took, _ = run(cmd, resumed)
        seconds += took
        assert code == 0, (resumed / "log").read_text()[-2000:]
        want, _, want_links = contents(plain / "crawl.db")
        got, rows, got_links = contents(resumed / "crawl.db")
        print(
            f"{mode:>6} {len(want):>6,} {len(want - got):>5} {len(got - want):>5} "
            f"{rows - len(got):>5} {len(want_links - got_links):>6} "
            f"{' '.join(str(k) for k in killed):>18} {plain_seconds:>7.0f} {seconds:>7.0f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--mode", choices=("http", "render", "both"), default="both")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else time.time_ns() % 1_000_000
    print(f"seed {seed}; {args.pages:,} catalogue items; {args.kills} SIGKILLs per crawl")
    print(
        f"{'mode':>6} {'pages':>6} {'lost':>5} {'extra':>5} {'dupes':>5} {'links-':>6} "
        f"{'pages at each kill':>18} {'plain s':>7} {'resumed s':>7}"
    )
    rng = random.Random(seed)
    modes = ("http", "render") if args.mode == "both" else (args.mode,)
    with TinySite() as site:
        for mode in modes:
            bench(site, args.pages, args.kills, mode, rng)


if __name__ == "__main__":
    main()
