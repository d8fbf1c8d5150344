"""Browser rendering: pool sizes vs a blocking middleware, and --render never/auto/always.

``python -m bench.bench_browser [--pages 120] [--site-size 500] [--only PART]``

1. Pages/s rendering ``--pages`` catalogue pages whose server time is 300 ms,
   with pool sizes 1, 2, 4 and with a scrapy-selenium-style middleware (one
   driver called on the reactor thread), each crawl in its own process,
   browser start-up included.
2. The same 500-page site where 10% of the pages write links with JavaScript,
   crawled with ``--render never``, ``auto`` and ``always``: pages found,
   links found only by script, renders, wall time.
3. Browser launches one at a time vs all at once (``SELENIUM_CONCURRENT_STARTS``),
   pool of 4: 8 pages the site holds 1 s, rendered, beside 50 plain pages;
   when the first and the last render and the last plain page are done.
4. What waiting for the network to go quiet after load costs (``SELENIUM_SETTLE``
   at its default vs 0): ``--pages`` pages at 300 ms, pool of 4.
5. What exploring costs (``crawler.browser.explore``), in one run: pages/s
   rendering the same URLs with exploration and timers off
   (``CRAWLER_EXPLORE=none``, ``SELENIUM_TIMER_BUDGET=0``), timers only, and
   both on (the defaults), pool of 4; on the ``/explore/`` fixture pages (events,
   timers up to 5 s, a 10-page infinite scroll) and on catalogue pages (nothing
   to explore: the fixed cost).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crawler import default_settings
from fixtures.tinysite import catalog
from fixtures.tinysite.server import TinySite

SERVER_MS = 300
# Plain renders, as the blocking middleware does them: no events, no scrolling, no
# timer fast-forward (part 5 measures those).
PLAIN = ("-s", 'CRAWLER_EXPLORE="none"', "-s", "SELENIUM_TIMER_BUDGET=0")


def render_run(urls_file: Path, *options: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.render_run", str(urls_file), *options],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def pool_scaling(site: TinySite, pages: int, work: Path) -> list[str]:
    urls_file = work / "urls.txt"
    query = f"?size={pages}&delay={SERVER_MS}"
    urls_file.write_text("\n".join(site.url(catalog.item_path(n) + query) for n in range(pages)))
    rows = []
    baseline = render_run(urls_file, "--blocking", "--pool", "1")
    base_rate = baseline["pages"] / baseline["seconds"]
    rows.append(("blocking (scrapy-selenium style)", baseline, base_rate))
    for pool in (1, 2, 4):
        result = render_run(urls_file, "--pool", str(pool), *PLAIN)
        rows.append((f"pool of {pool}", result, result["pages"] / result["seconds"]))
    # Like for like: the blocking middleware reads the DOM right at the load event.
    result = render_run(urls_file, "--pool", "4", "-s", "SELENIUM_SETTLE=0", *PLAIN)
    rows.append(("pool of 4, SELENIUM_SETTLE=0", result, result["pages"] / result["seconds"]))
    base_steady = baseline["steady_rate"]
    lines = [
        f"{pages} catalogue pages, {SERVER_MS} ms server time each, rendered. pages/s: the whole"
        " run, process and browser start included; steady/s: first page done to last.",
        f"{'middleware':34} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'vs blocking':>12}"
        f" {'steady/s':>9} {'vs blocking':>12}",
    ]
    for name, result, rate in rows:
        steady = result["steady_rate"]
        lines.append(
            f"{name:34} {result['pages']:>6} {result['seconds']:>8.1f} {rate:>8.2f} "
            f"{rate / base_rate:>11.2f}x {steady:>9.2f} {steady / base_steady:>11.2f}x"
        )
    return lines


def launches(site: TinySite, work: Path, rounds: int = 3) -> list[str]:
    urls_file = work / "mixed.txt"
    renders = [site.url(catalog.item_path(n) + "?size=100&delay=1000") for n in range(8)]
    plain = [f"plain {site.url(catalog.item_path(n) + '?size=100')}" for n in range(50, 100)]
    urls_file.write_text("\n".join(renders + plain))
    runs: dict[int, list[dict[str, float]]] = {1: [], 4: []}
    for _ in range(rounds):
        for starts in runs:
            runs[starts].append(render_run(urls_file, "--pool", "4", "--starts", str(starts)))
    lines = [
        "pool of 4; 8 rendered pages held 1 s by the site + 50 plain pages; seconds from the"
        f" crawl's start, median of {rounds} runs",
        f"{'launches at once':18} {'first render':>13} {'last render':>12} {'last plain':>11}"
        f" {'crawl':>7}",
    ]
    medians: dict[int, dict[str, float]] = {}
    for starts, results in runs.items():
        medians[starts] = {
            key: statistics.median(r[key] for r in results)
            for key in ("first_render", "last_render", "last_plain", "seconds")
        }
        m = medians[starts]
        lines.append(
            f"{starts:<18} {m['first_render']:>13.2f} {m['last_render']:>12.2f}"
            f" {m['last_plain']:>11.2f} {m['seconds']:>7.2f}"
        )
    one, four = medians[1], medians[4]
    first = one["first_render"] / four["first_render"]
    last = one["last_render"] / four["last_render"]
    lines.append(
        f"one at a time / all at once: first render in {first:.2f}x, last render in {last:.2f}x"
        " the time"
    )
    return lines


def settle_cost(site: TinySite, pages: int, work: Path, rounds: int = 2) -> list[str]:
    urls_file = work / "settle.txt"
    query = f"?size={pages}&delay={SERVER_MS}"
    urls_file.write_text("\n".join(site.url(catalog.item_path(n) + query) for n in range(pages)))
    default = f"{default_settings.SELENIUM_SETTLE:g}"
    runs: dict[str, list[dict[str, float]]] = {"0": [], default: []}
    for _ in range(rounds):
        for settle in runs:
            options = ("--pool", "4", "-s", f"SELENIUM_SETTLE={settle}")
            runs[settle].append(render_run(urls_file, *options))
    lines = [
        f"{pages} catalogue pages, {SERVER_MS} ms server time, pool of 4; median of {rounds} runs",
        f"{'SELENIUM_SETTLE':16} {'seconds':>8} {'steady/s':>9}",
    ]
    steady: dict[str, float] = {}
    for settle, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        steady[settle] = statistics.median(r["steady_rate"] for r in results)
        lines.append(f"{settle:16} {seconds:>8.1f} {steady[settle]:>9.2f}")
    ratio = steady[default] / steady["0"]
    lines.append(f"settle {default} s (the default) / no settle: {ratio:.2f}x the steady rate")
    return lines


EXPLORE_CONFIGS = {
    "off (none, timers 0)": ('CRAWLER_EXPLORE="none"', "SELENIUM_TIMER_BUDGET=0"),
    "timers only": ('CRAWLER_EXPLORE="none"', "SELENIUM_TIMER_BUDGET=10"),
    "on (the defaults)": ('CRAWLER_EXPLORE="safe"', "SELENIUM_TIMER_BUDGET=10"),
}
EXPLORE_PAGES = [
    "/explore/handlers",
    "/explore/select",
    "/explore/timers",
    "/explore/scroll",
    "/explore/danger",
    "/explore/same",
    *(f"/explore/quotes?page={n}" for n in range(1, 11)),
]


def explore_cost(site: TinySite, pages: int, work: Path) -> list[str]:
    sets = {
        "explore fixture": [site.url(p) for p in EXPLORE_PAGES] * max(1, pages // 16),
        "catalogue": [site.url(catalog.item_path(n) + f"?size={pages}") for n in range(pages)],
    }
    lines = [
        "Exploration cost, pool of 4 (pages/s, browser start-up included):",
        f"{'pages':16} {'config':22} {'pages':>6} {'seconds':>8} {'pages/s':>8}",
    ]
    for name, urls in sets.items():
        urls_file = work / f"explore-{name.split()[0]}.txt"
        urls_file.write_text("\n".join(urls))
        for config, assignments in EXPLORE_CONFIGS.items():
            options = ["--pool", "4"]
            for assignment in assignments:
                options += ["-s", assignment]
            result = render_run(urls_file, *options)
            rate = result["pages"] / result["seconds"]
            lines.append(
                f"{name:16} {config:22} {int(result['pages']):>6} {result['seconds']:>8.1f}"
                f" {rate:>8.2f}"
            )
    return lines


def render_modes(site: TinySite, size: int, work: Path) -> list[str]:
    start = site.url(f"{catalog.INDEX_PATH}?size={size}&js=10")
    lines = [
        f"{size}-page catalogue, 10% of pages write half their links with JavaScript:",
        f"{'--render':9} {'pages':>6} {'via script':>10} {'renders':>8} {'seconds':>8}",
    ]
    for mode in ("never", "auto", "always"):
        db = work / f"{mode}.db"
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "crawler.cli",
                "crawl",
                start,
                "--render",
                mode,
                "--forms",
                "none",
                "--store",
                f"sqlite:///{db}",
                "--log-level",
                "ERROR",
                "-s",
                "SELENIUM_ALLOWED_HOSTS=127.0.0.1",
                "-s",
                "CRAWLER_MAX_PAGES_PER_PATTERN=0",  # catalogue items are one URL pattern
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=1200,
        )
        seconds = time.monotonic() - started
        conn = sqlite3.connect(db)
        pages = conn.execute("select count(*) from pages where status = 200").fetchone()[0]
        script = conn.execute("select count(*) from pages where found_via = 'script'").fetchone()[0]
        stats = json.loads(conn.execute("select stats from runs").fetchone()[0])
        conn.close()
        renders = stats.get("selenium/renders", 0)
        lines.append(f"{mode:9} {pages:>6} {script:>10} {renders:>8} {seconds:>8.1f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=120)
    parser.add_argument("--site-size", type=int, default=500)
    parser.add_argument(
        "--only",
        choices=("pool", "modes", "launch", "settle", "explore"),
        help="run one part",
    )
    args = parser.parse_args()
    with TinySite() as site, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.only in (None, "pool"):
            print("\n".join(pool_scaling(site, args.pages, work)), flush=True)
            print()
        if args.only in (None, "modes"):
            print("\n".join(render_modes(site, args.site_size, work)), flush=True)
            print()
        if args.only in (None, "launch"):
            print("\n".join(launches(site, work)), flush=True)
            print()
        if args.only in (None, "settle"):
            print("\n".join(settle_cost(site, args.pages, work)), flush=True)
            print()
        if args.only in (None, "explore"):
            print("\n".join(explore_cost(site, args.pages, work)))


if __name__ == "__main__":
    main()
