"""Shared frontier: 1 worker vs 2 on this machine, and Redis memory per seen request.

``python -m bench.bench_workers [--pages 2000] [--latency-ms 50] [--fingerprints 1000000]
[--sections zero latency memory]``

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
seconds and CPU seconds (user + system of the crawler processes) are given too.
The machine is shared: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fixtures.tinysite import catalog
from tests.pgserver import PostgresServer
from tests.redisserver import RedisServer

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.7  # 2 workers / 1 at zero latency on 2 cores (issue 13)
CEILING_REQUESTS = 8  # CONCURRENT_REQUESTS_PER_DOMAIN, per process here

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    log_format times '$msec $status';
    access_log {work}/access.log times;
    sendfile on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {work}/tmp;
    proxy_temp_path {work}/tmp;
    fastcgi_temp_path {work}/tmp;
    uwsgi_temp_path {work}/tmp;
    scgi_temp_path {work}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


@dataclass(frozen=True)
class Run:
    section: str
    workers: int
    pages: int  # 200 answers the server gave
    span: float  # seconds from the first to the last answer
    wall: float  # seconds from the first process start to the last exit
    cpu: float  # user + system seconds of the crawler processes
    codes: tuple[int, ...]

    @property
    def rate(self) -> float:
        return self.pages / self.span if self.span > 0 else 0.0


def generate_site(root: Path, size: int) -> None:
    items = root / "catalog" / "item"
    items.mkdir(parents=True)
    (root / "catalog" / "index.html").write_text(catalog._index_page(size, ""))
    for n in range(size):
        (items / f"{n}.html").write_text(catalog._item_page(n, size, 0, ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after 10 s")


@contextmanager
def nginx(root: Path, work: Path) -> Iterator[tuple[str, Path]]:
    """nginx serving ``root``; yields its base URL and its access log (``$msec $status``)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is not installed (Debian's nginx-light)")
    port = free_port()
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, port=port, root=root))
    for path in (work, root, root.parent):  # nginx's worker may run as nobody
        path.chmod(0o755)
    process = subprocess.Popen([binary, "-c", str(conf), "-p", str(work)])
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", work / "access.log"
    finally:
        process.terminate()
        process.wait(10)


def _serve_delayed(root: str, port: int, delay: float, log: str) -> None:
    """Keep-alive HTTP/1.1 from memory after ``delay`` seconds; ``log`` gets
    ``time status`` lines (at SIGTERM)."""
    import signal

    files: dict[str, bytes] = {}
    for path in Path(root).rglob("*.html"):
        url = "/" + path.relative_to(root).as_posix()
        files[url] = path.read_bytes()
        if path.name == "index.html":
            files[url[: -len("index.html")]] = files[url]
    answered: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode("latin-1").split("?")[0]
                await asyncio.sleep(delay)
                body = files.get(target)
                status = 200 if body is not None else 404
                body = body if body is not None else b"not found\n"
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                answered.append(f"{time.time():.3f} {status}")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=256)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with server:
            await stop.wait()
        Path(log).write_text("\n".join(answered) + "\n")

    asyncio.run(main())


@contextmanager
def delayed_server(root: Path, delay_ms: float, work: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = work / "access.log"
    work.mkdir(parents=True, exist_ok=True)
    process = multiprocessing.get_context("fork").Process(
        target=_serve_delayed, args=(str(root), port, delay_ms / 1000, str(log))
    )
    process.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.join(10)


def answers(log: Path, since: float) -> list[float]:
    """Times of the 200 answers logged after ``since`` (seconds since the epoch)."""
    if not log.exists():
        return []
    times = []
    for line in log.read_text().splitlines():
        stamp, _, status = line.partition(" ")
        if status == "200" and float(stamp) >= since:
            times.append(float(stamp))
    return sorted(times)


def crawl(
    base: str, log: Path | None, workers: int, redis_url: str, store: str, work: Path
) -> tuple[float, float, tuple[int, ...]]:
    """One shared crawl with ``workers`` processes (0: one crawl without a frontier);
    (wall s, CPU s, exit codes)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    fast = [
        "-s", "CRAWLER_FRONTIER_IDLE_TIMEOUT=1",
        "-s", "LOG_LEVEL=WARNING",
        # The trap budget of a URL pattern (200 pages) is counted per process.
        "-s", "CRAWLER_MAX_PAGES_PER_PATTERN=0",
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


def section(name: str, served: contextmanager, args: argparse.Namespace, work: Path) -> list[Run]:  # type: ignore[valid-type]
    runs = []
    redis_server = RedisServer().start()
    postgres = PostgresServer().start()
    try:
        with served as (base, log):
            for repeat in range(args.repeat):
                for workers in (0, 1, 2):
                    redis_server.flush()
                    postgres.reset()
                    since = time.time()
                    wall, cpu, codes = crawl(
                        base, log, workers, redis_server.url, postgres.url, work
                    )
                    time.sleep(0.5 if name == "zero" else 0)  # nginx writes its log
                    times = answers(log, since) if name == "zero" else []
                    runs.append((workers, since, wall, cpu, codes, times, repeat))
        if name != "zero":  # the delayed server writes its log when it stops
            runs = [
                (w, s, wall, cpu, codes, _between(answers(log, s), s, s + wall), r)
                for w, s, wall, cpu, codes, _, r in runs
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
        )
        for workers, _, wall, cpu, codes, times, _ in runs
    ]


def _between(times: list[float], start: float, end: float) -> list[float]:
    return [t for t in times if start <= t <= end]


def table(runs: list[Run]) -> list[str]:
    lines = [
        f"{'workers':>7} {'pages':>6} {'span s':>7} {'pages/s':>8} {'wall s':>7} "
        f"{'CPU s':>6} {'CPU ms/page':>11} {'exit':>6}"
    ]
    for run in runs:
        per_page = 1000 * run.cpu / run.pages if run.pages else 0.0
        label = str(run.workers) if run.workers else "none"
        lines.append(
            f"{label:>7} {run.pages:>6} {run.span:>7.1f} {run.rate:>8.1f} "
            f"{run.wall:>7.1f} {run.cpu:>6.1f} {per_page:>11.2f} "
            f"{','.join(map(str, run.codes)):>6}"
        )

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    rate = {n: mean([r.rate for r in runs if r.workers == n]) for n in (0, 1, 2)}
    cpu = {
        n: mean([r.cpu / r.pages for r in runs if r.workers == n and r.pages]) for n in (0, 1, 2)
    }
    if rate[1] and rate[0]:
        lines.append(
            f"2 workers / 1 worker, pages/s: {rate[2] / rate[1]:.2f}x; 1 worker / no frontier: "
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
        "--sections", nargs="+", default=["zero", "latency", "memory"],
        choices=["zero", "latency", "memory"],
    )  # fmt: skip
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        work = Path(tmp)
        root = work / "site"
        generate_site(root, args.pages)
        for name in args.sections:
            if name == "memory":
                print("\n".join(memory(args.fingerprints)))
                continue
            served = (
                nginx(root, work / "nginx")
                if name == "zero"
                else delayed_server(root, args.latency_ms, work / "delayed")
            )
            title = (
                f"Zero latency: nginx, {args.pages:,} items"
                if name == "zero"
                else f"{args.latency_ms:g} ms latency: asyncio server, {args.pages:,} items "
                f"(one process's ceiling {CEILING_REQUESTS} / {args.latency_ms / 1000:g} s = "
                f"{CEILING_REQUESTS / (args.latency_ms / 1000):.0f} pages/s)"
            )
            runs = section(name, served, args, work)
            print("\n".join([title, *table(runs), ""]))
            sys.stdout.flush()
    print(f"load average {os.getloadavg()[0]:.1f} at the end (target 2/1 >= {TARGET_RATIO}x)")


if __name__ == "__main__":
    main()
