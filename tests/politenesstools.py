"""Worker processes sharing politeness through Redis, and a site that records them.

:class:`RecordingSite` is a stdlib ``ThreadingHTTPServer`` on a free loopback
port: ``/robots.txt`` answers :attr:`RecordingSite.robots`; every other path
is a small page held ``?hold=SECONDS`` (default :attr:`RecordingSite.hold`)
before it is answered, and each page request is recorded with its start time
(``time.monotonic()``, one clock for all the worker processes since they hit
one server) and the number of page requests in progress when it started.

Run as ``python -m tests.politenesstools BASE --pages N --tag T --stats FILE
[--query Q] [--go FILE] [--render] [-s NAME=VALUE]...``: a small Scrapy crawl (the
framework's add-on, :class:`~crawler.downloader.SlotReservingDownloader`, the
Crawl-delay middleware, the browser middleware (``--render``: every page a
:class:`~crawler.browser.request.BrowserRequest`) and
:class:`~crawler.extensions.sharedpoliteness.SharedPoliteness`) of ``N`` pages
``BASE/page/T/<i>Q``: when its spider is open it creates ``FILE`` with the
suffix ``.ready``, then starts when ``--go`` exists; its stats go to ``FILE``
as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.crawltools import subprocess_env

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from scrapy.http import Response


@dataclass(frozen=True)
class Hit:
    path: str
    start: float  # time.monotonic()
    concurrent: int  # page requests in progress, this one included


class RecordingSite:
    def __init__(self) -> None:
        self.robots = "User-agent: *\nDisallow:\n"
        self.hold = 0.0
        self.hits: list[Hit] = []
        self.active = 0
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/robots.txt":
                    self._send(site.robots.encode(), "text/plain")
                    return
                hold = float(parse_qs(parts.query).get("hold", [site.hold])[0])
                with site._lock:
                    site.active += 1
                    site.hits.append(Hit(parts.path, time.monotonic(), site.active))
                try:
                    site.stopping.wait(hold)
                    with contextlib.suppress(OSError):  # a killed worker's connection
                        self._send(b"<html><title>page</title></html>", "text/html")
                finally:
                    with site._lock:
                        site.active -= 1

            def _send(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def hits_of(self, tag: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.path.startswith(f"/page/{tag}/")]

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def start_worker(
    base: str,
    *,
    pages: int,
    tag: str,
    stats: Path,
    settings: dict[str, object],
    query: str = "",
    go: Path | None = None,
    render: bool = False,
) -> subprocess.Popen[str]:
    """One worker process (see the module); its log goes to ``<stats>.log``."""
    command = [sys.executable, "-m", "tests.politenesstools", base]
    command += ["--pages", str(pages), "--tag", tag, "--stats", str(stats), "--query", query]
    if go is not None:
        command += ["--go", str(go)]
    if render:
        command.append("--render")
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    log = stats.with_suffix(".log").open("w")
    return subprocess.Popen(
        command,
        cwd=stats.parent,
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its browsers in its process group
    )


def _run(argv: Sequence[str]) -> int:
    from scrapy import Request, Spider
    from scrapy.crawler import CrawlerProcess

    from crawler.browser.request import BrowserRequest

    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--pages", type=int, required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--query", default="")
    parser.add_argument("--go", type=Path)
    parser.add_argument("--render", action="store_true", help="pages through the browser pool")
    parser.add_argument("-s", dest="settings", action="append", default=[])
    args = parser.parse_args(argv)

    class Pages(Spider):
        name = "pages"

        async def start(self) -> AsyncIterator[Request]:
            args.stats.with_suffix(".ready").touch()
            while args.go is not None and not args.go.exists():
                await asyncio.sleep(0.01)  # all workers start together
            for i in range(args.pages):
                url = f"{args.base}/page/{args.tag}/{i}{args.query}"
                if args.render:
                    yield BrowserRequest(url, dont_filter=True)
                else:
                    yield Request(url, dont_filter=True)

        def parse(self, response: Response) -> None:
            pass

    settings: dict[str, Any] = {
        "ADDONS": {"crawler.addon.CrawlerAddon": 0},
        "DOWNLOADER": "crawler.downloader.SlotReservingDownloader",
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.downloadermiddlewares.crawldelay.CrawlDelayMiddleware": 110,
            "crawler.browser.middleware.SeleniumMiddleware": 950,
        },
        "EXTENSIONS": {"crawler.extensions.sharedpoliteness.SharedPoliteness": 0},
        "ROBOTSTXT_OBEY": True,
        "LOG_LEVEL": "INFO",
    }
    for assignment in args.settings:
        name, _, value = assignment.partition("=")
        settings[name] = value
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(Pages)
    process.crawl(crawler)
    process.start()
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    args.stats.write_text(json.dumps(stats, default=str))
    return 0 if stats.get("finish_reason") == "finished" else 1


if __name__ == "__main__":
    sys.exit(_run(sys.argv[1:]))
