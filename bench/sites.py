"""The benchmarks' generated site and its servers (nginx and a delayed asyncio server).

Shared by ``bench.bench_scale`` and ``bench.bench_workers``:

- :func:`generate_site` writes the tinysite catalogue (``fixtures/tinysite/catalog.py``)
  as static files: ``catalog/index.html`` and ``catalog/item/N.html``, about 5 KB
  each with 10 links.
- :func:`nginx` serves it from disk (one worker process, keep-alive), optionally
  logging ``$msec $status`` per answer.
- :func:`delayed_server` serves it from memory after a fixed delay per answer, in
  its own process, and writes ``epoch-seconds status`` per answer when stopped.
- :func:`answers` reads the 200 answers' times from either log.
- :func:`process_tree_cpu` reads a server's CPU seconds (with its children's) from ``/proc``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fixtures.tinysite import catalog

if TYPE_CHECKING:
    from collections.abc import Iterator

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    log_format times '$msec $status';
    {access_log};
    sendfile on;
    tcp_nopush on;
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
class Served:
    """A running server: its base URL (``http://127.0.0.1:PORT``) and its process id."""

    url: str
    pid: int


def generate_site(root: Path, size: int) -> int:
    """Writes the catalogue index and its ``size`` items under ``root``; returns bytes written."""
    items = root / "catalog" / "item"
    items.mkdir(parents=True)
    index = catalog._index_page(size, "").encode()
    (root / "catalog" / "index.html").write_bytes(index)
    total = len(index)
    for n in range(size):
        body = catalog._item_page(n, size, 0, "").encode()
        (items / f"{n}.html").write_bytes(body)
        total += len(body)
    return total


def free_port() -> int:
    """A loopback TCP port nobody listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen | multiprocessing.Process | None = None
) -> None:
    """Waits up to 10 s for a listener on ``port``.

    Raises :class:`RuntimeError` if ``process`` (the server) exits first or nothing
    listens in time.
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process is not None:
            alive = (
                process.poll() is None
                if isinstance(process, subprocess.Popen)
                else process.is_alive()
            )
            if not alive:
                raise RuntimeError(f"the server on port {port} exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server on port {port} did not listen within 10 s")


@contextmanager
def nginx(root: Path, work: Path, log: bool = False) -> Iterator[Served]:
    """nginx serving ``root`` on a free loopback port (its master process's pid).

    With ``log``, every answer is logged as ``$msec $status`` (epoch seconds) to
    ``work / "access.log"`` (read it with :func:`answers`).
    """
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is not installed: `make bench` installs it (Debian nginx-light)")
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    (work / "tmp").mkdir(exist_ok=True)
    access_log = f"access_log {work}/access.log times" if log else "access_log off"
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, port=port, root=root, access_log=access_log))
    # nginx's worker runs as nobody when started by root: it must read the site.
    for path in (work, root, root.parent):
        path.chmod(0o755)
    process = subprocess.Popen([binary, "-c", str(conf), "-p", str(work)])
    try:
        wait_for_port(port, process)
        yield Served(f"http://127.0.0.1:{port}", process.pid)
    finally:
        process.terminate()
        process.wait(10)


def _serve_delayed(root: str, port: int, delay: float, log: str) -> None:
    """A keep-alive HTTP/1.1 server that answers from memory after ``delay`` seconds.

    Writes ``epoch-seconds status`` for every answer to ``log`` when stopped (SIGTERM).
    """
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
                status = b"200 OK" if body is not None else b"404 Not Found"
                body = body if body is not None else b"not found\n"
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html; charset=utf-8\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                await writer.drain()
                answered.append(f"{time.time():.6f} {status[:3].decode()}")
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
        Path(log).write_text("".join(f"{line}\n" for line in answered))

    asyncio.run(main())


@contextmanager
def delayed_server(root: Path, delay_ms: float, log: Path) -> Iterator[Served]:
    """The delayed server (``delay_ms`` per answer) in its own process.  ``log`` is
    written when the server stops (at the end of the block)."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    process = multiprocessing.get_context("fork").Process(
        target=_serve_delayed, args=(str(root), port, delay_ms / 1000, str(log))
    )
    process.start()
    try:
        wait_for_port(port, process)
        assert process.pid is not None
        yield Served(f"http://127.0.0.1:{port}", process.pid)
    finally:
        process.terminate()
        process.join(10)


def answers(log: Path, since: float = 0.0, until: float = float("inf")) -> list[float]:
    """Sorted epoch times of the 200 answers in ``log`` (``time status`` lines)
    between ``since`` and ``until``; empty if there is no log."""
    if not log.exists():
        return []
    times = []
    for line in log.read_text().splitlines():
        stamp, _, status = line.partition(" ")
        if status == "200" and since <= float(stamp) <= until:
            times.append(float(stamp))
    return sorted(times)


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, own CPU ticks, reaped children's CPU ticks) of ``pid`` from
    ``/proc/PID/stat`` (proc(5): utime, stime, cutime, cstime are fields 14-17),
    ``None`` if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # after the command name, which may hold spaces
    ppid, utime, stime, cutime, cstime = (int(fields[i]) for i in (1, 11, 12, 13, 14))
    return ppid, utime + stime, cutime + cstime


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid``, its live descendants and
    the children they have reaped (PostgreSQL's backends, nginx's worker).

    Read twice, around a run: the difference is what the server did for it (a
    descendant that exits between the reads and is not reaped yet is missed).
    Linux only; 0.0 if ``pid`` is gone."""
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            stats[int(entry)] = stat
            children.setdefault(stat[0], []).append(int(entry))
    ticks, todo = 0, [pid]
    while todo:
        current = todo.pop()
        if current in stats:
            _, own, reaped = stats[current]
            ticks += own + reaped
            todo.extend(children.get(current, []))
    return ticks / os.sysconf("SC_CLK_TCK")
