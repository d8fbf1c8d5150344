"""Authenticated crawl of a 300-page protected area: all-browser vs browser login, then HTTP.

Run with ``python -m bench.bench_auth``.  An in-process tinysite serves the
payments app; ``crawler crawl`` runs as a subprocess (as a user runs it) on
``/pay/area/?pages=300`` logged in as alice (it must find the 309 pages of
``fixtures.tinysite.payments.protected_targets(300)``), in two modes that
take turns in each round so they see the same machine state:

* ``all-browser``: ``--login-with browser --render always``: the login and
  every page in Chromium;
* ``browser login, then HTTP``: ``--login-with browser``: the login in
  Chromium, its cookies handed to Scrapy's jar, every page over plain HTTP.

Pages/s is the number of protected pages stored with status 200 over the
crawl's ``elapsed_time_seconds`` (spider open to close, the login and the
browser start included), and "after login" over the time from the first to
the last of those pages (their ``fetched_at``); the best round of each mode
is reported, and the ratios.  Both modes must find every page.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from fixtures.tinysite import payments
from fixtures.tinysite.server import TinySite

PASSWORD_ENV = "BENCH_PAY_PASSWORD"
USER = "alice"
MODES = {
    "all-browser": ("--login-with", "browser", "--render", "always"),
    "browser login, then HTTP": ("--login-with", "browser"),
}


@dataclass(frozen=True)
class Run:
    mode: str
    pages: int  # protected pages stored with status 200
    rendered: int
    elapsed: float  # the crawl's elapsed_time_seconds
    span: float  # first to last protected page fetched: the crawl after the login
    wall: float  # the whole command, Python start included

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.elapsed

    @property
    def pages_per_second_after_login(self) -> float:
        return self.pages / self.span


def crawl_once(site: TinySite, mode: str, pages: int, pool_size: int) -> Run:
    start = f"{payments.AREA_PATH}?pages={pages}"
    targets = payments.protected_targets(pages)
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as directory:
        db = Path(directory) / "crawl.db"
        command = [
            sys.executable,
            "-m",
            "crawler.cli",
            "crawl",
            site.url(start),
            "--login",
            site.url(payments.LOGIN_PATH),
            "--username",
            USER,
            "--password-env",
            PASSWORD_ENV,
            *MODES[mode],
            "--store",
            f"sqlite:///{db}",
            "--log-level",
            "WARNING",
            "-s",
            "SELENIUM_ALLOWED_HOSTS=127.0.0.1",
            "-s",
            f"SELENIUM_POOL_SIZE={pool_size}",
            "-s",
            "CRAWLER_MAX_PAGES_PER_PATTERN=0",  # the area's pages are one URL pattern
        ]
        env = {**os.environ, PASSWORD_ENV: payments.USERS[USER]}
        began = time.perf_counter()
        proc = subprocess.run(
            command, cwd=directory, env=env, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - began
        if proc.returncode != 0:
            raise SystemExit(f"{mode} crawl failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        conn = sqlite3.connect(db)
        try:
            rows = conn.execute("select url, status, rendered, fetched_at from pages").fetchall()
            [stats_json] = conn.execute(
                "select stats from runs order by id desc limit 1"
            ).fetchone()
        finally:
            conn.close()
    found = set()
    rendered = 0
    times = []
    for url, status, was_rendered, fetched_at in rows:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if status == 200 and target in targets:
            found.add(target)
            rendered += bool(was_rendered)
            times.append(datetime.fromisoformat(fetched_at).timestamp())
    missing = targets - found
    if missing:
        raise SystemExit(
            f"{mode} missed {len(missing)} protected pages, e.g. {sorted(missing)[:3]}"
        )
    elapsed = float(json.loads(stats_json)["elapsed_time_seconds"])
    return Run(mode, len(found), rendered, elapsed, max(times) - min(times), wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300, help="statements in the area")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both modes")
    parser.add_argument("--pool-size", type=int, default=4, help="SELENIUM_POOL_SIZE")
    args = parser.parse_args(argv)
    best: dict[str, Run] = {}
    with TinySite() as site:
        for round_number in range(args.rounds):
            order = list(MODES) if round_number % 2 == 0 else list(reversed(MODES))
            for mode in order:
                run = crawl_once(site, mode, args.pages, args.pool_size)
                print(
                    f"round {round_number + 1}: {mode:<26} {run.pages} pages "
                    f"({run.rendered} rendered) in {run.elapsed:.2f} s "
                    f"= {run.pages_per_second:.1f} pages/s; after the login "
                    f"{run.pages_per_second_after_login:.1f} pages/s "
                    f"(command {run.wall:.1f} s)",
                    flush=True,
                )
                if mode not in best or run.pages_per_second > best[mode].pages_per_second:
                    best[mode] = run
    print()
    header = f"{'mode':<26} {'pages':>5} {'rendered':>8} {'crawl s':>8} {'pages/s':>8}"
    print(f"{header} {'after login':>12}")
    for mode in MODES:
        run = best[mode]
        print(
            f"{mode:<26} {run.pages:>5} {run.rendered:>8} {run.elapsed:>8.2f} "
            f"{run.pages_per_second:>8.1f} {run.pages_per_second_after_login:>12.1f}"
        )
    browser, handoff = (best[mode] for mode in MODES)
    print(
        f"\nbrowser login, then HTTP / all-browser: "
        f"{handoff.pages_per_second / browser.pages_per_second:.1f}x "
        f"({handoff.pages_per_second_after_login / browser.pages_per_second_after_login:.1f}x "
        "after the login)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
