"""Scale: CPU per page of a plain HTTP crawl against vanilla Scrapy, side by side.

``python -m bench.bench_scale [--pages 5000] [--latency-ms 50] [--repeat 1]
[--sections zero latency] [--option ARG ...] [--profile DIR]``

Generates the tinysite catalogue as static files on disk (``--pages`` item
pages of about 5 KB with 10 links each, plus the index:
``fixtures/tinysite/catalog.py``) and crawls all of it, in one run, with

1. **vanilla**: a Scrapy ``CrawlSpider`` with Scrapy's defaults (one
   ``Rule(LinkExtractor(), callback=..., follow=True)``, ``allowed_domains``
   the site's host; its callback yields the URL and the title); only
   ``LOG_LEVEL`` is INFO rather than Scrapy's DEBUG, as ours logs at INFO;
2. **ours**: ``crawler crawl URL --render never`` with its defaults, to a fresh
   SQLite store, and ``-s CRAWLER_MAX_PAGES_PER_PATTERN=0`` (every catalogue
   item is one URL pattern, which the trap guard would otherwise cap);
3. **floor** (zero latency only): a Scrapy ``Spider`` with Scrapy's defaults
   that requests every page of the site from its start and whose callback does
   nothing: no parsing, no links, no items.  What Scrapy itself costs a page
   (HTTP client, engine, scheduler, duplicate filter, middlewares, one callback
   call), the floor under any crawler built on it.
4. **minimal** (zero latency only): the leanest crawler that follows links on
   Scrapy: a ``Spider`` whose callback reads each page's hrefs with one XPath,
   joins them and requests the new ones (a set), with ``CONCURRENT_ITEMS=1``;
   no items, no store, no robots.txt.  What following links costs at the least,
   before a crawler records anything.

Each crawl is its own process; its CPU time (user + system) is read by a
wrapper whose only child it is, so CPU ms per page includes start-up (1.4 to
1.8 CPU s for ours, 0.6 to 0.7 for vanilla: measured on a 10-item site first and
also taken out, "after start-up").  The crawlers take turns (``--repeat``
rounds), so they meet the same machine load.

Sections:

``zero``
    The site served by nginx (Debian's ``nginx-light``, installed by ``make
    bench``; one worker process, files from the page cache: the server is not
    the bottleneck).  Prints pages/s, CPU seconds, CPU ms per page and ours /
    vanilla.  Targets (issue 13): ours >= 1.5x vanilla pages/s, <= 2 ms CPU
    per page.
``latency``
    The same site from a server that waits ``--latency-ms`` before each
    answer (an asyncio server in its own process; it serves from memory, so at
    160 pages/s it uses a few percent of a core).  Steady-state pages/s is the
    rate of the server's answers between the 10th and the 90th percentile of
    the crawl (no start-up, no tail); the politeness ceiling is
    ``CONCURRENT_REQUESTS_PER_DOMAIN / latency`` (8 / 0.05 s = 160 pages/s).
    Target: ours >= 0.9 of the ceiling.

More sections (e.g. the frontier's 1-vs-2 workers) register a function in
:data:`SECTIONS`: it gets the :class:`Bench` (the site on disk, the servers'
helpers, the crawl runners) and returns the lines it prints.

``--variant LABEL=ARGS`` adds crawls of ours with more ``crawler crawl``
arguments (zero latency); ``--baseline DIR`` adds crawls of ours from another
source tree (``git archive COMMIT | tar -x -C DIR``), labelled ``baseline``,
for before/after in one run.

``--profile DIR`` runs each crawl of ours under cProfile and writes
``DIR/ours-<section>-<round>.prof``; CPU numbers are then not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.sites import answers, delayed_server, generate_site, nginx
from fixtures.tinysite import catalog

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# Runs argv[2:] and writes the CPU seconds (user + system) of that only child to argv[1].
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_utime + usage.ru_stime}")
sys.exit(code)
"""

# What the vanilla and floor scripts share: their stats written to a JSON file at the
# end (the integer ones), Scrapy's defaults but LOG_LEVEL INFO.
_SCRIPT_PRELUDE = """
import json, sys
from scrapy.crawler import CrawlerProcess

class StatsToFile:
    stats_file = ""

    def closed(self, reason):
        stats = self.crawler.stats.get_stats()
        with open(self.stats_file, "w") as f:
            json.dump({k: v for k, v in stats.items() if isinstance(v, int)}, f)

def run(spider):
    process = CrawlerProcess({"LOG_LEVEL": "INFO"})
    process.crawl(spider)
    process.start()
"""

# Vanilla Scrapy: argv[1] start URL, argv[2] host, argv[3] a JSON file for the stats.
_VANILLA = (
    _SCRIPT_PRELUDE
    + """
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule

class Vanilla(StatsToFile, CrawlSpider):
    name = "vanilla"
    allowed_domains = [sys.argv[2]]
    start_urls = [sys.argv[1]]
    rules = (Rule(LinkExtractor(), callback="parse_item", follow=True),)
    stats_file = sys.argv[3]

    def parse_item(self, response):
        yield {"url": response.url, "title": response.css("title::text").get()}

run(Vanilla)
"""
)

# Scrapy's floor: argv[1] a file of URLs (one a line), argv[2] a JSON file for the stats.
# Every page is requested from the start, its callback does nothing: what Scrapy itself
# costs a page (download, engine, scheduler, one callback), no parsing, no links.
_FLOOR = (
    _SCRIPT_PRELUDE
    + """
from scrapy import Request, Spider

class Floor(StatsToFile, Spider):
    name = "floor"
    stats_file = sys.argv[2]

    async def start(self):
        with open(sys.argv[1]) as f:
            for line in f:
                yield Request(line.strip(), callback=self.parse)

    def parse(self, response):
        return None

run(Floor)
"""
)

# The leanest crawler that follows links on Scrapy: argv[1] start URL, argv[2] a JSON
# file for the stats.  Each page's hrefs by one XPath, joined with urljoin, new ones
# (a set) requested; no items, no store; CONCURRENT_ITEMS=1 (Scrapy starts that many
# tasks for each response's output).  Run from a file: Scrapy reads a generator
# callback's source.
_MINIMAL = (
    _SCRIPT_PRELUDE.replace('{"LOG_LEVEL": "INFO"}', '{"LOG_LEVEL": "INFO", "CONCURRENT_ITEMS": 1}')
    + """
from scrapy import Request, Spider

class Minimal(StatsToFile, Spider):
    name = "minimal"
    start_urls = [sys.argv[1]]
    stats_file = sys.argv[2]
    seen = set(start_urls)

    def parse(self, response):
        for href in response.xpath("//a/@href").getall():
            url = response.urljoin(href)
            if url not in self.seen:
                self.seen.add(url)
                yield Request(url, callback=self.parse)

run(Minimal)
"""
)

CEILING_REQUESTS = 8  # Scrapy's CONCURRENT_REQUESTS_PER_DOMAIN, ours and vanilla
TARGET_RATIO = 1.5  # ours / vanilla pages/s at zero latency (issue 13)
TARGET_CPU_MS = 2.0  # ours, CPU ms per page (issue 13)
STARTUP_PAGES = 10  # the small site that measures a crawler's start-up CPU
TARGET_CEILING = 0.9  # ours steady-state pages/s / politeness ceiling (issue 13)


@dataclass(frozen=True)
class Run:
    """One crawl: ``pages`` answered 200, ``seconds`` wall, ``cpu_seconds`` user + system."""

    crawler: str  # "vanilla" or "ours"
    pages: int
    seconds: float
    cpu_seconds: float
    exit_code: int
    steady_pages_per_second: float | None = None  # from the server's answer times

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu_seconds / self.pages if self.pages else float("inf")


@dataclass
class Bench:
    """What a section gets: the generated site, the work directory and the options."""

    root: Path  # the site's files (``catalog/index.html``, ``catalog/item/N.html``)
    work: Path  # scratch space of this run
    pages: int
    latency_ms: float
    repeat: int
    options: list[str] = field(default_factory=list)  # more crawler crawl arguments
    # label -> crawler crawl arguments: more crawls of ours in the zero-latency section
    variants: dict[str, list[str]] = field(default_factory=dict)
    baseline: Path | None = None  # another source tree of ours, crawled as "baseline"
    profile: Path | None = None
    _runs: int = 0

    def scratch(self, name: str) -> Path:
        self._runs += 1
        path = self.work / f"{self._runs:03d}-{name}"
        path.mkdir()
        return path

    def crawl_vanilla(self, start_url: str) -> Run:
        work = self.scratch("vanilla")
        host = start_url.split("/")[2].split(":")[0]
        stats_file = work / "stats.json"
        argv = [sys.executable, "-c", _VANILLA, start_url, host, str(stats_file)]
        code, seconds, cpu = _timed(argv, work)
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        pages = stats.get("downloader/response_status_count/200", 0)
        return Run("vanilla", pages, seconds, cpu, code)

    def crawl_floor(self, start_url: str, pages: int) -> Run:
        """Scrapy's floor (:data:`_FLOOR`): the index and its ``pages`` items, each
        requested from the start and not parsed."""
        work = self.scratch("floor")
        urls = work / "urls.txt"
        base = start_url.removesuffix(catalog.INDEX_PATH)
        lines = [start_url] + [base + catalog.item_path(n) for n in range(pages)]
        urls.write_text("\n".join(lines) + "\n")
        stats_file = work / "stats.json"
        argv = [sys.executable, "-c", _FLOOR, str(urls), str(stats_file)]
        code, seconds, cpu = _timed(argv, work)
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        pages_done = stats.get("downloader/response_status_count/200", 0)
        return Run("floor", pages_done, seconds, cpu, code)

    def crawl_minimal(self, start_url: str) -> Run:
        """The leanest link-following crawler on Scrapy (:data:`_MINIMAL`)."""
        work = self.scratch("minimal")
        script = work / "minimal.py"
        script.write_text(_MINIMAL)
        stats_file = work / "stats.json"
        code, seconds, cpu = _timed([sys.executable, str(script), start_url, str(stats_file)], work)
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        pages = stats.get("downloader/response_status_count/200", 0)
        return Run("minimal", pages, seconds, cpu, code)

    def crawl_ours(
        self,
        start_url: str,
        label: str = "ours",
        extra: Sequence[str] = (),
        tree: Path | None = None,
    ) -> Run:
        """``crawler crawl`` of this tree, or of the source tree ``tree`` (``--baseline``)."""
        work = self.scratch(label)
        db = work / "crawl.db"
        argv = [sys.executable]
        if self.profile is not None:
            self.profile.mkdir(parents=True, exist_ok=True)
            out = self.profile / f"{label}-{self._runs:03d}.prof"
            argv += ["-m", "cProfile", "-o", str(out)]
        argv += ["-m", "crawler.cli"]
        argv += [
            "crawl",
            start_url,
            "--render",
            "never",
            "-s",
            "CRAWLER_MAX_PAGES_PER_PATTERN=0",
            "--store",
            f"sqlite:///{db}",
            *self.options,
            *extra,
        ]
        code, seconds, cpu = _timed(argv, work, tree)
        pages = 0
        if db.exists():
            with sqlite3.connect(db) as conn:
                (pages,) = conn.execute("select count(*) from pages where status = 200").fetchone()
        return Run(label, pages, seconds, cpu, code)


def _timed(argv: list[str], cwd: Path, tree: Path | None = None) -> tuple[int, float, float]:
    """Runs ``argv`` under the wrapper: (exit code, wall seconds, CPU seconds)."""
    cpu_file = cwd / "cpu"
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(tree or Path(__file__).resolve().parent.parent)}
    with (cwd / "crawl.log").open("w") as log:
        code = subprocess.call(
            [sys.executable, "-c", _WRAPPER, str(cpu_file), *argv],
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    seconds = time.monotonic() - started
    return code, seconds, float(cpu_file.read_text())


def steady_rate(times: list[float]) -> float:
    """Answers per second between the 10th and the 90th percentile answer."""
    if len(times) < 20:
        return 0.0
    times = sorted(times)
    low, high = times[len(times) // 10], times[len(times) * 9 // 10]
    return (len(times) * 8 // 10) / (high - low) if high > low else 0.0


def _table(runs: list[Run], extra: Callable[[Run], str] | None = None) -> list[str]:
    head = (
        f"{'crawler':<10} {'pages':>6} {'wall s':>7} {'pages/s':>8} {'CPU s':>7} "
        f"{'CPU ms/page':>11}"
    )
    lines = [head + (" steady pages/s" if extra else ""), "-" * (len(head) + (15 if extra else 0))]
    for run in runs:
        line = (
            f"{run.crawler:<10} {run.pages:>6,} {run.seconds:>7.1f} {run.pages_per_second:>8.0f} "
            f"{run.cpu_seconds:>7.1f} {run.cpu_ms_per_page:>11.2f}"
        )
        lines.append(
            line
            + (extra(run) if extra else "")
            + ("" if run.exit_code == 0 else f"  exit {run.exit_code}")
        )
    return lines


def _ratios(runs: list[Run], startup: dict[str, Run]) -> list[str]:
    """Ours against vanilla (medians over the rounds), and CPU per page net of
    start-up: (CPU s - the small crawl's CPU s) / (pages - its pages)."""
    by: dict[str, list[Run]] = {}
    for run in runs:
        by.setdefault(run.crawler, []).append(run)
    ours, vanilla = by.get("ours", []), by.get("vanilla", [])
    if not ours or not vanilla or not all(r.pages for r in runs):
        return ["(a crawl stored no page: see its log with --keep)"]
    pairs = list(zip(ours, vanilla, strict=False))
    rate = statistics.median(o.pages_per_second / v.pages_per_second for o, v in pairs)
    cpu = statistics.median(v.cpu_ms_per_page / o.cpu_ms_per_page for o, v in pairs)
    lines = [
        f"ours / vanilla pages/s: {rate:.2f}x (target >= {TARGET_RATIO}x; median of rounds)",
        f"ours / vanilla pages per CPU second: {cpu:.2f}x",
    ]
    if by.get("baseline"):
        pairs_base = list(zip(ours, by["baseline"], strict=False))
        gain = statistics.median(b.cpu_ms_per_page / o.cpu_ms_per_page for o, b in pairs_base)
        lines.append(f"ours / baseline pages per CPU second: {gain:.2f}x")
    for name, crawls in by.items():
        total = statistics.median(r.cpu_ms_per_page for r in crawls)
        small = startup.get(name if name in startup else "ours")
        line = f"{name} CPU per page: {total:.2f} ms"
        if small is not None:
            net = statistics.median(
                1000 * (r.cpu_seconds - small.cpu_seconds) / (r.pages - small.pages) for r in crawls
            )
            line += f", {net:.2f} ms after start-up ({small.cpu_seconds:.1f} CPU s)"
        if name == "ours":
            line += f" (target <= {TARGET_CPU_MS} ms)"
        lines.append(line)
    return lines


def section_zero(bench: Bench) -> list[str]:
    """Zero latency: nginx; vanilla and ours (and the variants) take turns.

    First each crawls a site of :data:`STARTUP_PAGES` items once: its CPU
    time is the crawler's start-up (imports, opening the store) and end.
    """
    small = bench.work / "small-site"
    generate_site(small, STARTUP_PAGES)
    startup: dict[str, Run] = {}
    with nginx(small, bench.scratch("nginx-small")) as served:
        start = served.url + catalog.INDEX_PATH
        startup["vanilla"] = bench.crawl_vanilla(start)
        startup["ours"] = bench.crawl_ours(start)
        startup["floor"] = bench.crawl_floor(start, STARTUP_PAGES)
        startup["minimal"] = bench.crawl_minimal(start)
        if bench.baseline is not None:
            startup["baseline"] = bench.crawl_ours(start, "baseline", tree=bench.baseline)
    runs = []
    with nginx(bench.root, bench.scratch("nginx")) as served:
        start = served.url + catalog.INDEX_PATH
        for _ in range(bench.repeat):
            crawls: list[Callable[[], Run]] = [
                lambda: bench.crawl_vanilla(start),
                lambda: bench.crawl_ours(start),
                lambda: bench.crawl_floor(start, bench.pages),
                lambda: bench.crawl_minimal(start),
            ]
            crawls += [
                lambda label=label, extra=extra: bench.crawl_ours(start, label, extra)
                for label, extra in bench.variants.items()
            ]
            if bench.baseline is not None:
                crawls.append(lambda: bench.crawl_ours(start, "baseline", tree=bench.baseline))
            for crawl in crawls:
                run = crawl()
                print(
                    f"  zero {run.crawler}: {run.pages:,} pages, {run.cpu_seconds:.1f} CPU s",
                    file=sys.stderr,
                )
                runs.append(run)
    return [
        f"Zero latency: nginx, {bench.pages:,} items",
        "",
        *_table(runs),
        "",
        *_ratios(runs, startup),
    ]


def section_latency(bench: Bench) -> list[str]:
    """``--latency-ms`` per answer: steady-state pages/s against the politeness ceiling."""
    ceiling = CEILING_REQUESTS / (bench.latency_ms / 1000)
    runs = []
    for _ in range(bench.repeat):
        for name in ("vanilla", "ours", *(["baseline"] if bench.baseline else [])):
            work = bench.scratch(f"server-{name}")
            times_file = work / "answers"
            with delayed_server(bench.root, bench.latency_ms, times_file) as served:
                start = served.url + catalog.INDEX_PATH
                if name == "vanilla":
                    run = bench.crawl_vanilla(start)
                else:
                    tree = bench.baseline if name == "baseline" else None
                    run = bench.crawl_ours(start, name, tree=tree)
            times = answers(times_file)
            run = Run(
                run.crawler,
                run.pages,
                run.seconds,
                run.cpu_seconds,
                run.exit_code,
                steady_rate(times),
            )
            print(
                f"  latency {run.crawler}: {run.steady_pages_per_second:.0f} pages/s steady",
                file=sys.stderr,
            )
            runs.append(run)

    def steady(run: Run) -> str:
        rate = run.steady_pages_per_second or 0.0
        return f" {rate:>8.0f} ({rate / ceiling:.2f})"

    ours = [r.steady_pages_per_second or 0.0 for r in runs if r.crawler == "ours"]
    return [
        f"{bench.latency_ms:g} ms latency: asyncio server, {bench.pages:,} items; politeness "
        f"ceiling {CEILING_REQUESTS} / {bench.latency_ms / 1000:g} s = {ceiling:.0f} pages/s",
        "",
        *_table(runs, steady),
        "",
        f"ours steady-state / ceiling: {statistics.median(ours) / ceiling:.2f} "
        f"(target >= {TARGET_CEILING})",
    ]


SECTIONS: dict[str, Callable[[Bench], list[str]]] = {
    "zero": section_zero,
    "latency": section_latency,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_scale", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--pages", type=int, default=5000, help="catalogue items (pages)")
    parser.add_argument(
        "--latency-ms", type=float, default=50.0, help="the latency section's delay"
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of vanilla then ours")
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--option", action="append", default=[], help="a crawler crawl argument")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also crawl with ours from this source tree (e.g. `git archive main` unpacked)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=ARGS",
        help="zero latency: also crawl with ours and these crawler crawl arguments",
    )
    parser.add_argument(
        "--profile", type=Path, help="cProfile each crawl of ours into this directory"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, stores)"
    )
    args = parser.parse_args(argv)
    variants: dict[str, list[str]] = {}
    for text in args.variant:
        label, sep, rest = text.partition("=")
        if not sep or not label or label in ("ours", "vanilla", *variants):
            parser.error(f"--variant takes LABEL=ARGS with a new label, not {text!r}")
        variants[label] = shlex.split(rest)
    tmp = tempfile.mkdtemp(prefix="bench-scale-")
    try:
        root = Path(tmp) / "site"
        size = generate_site(root, args.pages)
        print(f"site: {args.pages + 1:,} pages, {size / 1e6:.1f} MB in {tmp}", file=sys.stderr)
        bench = Bench(
            root,
            Path(tmp),
            args.pages,
            args.latency_ms,
            args.repeat,
            args.option,
            variants,
            args.baseline.resolve() if args.baseline else None,
            args.profile,
        )
        for index, name in enumerate(args.sections):
            lines = SECTIONS[name](bench)
            print(("\n" if index else "") + "\n".join(lines), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp)
    print(
        f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
