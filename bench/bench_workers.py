"""Shared frontier: 1 worker vs 2 on this machine, and Redis memory per seen request.

``python -m bench.bench_workers [--pages 2000] [--latency-ms 50] [--fingerprints 1000000]
[--sections zero latency memory] [--repeat 1] [--baseline DIR] [--variant LABEL=ARGS]``

``zero``
    A static catalogue (``--pages`` items of about 5 KB with 10 links each, the
    tinysite's ``fixtures/tinysite/catalog.py`` written to disk) served by nginx
    (``worker_processes 1``, not the bottleneck).  A crawl without a
    frontier (``crawler crawl --render never --store postgresql://``, "none"),
    one shared crawl with one process (the same with ``--frontier``) and one
    with two (plus a ``crawler worker``, started first with ``--wait``), taking
    turns, into a PostgreSQL store (``tests/pgserver.py``)
    and a Redis (``tests/redisserver.py``) this benchmark starts.
``latency``
    The same with an asyncio server that answers after ``--latency-ms``.  One
    process is held by its ``CONCURRENT_REQUESTS_PER_DOMAIN`` (8) to 8 / latency
    pages/s; with the politeness shared across workers
    (``CRAWLER_FRONTIER_POLITENESS``, on by default) two processes share the
    host's 8 places and the same ceiling; without it, twice that.
``memory``
    ``INFO memory`` of an empty Redis before and after ``--fingerprints`` random
    20-byte fingerprints (what ``crawler.frontier.dupefilter`` adds per request)
    in one set, and the same for scrapy-redis's 40-hex-digit ones.

Pages/s is the pages answered over the span from the first to the last answer,
as the server saw it (process start-up and the idle close are left out); wall
seconds and CPU seconds (user + system of the crawler processes) are given too,
and what the servers did meanwhile: CPU seconds of redis-server, PostgreSQL
(postmaster and backends) and the HTTP server (read from ``/proc``), which share
the machine's cores with the workers, and Redis commands per page (``INFO
commandstats``: commands run by a Lua script count too) and script calls per page.
``--baseline DIR`` adds crawls with 1 and 2 workers of another source tree
(``git archive main | tar -x -C DIR``), labelled ``base``, and ``--variant
LABEL=ARGS`` crawls with 1 and 2 workers of this tree with more crawler
arguments (e.g. ``-s CRAWLER_FRONTIER_POLITENESS=False``), all taking turns.
The machine is shared: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.sites import Served, answers, delayed_server, generate_site, nginx, process_tree_cpu
from tests.pgserver import PostgresServer
from tests.redisserver import RedisServer

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.7  # 2 workers / 1 at zero latency on 2 cores (issue 13)
CEILING_REQUESTS = 8  # CONCURRENT_REQUESTS_PER_DOMAIN, per process here


@dataclass(frozen=True)
class Run:
    section: str
    workers: int
    pages: int  # 200 answers the server gave
    span: float  # seconds from the first to the last answer
    wall: float  # seconds from the first process start to the last exit
    cpu: float  # user + system seconds of the crawler processes
    codes: tuple[int, ...]
    servers: Servers
    tree: str = ""  # "" this tree, "base": the --baseline tree

    @property
    def rate(self) -> float:
        return self.pages / self.span if self.span > 0 else 0.0


@dataclass(frozen=True)
class Servers:
    """What the servers did during one run: CPU seconds (user + system, children
    included: :func:`bench.sites.process_tree_cpu`) and Redis commands."""

    redis: float
    postgres: float
    http: float  # nginx or the delayed server
    commands: dict[str, int]  # Redis INFO commandstats calls by command (in scripts too)

    @property
    def cpu(self) -> float:
        return self.redis + self.postgres + self.http

    def total(self, *names: str) -> int:
        """Calls of ``names`` (all commands without names)."""
        return sum(v for k, v in self.commands.items() if not names or k in names)


class ServerMeter:
    """Reads :class:`Servers` around a run: ``meter.start()`` ... ``meter.stop()``."""

    def __init__(self, redis_server: RedisServer, postgres: PostgresServer, http_pid: int) -> None:
        self.redis_server = redis_server
        self.postgres = postgres
        self.http_pid = http_pid
        self._before: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _pids(self) -> tuple[int, int, int]:
        assert self.redis_server.process is not None
        postmaster = int((self.postgres.dir / "postmaster.pid").read_text().split()[0])
        return self.redis_server.process.pid, postmaster, self.http_pid

    def _cpu(self) -> tuple[float, float, float]:
        redis_pid, postmaster, http = self._pids()
        return process_tree_cpu(redis_pid), process_tree_cpu(postmaster), process_tree_cpu(http)

    def start(self) -> None:
        self.redis_server.client().config_resetstat()
        self._before = self._cpu()

    def stop(self) -> Servers:
        after = self._cpu()
        stats = self.redis_server.client().info("commandstats")
        commands = {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if not name.startswith(("cmdstat_info", "cmdstat_config"))  # the meter's own
        }
        redis_s, postgres_s, http_s = (a - b for a, b in zip(after, self._before, strict=True))
        return Servers(redis_s, postgres_s, http_s, commands)


def crawl(
    base: str,
    workers: int,
    redis_url: str,
    store: str,
    work: Path,
    tree: Path = REPO_ROOT,
    extra: Sequence[str] = (),
) -> tuple[float, float, tuple[int, ...]]:
    """One shared crawl with ``workers`` processes (0: one crawl without a frontier)
    of the crawler in the source tree ``tree``, each with the arguments ``extra``
    too; (wall s, CPU s, exit codes)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    fast = [
        "-s", "CRAWLER_FRONTIER_IDLE_TIMEOUT=1",
        "-s", "LOG_LEVEL=WARNING",
        # The trap budget of a URL pattern (200 pages) is counted per process.
        "-s", "CRAWLER_MAX_PAGES_PER_PATTERN=0",
        *extra,
    ]  # fmt: skip
    cli = [sys.executable, "-m", "crawler.cli"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [*cli, "worker", redis_url, "--wait", "120", *fast],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(max(workers - 1, 0))
    ]
    starter = [*cli, "crawl", f"{base}/catalog/", "--render", "never", "--progress", "off"]
    frontier = ["--frontier", redis_url] if workers else []  # 0: no frontier at all
    processes.append(
        subprocess.Popen(
            [*starter, *frontier, "--store", store, *fast],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    )
    codes = []
    for process in processes:
        _, err = process.communicate(timeout=1800)
        codes.append(process.returncode)
        if process.returncode:
            print(err.decode()[-2000:], file=sys.stderr)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, tuple(codes)


def section(
    name: str,
    served: AbstractContextManager[Served],
    log: Path,
    args: argparse.Namespace,
    work: Path,
) -> list[Run]:
    """The crawls of one section against the server ``served``, whose answers are
    logged to ``log`` (:func:`bench.sites.answers`): no frontier, 1 and 2 workers,
    and 1 and 2 workers of ``args.baseline`` if given, taking turns."""
    trees: list[tuple[str, Path, list[str]]] = [("", REPO_ROOT, [])]
    trees += [(label, REPO_ROOT, extra) for label, extra in args.variants.items()]
    trees += [("base", args.baseline, [])] if args.baseline else []
    plan = [
        (label, tree, extra, workers)
        for label, tree, extra in trees
        for workers in (0, 1, 2)
        if workers or not label
    ]
    runs = []
    redis_server = RedisServer().start()
    postgres = PostgresServer().start()
    try:
        with served as server:
            meter = ServerMeter(redis_server, postgres, server.pid)
            for _ in range(args.repeat):
                for label, tree, extra, workers in plan:
                    redis_server.flush()
                    postgres.reset()
                    meter.start()
                    since = time.time()
                    wall, cpu, codes = crawl(
                        server.url, workers, redis_server.url, postgres.url, work, tree, extra
                    )
                    time.sleep(0.5 if name == "zero" else 0)  # nginx writes its log
                    servers = meter.stop()
                    times = answers(log, since) if name == "zero" else []
                    runs.append((label, workers, since, wall, cpu, codes, times, servers))
        if name != "zero":  # the delayed server writes its log when it stops
            runs = [
                (label, w, s, wall, cpu, codes, answers(log, s, s + wall), servers)
                for label, w, s, wall, cpu, codes, _, servers in runs
            ]
    finally:
        postgres.stop()
        redis_server.stop()
    return [
        Run(
            name,
            workers,
            len(times),
            (times[-1] - times[0]) if len(times) > 1 else 0.0,
            wall,
            cpu,
            codes,
            servers,
            label,
        )
        for label, workers, _, wall, cpu, codes, times, servers in runs
    ]


def table(runs: list[Run]) -> list[str]:
    """One line a run, then the ratios (means over the repeats) of this tree and
    of the baseline's.  Server columns: CPU seconds of redis-server, PostgreSQL
    and the HTTP server during the run; Redis commands per page (those run by
    scripts included) and script calls (EVALSHA) per page.

    The ceiling line bounds 2 workers / 1 when Redis, PostgreSQL and the HTTP
    server run on the same cores as the workers: one worker alone keeps one core
    busy (``1 / rate1`` CPU seconds a page) while the servers take theirs from the
    other, idle one (measured: a worker's CPU seconds over its wall seconds, start-up
    and its idle close included, were 0.86-0.95 in the runs of 2026-12-02; a worker that
    waits more than that makes the ceiling low); two workers share both cores with
    the servers, so even
    without any cost of their own for being two they reach at most
    ``2 / (1/rate1 + S)`` pages/s, ``S`` the servers' CPU seconds a page in the
    2-worker runs: ``2 / (1 + S * rate1)`` times one worker."""
    lines = [
        f"{'workers':>7} {'pages':>6} {'span s':>7} {'pages/s':>8} {'wall s':>7} "
        f"{'CPU s':>6} {'CPU ms/page':>11} {'exit':>6} {'redis s':>7} {'pg s':>5} "
        f"{'http s':>6} {'redis cmd/page':>14} {'scripts/page':>12}"
    ]
    for run in runs:
        per_page = 1000 * run.cpu / run.pages if run.pages else 0.0
        pages = run.pages or 1
        label = f"{run.tree} {run.workers}".strip() if run.workers else "none"
        lines.append(
            f"{label:>7} {run.pages:>6} {run.span:>7.1f} {run.rate:>8.1f} "
            f"{run.wall:>7.1f} {run.cpu:>6.1f} {per_page:>11.2f} "
            f"{','.join(map(str, run.codes)):>6} {run.servers.redis:>7.1f} "
            f"{run.servers.postgres:>5.1f} {run.servers.http:>6.1f} "
            f"{run.servers.total() / pages:>14.1f} "
            f"{run.servers.total('evalsha', 'eval') / pages:>12.1f}"
        )

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    for tree in dict.fromkeys(run.tree for run in runs):
        mine = [r for r in runs if r.tree == tree or (not r.workers)]
        rate = {n: mean([r.rate for r in mine if r.workers == n]) for n in (0, 1, 2)}
        cpu = {
            n: mean([r.cpu / r.pages for r in mine if r.workers == n and r.pages])
            for n in (0, 1, 2)
        }
        servers = mean([r.servers.cpu / r.pages for r in mine if r.workers == 2 and r.pages])
        if rate[1] and rate[2] and servers:
            ceiling = 2 / (1 + servers * rate[1])
            lines.append(
                f"{tree + ': ' if tree else ''}ceiling of 2 workers / 1 with the servers on "
                f"these cores (one worker keeping a core busy): "
                f"2 / (1 + {1000 * servers:.2f} ms x {rate[1]:.0f} pages/s) = "
                f"{ceiling:.2f}x; measured {rate[2] / rate[1]:.2f}x, "
                f"{100 * rate[2] / rate[1] / ceiling:.0f}% of it"
            )
        if rate[1] and rate[0] and cpu[0] and cpu[1]:
            lines.append(
                f"{tree + ': ' if tree else ''}2 workers / 1 worker, pages/s: "
                f"{rate[2] / rate[1]:.2f}x; 1 worker / no frontier: "
                f"{rate[1] / rate[0]:.2f}x; CPU per page, 1 worker / no frontier: "
                f"{cpu[1] / cpu[0]:.2f}x, 2 workers / 1: {cpu[2] / cpu[1]:.2f}x"
            )
    return lines


def memory(count: int) -> list[str]:
    """Redis ``used_memory`` per member of a set of ``count`` random fingerprints."""
    server = RedisServer().start()
    lines = [f"Redis memory per seen request ({count:,} fingerprints in one set, INFO memory)"]
    try:
        client = server.client()
        for label, size, hexed in (
            ("20-byte (ours)", 20, False),
            ("40-hex (scrapy-redis)", 20, True),
        ):
            client.flushdb()
            base = int(client.info("memory")["used_memory"])
            pipe = client.pipeline(transaction=False)
            batch = []
            for _ in range(count):
                fp = os.urandom(size)
                batch.append(fp.hex() if hexed else fp)
                if len(batch) == 10_000:
                    pipe.sadd("seen", *batch)
                    pipe.execute()
                    batch = []
            if batch:
                pipe.sadd("seen", *batch)
                pipe.execute()
            used = int(client.info("memory")["used_memory"]) - base
            lines.append(
                f"  {label}: {used / count:.1f} bytes each, "
                f"{used / 2**20 * 1_000_000 / count:.0f} MiB per million"
            )
    finally:
        server.stop()
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_workers", description=__doc__)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--fingerprints", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also crawl with 1 and 2 workers of this source tree (e.g. `git archive main` "
        "unpacked), labelled base",
    )
    parser.add_argument(
        "--sections", nargs="+", default=["zero", "latency", "memory"],
        choices=["zero", "latency", "memory"],
    )  # fmt: skip
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=ARGS",
        help="also crawl with 1 and 2 workers of this tree with these crawler arguments",
    )
    args = parser.parse_args(argv)
    args.variants = {}
    for text in args.variant:
        label, sep, rest = text.partition("=")
        if not sep or not label or label in ("base", *args.variants):
            parser.error(f"--variant takes LABEL=ARGS with a new label, not {text!r}")
        args.variants[label] = shlex.split(rest)
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        work = Path(tmp)
        root = work / "site"
        generate_site(root, args.pages)
        for name in args.sections:
            if name == "memory":
                print("\n".join(memory(args.fingerprints)))
                continue
            if name == "zero":
                served = nginx(root, work / "nginx", log=True)
                log = work / "nginx" / "access.log"
            else:
                log = work / "delayed" / "access.log"
                served = delayed_server(root, args.latency_ms, log)
            title = (
                f"Zero latency: nginx, {args.pages:,} items"
                if name == "zero"
                else f"{args.latency_ms:g} ms latency: asyncio server, {args.pages:,} items "
                f"(one process's ceiling {CEILING_REQUESTS} / {args.latency_ms / 1000:g} s = "
                f"{CEILING_REQUESTS / (args.latency_ms / 1000):.0f} pages/s)"
            )
            runs = section(name, served, log, args, work)
            print("\n".join([title, *table(runs), ""]))
            sys.stdout.flush()
    print(f"load average {os.getloadavg()[0]:.1f} at the end (target 2/1 >= {TARGET_RATIO}x)")


if __name__ == "__main__":
    main()
