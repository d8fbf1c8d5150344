"""Memory: peak RSS of plain HTTP site crawls of growing size, and their pages/s.

``python -m bench.bench_memory [--pages 2000 20000] [--option ARG ...]
[--variant LABEL=ARGS ...]``

Each size is one ``crawler crawl URL/catalog/?size=N --render never`` to a
fresh SQLite store, in its own process, against the tinysite catalogue
(``fixtures/tinysite/catalog.py``: N item pages of about 5 KB with 10 links
each) served from this process.  The crawl's peak resident set size is the
``ru_maxrss`` of a small wrapper process's only child (the crawl), read after
it ends.  Sizes run smallest first, side by side in one table, with the
growth per page between consecutive sizes (the slope: what each stored page
leaves in memory).  ``--option`` passes more arguments to ``crawler crawl``
(``--option=-s --option=NAME=VALUE``) in every run.  ``--variant LABEL=ARGS``
(repeatable; ``ARGS`` split as a shell would) adds a crawl of each size with
those arguments besides the one without, the runs of a size taking turns, so
two configurations are compared side by side on the same machine load.  The
default sizes take about 3 minutes; ``--pages 100000`` about 15.
"""

from __future__ import annotations

import argparse
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fixtures.tinysite import catalog
from fixtures.tinysite.server import TinySite

# Runs argv[2:] and writes the peak RSS (KiB) and the CPU seconds (user + system)
# of that only child to the file argv[1].
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(code)
"""
TARGET_MIB = 400  # issue 10: a 100,000-page HTTP crawl


@dataclass(frozen=True)
class Run:
    variant: str  # "default": no arguments besides --option
    size: int
    pages: int  # pages stored with status 200
    seconds: float  # wall time
    cpu_seconds: float  # the crawl process's user + system time
    peak_mib: float
    exit_code: int

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    @property
    def pages_per_cpu_second(self) -> float:
        """Throughput that other jobs on the machine do not change as much as wall time."""
        return self.pages / self.cpu_seconds if self.cpu_seconds else 0.0


def crawl(site: TinySite, size: int, work: Path, options: list[str], variant: str) -> Run:
    name = f"{size}-{len(list(work.glob(f'crawl-{size}-*.log')))}"
    db = work / f"crawl-{name}.db"
    peak_file = work / f"peak-{name}"
    command = [
        sys.executable,
        "-m",
        "crawler.cli",
        "crawl",
        site.url(f"{catalog.INDEX_PATH}?size={size}"),
        "--render",
        "never",
        "-s",
        "CRAWLER_MAX_PAGES_PER_PATTERN=0",  # catalogue items are one URL pattern
        "--store",
        f"sqlite:///{db}",
        "--log-level",
        "WARNING",
        *options,
    ]
    started = time.monotonic()
    with (work / f"crawl-{name}.log").open("w") as log:
        code = subprocess.call(
            [sys.executable, "-c", _WRAPPER, str(peak_file), *command],
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    seconds = time.monotonic() - started
    with sqlite3.connect(db) as conn:
        (pages,) = conn.execute("select count(*) from pages where status = 200").fetchone()
    peak_kib, cpu_seconds = peak_file.read_text().split()
    return Run(variant, size, pages, seconds, float(cpu_seconds), int(peak_kib) / 1024, code)


def table(runs: list[Run]) -> list[str]:
    width = max(len("variant"), *(len(run.variant) for run in runs))
    lines = [
        f"{'variant':<{width}} {'catalogue':>10} {'pages':>8} {'seconds':>8} {'pages/s':>8} "
        f"{'CPU s':>6} {'pages/CPU s':>11} {'peak RSS':>9} {'KiB/page':>9} {'exit':>4}",
        "-" * (82 + width),
    ]
    previous_of: dict[str, Run] = {}
    for run in sorted(runs, key=lambda r: (r.variant != "default", r.variant, r.size)):
        previous = previous_of.get(run.variant)
        slope = (
            f"{(run.peak_mib - previous.peak_mib) * 1024 / (run.pages - previous.pages):9.2f}"
            if previous is not None and run.pages > previous.pages
            else f"{'':>9}"
        )
        lines.append(
            f"{run.variant:<{width}} {run.size:>10,} {run.pages:>8,} {run.seconds:>8.0f} "
            f"{run.pages_per_second:>8.0f} {run.cpu_seconds:>6.0f} "
            f"{run.pages_per_cpu_second:>11.0f} "
            f"{run.peak_mib:>5.0f} MiB {slope} {run.exit_code:>4}"
        )
        previous_of[run.variant] = run
    lines.append("")
    lines.append(
        "CPU s: the crawl's user + system time (pages/CPU s compares configurations "
        "on a busy machine better than pages/s). "
        "KiB/page: peak RSS growth per stored page from the size above. "
        f"Target: a 100,000-page crawl under {TARGET_MIB} MiB."
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_memory", description=__doc__)
    parser.add_argument(
        "--pages",
        "--sizes",
        type=int,
        nargs="+",
        default=[2_000, 20_000],
        help="catalogue sizes (pages) to crawl, one crawl each",
    )
    parser.add_argument("--option", action="append", default=[], help="a crawler crawl argument")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=ARGS",
        help="also crawl each size with these crawler crawl arguments",
    )
    args = parser.parse_args(argv)
    variants: dict[str, list[str]] = {"default": []}
    for text in args.variant:
        label, sep, rest = text.partition("=")
        if not sep or not label or label in variants:
            parser.error(f"--variant takes LABEL=ARGS with a new label, not {text!r}")
        variants[label] = shlex.split(rest)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp, TinySite() as site:
        for size in sorted(args.pages):
            for label, extra in variants.items():
                run = crawl(site, size, Path(tmp), [*args.option, *extra], label)
                print(
                    f"  {label} {size:,}: {run.pages:,} pages in {run.seconds:.0f} s, "
                    f"peak {run.peak_mib:.0f} MiB",
                    file=sys.stderr,
                )
                runs.append(run)
    print("\n".join(table(runs)))


if __name__ == "__main__":
    main()
