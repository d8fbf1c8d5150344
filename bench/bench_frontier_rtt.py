"""Shared frontier with Redis on "another machine": pages/s and blocking round trips per page.

``python -m bench.bench_frontier_rtt [--pages 1000] [--rtt-ms 1] [--repeat 1] [--baseline DIR]``

One shared crawl with one process (``crawler crawl --frontier``, as in
:mod:`bench.bench_workers`'s ``zero`` section: the generated catalogue served by
nginx, a PostgreSQL store, a Redis this benchmark starts), reached through a
:class:`tests.redisproxy.DelayProxy` that counts the round trips: without
delay (``RTT ms`` 0, about Redis direct) and delaying each chunk by half of
``--rtt-ms`` in each direction (this kernel has no netem: the
delay is made in user space, and the RTT it adds is measured with PINGs and
printed).  Every frontier call of the scheduler is a synchronous redis-py call
on the reactor thread, so each round trip stops the whole crawl for one RTT.

The crawls run with ``CRAWLER_FRONTIER_POLITENESS=False``: the shared
politeness talks to Redis with an asyncio client, whose round trips do not
block the reactor; without it every round trip the proxy counts is a
blocking one.  Columns: pages (answers nginx logged), pages/s over the span from
the first answer to the last, round trips per page (the proxy's count: a
client's request after an answer starts one; start-up and close included) and
script calls (EVALSHA, ``INFO commandstats``) per page.  ``--baseline DIR``
(``git archive main | tar -x -C DIR``) crawls with that tree too, labelled
``base``, taking turns.  The machine is shared: compare the rows of one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.bench_workers import REPO_ROOT, ServerMeter, crawl
from bench.sites import answers, generate_site, nginx
from tests.pgserver import PostgresServer
from tests.redisproxy import DelayProxy
from tests.redisserver import RedisServer

#: Settings of every crawl here (see the module).
EXTRA = ("-s", "CRAWLER_FRONTIER_POLITENESS=False")


@dataclass(frozen=True)
class Row:
    tree: str  # "" this tree, "base" the --baseline one
    rtt: float  # ms added by the proxy (0: Redis direct)
    pages: int
    span: float  # seconds from the first answer to the last
    round_trips: int  # counted by the proxy (-1: direct, not counted)
    scripts: int  # EVALSHA calls
    codes: tuple[int, ...]

    @property
    def rate(self) -> float:
        return self.pages / self.span if self.span > 0 else 0.0


def measured_rtt(proxy: DelayProxy, count: int = 200) -> float:
    """The mean PING time through ``proxy``, in ms."""
    client = redis.Redis(host="127.0.0.1", port=proxy.port)
    try:
        client.ping()
        started = time.monotonic()
        for _ in range(count):
            client.ping()
        return (time.monotonic() - started) * 1000 / count
    finally:
        client.close()


def run(args: argparse.Namespace, work: Path) -> tuple[list[Row], float, float]:
    """Every crawl of the plan, taking turns; (rows, PING ms direct, PING ms proxied)."""
    trees = [("", REPO_ROOT)] + ([("base", args.baseline)] if args.baseline else [])
    root = work / "site"
    generate_site(root, args.pages)
    log = work / "nginx" / "access.log"
    redis_server = RedisServer().start()
    postgres = PostgresServer().start()
    rows = []
    try:
        with (
            nginx(root, work / "nginx", log=True) as server,
            DelayProxy(redis_server.port, 0.0) as direct,
            DelayProxy(redis_server.port, args.rtt_ms / 2000) as proxy,
        ):
            ping_direct, ping_proxy = measured_rtt(direct), measured_rtt(proxy)
            meter = ServerMeter(redis_server, postgres, server.pid)
            for _ in range(args.repeat):
                for label, tree in trees:
                    for via in (direct, proxy):
                        redis_server.flush()
                        postgres.reset()
                        meter.start()
                        via.reset()
                        since = time.time()
                        _, _, codes = crawl(
                            server.url, 1, via.url(), postgres.url, work, tree, EXTRA
                        )
                        time.sleep(0.5)  # nginx writes its log
                        trips = via.reset()
                        servers = meter.stop()
                        times = answers(log, since)
                        span = (times[-1] - times[0]) if len(times) > 1 else 0.0
                        rtt = 0.0 if via is direct else args.rtt_ms
                        scripts = servers.total("evalsha", "eval")
                        rows.append(Row(label, rtt, len(times), span, trips, scripts, codes))
                        print(table([rows[-1]])[-1], flush=True)
    finally:
        postgres.stop()
        redis_server.stop()
    return rows, ping_direct, ping_proxy


def table(rows: list[Row]) -> list[str]:
    lines = [
        f"{'tree':>5} {'RTT ms':>6} {'pages':>6} {'span s':>7} {'pages/s':>8} "
        f"{'round trips/page':>16} {'scripts/page':>12} {'exit':>5}"
    ]
    for row in rows:
        pages = row.pages or 1
        lines.append(
            f"{row.tree or 'this':>5} {row.rtt:>6g} {row.pages:>6} {row.span:>7.1f} "
            f"{row.rate:>8.1f} {row.round_trips / pages:>16.2f} {row.scripts / pages:>12.2f} "
            f"{','.join(map(str, row.codes)):>5}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_frontier_rtt", description=__doc__)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rtt-ms", type=float, default=1.0, help="round-trip time to add")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--baseline", type=Path, help="a `git archive main` tree, labelled base")
    args = parser.parse_args(argv)
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="bench-rtt-") as tmp:
        rows, ping_direct, ping_proxy = run(args, Path(tmp))
    print(
        f"\n1 worker, {args.pages:,} items; PING through the proxy: {ping_direct:.2f} ms "
        f"without delay (the 0 rows), {ping_proxy:.2f} ms with {args.rtt_ms:g} ms"
    )
    print("\n".join(table(rows)))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
